//! What a visitor sees (issue 24), in headless Chromium against the real services and shell:
//! a wrong password marks the fields and focuses the error summary (with and without
//! JavaScript), `/pricing` does not shift and keeps the billing period in the address across
//! a reload and Back, and the header stays one row on a 360 px phone, its menu opening
//! without JavaScript.

use mf_tests::browser::{shows, sign_up_and_in, Browser};
use mf_tests::Stack;

/// The sum of the page's layout shifts so far (Layout Instability API), read after a
/// moment so late shifts count too, and what shifted (each source's element, its rectangle
/// before and after), for the failure message.
async fn cumulative_layout_shift(browser: &Browser) -> (f64, String) {
    let found = browser
        .eval_async(
            r##"const done = arguments[arguments.length - 1];
            let sum = 0;
            const shifted = [];
            const name = (n) => !n ? "?" : n.nodeType !== 1 ? n.nodeName
              : n.tagName.toLowerCase() + (n.id ? "#" + n.id : "")
                + (n.classList.length ? "." + [...n.classList].join(".") : "");
            const rect = (r) => `${r.x},${r.y} ${r.width}x${r.height}`;
            new PerformanceObserver((list) => {
              for (const e of list.getEntries()) {
                if (e.hadRecentInput) continue;
                sum += e.value;
                for (const s of e.sources || []) {
                  shifted.push(`${e.value.toFixed(5)} at ${Math.round(e.startTime)} ms: `
                    + `${name(s.node)} ${rect(s.previousRect)} -> ${rect(s.currentRect)}`);
                }
              }
            }).observe({ type: "layout-shift", buffered: true });
            setTimeout(() => done([sum, shifted.join("; ")]), 600);"##,
        )
        .await;
    let sum = found[0].as_f64().expect("a number");
    let sources = found[1].as_str().unwrap_or_default().to_owned();
    (sum, sources)
}

/// Whether the yearly prices are the ones shown and the yearly radio is checked.
const SHOWS_YEARLY: &str = "document.querySelector('#pricing-billing-yearly').checked \
    && [...document.querySelectorAll('[data-billing=yearly]')].every((e) => !e.hidden) \
    && [...document.querySelectorAll('[data-billing=monthly]')].every((e) => e.hidden)";

async fn try_wrong_password(browser: &Browser) {
    browser.fill("#sign-in-email", "nobody@example.com").await;
    browser.fill("#sign-in-password", "not the password").await;
    browser
        .click("form[action$='/actions/sign-in'] button[type=submit]")
        .await;
}

/// Both sign-in fields are marked invalid and styled so, and the summary names them.
async fn assert_sign_in_fields_marked(browser: &Browser) {
    for id in ["sign-in-email", "sign-in-password"] {
        let invalid = browser
            .eval(&format!(
                "return document.getElementById('{id}').getAttribute('aria-invalid');"
            ))
            .await;
        assert_eq!(invalid, "true", "{id}");
    }
    // Styled: the marked input's border differs from a field that is not marked.
    let borders = browser
        .eval(
            "const b = (id) => getComputedStyle(document.getElementById(id)).borderTopColor; \
             return [b('sign-in-email'), b('sign-up-email')];",
        )
        .await;
    assert_ne!(borders[0], borders[1], "the invalid field looks the same");
    let summary = browser.text("#sign-in-errors").await;
    assert!(summary.contains("Email or password is wrong"), "{summary}");
    assert!(
        summary.contains("Email") && summary.contains("Password"),
        "{summary}"
    );
}

#[tokio::test]
async fn a_wrong_password_marks_the_fields_and_focuses_the_error_summary() {
    let _heavy = mf_tests::heavy();
    let site = Stack::start().await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    browser.open_with_loader(&site.url("/accounts")).await;
    try_wrong_password(&browser).await;
    browser
        .wait_until(
            "document.activeElement && document.activeElement.id === 'sign-in-errors'",
            "focus on the error summary",
        )
        .await;
    assert_sign_in_fields_marked(&browser).await;
    let violations = browser.axe_violations().await;
    assert!(violations.is_empty(), "axe: {violations:?}");
    // The 422 came back as 200 with x-mf-form-status: no "Failed to load resource".
    browser.quit_without_console_errors().await;
}

#[tokio::test]
async fn without_javascript_a_wrong_password_page_focuses_the_error_summary() {
    let _heavy = mf_tests::heavy();
    let site = Stack::start().await;
    let Some(browser) = Browser::start_without_javascript().await else {
        return;
    };
    browser.goto(&site.url("/accounts")).await;
    try_wrong_password(&browser).await;
    browser
        .wait_until(
            "document.activeElement && document.activeElement.id === 'sign-in-errors'",
            "autofocus on the error summary",
        )
        .await;
    assert_sign_in_fields_marked(&browser).await;
    browser.quit().await;
}

#[tokio::test]
async fn pricing_does_not_shift_and_keeps_yearly_across_reload_and_back() {
    let _heavy = mf_tests::heavy();
    let site = Stack::start().await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    browser.open_with_loader(&site.url("/pricing")).await;
    browser
        .wait_until(
            "document.querySelector('.billing-toggle__apply').hidden",
            "pricing-toggle to connect",
        )
        .await;
    let (cls, shifted) = cumulative_layout_shift(&browser).await;
    assert_eq!(cls, 0.0, "layout shift on /pricing, of: {shifted}");

    browser.click("label[for='pricing-billing-yearly']").await;
    browser.wait_until(SHOWS_YEARLY, "yearly prices").await;
    assert_eq!(browser.url().await.query(), Some("billing=yearly"));

    browser.client().refresh().await.expect("reload");
    browser
        .wait_until(SHOWS_YEARLY, "yearly after a reload")
        .await;

    browser.open_with_loader(browser.url().await.as_ref()).await;
    browser.go_to_section("dashboard").await;
    browser.client().back().await.expect("back");
    browser.wait_until(&shows("pricing"), "pricing again").await;
    browser.wait_until(SHOWS_YEARLY, "yearly after Back").await;
    assert_eq!(browser.url().await.query(), Some("billing=yearly"));
    browser.quit_without_console_errors().await;
}

/// The header's height and whether its brand, user menu and menu button share one row.
async fn header_rows(browser: &Browser) -> (f64, bool) {
    let found = browser
        .eval(
            "const r = (s) => document.querySelector(s).getBoundingClientRect(); \
             const tops = ['.brand', '.site-header__aside', '.site-menu__button'].map((s) => r(s)); \
             const one = tops.every((t) => t.top < tops[0].bottom && t.bottom > tops[0].top); \
             return [r('header').height, one, innerWidth];",
        )
        .await;
    assert_eq!(found[2], 360, "the window is 360 px wide");
    (found[0].as_f64().expect("height"), found[1] == true)
}

#[tokio::test]
async fn at_360_px_the_header_is_one_row_signed_out_and_in() {
    let _heavy = mf_tests::heavy();
    let site = Stack::start().await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    browser
        .client()
        .set_window_size(360, 780)
        .await
        .expect("window size");
    // The window's outer width includes no frame in headless Chromium; make the viewport
    // exactly 360 px whatever the frame.
    let inner = browser.eval("return innerWidth;").await.as_f64().unwrap();
    if inner != 360.0 {
        let outer = 360 + (360 - inner as u32);
        browser.client().set_window_size(outer, 780).await.unwrap();
    }
    browser.open_with_loader(&site.url("/pricing")).await;
    let (height, one_row) = header_rows(&browser).await;
    // One row: the 3.5rem row plus its padding and border, at 16 px per rem.
    assert!(one_row, "the header wraps");
    assert!(height <= 56.0 + 16.0 + 1.0, "header {height} px high");

    // Signed in, the user menu still fits.
    browser.go_to_section("accounts").await;
    let email = "ada.narrow@example.com";
    sign_up_and_in(&browser, &site, "Ada Lovelace", email, "analytical engine").await;
    browser
        .wait_until(&shows("dashboard"), "the dashboard after sign-in")
        .await;
    browser
        .wait_until(
            "document.querySelector('header .user-menu form')",
            "the signed-in user menu",
        )
        .await;
    let (height, one_row) = header_rows(&browser).await;
    assert!(one_row, "the signed-in header wraps");
    assert!(
        height <= 56.0 + 16.0 + 1.0,
        "signed-in header {height} px high"
    );
    browser.quit_without_console_errors().await;
}

#[tokio::test]
async fn the_header_menu_opens_without_javascript() {
    let _heavy = mf_tests::heavy();
    let site = Stack::start().await;
    let Some(browser) = Browser::start_without_javascript().await else {
        return;
    };
    browser
        .client()
        .set_window_size(360, 780)
        .await
        .expect("window size");
    browser.goto(&site.url("/pricing")).await;
    let shown = "getComputedStyle(document.querySelector('.site-menu__panel a[href=\"/dashboard\"]')).display !== 'none' \
                 && document.querySelector('.site-menu').open";
    assert_eq!(
        browser.eval(&format!("return Boolean({shown});")).await,
        false
    );
    browser.click(".site-menu__button").await;
    browser.wait_until(shown, "the menu's links").await;
    browser
        .click(".site-menu__panel a[href='/dashboard']")
        .await;
    browser
        .wait_until("location.pathname === '/dashboard'", "the dashboard")
        .await;
    browser.quit().await;
}
