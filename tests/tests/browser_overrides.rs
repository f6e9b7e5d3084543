//! Per-browser overrides in Chromium (issue 23): two browsers on one shell. One follows a
//! shared link to point pricing at a team's working copy ([`MarkedPricing`], whose plans
//! carry a marker) and sees it on `/pricing`, in client-side swaps and through the proxy,
//! under the banner; the other sees the registered pricing at the same time. The banner's
//! button clears the override and the registered pricing comes back. The overridden page is
//! valid HTML with no serious axe violation.

use mf_tests::browser::{nu_validate, shows, Browser};
use mf_tests::{MarkedPricing, Stack, StackOptions};

const MARKER: &str = "Working copy MARKER of the pricing team.";
const ORIGINAL: &str = "For professionals who ship every week.";

/// Whether `<main>` shows `text`.
fn main_shows(text: &str) -> String {
    format!("document.querySelector('main').innerText.includes({text:?})")
}

/// A script that fetches a pricing fragment through the proxy, as the loader does, and
/// gives back its text.
const FETCH_PLANS: &str = r#"const done = arguments[arguments.length - 1];
fetch("/svc/pricing/fragments/plans", { headers: { "x-mf-loader": "1" } })
  .then((r) => r.text()).then(done, (e) => done(`failed: ${e}`));"#;

#[tokio::test]
async fn one_browser_sees_its_override_everywhere_while_the_other_sees_the_registered_service() {
    let _heavy = mf_tests::heavy();
    let marked = MarkedPricing::start(MARKER).await;
    let stack = Stack::start_with(StackOptions {
        shell_args: vec!["--allow-overrides".into(), "localhost".into()],
        ..StackOptions::default()
    })
    .await;
    let site = |path: &str| stack.url(path);
    let (Some(mine), Some(other)) = (Browser::start().await, Browser::start().await) else {
        return;
    };

    // A shared link asks first; the button sets the override.
    mine.goto(&site(&format!(
        "/_mosaic/overrides?service=pricing&url={}",
        marked.url
    )))
    .await;
    assert!(mine.text("main").await.contains(&marked.url));
    mine.click("main form button[type=submit]").await;
    mine.wait_until(
        "location.pathname === '/_mosaic/overrides' && document.body.textContent.includes('overridden in this browser')",
        "the overrides page after the choice",
    )
    .await;

    // Composed on the server: the teaser on the dashboard, under the banner.
    mine.open_with_loader(&site("/dashboard")).await;
    mine.wait_until(&main_shows(MARKER), "the overridden teaser")
        .await;
    let banner = mine.text("aside.mf-overrides").await;
    assert!(
        banner.contains("pricing") && banner.contains("Clear overrides"),
        "{banner}"
    );
    // A client-side swap to /pricing fetches the plans through the proxy.
    mine.go_to_section("pricing").await;
    mine.wait_until(&main_shows(MARKER), "the overridden plans after a swap")
        .await;
    let proxied = mine.eval_async(FETCH_PLANS).await;
    assert!(proxied.as_str().unwrap_or_default().contains(MARKER));

    // The other browser, at the same time: the registered pricing, no banner.
    other.open_with_loader(&site("/pricing")).await;
    other
        .wait_until(&main_shows(ORIGINAL), "the registered plans")
        .await;
    other.go_to_section("dashboard").await;
    other.go_to_section("pricing").await;
    other
        .wait_until(&main_shows(ORIGINAL), "the registered plans after a swap")
        .await;
    let state = other
        .eval("return [document.querySelectorAll('aside.mf-overrides').length, document.body.innerText.includes('MARKER')];")
        .await;
    assert_eq!(state, serde_json::json!([0, false]));
    let proxied = other.eval_async(FETCH_PLANS).await;
    assert!(!proxied.as_str().unwrap_or_default().contains(MARKER));

    // The overridden page is valid and accessible, banner included.
    mine.goto(&site("/pricing")).await;
    mine.wait_until(&main_shows(MARKER), "the overridden plans, loaded")
        .await;
    let violations = mine.axe_violations().await;
    assert!(violations.is_empty(), "{violations:#?}");
    // The HTML as the server sends it, for a client with the same override.
    let set = stack
        .client
        .post(site("/_mosaic/overrides"))
        .header("origin", &stack.shell_url)
        .form(&[("service", "pricing"), ("url", marked.url.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 303);
    let (_, _, html) = stack.page("/pricing").await;
    assert!(html.contains(MARKER) && html.contains("mf-overrides"));
    // And the overrides' own pages: the list, a shared link's confirmation, a refusal.
    let mut docs = vec![("overridden /pricing".to_owned(), html)];
    for path in [
        "/_mosaic/overrides".to_owned(),
        format!("/_mosaic/overrides?service=pricing&url={}", marked.url),
        "/_mosaic/overrides?service=accounts&url=http://localhost:1".to_owned(),
    ] {
        let res = stack.client.get(site(&path)).send().await.unwrap();
        docs.push((path, res.text().await.unwrap()));
    }
    let Some(errors) = nu_validate(&docs) else {
        return;
    };
    assert!(errors.is_empty(), "{errors:#?}");

    // The banner's button clears it: back on the same section, the registered pricing.
    mine.click("aside.mf-overrides button[type=submit]").await;
    mine.wait_until(
        &format!(
            "location.pathname === '/pricing' && !document.querySelector('aside.mf-overrides') && {}",
            main_shows(ORIGINAL)
        ),
        "the registered plans after clearing",
    )
    .await;
    mine.wait_until(&shows("pricing"), "the pricing section")
        .await;
    let proxied = mine.eval_async(FETCH_PLANS).await;
    assert!(!proxied.as_str().unwrap_or_default().contains(MARKER));

    mine.quit_without_console_errors().await;
    other.quit_without_console_errors().await;
    marked.stop().await;
    stack.stop().await;
}
