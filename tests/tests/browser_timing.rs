//! The loader records its click-to-swap time with the Performance API (`mf:navigation`,
//! from `mf:click` to `mf:swap`). This test checks that it does for every section change
//! and prints, for the issue note, the median of 20 swaps on loopback beside the median of
//! 20 full page loads of the same URL. It asserts no figure: timings go in reports, not in
//! pass/fail.

use mf_tests::browser::Browser;
use mf_tests::Stack;

const RUNS: usize = 20;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

#[tokio::test]
async fn click_to_swap_time_is_recorded_for_every_section_change() {
    let _heavy = mf_tests::heavy();
    let site = Stack::start().await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    browser.open_with_loader(&site.url("/dashboard")).await;

    // Warm-up: the pricing CSS and controller load once, on the first visit.
    let mut swaps = Vec::new();
    for i in 0..=RUNS * 2 {
        let section = if i % 2 == 0 { "pricing" } else { "dashboard" };
        browser.go_to_section(section).await;
        if section == "pricing" && i > 0 {
            let ms = browser
                .eval("const m = performance.getEntriesByName('mf:navigation'); return m[m.length - 1].duration;")
                .await;
            swaps.push(ms.as_f64().expect("a duration"));
        }
    }
    let recorded = browser
        .eval("return performance.getEntriesByName('mf:navigation').length;")
        .await;
    assert_eq!(
        recorded.as_u64(),
        Some(RUNS as u64 * 2 + 1),
        "one measure per section change"
    );

    let mut loads = Vec::new();
    let mut dom_ready = Vec::new();
    for _ in 0..RUNS {
        browser.goto(&site.url("/pricing")).await;
        browser
            .wait_until(
                "performance.getEntriesByType('navigation')[0].loadEventEnd > 0",
                "the load event",
            )
            .await;
        let nav = browser
            .eval("const n = performance.getEntriesByType('navigation')[0]; return [n.loadEventEnd, n.domContentLoadedEventEnd];")
            .await;
        loads.push(nav[0].as_f64().expect("loadEventEnd"));
        dom_ready.push(nav[1].as_f64().expect("domContentLoadedEventEnd"));
    }
    // For the issue note (visible with --nocapture or in the nextest log).
    eprintln!(
        "browser timing, loopback, median of {RUNS}: click-to-swap /dashboard -> /pricing {:.1} ms; \
         full page load of /pricing: loadEventEnd {:.1} ms, domContentLoaded {:.1} ms",
        median(swaps),
        median(loads),
        median(dom_ready)
    );
    browser.quit_without_console_errors().await;
}
