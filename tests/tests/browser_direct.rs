//! Direct mode (the seed article's setup): a service with a public URL is fetched by the
//! browser straight from its own origin, and it answers CORS for the configured shell
//! origins only. Here pricing runs with `--cors-origins <shell origin>` and the shell with a
//! config file that gives pricing a `public_url`.

use clap::Parser;
use mf_tests::browser::Browser;
use mf_tests::{free_port, Stack, SECRET};

/// A shell whose pricing service is in direct mode, with its own pricing instance.
struct DirectSite {
    shell_url: String,
    pricing_url: String,
    // Dashboard and accounts come from a normal stack, kept running while the site is used.
    _stack: Stack,
    _dir: tempfile::TempDir,
}

impl DirectSite {
    async fn start() -> Self {
        let stack = Stack::start().await;
        let shell_port = free_port();
        let shell_url = format!("http://127.0.0.1:{shell_port}");

        let pricing = svc_pricing::startup::Application::build(
            svc_pricing::settings::Settings::try_parse_from([
                "svc-pricing",
                "--port",
                "0",
                "--context-secret",
                SECRET,
                "--cors-origins",
                &shell_url,
            ])
            .expect("pricing settings"),
        )
        .await
        .expect("svc-pricing starts");
        let pricing_url = format!("http://127.0.0.1:{}", pricing.port());
        tokio::spawn(pricing.run_until_stopped());

        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("shell.toml");
        std::fs::write(
            &config,
            format!(
                "public_origin = \"{shell_url}\"\n\n[[services]]\nname = \"pricing\"\nurl = \"{pricing_url}\"\npublic_url = \"{pricing_url}\"\n"
            ),
        )
        .expect("write shell.toml");
        let services = format!(
            "dashboard={},accounts={}",
            stack.service_url("dashboard"),
            stack.service_url("accounts")
        );
        let shell = shell::startup::Application::build(
            shell::settings::Settings::try_parse_from([
                "shell",
                "--port",
                &shell_port.to_string(),
                "--context-secret",
                SECRET,
                "--config",
                &config.display().to_string(),
                "--services",
                &services,
                "--admin-port",
                "0",
            ])
            .expect("shell settings"),
        )
        .await
        .expect("the shell starts");
        tokio::spawn(shell.run_until_stopped());
        Self {
            shell_url,
            pricing_url,
            _stack: stack,
            _dir: dir,
        }
    }
}

#[tokio::test]
async fn direct_mode_fetches_fragments_from_the_service_origin() {
    let _heavy = mf_tests::heavy();
    let site = DirectSite::start().await;
    let registry: serde_json::Value = serde_json::from_str(
        &reqwest::get(format!("{}/registry.json", site.shell_url))
            .await
            .expect("registry")
            .text()
            .await
            .expect("registry body"),
    )
    .expect("registry JSON");
    assert_eq!(
        registry["services"]["pricing"]["direct"], true,
        "{registry}"
    );

    let Some(browser) = Browser::start().await else {
        return;
    };
    browser
        .open_with_loader(&format!("{}/dashboard", site.shell_url))
        .await;
    browser.eval("window.__mfMarker = 1;").await;
    browser.click("header nav a[href='/pricing']").await;
    browser
        .wait_until(
            "document.querySelector('main').dataset.section === 'pricing' && document.querySelector('main [data-fragment=\"pricing/plans\"]')",
            "the plans, fetched directly",
        )
        .await;
    assert_eq!(browser.eval("return window.__mfMarker;").await, 1);
    // The fragment came from pricing's own origin, not through the shell's proxy.
    let fetched = browser
        .eval("return performance.getEntriesByType('resource').map((e) => e.name).filter((n) => n.includes('/fragments/plans'));")
        .await;
    let fetched: Vec<String> = serde_json::from_value(fetched).expect("names");
    assert!(
        fetched
            .iter()
            .any(|n| n.starts_with(&format!("{}/fragments/plans", site.pricing_url))),
        "{fetched:?}"
    );
    assert!(
        !fetched
            .iter()
            .any(|n| n.contains("/svc/pricing/fragments/")),
        "{fetched:?}"
    );
    // Its controller still works (assets come through the shell's proxy).
    browser
        .wait_until(
            "document.querySelector('.billing-toggle__apply').hidden",
            "pricing-toggle to connect",
        )
        .await;
    browser.quit_without_console_errors().await;
}

#[tokio::test]
async fn direct_mode_service_refuses_cors_to_a_foreign_origin() {
    let _heavy = mf_tests::heavy();
    let site = DirectSite::start().await;
    // A preflight from another origin is refused outright.
    let preflight = reqwest::Client::new()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/fragments/plans", site.pricing_url),
        )
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "x-mf-loader")
        .send()
        .await
        .expect("preflight");
    assert_eq!(preflight.status(), 403);
    assert!(preflight
        .headers()
        .get("access-control-allow-origin")
        .is_none());

    // In a real browser: a page on another origin cannot read pricing's fragments, while
    // the shell origin can. The foreign page is a bare server with no CSP of its own (a
    // service's preview would block the fetch with its `connect-src 'self'` before CORS is
    // even asked).
    let Some(browser) = Browser::start().await else {
        return;
    };
    let other_origin = mf_tests::Canary::start().await;
    let foreign = format!("{}/", other_origin.url);
    browser.goto(&foreign).await;
    let script = format!(
        r#"const done = arguments[arguments.length - 1];
        Promise.all([
          fetch("{0}/fragments/plans", {{ headers: {{ "x-mf-loader": "1" }}, mode: "cors" }}).then(() => "read", (e) => "refused: " + e.name),
          fetch("{0}/fragments/plans", {{ mode: "cors" }}).then(() => "read", (e) => "refused: " + e.name),
        ]).then(done);"#,
        site.pricing_url
    );
    let answers = browser.eval_async(&script).await;
    assert_eq!(
        answers,
        serde_json::json!(["refused: TypeError", "refused: TypeError"])
    );
    // Only CORS refusals were logged on the foreign page.
    browser
        .assert_no_console_errors_except(|e| e.contains("CORS") || e.contains("net::ERR_FAILED"))
        .await;

    browser.goto(&format!("{}/pricing", site.shell_url)).await;
    let own = browser
        .eval_async(&format!(
            r#"const done = arguments[arguments.length - 1];
            fetch("{}/fragments/plans", {{ headers: {{ "x-mf-loader": "1" }}, mode: "cors" }}).then((r) => r.text()).then((t) => done(t.includes('data-fragment="pricing/plans"')), (e) => done("refused: " + e));"#,
            site.pricing_url
        ))
        .await;
    assert_eq!(own, true, "the shell's origin may read pricing's fragments");
    browser.quit().await;
}
