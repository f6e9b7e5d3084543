//! The shell's status page (`GET /` on the admin port, docs/OPERATIONS.md "Status page")
//! in Chromium: after a few page views with svc-dashboard stopped, it marks it down with its
//! last error and counts the fallbacks of its fragment; it refreshes in place (the
//! Stimulus controller) as more pages are viewed, works with JavaScript off, passes the Nu
//! HTML checker and has no serious axe finding. The public port never serves it.

use mf_tests::browser::{nu_validate, Browser};
use mf_tests::Stack;

/// The number in a `data-outcome` cell of the page.
async fn outcome(browser: &Browser, id: &str) -> u64 {
    let script = format!(
        "const c = document.querySelector('[data-outcome=\"{id}\"]'); \
         return c ? Number(c.textContent) : -1;"
    );
    browser.eval(&script).await.as_f64().unwrap_or(-1.0) as u64
}

async fn views(site: &Stack, path: &str, n: usize) {
    for _ in 0..n {
        let res = site.get(path).await;
        assert_eq!(res.status(), 200);
        let _ = res.text().await;
    }
}

#[tokio::test]
async fn the_status_page_marks_a_stopped_service_down_and_counts_its_fallbacks() {
    let _heavy = mf_tests::heavy();
    let mut site = Stack::start().await;
    views(&site, "/dashboard", 2).await;
    // The public port has no status page: its `/` is the site (the
    // dashboard section, a third good view).
    let (_, _, public) = site.page("/").await;
    assert!(!public.contains("Mosaic shell status"), "{public}");
    site.stop_service("dashboard").await;
    views(&site, "/dashboard", 3).await;

    let status_url = format!("{}/", site.admin_url());
    let page = reqwest::get(&status_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let Some(errors) = nu_validate(&[("status page".to_owned(), page.clone())]) else {
        return;
    };
    assert!(
        errors.is_empty(),
        "Nu HTML checker errors:\n{}",
        errors.join("\n")
    );

    let Some(browser) = Browser::start().await else {
        return;
    };
    browser.goto(&status_url).await;
    let dashboard_down =
        "document.querySelector('[data-health=\"dashboard\"]').textContent.trim() === 'down'";
    browser
        .wait_until(dashboard_down, "dashboard marked down")
        .await;
    let pricing_up = browser
        .eval("return document.querySelector('[data-health=\"pricing\"]').textContent.trim();")
        .await;
    assert_eq!(pricing_up, "up");
    let fallbacks = outcome(&browser, "dashboard/overview fallback").await
        + outcome(&browser, "dashboard/overview unavailable").await
        + outcome(&browser, "dashboard/overview cached").await;
    assert_eq!(fallbacks, 3, "the three views after the stop");
    assert_eq!(outcome(&browser, "dashboard/overview ok").await, 3);
    let errors_text = browser.text("main").await;
    assert!(errors_text.contains("dashboard/overview"), "{errors_text}");
    let violations = browser.axe_violations().await;
    assert!(violations.is_empty(), "axe: {violations:?}");

    // More views: the controller refreshes the figures in place, without a reload.
    browser.eval("window.__statusMarker = 'still here';").await;
    views(&site, "/dashboard", 2).await;
    let five =
        "Number(document.querySelector('[data-outcome=\"dashboard/overview ok\"]').textContent) === 3 \
                && [...document.querySelectorAll('[data-outcome^=\"dashboard/overview \"]')] \
                   .map((c) => Number(c.textContent)).reduce((a, b) => a + b) === 8";
    browser.wait_until(five, "the refreshed counts").await;
    let kept = browser.eval("return window.__statusMarker || null;").await;
    assert_eq!(kept, "still here", "the refresh reloaded the page");
    browser.quit_without_console_errors().await;

    // JavaScript off: the same figures, server-rendered.
    let Some(plain) = Browser::start_without_javascript().await else {
        return;
    };
    plain.goto(&status_url).await;
    assert_eq!(
        plain
            .eval(
                "return document.querySelector('[data-health=\"dashboard\"]').textContent.trim();"
            )
            .await,
        "down"
    );
    plain.quit().await;
    site.stop().await;
}
