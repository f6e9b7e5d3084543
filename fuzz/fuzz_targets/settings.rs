//! The shell's settings parser on any input: `SHELL_SERVICES` pairs, a `shell.toml`, and
//! the trusted proxies list (`TRUSTED_PROXIES`, with the `X-Forwarded-For` walk over it).
//! The input is split at its first two NUL bytes into those three parts. No panic; a
//! configuration that is accepted holds only valid names and http(s) URLs, and every slot
//! names a registered service.
#![no_main]

use std::io::Write;
use std::net::IpAddr;
use std::sync::OnceLock;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use clap::Parser;
use libfuzzer_sys::fuzz_target;
use shared_ui::proxies::TrustedProxies;
use shell::settings::{valid_name, Settings};

/// The one config file this process rewrites for each input.
fn config_path() -> &'static std::path::Path {
    static PATH: OnceLock<std::path::PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("mosaic-fuzz-shell-{}.toml", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == 0);
    let pairs = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let toml = parts.next();
    let proxies = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();

    // TRUSTED_PROXIES, and the client address behind them.
    let entries: Vec<String> = proxies.split(',').map(str::to_owned).collect();
    if let Ok(trusted) = TrustedProxies::parse(&entries) {
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&pairs) {
            headers.insert(HeaderName::from_static("x-forwarded-for"), v);
        }
        let peer: IpAddr = [127, 0, 0, 1].into();
        let client = trusted.client_ip(peer, &headers);
        if !trusted.trusts(peer) {
            assert_eq!(
                client, peer,
                "an untrusted peer is the client, whatever it says"
            );
        }
    }

    // SHELL_SERVICES alone, then with the config file.
    let mut args = vec!["shell".to_owned(), "--services".to_owned(), pairs];
    if let Some(text) = toml {
        let path = config_path();
        let mut file = std::fs::File::create(path).expect("the temporary config is writable");
        file.write_all(text)
            .expect("the temporary config is written");
        args.extend(["--config".to_owned(), path.display().to_string()]);
    }
    let Ok(settings) = Settings::try_parse_from(&args) else {
        return;
    };
    let Ok(config) = settings.resolve() else {
        return;
    };
    for s in &config.services {
        assert!(valid_name(&s.name), "{:?}", s.name);
        let url = url::Url::parse(&s.url).expect("a kept service URL parses");
        assert!(matches!(url.scheme(), "http" | "https"), "{}", s.url);
        assert!(url.host_str().is_some_and(|h| !h.is_empty()), "{}", s.url);
        assert!(!s.url.ends_with('/'), "{}", s.url);
    }
    let known = |name: &str| config.services.iter().any(|s| s.name == name);
    for section in &config.sections {
        assert!(
            section.path.starts_with('/') && section.path != "/",
            "{:?}",
            section.path
        );
        for slot in &section.slots {
            assert!(
                known(&slot.service) && valid_name(&slot.fragment),
                "{slot:?}"
            );
        }
    }
    for c in &config.chrome {
        assert!(known(&c.service), "{c:?}");
    }
    assert!(config.page_budget >= config.fragment_timeout);
});
