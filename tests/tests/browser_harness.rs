//! The browser harness itself: the console check and the JavaScript switch really work, so
//! "no console errors" and "works without JavaScript" in browser.rs are not vacuous.

use mf_tests::browser::Browser;

#[tokio::test]
async fn harness_sees_console_errors_and_uncaught_exceptions() {
    let browser = Browser::start().await;
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
    let browser = Browser::start_without_javascript().await;
    browser
        .goto("data:text/html,<title>t</title><p id=p>static</p><script>document.getElementById('p').textContent='scripted'</script>")
        .await;
    assert_eq!(browser.text("#p").await, "static");
    browser.quit().await;
}
