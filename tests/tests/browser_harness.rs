//! The browser harness itself: the console check and the JavaScript switch really work, so
//! "no console errors" and "works without JavaScript" in browser.rs are not vacuous.

use mf_tests::browser::Browser;

#[tokio::test]
async fn harness_sees_console_errors_and_uncaught_exceptions() {
    let _heavy = mf_tests::heavy();
    let Some(browser) = Browser::start().await else {
        return;
    };
    browser
        .goto("data:text/html,<title>t</title><script>console.error('boom'); undefined_name.x</script>")
        .await;
    let errors = browser.console_errors().await;
    assert!(errors.iter().any(|e| e.contains("boom")), "{errors:?}");
    assert!(
        errors.iter().any(|e| e.contains("undefined_name")),
        "{errors:?}"
    );
    browser.quit().await;
}

#[tokio::test]
async fn harness_can_switch_javascript_off() {
    let _heavy = mf_tests::heavy();
    let Some(browser) = Browser::start_without_javascript().await else {
        return;
    };
    browser
        .goto("data:text/html,<title>t</title><p id=p>static</p><script>document.getElementById('p').textContent='scripted'</script>")
        .await;
    assert_eq!(browser.text("#p").await, "static");
    browser.quit().await;
}

#[test]
fn nu_checker_reports_invalid_markup_and_passes_valid_markup() {
    let _heavy = mf_tests::heavy();
    let Some(errors) = mf_tests::browser::nu_validate(&[
        (
            "bad".to_owned(),
            mf_tests::browser::fragment_document("<ul><div>not a list item</div></ul>"),
        ),
        (
            "good".to_owned(),
            mf_tests::browser::fragment_document("<ul><li>a list item</li></ul>"),
        ),
    ]) else {
        return;
    };
    assert!(!errors.is_empty(), "the checker found nothing wrong");
    assert!(errors.iter().all(|e| e.contains("bad")), "{errors:?}");
}

#[tokio::test]
async fn axe_reports_serious_violations() {
    let _heavy = mf_tests::heavy();
    let Some(browser) = Browser::start().await else {
        return;
    };
    browser
        .goto("data:text/html,<!DOCTYPE html><html lang=en><title>t</title><main><button></button></main>")
        .await;
    let violations = browser.axe_violations().await;
    assert!(
        violations.iter().any(|v| v.starts_with("button-name")),
        "{violations:?}"
    );
    browser.quit().await;
}
