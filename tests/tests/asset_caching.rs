//! Content-hashed asset URLs, against the real binaries run as processes (`cargo build
//! --workspace --bins` first, as `scripts/test` does) and, for what a browser does with
//! them, real Chromium:
//!
//! - every asset URL a page gives (links, module preloads, the import map, the controller
//!   list, `/registry.json`) carries `?v=` and the start of the SHA-256 of the bytes it
//!   answers, which it answers `immutable`; a stale hash or none answers the current bytes
//!   `no-cache`; a 304 carries the `Vary` and `Cache-Control` of its 200;
//! - a page's head links only the stylesheets and controllers of the services it shows;
//! - **a warm reload sends no asset request**: counted where the requests arrive (the
//!   shell's `http_requests_total` for its asset routes and the proxy), and by the page's
//!   Resource Timing (`transferSize` 0);
//! - a swap by the loader to a page of another service has that service's stylesheet
//!   applied before the fragment is in the document, with no CSP violation.

use std::collections::BTreeSet;

use mf_tests::browser::Browser;
use mf_tests::replicas::{Process, Teams};
use mf_tests::{free_port, SECRET};
use reqwest::header::HeaderMap;

/// What Chromium sends.
const CHROMIUM: &str = "gzip, deflate, br, zstd";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The shell (with its admin port known) and the three services, started as processes.
struct Binaries {
    shell: Process,
    admin: u16,
    _teams: Teams,
}

impl Binaries {
    async fn start() -> Binaries {
        let teams = Teams::start(&["--context-secret", SECRET], &[]).await;
        let admin = free_port();
        let admin_port = admin.to_string();
        let shell_args = [
            "--context-secret",
            SECRET,
            "--admin-port",
            admin_port.as_str(),
        ];
        let shell = teams.start_shell(&shell_args).await;
        let bins = Binaries {
            shell,
            admin,
            _teams: teams,
        };
        bins.settled().await;
        bins
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.shell.url())
    }

    /// `GET path` on the shell with `headers`: status, headers, body.
    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> (u16, HeaderMap, Vec<u8>) {
        let mut request = reqwest::Client::new().get(self.url(path));
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

    async fn text(&self, path: &str) -> String {
        String::from_utf8(self.get(path, &[]).await.2).unwrap()
    }

    /// Waits until the shell knows every service's manifest.
    async fn settled(&self) {
        for _ in 0..100 {
            let json: serde_json::Value =
                serde_json::from_str(&self.text("/registry.json").await).unwrap();
            let known = ["pricing", "dashboard", "accounts"]
                .iter()
                .all(|s| json["services"][s]["version"].is_string());
            if known {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the shell never learned every manifest");
    }

    /// Requests that reached the shell's asset routes and its proxy (where the services'
    /// assets go), from its metrics on the admin port.
    async fn asset_requests(&self) -> u64 {
        let url = format!("http://127.0.0.1:{}/metrics", self.admin);
        let text = reqwest::get(url).await.unwrap().text().await.unwrap();
        text.lines()
            .filter(|l| l.starts_with("http_requests_total{"))
            .filter(|l| {
                ["route=\"/assets/", "route=\"/svc/"]
                    .iter()
                    .any(|r| l.contains(r))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }
}

/// The first 16 hex digits of the SHA-256 of `bytes`, computed here apart from the code
/// under test.
fn hash16(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every asset URL of a page: `href`/`src` attributes, the import map and the controller
/// list (JSON in the head).
fn asset_urls(html: &str) -> BTreeSet<String> {
    let mut urls = BTreeSet::new();
    for quote in ["\"", "\\\""] {
        for piece in html.split(quote).skip(1).step_by(2) {
            let url = piece.replace("\\u0026", "&");
            let asset = url.starts_with("/assets/")
                || (url.starts_with("/svc/") && url.contains("/assets/"));
            if asset {
                urls.insert(url);
            }
        }
    }
    urls
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// The tokens of every `Vary` header, lowercased and sorted.
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

/// Checks one hashed asset URL: immutable for its hash, `no-cache` with the same bytes for a
/// stale hash and for none, and a 304 like its 200.
async fn check_hashed(bins: &Binaries, url: &str) {
    let (path, hash) = url
        .split_once("?v=")
        .unwrap_or_else(|| panic!("{url} carries no content hash"));
    let (status, headers, body) = bins.get(url, &[]).await;
    assert_eq!(status, 200, "{url}");
    assert_eq!(
        hash,
        hash16(&body),
        "{url}: the hash is not that of its bytes"
    );
    assert_eq!(header(&headers, "cache-control"), IMMUTABLE, "{url}");
    for other in [format!("{path}?v=0123456789abcdef"), path.to_owned()] {
        let (status, stale, again) = bins.get(&other, &[]).await;
        assert_eq!(status, 200, "{other}");
        assert_eq!(again, body, "{other}: not the current bytes");
        let cache_control = header(&stale, "cache-control");
        // Without a hash, a name that carries its version (Stimulus 3.2.2) stays immutable.
        let versioned = !other.contains('?') && other.contains("stimulus-3.2.2.js");
        assert!(
            cache_control.contains("no-cache") || versioned,
            "{other}: {cache_control}"
        );
    }
    let ask = [("accept-encoding", CHROMIUM)];
    let (_, ok, _) = bins.get(url, &ask).await;
    let etag = header(&ok, "etag");
    let (status, not_modified, _) = bins
        .get(url, &[ask[0], ("if-none-match", etag.as_str())])
        .await;
    assert_eq!(status, 304, "{url}");
    assert_eq!(vary(&not_modified), vary(&ok), "{url}");
    assert_eq!(header(&not_modified, "cache-control"), IMMUTABLE, "{url}");
}

#[tokio::test]
async fn every_asset_url_of_every_page_is_hashed_and_answered_immutable() {
    let bins = Binaries::start().await;
    let mut all = BTreeSet::new();
    for page in ["/", "/dashboard", "/accounts", "/pricing"] {
        let urls = asset_urls(&bins.text(page).await);
        assert!(urls.len() >= 6, "{page}: {urls:?}");
        all.extend(urls);
    }
    let registry = bins.text("/registry.json").await;
    let from_registry = asset_urls(&registry);
    assert!(from_registry.len() >= 5, "{from_registry:?}");
    all.extend(from_registry);
    for url in &all {
        check_hashed(&bins, url).await;
    }
    // The loader imports the boot module by the import map's name, so the page's one
    // instance runs at its hashed URL.
    assert!(all
        .iter()
        .any(|u| u.starts_with("/assets/fragment-loader.js?v=")));
    let page = bins.text("/pricing").await;
    assert!(
        page.contains("\"@mosaic/boot\":\"/assets/shared/boot.js?v="),
        "{page}"
    );
}

#[tokio::test]
async fn a_page_head_links_only_the_assets_of_the_services_it_shows() {
    let bins = Binaries::start().await;
    let head = |html: String| html.split("</head>").next().unwrap().to_owned();
    let accounts = head(bins.text("/accounts").await);
    assert!(
        accounts.contains("/svc/accounts/assets/accounts.css?v="),
        "{accounts}"
    );
    for other in ["/svc/pricing/", "/svc/dashboard/"] {
        assert!(
            !accounts.contains(other),
            "/accounts links {other}: {accounts}"
        );
    }
    let pricing = head(bins.text("/pricing").await);
    assert!(pricing.contains("/svc/pricing/assets/pricing.css?v="));
    assert!(
        pricing.contains("rel=\"modulepreload\" href=\"/svc/pricing/assets/pricing-toggle.js?v=")
    );
    assert!(!pricing.contains("/svc/dashboard/"), "{pricing}");
    // The dashboard shows its overview and the pricing teaser, and the accounts menu.
    let dashboard = head(bins.text("/dashboard").await);
    for service in ["dashboard", "pricing", "accounts"] {
        let css = format!("/svc/{service}/assets/{service}.css?v=");
        assert!(dashboard.contains(&css), "{css}: {dashboard}");
    }
}

#[tokio::test]
async fn a_warm_reload_sends_no_asset_request() {
    let _heavy = mf_tests::heavy();
    let bins = Binaries::start().await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    browser.open_with_loader(&bins.url("/dashboard")).await;
    let cold = bins.asset_requests().await;
    assert!(cold >= 6, "the first load fetched only {cold} assets");

    // A normal reload: Chromium revalidates the page itself, and nothing immutable.
    browser.client().refresh().await.unwrap();
    browser
        .wait_until(
            "document.readyState === 'complete' && !!window.Stimulus && document.body.dataset.controller === 'fragment-loader'",
            "the reloaded page",
        )
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let warm = bins.asset_requests().await - cold;
    let transferred = browser
        .eval(
            "return performance.getEntriesByType('resource')
                .filter((e) => e.name.includes('/assets/') && e.transferSize > 0)
                .map((e) => e.name);",
        )
        .await;
    eprintln!(
        "asset requests: first load {cold}, warm reload {warm}; transferred again: {transferred}"
    );
    assert_eq!(
        warm, 0,
        "the warm reload asked for assets again: {transferred}"
    );
    assert_eq!(transferred, serde_json::json!([]));
    browser.quit_without_console_errors().await;
}

#[tokio::test]
async fn a_swap_to_another_service_applies_its_stylesheet_before_the_fragment_shows() {
    let _heavy = mf_tests::heavy();
    let bins = Binaries::start().await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    browser.open_with_loader(&bins.url("/accounts")).await;
    let linked = browser
        .eval("return [...document.querySelectorAll('link[rel=stylesheet]')].map((l) => l.getAttribute('href'));")
        .await;
    assert!(
        !linked.to_string().contains("pricing"),
        "/accounts links the pricing stylesheet: {linked}"
    );
    // Watch for the plans fragment: at the first callback that sees it, record its computed
    // `display` (pricing.css makes `.pricing` a grid; unstyled it is a block).
    browser
        .eval(
            "window.__seen = null; window.__violations = [];
             document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
             new MutationObserver((_, observer) => {
               const plans = document.querySelector('[data-fragment=\"pricing/plans\"]');
               if (!plans) return;
               const sheet = [...document.querySelectorAll('link[rel=stylesheet]')].find((l) => l.href.includes('/svc/pricing/assets/pricing.css?v='));
               window.__seen = { display: getComputedStyle(plans).display, sheet: !!(sheet && sheet.sheet) };
               observer.disconnect();
             }).observe(document.body, { childList: true, subtree: true });
             return true;",
        )
        .await;
    browser.go_to_section("pricing").await;
    browser
        .wait_until("window.__seen !== null", "the plans fragment")
        .await;
    let seen = browser.eval("return window.__seen;").await;
    assert_eq!(
        seen["display"], "grid",
        "the fragment showed unstyled: {seen}"
    );
    assert_eq!(seen["sheet"], true, "{seen}");
    let violations = browser.eval("return window.__violations;").await;
    assert_eq!(violations, serde_json::json!([]), "CSP violations");
    browser.quit_without_console_errors().await;
}

/// A team whose server claims `immutable` for whatever `?v=` it is asked, and whose
/// manifest names a hash its bytes do not have: the shell relays no long cache for it.
async fn careless_team() -> (String, actix_web::dev::ServerHandle) {
    use actix_web::{web, App, HttpResponse, HttpServer};
    const CSS: &str = ".careless { color: red; }";
    let manifest = serde_json::json!({
        "name": "careless", "version": "1",
        "fragments": [{"id": "a", "path": "/fragments/a", "title": "A"}],
        "assets": {"css": ["/assets/careless.css?v=0123456789abcdef"]},
    })
    .to_string();
    let server = HttpServer::new(move || {
        let manifest = manifest.clone();
        App::new()
            .route(
                "/manifest.json",
                web::get().to(move || {
                    let manifest = manifest.clone();
                    async move {
                        HttpResponse::Ok()
                            .content_type("application/json")
                            .body(manifest)
                    }
                }),
            )
            .route(
                "/assets/careless.css",
                web::get().to(|| async {
                    HttpResponse::Ok()
                        .content_type("text/css")
                        .insert_header(("etag", "\"careless\""))
                        .insert_header(("cache-control", IMMUTABLE))
                        .body(CSS)
                }),
            )
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let url = format!("http://127.0.0.1:{}", server.addrs()[0].port());
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    (url, handle)
}

#[tokio::test]
async fn the_shell_relays_a_long_cache_only_for_bytes_that_match_the_hash() {
    let (url, server) = careless_team().await;
    let stack = mf_tests::Stack::start_with(mf_tests::StackOptions::with_section(
        "careless",
        &url,
        "careless",
        &["careless/a"],
    ))
    .await;
    let get = |path: String| {
        let stack = &stack;
        async move {
            let res = stack.get(&path).await;
            assert_eq!(res.status(), 200, "{path}");
            header(res.headers(), "cache-control")
        }
    };
    // The manifest's own (wrong) hash, and another: no year-long cache for these bytes.
    let listed = get("/svc/careless/assets/careless.css?v=0123456789abcdef".into()).await;
    assert_eq!(listed, "no-cache");
    // The hash of the bytes it really sends: the team's header passes.
    let real = hash16(b".careless { color: red; }");
    let matching = get(format!("/svc/careless/assets/careless.css?v={real}")).await;
    assert_eq!(matching, IMMUTABLE);
    // No hash asked: the team's header is its own business.
    assert_eq!(
        get("/svc/careless/assets/careless.css".into()).await,
        IMMUTABLE
    );
    server.stop(true).await;
}
