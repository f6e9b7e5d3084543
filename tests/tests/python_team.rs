//! A team in another language (issue 12): `examples/python/changelog.py`, a fragment server in
//! Python 3 with the standard library only, runs as a real process (`python3` on a free port)
//! and joins the site by configuration alone.
//!
//! - `shell check` (the same checks, as the library function `shell::check::check`) passes
//!   on it, and its own `unittest` suite passes.
//! - It verifies the shell's signed user context exactly as `shared_ui::context` does: a
//!   context signed by the Rust code greets the user, a forged or expired one reads as
//!   signed out; through the shell, a signed-in user sees their name in its fragment.
//! - In headless Chromium, the loader swaps its fragment in and out beside the Rust teams'.
//!
//! A missing `python3` fails these tests with a message: they never skip silently.

use mf_tests::browser::{fragment_document, nu_validate, shows, Browser};
use mf_tests::python::{example_dir, python, PythonService};
use mf_tests::{get_with, post_form, Stack, StackOptions, SECRET};
use reqwest::StatusCode;
use shared_ui::context::{ContextKey, UserContext, DEFAULT_TTL};
use shared_ui::settings::Secret;

/// The three Rust teams, the Python team and the shell, with a `/whats-new` section showing
/// the Python team's `entries` fragment.
async fn stack_with_python() -> (Stack, PythonService) {
    let python = PythonService::start().await;
    let stack = Stack::start_with(StackOptions::with_section(
        "changelog",
        &python.url,
        "whats-new",
        &["changelog/entries"],
    ))
    .await;
    (stack, python)
}

fn key(secret: &str) -> ContextKey {
    ContextKey::new(Secret::new(secret.to_owned()))
}

fn grace() -> UserContext {
    UserContext {
        id: 42,
        name: "Grace <b>Hopper</b>".to_owned(),
        plan: "pro".to_owned(),
        since: None,
        changed: None,
    }
}

async fn entries_with_context(service: &PythonService, context: &str) -> String {
    let url = format!("{}/fragments/entries", service.url);
    let res = get_with(&reqwest::Client::new(), url, &[("x-mf-user", context)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.text().await.unwrap()
}

#[tokio::test]
async fn shell_check_passes_on_the_python_service() {
    let _heavy = mf_tests::heavy();
    let service = PythonService::start().await;
    let report = shell::check::check(&service.url).await;
    assert!(report.passed(), "{report}");
    // Manifest, 2 fragments x 6, 2 assets (each at its hashed URL: its hash checked too),
    // healthz, readyz, unknown route.
    assert_eq!(report.checks.len(), 20, "{report}");
    assert!(
        report
            .to_string()
            .contains("is the content hash of the bytes"),
        "{report}"
    );
}

#[test]
fn the_example_shell_configuration_with_the_python_team_is_valid() {
    let _heavy = mf_tests::heavy();
    let path = example_dir().join("shell.toml");
    let settings = <shell::settings::Settings as clap::Parser>::try_parse_from([
        "shell",
        "--config",
        path.to_str().unwrap(),
    ])
    .unwrap();
    let config = settings.resolve().unwrap();
    assert_eq!(config.services.len(), 4);
    assert_eq!(config.sections.len(), 4);
}

#[test]
fn the_python_unittest_suite_passes() {
    let _heavy = mf_tests::heavy();
    let out = python()
        .args(["-m", "unittest", "discover", "-s"])
        .arg(example_dir())
        .output()
        .expect("python3 runs: these tests need Python 3.8+ on PATH");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "python3 -m unittest failed:\n{stderr}"
    );
    assert!(stderr.contains("\nOK"), "{stderr}");
}

#[tokio::test]
async fn the_python_service_verifies_contexts_signed_by_the_rust_code_and_refuses_forged_ones() {
    let _heavy = mf_tests::heavy();
    let service = PythonService::start().await;
    let signed = key(SECRET).sign(&grace(), DEFAULT_TTL);
    let html = entries_with_context(&service, &signed).await;
    assert!(
        html.contains("Hi Grace &lt;b&gt;Hopper&lt;/b&gt;,"),
        "{html}"
    );

    let forged = key("a-forger-s-own-secret-0123").sign(&grace(), DEFAULT_TTL);
    let expired = key(SECRET).sign_with_expiry(&grace(), 1);
    let (payload, _) = signed.split_once('.').unwrap();
    for (what, value) in [
        ("forged", forged.as_str()),
        ("expired", expired.as_str()),
        ("unsigned", payload),
        ("garbage", "not a context"),
    ] {
        let html = entries_with_context(&service, value).await;
        assert!(!html.contains("Grace"), "{what}: {html}");
        assert!(html.contains("You are signed out"), "{what}: {html}");
    }
}

#[tokio::test]
async fn the_python_preview_and_fragments_are_valid_html() {
    let _heavy = mf_tests::heavy();
    let service = PythonService::start().await;
    let client = reqwest::Client::new();
    let user = key(SECRET).sign(&grace(), DEFAULT_TTL);
    let headers = [
        ("x-mf-base-path", "/svc/changelog"),
        ("x-mf-user", user.as_str()),
    ];
    let get = |path: &str| {
        let (client, headers) = (&client, &headers);
        let url = format!("{}{path}", service.url);
        async move { get_with(client, url, headers).await.text().await.unwrap() }
    };
    let preview = get("/").await;
    let entries = get("/fragments/entries").await;
    let teaser = get("/fragments/teaser").await;
    let invalid = post_form(
        &client,
        format!("{}/actions/feedback", service.url),
        &[],
        &[("entry", "nope"), ("message", "")],
    )
    .await;
    assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let invalid = invalid.text().await.unwrap();
    let Some(errors) = nu_validate(&[
        ("preview".to_owned(), preview),
        ("entries".to_owned(), fragment_document(&entries)),
        ("teaser".to_owned(), fragment_document(&teaser)),
        ("entries-422".to_owned(), fragment_document(&invalid)),
    ]) else {
        return;
    };
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[tokio::test]
async fn through_the_shell_a_signed_in_user_sees_their_name_in_the_python_fragment() {
    let _heavy = mf_tests::heavy();
    let (stack, _python) = stack_with_python().await;
    let (status, _, page) = stack.page("/whats-new").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("data-slot=\"changelog/entries\""), "{page}");
    assert!(page.contains("You are signed out"), "{page}");
    // The shell told it its base path: the form posts through the proxy.
    assert!(
        page.contains("action=\"/svc/changelog/actions/feedback\""),
        "{page}"
    );

    let res = stack
        .sign_up_navigating("Katherine Johnson", "katherine@example.com")
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    let (_, _, page) = stack.page("/whats-new").await;
    let slot = &page[page.find("data-slot=\"changelog/entries\"").unwrap()..];
    assert!(
        slot.contains("Hi Katherine Johnson, here is what changed lately on your pro plan."),
        "{slot}"
    );

    // Its action through the proxy: 422 with the fragment and inline errors, then 303.
    let loader = [("x-mf-loader", "1")];
    let res = stack
        .post_form(
            "/svc/changelog/actions/feedback",
            &loader,
            &[("entry", "no-such-entry"), ("message", "")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("data-fragment=\"changelog/entries\""),
        "{html}"
    );
    assert!(html.contains("field--invalid"), "{html}");
    let res = stack
        .post_form(
            "/svc/changelog/actions/feedback",
            &loader,
            &[
                ("entry", "2026-11-csv-export"),
                ("message", "Just what we needed"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/whats-new?thanks=1");
    let (_, _, page) = stack.page("/whats-new?thanks=1").await;
    assert!(page.contains("your feedback reached the team"), "{page}");
    stack.stop().await;
}

#[tokio::test]
async fn the_loader_swaps_the_python_fragment_in_and_out_beside_the_rust_teams() {
    let _heavy = mf_tests::heavy();
    let (site, _python) = stack_with_python().await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    browser.open_with_loader(&site.url("/dashboard")).await;
    browser.eval("window.__mfMarker = 'still here';").await;
    let has_changelog = "return !!document.querySelector('[data-fragment=\"changelog/entries\"]');";
    assert_eq!(browser.eval(has_changelog).await, false);

    browser.click("header nav a[href='/whats-new']").await;
    browser
        .wait_until(&shows("whats-new"), "the Python team's section")
        .await;
    assert_eq!(browser.url().await.path(), "/whats-new");
    assert_eq!(browser.eval(has_changelog).await, true);
    // Its Stimulus controller loaded through /svc/changelog/ and connected.
    browser
        .wait_until(
            "(() => { const c = document.querySelector('[data-changelog-feedback-target=count]'); \
             return c && !c.hidden && c.textContent === '500 characters left'; })()",
            "the Python team's controller to connect",
        )
        .await;
    assert_eq!(
        browser
            .eval("return window.__mfMarker === 'still here';")
            .await,
        true,
        "the page was reloaded"
    );

    // Its form, through the loader: a 422 comes back inline, a 303 navigates in place.
    let form = "form[action='/svc/changelog/actions/feedback']";
    browser.fill("#changelog-message", "x").await;
    browser.click(&format!("{form} button[type=submit]")).await;
    browser
        .wait_until(
            "document.querySelector('[data-fragment=\"changelog/entries\"] #changelog-message-error')",
            "the inline error of the 422 answer",
        )
        .await;
    assert!(browser
        .text("#changelog-message-error")
        .await
        .contains("at least 3 characters"));
    browser
        .fill("#changelog-message", "Exactly what we needed")
        .await;
    browser.click(&format!("{form} button[type=submit]")).await;
    browser
        .wait_until(
            "location.search === '?thanks=1' && document.querySelector('main').textContent.includes('your feedback reached the team')",
            "the thanks after the 303",
        )
        .await;
    assert_eq!(browser.url().await.path(), "/whats-new");
    assert_eq!(
        browser
            .eval("return window.__mfMarker === 'still here';")
            .await,
        true,
        "the form caused a full page load"
    );

    browser.click("header nav a[href='/dashboard']").await;
    browser
        .wait_until(&shows("dashboard"), "the dashboard")
        .await;
    assert_eq!(browser.eval(has_changelog).await, false, "not swapped out");
    assert_eq!(
        browser
            .eval("return !!document.querySelector('[data-fragment=\"dashboard/overview\"]') && window.__mfMarker === 'still here';")
            .await,
        true,
        "the dashboard came back without a full page load"
    );
    // The 422 answer is expected; Chromium logs every 4xx fetch as a network error.
    browser
        .assert_no_console_errors_except(|e| {
            e.contains("/svc/changelog/actions/feedback") && e.contains("422")
        })
        .await;
    browser.quit().await;
    site.stop().await;
}
