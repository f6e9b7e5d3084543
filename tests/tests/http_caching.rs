//! HTTP caching as linters (REDbot) and browsers read it, against the real binaries run as
//! processes (`cargo build --workspace --bins` first, as `scripts/test` does): the shell and
//! the three services on 127.0.0.1.
//!
//! - `/registry.json` carries a strong ETag of its bytes and answers `304` to a matching
//!   `If-None-Match` (a weak one too, as a browser sends back after a compressed `200`), and
//!   `200` again once the tag is stale;
//! - every `304` carries the same `Vary` and the same ETag as the `200` the same client gets,
//!   identity or compressed: the shell's assets, the shared ones, a service's asset relayed
//!   by the proxy, a small asset that is never compressed, and `/registry.json`.

use mf_tests::replicas::{Process, Teams};
use mf_tests::SECRET;
use reqwest::header::HeaderMap;

/// What Chromium sends.
const CHROMIUM: &str = "gzip, deflate, br, zstd";

/// The shell and the three services, started as processes.
struct Binaries {
    shell: Process,
    _teams: Teams,
}

impl Binaries {
    async fn start() -> Binaries {
        let teams = Teams::start(&["--context-secret", SECRET], &[]).await;
        let shell = teams.start_shell(&["--context-secret", SECRET]).await;
        Binaries {
            shell,
            _teams: teams,
        }
    }

    /// `GET path` on the shell with `headers`: status, headers, body.
    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> (u16, HeaderMap, Vec<u8>) {
        let mut request = reqwest::Client::new().get(format!("{}{path}", self.shell.url()));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let res = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        (status, headers, res.bytes().await.unwrap().to_vec())
    }
}

/// The tokens of every `Vary` header, lowercased and sorted (a repeated one stays twice).
fn vary(headers: &HeaderMap) -> Vec<String> {
    let mut tokens: Vec<String> = headers
        .get_all("vary")
        .iter()
        .flat_map(|v| v.to_str().unwrap().split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    tokens.sort();
    tokens
}

fn etag(headers: &HeaderMap) -> String {
    headers
        .get("etag")
        .expect("an ETag")
        .to_str()
        .unwrap()
        .to_owned()
}

/// Waits until the shell knows every service's manifest (its registry no longer changes).
async fn settled(bins: &Binaries) {
    for _ in 0..100 {
        let (_, _, body) = bins.get("/registry.json", &[]).await;
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let known = ["pricing", "dashboard", "accounts"].iter().all(|s| {
            json["services"][s]["version"]
                .as_str()
                .is_some_and(|v| !v.is_empty())
        });
        if known {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the shell never learned every manifest");
}

#[tokio::test]
async fn registry_json_has_an_etag_and_answers_304_to_a_matching_if_none_match() {
    let bins = Binaries::start().await;
    settled(&bins).await;
    let (status, headers, body) = bins.get("/registry.json", &[]).await;
    assert_eq!(status, 200);
    let strong = etag(&headers);
    assert!(strong.starts_with('"') && strong.len() > 10, "{strong}");
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(vary(&headers), ["accept-encoding", "cookie"]);
    assert!(body.len() > 1024, "compressible: {} bytes", body.len());

    let (status, again, body) = bins
        .get("/registry.json", &[("if-none-match", &strong)])
        .await;
    assert_eq!(status, 304);
    assert!(body.is_empty());
    assert_eq!(etag(&again), strong);
    assert_eq!(again["cache-control"], "no-cache");
    assert_eq!(vary(&again), vary(&headers));

    // As Chromium asks: compressed, a weak tag, and the weak tag it sends back matches.
    let (status, zipped, _) = bins
        .get("/registry.json", &[("accept-encoding", CHROMIUM)])
        .await;
    assert_eq!(status, 200);
    assert_eq!(zipped["content-encoding"], "zstd");
    assert_eq!(etag(&zipped), format!("W/{strong}"));
    let weak = etag(&zipped);
    let (status, revalidated, _) = bins
        .get(
            "/registry.json",
            &[("accept-encoding", CHROMIUM), ("if-none-match", &weak)],
        )
        .await;
    assert_eq!(status, 304);
    assert_eq!(etag(&revalidated), weak);

    // A stale tag gets the whole registry.
    let (status, _, body) = bins
        .get("/registry.json", &[("if-none-match", "\"stale\"")])
        .await;
    assert_eq!(status, 200);
    assert!(!body.is_empty());
}

#[tokio::test]
async fn every_304_carries_the_vary_and_etag_of_its_200_identity_or_compressed() {
    let bins = Binaries::start().await;
    settled(&bins).await;
    let paths = [
        "/registry.json",
        "/assets/fragment-loader.js",
        "/assets/shell.css",
        "/assets/shared/shared.css",
        "/assets/shared/stimulus-3.2.2.js",
        // 365 bytes: never compressed, so no Vary on either.
        "/assets/shared/favicon.svg",
        // Relayed by the proxy from svc-pricing.
        "/svc/pricing/assets/pricing.css",
        "/svc/pricing/assets/pricing-toggle.js",
    ];
    for path in paths {
        for encoding in [None, Some("gzip"), Some(CHROMIUM)] {
            let ask: Vec<(&str, &str)> = encoding
                .map(|e| ("accept-encoding", e))
                .into_iter()
                .collect();
            let (status, ok, _) = bins.get(path, &ask).await;
            assert_eq!(status, 200, "{path} {encoding:?}");
            let tag = etag(&ok);
            let mut revalidate = ask.clone();
            revalidate.push(("if-none-match", &tag));
            let (status, not_modified, body) = bins.get(path, &revalidate).await;
            assert_eq!(status, 304, "{path} {encoding:?}");
            assert!(body.is_empty(), "{path}");
            assert_eq!(vary(&not_modified), vary(&ok), "{path} {encoding:?}");
            assert_eq!(etag(&not_modified), tag, "{path} {encoding:?}");
            let compressed = ok.contains_key("content-encoding");
            assert_eq!(
                tag.starts_with("W/"),
                compressed,
                "{path} {encoding:?}: {tag}"
            );
            if path.ends_with("favicon.svg") {
                assert!(!compressed && vary(&ok).is_empty(), "{path}: {ok:?}");
            } else {
                assert!(
                    vary(&ok).iter().filter(|t| *t == "accept-encoding").count() == 1,
                    "{path} {encoding:?}: {:?}",
                    vary(&ok)
                );
            }
        }
    }
}
