//! The proxy's path check (`shell::proxy::parse_target`, over
//! `shared_ui::contract::is_safe_path`) and its `Location` check (`is_site_path`), on any
//! request path: no panic, and whatever passes is a plain path of one registered-looking
//! service that cannot leave it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shell::proxy::{is_site_path, parse_target};

fuzz_target!(|data: &[u8]| {
    let location_ok = is_site_path(data);
    if location_ok {
        assert_eq!(data[0], b'/');
        assert!(!matches!(data.get(1), Some(b'/' | b'\\')), "{data:?}");
        assert!(data.iter().all(|b| b.is_ascii_graphic() && *b != b'\\'));
    }
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(target) = parse_target(raw) {
        assert!(shell::settings::valid_name(target.service), "{raw:?}");
        assert_eq!(format!("/svc/{}{}", target.service, target.path), raw);
        let path = target.path;
        assert!(path.starts_with('/') && !path.starts_with("//"), "{raw:?}");
        assert!(path.len() <= 200, "{raw:?}");
        // (`a..b` is a plain file name: only a whole `..` segment climbs.)
        for bad in ["%", "\\", "@", ":", "?", "#"] {
            assert!(!path.contains(bad), "{raw:?} passed with {bad}");
        }
        assert!(
            path.split('/')
                .skip(1)
                .all(|seg| !seg.is_empty() && seg != "." && seg != ".."),
            "{raw:?}"
        );
        // Joined onto a base URL, it stays on that host and under that path.
        let joined = url::Url::parse(&format!("http://svc.internal:1234/base{path}"))
            .expect("a safe path joins into a URL");
        assert_eq!(joined.host_str(), Some("svc.internal"));
        assert_eq!(joined.port(), Some(1234));
        assert_eq!(joined.path(), format!("/base{path}"));
    }
});
