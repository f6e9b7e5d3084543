//! The shell's browser side (issue 6), in headless Chromium against the real services and
//! shell: client-side navigation, history, loading and error states, forms, assets on
//! demand, the JavaScript-off fallback, and the issue 5 sign-up flow. Every test ends by
//! asserting the pages logged no console error.

use std::time::Duration;

use mf_tests::browser::{shows, sign_up_and_in, Browser};
use mf_tests::faults::System;
use mf_tests::{FakeService, FakeSpec, Stack, StackOptions};

/// Loads `path` and waits until the loader is connected and has the registry.
async fn open(browser: &Browser, site: &Stack, path: &str) {
    browser.open_with_loader(&site.url(path)).await;
}

/// A stack and a browser on `path` with the loader ready and the window marked; `None`
/// when there is no browser to run (the test skips).
async fn open_marked(path: &str) -> Option<(Stack, Browser)> {
    let browser = Browser::start().await?;
    let site = Stack::start().await;
    open(&browser, &site, path).await;
    mark_window(&browser).await;
    Some((site, browser))
}

/// Sets a marker on `window`; it survives only as long as there is no full page load.
async fn mark_window(browser: &Browser) {
    browser.eval("window.__mfMarker = 'still here';").await;
}

async fn marker_survived(browser: &Browser) -> bool {
    browser
        .eval("return window.__mfMarker === 'still here';")
        .await
        == true
}

#[tokio::test]
async fn nav_click_swaps_the_fragment_without_a_full_reload() {
    let _heavy = mf_tests::heavy();
    let Some((_site, browser)) = open_marked("/dashboard").await else {
        return;
    };

    browser.click("header nav a[href='/pricing']").await;
    browser
        .wait_until(&shows("pricing"), "the pricing section")
        .await;

    assert!(marker_survived(&browser).await, "the page was reloaded");
    assert_eq!(browser.url().await.path(), "/pricing");
    let title = browser.eval("return document.title;").await;
    assert!(title.as_str().unwrap().starts_with("Pricing · "), "{title}");
    // Both navigations (inline, and the narrow screen's menu) mark the new section.
    let current = browser
        .eval("return [...document.querySelectorAll('header nav a[aria-current=page]')].map((a) => a.getAttribute('href'));")
        .await;
    assert_eq!(current, serde_json::json!(["/pricing", "/pricing"]));
    let slot = browser
        .eval("const s = document.querySelector('main > .slot'); return [s.dataset.slot, !!s.querySelector('[data-fragment=\"pricing/plans\"]')];")
        .await;
    assert_eq!(slot, serde_json::json!(["pricing/plans", true]));
    // Focus moved to the new content's heading, and the live region said what happened.
    let focus = browser.eval("return document.activeElement.closest('main') !== null && /^H[1-3]$/.test(document.activeElement.tagName);").await;
    assert_eq!(focus, true, "focus is not on the new heading");
    browser
        .wait_until(
            "document.querySelector('[data-fragment-loader-target=announcer]').textContent === 'Pricing loaded'",
            "the announcement",
        )
        .await;
    browser.quit_without_console_errors().await;
}

#[tokio::test]
async fn back_and_forward_restore_fragments_and_scroll_positions() {
    let _heavy = mf_tests::heavy();
    let site = Stack::start().await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    // A short window so that the plans page scrolls.
    browser
        .client()
        .set_window_size(900, 420)
        .await
        .expect("window size");
    open(&browser, &site, "/pricing").await;
    mark_window(&browser).await;
    browser.eval("window.scrollTo(0, 260);").await;
    browser
        .wait_until(
            "history.state.scroll === 260",
            "the scroll position to be recorded",
        )
        .await;

    browser.click("header nav a[href='/dashboard']").await;
    browser
        .wait_until(&shows("dashboard"), "the dashboard")
        .await;
    assert_eq!(browser.eval("return window.scrollY;").await, 0);

    browser.client().back().await.expect("back");
    browser
        .wait_until(&shows("pricing"), "pricing again after Back")
        .await;
    assert_eq!(browser.url().await.path(), "/pricing");
    browser
        .wait_until(
            "Math.abs(window.scrollY - 260) < 2",
            "the scroll position to come back",
        )
        .await;
    let nav = browser.eval("return document.querySelector('header nav a[aria-current=page]').getAttribute('href');").await;
    assert_eq!(nav, "/pricing");

    browser.client().forward().await.expect("forward");
    browser
        .wait_until(&shows("dashboard"), "the dashboard after Forward")
        .await;
    assert_eq!(browser.url().await.path(), "/dashboard");
    assert!(browser
        .eval("return document.title;")
        .await
        .as_str()
        .unwrap()
        .starts_with("Dashboard · "));
    assert!(
        marker_survived(&browser).await,
        "Back or Forward reloaded the page"
    );
    browser.quit_without_console_errors().await;
}

#[tokio::test]
async fn reload_of_a_pushed_url_renders_the_full_page() {
    let _heavy = mf_tests::heavy();
    let Some((_site, browser)) = open_marked("/dashboard").await else {
        return;
    };
    // A link inside a fragment: pricing's "Choose" links carry a query string.
    browser.click("header nav a[href='/pricing']").await;
    browser.wait_until(&shows("pricing"), "pricing").await;
    browser.click("main a[href^='/accounts?plan=']").await;
    browser
        .wait_until(&shows("accounts"), "the accounts section")
        .await;
    let pushed = browser.url().await;
    assert_eq!(pushed.path(), "/accounts");
    assert!(
        pushed.query().unwrap_or_default().starts_with("plan="),
        "{pushed}"
    );

    browser.client().refresh().await.expect("reload");
    browser
        .wait_until(&shows("accounts"), "the reloaded page")
        .await;
    assert!(!marker_survived(&browser).await, "no reload happened");
    assert_eq!(browser.url().await, pushed);
    // The server rendered a whole page: chrome, navigation and the composed slot.
    let page = browser
        .eval("return [document.doctype && document.doctype.name, !!document.querySelector('header nav'), document.querySelector('main > .slot').dataset.fragmentStatus, document.title];")
        .await;
    assert_eq!(page[0], "html");
    assert_eq!(page[1], true);
    assert!(page[3].as_str().unwrap().starts_with("Account"), "{page}");
    // The query went on to the fragment: the chosen plan is preselected.
    let plan = pushed
        .query()
        .unwrap()
        .trim_start_matches("plan=")
        .to_owned();
    let selected = browser
        .eval("return document.querySelector('#sign-up-plan').value;")
        .await;
    assert_eq!(selected, plan.as_str());
    browser.quit_without_console_errors().await;
}

#[tokio::test]
async fn pricing_toggle_works_after_client_side_navigation() {
    let _heavy = mf_tests::heavy();
    let Some((_site, browser)) = open_marked("/dashboard").await else {
        return;
    };
    browser.click("header nav a[href='/pricing']").await;
    browser.wait_until(&shows("pricing"), "pricing").await;
    // The controller connected: it hides the no-JS "Show prices" button.
    browser
        .wait_until(
            "document.querySelector('.billing-toggle__apply').hidden",
            "pricing-toggle to connect",
        )
        .await;
    browser.click("label[for='pricing-billing-yearly']").await;
    browser
        .wait_until(
            "[...document.querySelectorAll('[data-billing=yearly]')].every((e) => !e.hidden) \
             && [...document.querySelectorAll('[data-billing=monthly]')].every((e) => e.hidden)",
            "yearly prices to show",
        )
        .await;
    assert!(marker_survived(&browser).await);
    // The service's stylesheet was added once.
    let sheets = browser
        .eval("return [...document.querySelectorAll('link[rel=stylesheet]')].filter((l) => l.href.includes('/svc/pricing/')).length;")
        .await;
    assert_eq!(sheets, 1);
    browser.quit_without_console_errors().await;
}

#[tokio::test]
async fn fragment_form_posts_and_shows_its_422_answer_inline() {
    let _heavy = mf_tests::heavy();
    let Some((_site, browser)) = open_marked("/accounts").await else {
        return;
    };
    // A name of spaces passes the browser's `required` but not the server.
    browser.fill("#sign-up-name", "   ").await;
    browser.fill("#sign-up-email", "ada@example.com").await;
    browser
        .fill("#sign-up-password", "correct horse battery")
        .await;
    browser
        .click("form[action$='/actions/sign-up'] button[type=submit]")
        .await;
    browser
        .wait_until(
            "document.querySelector('#sign-up-name[aria-invalid=true]')",
            "the inline error",
        )
        .await;
    assert!(
        marker_survived(&browser).await,
        "the form caused a full page load"
    );
    assert_eq!(browser.url().await.path(), "/accounts");
    browser
        .screenshot(&std::env::temp_dir().join("mf-form-422.png"))
        .await;
    let violations = browser.axe_violations().await;
    assert!(
        violations.is_empty(),
        "axe on the 422 answer: {violations:?}"
    );
    let error = browser.text("#sign-up-name-error").await;
    assert!(error.contains("name"), "{error}");
    // Focus is on the error summary, which links to the field.
    assert_eq!(
        browser.eval("return document.activeElement.id;").await,
        "sign-up-errors"
    );
    assert!(browser.text("#sign-up-errors").await.contains("Name"));
    // The loader asks for the 422 in a 200 (x-mf-form-status), so nothing is logged.
    browser.quit_without_console_errors().await;
}

#[tokio::test]
async fn two_quick_clicks_end_on_the_second_section() {
    let _heavy = mf_tests::heavy();
    let Some((_site, browser)) = open_marked("/dashboard").await else {
        return;
    };
    // Both clicks in one script, so the second surely comes while the first is in flight.
    browser
        .eval(
            "document.querySelector(\"header nav a[href='/pricing']\").click(); \
             document.querySelector(\"header nav a[href='/accounts']\").click();",
        )
        .await;
    browser
        .wait_until(&shows("accounts"), "the second section")
        .await;
    // Let any late answer of the first click arrive: it must not win.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let state = browser
        .eval("return [document.querySelector('main').dataset.section, location.pathname, document.querySelector('header nav a[aria-current=page]').getAttribute('href')];")
        .await;
    assert_eq!(state[0], "accounts");
    assert_eq!(state[1], "/accounts");
    assert_eq!(state[2], "/accounts");
    assert!(marker_survived(&browser).await);
    browser.quit_without_console_errors().await;
}

#[tokio::test]
async fn dead_service_shows_its_fallback_and_its_retry_link_swaps_in_place_once_it_is_back() {
    let _heavy = mf_tests::heavy();
    let mut site = Stack::start().await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    open(&browser, &site, "/dashboard").await;
    mark_window(&browser).await;
    site.stop_service("pricing").await;

    // The plans were never fetched: the swap shows the service's declared fallback, as a
    // full load of /pricing would.
    browser.click("header nav a[href='/pricing']").await;
    let fallback = "main [data-slot='pricing/plans'][data-fragment-status='fallback']";
    browser
        .wait_until(
            &format!("document.querySelector(\"{fallback}\") && !document.querySelector('main').hasAttribute('aria-busy')"),
            "the fallback",
        )
        .await;
    assert_eq!(browser.url().await.path(), "/pricing");
    let message = browser.text(fallback).await;
    assert!(message.contains("cannot be shown in full"), "{message}");
    browser
        .screenshot(&std::env::temp_dir().join("mf-fallback-state.png"))
        .await;
    let violations = browser.axe_violations().await;
    assert!(
        violations.is_empty(),
        "axe on the fallback state: {violations:?}"
    );

    site.start_service("pricing").await;
    browser
        .click(&format!("{fallback} a[href='/pricing']"))
        .await;
    browser
        .wait_until(
            "document.querySelector(\"main [data-slot='pricing/plans'][data-fragment-status='ok'] .pricing__plans\")",
            "the plans after the retry link",
        )
        .await;
    assert!(
        marker_survived(&browser).await,
        "the retry was a swap in place"
    );
    browser.quit_without_console_errors().await;
}

#[tokio::test]
async fn a_fragment_with_no_copy_and_no_fallback_shows_the_pages_box_whose_retry_swaps_in_place() {
    let fake = FakeService::start(FakeSpec::new("gone", &["widget"])).await;
    let port: u16 = fake.url.rsplit(':').next().unwrap().parse().unwrap();
    let site = Stack::start_with(StackOptions::with_section(
        "gone",
        &fake.url,
        "gone",
        &["gone/widget"],
    ))
    .await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    open(&browser, &site, "/dashboard").await;
    mark_window(&browser).await;
    fake.stop().await;

    browser.click("header nav a[href='/gone']").await;
    let unavailable = "main [data-slot='gone/widget'][data-fragment-status='unavailable']";
    browser
        .wait_until(
            &format!("document.querySelector(\"{unavailable}\") && !document.querySelector('main').hasAttribute('aria-busy')"),
            "the unavailable box",
        )
        .await;
    let message = browser.text(unavailable).await;
    assert!(
        message.contains("Gone is unavailable right now."),
        "{message}"
    );

    let _back = FakeService::start_on(FakeSpec::new("gone", &["widget"]), port).await;
    browser
        .click(&format!("{unavailable} a[href='/gone']"))
        .await;
    browser
        .wait_until(
            "document.querySelector(\"main [data-slot='gone/widget'][data-fragment-status='ok']\")",
            "the fragment after Retry",
        )
        .await;
    assert!(browser.text("main").await.contains("Fake widget fragment"));
    assert!(
        marker_survived(&browser).await,
        "the retry was a swap in place"
    );
    // Only the failed fetch of the stopped service may have been logged (its 502).
    browser
        .assert_no_console_errors_except(|e| e.contains("/svc/gone/"))
        .await;
    browser.quit().await;
}

/// The computed style of the pricing cards (a card's box and the list that holds them),
/// and the plans' slot: its status and text. `null` when the cards are not there.
const PLANS_PROBE: &str = r#"
    const card = document.querySelector("main .plan");
    const list = document.querySelector("main .pricing__plans");
    const slot = document.querySelector("main [data-slot='pricing/plans']");
    if (!card || !list || !slot) return null;
    const c = getComputedStyle(card), l = getComputedStyle(list);
    return {
      style: [c.display, c.backgroundColor, c.borderTopWidth, c.borderTopStyle,
              c.borderTopLeftRadius, c.boxShadow, l.display, l.listStyleType].join(" | "),
      status: slot.dataset.fragmentStatus,
      text: slot.innerText,
    };"#;

/// [`PLANS_PROBE`] on the page `browser` shows.
async fn plans(browser: &Browser) -> serde_json::Value {
    browser.eval(PLANS_PROBE).await
}

/// Swaps to the dashboard and back to the plans with the loader.
async fn swap_back_to_pricing(browser: &Browser) {
    browser.go_to_section("dashboard").await;
    browser.go_to_section("pricing").await;
}

#[tokio::test]
async fn a_killed_pricing_process_leaves_its_plans_styled_and_the_same_in_a_full_load_and_a_swap() {
    let spare = FakeService::start(FakeSpec::new("spare", &["widget"])).await;
    let mut system = System::start("spare", &spare.url).await;
    let Some(first) = Browser::start().await else {
        return;
    };
    first.open_with_loader(&system.url("/pricing")).await;
    let healthy = plans(&first).await;
    assert_eq!(healthy["status"], "ok", "{healthy}");
    assert!(
        healthy["style"].as_str().unwrap().starts_with("flex"),
        "the cards are styled: {healthy}"
    );

    system.pricing.kill9();
    // A swap in the browser that saw the healthy page.
    swap_back_to_pricing(&first).await;
    let swapped = plans(&first).await;
    // A full load in a browser that never saw pricing's CSS, then a swap there.
    let Some(second) = Browser::start().await else {
        return;
    };
    second.open_with_loader(&system.url("/pricing")).await;
    let loaded = plans(&second).await;
    swap_back_to_pricing(&second).await;
    let swapped_again = plans(&second).await;
    // A full load calls the copy `ok` while it is fresh (it does not ask the service then);
    // a swap asked, and got the copy.
    assert!(
        ["ok", "cached"].contains(&loaded["status"].as_str().unwrap_or_default()),
        "{loaded}"
    );
    assert_eq!(swapped["status"], "cached", "{swapped}");
    assert_eq!(swapped_again["status"], "cached", "{swapped_again}");
    for (what, seen) in [
        ("the swap", &swapped),
        ("the full load", &loaded),
        ("the swap after it", &swapped_again),
    ] {
        assert_eq!(seen["style"], healthy["style"], "{what} is styled");
        assert_eq!(seen["text"], healthy["text"], "{what} shows the plans");
    }
    first.quit_without_console_errors().await;
    second.quit_without_console_errors().await;
}

#[tokio::test]
async fn pages_links_and_forms_work_with_javascript_disabled() {
    let _heavy = mf_tests::heavy();
    let site = Stack::start().await;
    let Some(browser) = Browser::start_without_javascript().await else {
        return;
    };
    browser.goto(&site.url("/dashboard")).await;
    assert_eq!(
        browser
            .eval("return document.querySelector('main').dataset.section;")
            .await,
        "dashboard"
    );
    browser.click("header nav a[href='/pricing']").await;
    browser
        .wait_until("location.pathname === '/pricing'", "the pricing page")
        .await;
    // Without the controller the toggle is a GET form: it reloads with ?billing=yearly.
    assert_eq!(
        browser
            .eval("return document.querySelector('.billing-toggle__apply').hidden;")
            .await,
        false
    );
    browser.click("label[for='pricing-billing-yearly']").await;
    browser.click(".billing-toggle__apply").await;
    browser
        .wait_until(
            "location.search.includes('billing=yearly')",
            "the yearly page",
        )
        .await;
    let yearly_shown = browser
        .eval("return [...document.querySelectorAll('[data-billing=yearly]')].every((e) => !e.hidden);")
        .await;
    assert_eq!(yearly_shown, true);

    // A form POST through the shell's proxy answers a full page with the inline error.
    browser.click("header nav a[href='/accounts']").await;
    browser
        .wait_until("location.pathname === '/accounts'", "the accounts page")
        .await;
    browser.fill("#sign-up-name", "   ").await;
    browser.fill("#sign-up-email", "nojs@example.com").await;
    browser
        .fill("#sign-up-password", "correct horse battery")
        .await;
    browser
        .click("form[action$='/actions/sign-up'] button[type=submit]")
        .await;
    browser
        .wait_until(
            "document.querySelector('#sign-up-name[aria-invalid=true]')",
            "the inline error on a full page",
        )
        .await;
    assert_eq!(
        browser
            .eval("return !!document.querySelector('header nav');")
            .await,
        true
    );

    // And a valid sign-up, once confirmed, signs in and lands on the dashboard, by full
    // page loads.
    let email = "nojs@example.com";
    sign_up_and_in(
        &browser,
        &site,
        "Grace Hopper",
        email,
        "correct horse battery",
    )
    .await;
    browser
        .wait_until("location.pathname === '/dashboard'", "the dashboard")
        .await;
    assert!(browser.text("main").await.contains("Grace Hopper"));
    assert!(browser.text("header").await.contains("Grace Hopper"));
    browser.quit().await;
}

#[tokio::test]
async fn sign_up_through_the_shell_shows_the_name_in_the_header_and_dashboard_without_reload() {
    let _heavy = mf_tests::heavy();
    let Some((site, browser)) = open_marked("/dashboard").await else {
        return;
    };
    assert!(browser.text("header").await.contains("Sign in"));
    browser.click("header a[href='/accounts']").await;
    browser
        .wait_until(&shows("accounts"), "the accounts section")
        .await;

    sign_up_and_in(
        &browser,
        &site,
        "Ada Lovelace",
        "ada@example.com",
        "analytical engine",
    )
    .await;
    browser
        .wait_until(&shows("dashboard"), "the dashboard after sign-in")
        .await;
    browser
        .wait_until(
            "document.querySelector('header').textContent.includes('Ada Lovelace')",
            "the name in the header user menu",
        )
        .await;
    assert!(browser.text("main").await.contains("Welcome, Ada Lovelace"));
    browser
        .screenshot(&std::env::temp_dir().join("mf-signed-in.png"))
        .await;
    assert_eq!(browser.url().await.path(), "/dashboard");
    assert!(
        marker_survived(&browser).await,
        "sign-up caused a full page load"
    );
    browser.quit_without_console_errors().await;
}

#[tokio::test]
async fn modified_clicks_downloads_and_other_links_are_left_to_the_browser() {
    let _heavy = mf_tests::heavy();
    let site = Stack::start().await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    open(&browser, &site, "/dashboard").await;
    // Whether the loader called preventDefault is what decides: the browser does the rest.
    let prevented = browser
        .eval(
            r#"const link = (href, attrs = {}) => {
                 const a = document.createElement('a'); a.href = href;
                 for (const [k, v] of Object.entries(attrs)) a.setAttribute(k, v);
                 document.querySelector('main').append(a); return a; };
               const click = (a, init = {}) => {
                 const e = new MouseEvent('click', { bubbles: true, cancelable: true, button: 0, ...init });
                 // Stop the default action here: we only ask whether the loader took the click.
                 let taken;
                 document.body.addEventListener('click', (ev) => { taken = ev.defaultPrevented; ev.preventDefault(); }, { once: true });
                 a.dispatchEvent(e); return taken; };
               return {
                 plain: click(link('/pricing')),
                 ctrl: click(link('/pricing'), { ctrlKey: true }),
                 meta: click(link('/pricing'), { metaKey: true }),
                 shift: click(link('/pricing'), { shiftKey: true }),
                 middle: click(link('/pricing'), { button: 1 }),
                 blank: click(link('/pricing', { target: '_blank' })),
                 download: click(link('/pricing', { download: '' })),
                 foreign: click(link('http://example.invalid/pricing')),
                 not_a_section: click(link('/registry.json')),
               };"#,
        )
        .await;
    assert_eq!(
        prevented,
        serde_json::json!({
            "plain": true, "ctrl": false, "meta": false, "shift": false, "middle": false,
            "blank": false, "download": false, "foreign": false, "not_a_section": false
        })
    );
    browser.quit().await;
}

/// A stack with an extra section `/slow` whose one fragment answers after `delay`.
async fn stack_with_slow_section(delay: Duration) -> (Stack, FakeService) {
    let mut spec = FakeSpec::new("slowfake", &["one"]);
    spec.delay = delay;
    let fake = FakeService::start(spec).await;
    let stack = Stack::start_with(StackOptions::with_section(
        "slowfake",
        &fake.url,
        "slow",
        &["slowfake/one"],
    ))
    .await;
    (stack, fake)
}

#[tokio::test]
async fn loading_state_is_busy_and_shows_the_progress_bar_only_after_100_ms() {
    let _heavy = mf_tests::heavy();
    let (site, _fake) = stack_with_slow_section(Duration::from_millis(700)).await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    open(&browser, &site, "/dashboard").await;
    let seen = browser
        .eval_async(
            r#"const done = arguments[arguments.length - 1];
            const progress = document.querySelector('[data-fragment-loader-target=progress]');
            const main = document.querySelector('main');
            const start = performance.now();
            let shownAfter = null, busyWhenShown = null;
            new MutationObserver(() => {
              if (!progress.hidden && shownAfter === null) {
                shownAfter = performance.now() - start;
                busyWhenShown = main.getAttribute('aria-busy');
              }
            }).observe(progress, { attributes: true });
            document.querySelector("header nav a[href='/slow']").click();
            const check = () => main.dataset.section === 'slow' && !main.hasAttribute('aria-busy')
              ? done({ shownAfter, busyWhenShown, hiddenAfterSwap: progress.hidden })
              : setTimeout(check, 20);
            setTimeout(check, 20);"#,
        )
        .await;
    let shown_after = seen["shownAfter"]
        .as_f64()
        .expect("the progress bar showed during the load");
    // A lower bound only: timers never fire early, so this holds on a loaded machine too.
    assert!(
        shown_after >= 95.0,
        "the progress bar showed after {shown_after} ms"
    );
    assert_eq!(seen["busyWhenShown"], "true");
    assert_eq!(seen["hiddenAfterSwap"], true);
    assert!(browser.text("main").await.contains("Fake one fragment"));
    browser.quit_without_console_errors().await;
}

#[tokio::test]
async fn fragment_slower_than_the_timeout_shows_the_error_state() {
    let _heavy = mf_tests::heavy();
    let (site, _fake) = stack_with_slow_section(Duration::from_millis(3000)).await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    open(&browser, &site, "/dashboard").await;
    mark_window(&browser).await;
    // The loader's timeout is a Stimulus value (8 s by default); shorten it for the test.
    browser
        .eval("document.body.setAttribute('data-fragment-loader-timeout-value', '400');")
        .await;
    browser.click("header nav a[href='/slow']").await;
    browser
        .wait_until(
            "document.querySelector('main [data-loader-error]') && !document.querySelector('main').hasAttribute('aria-busy')",
            "the error state",
        )
        .await;
    let message = browser.text("main [data-loader-error]").await;
    assert!(message.contains("took too long"), "{message}");
    assert_eq!(browser.url().await.path(), "/slow");
    assert_eq!(
        browser
            .eval("return document.activeElement.closest('main') !== null;")
            .await,
        true
    );
    assert!(marker_survived(&browser).await);
    browser.quit_without_console_errors().await;
}

#[tokio::test]
async fn profile_change_and_sign_out_update_the_header_without_reload() {
    let _heavy = mf_tests::heavy();
    let Some((site, browser)) = open_marked("/accounts").await else {
        return;
    };
    let email = "ada.profile@example.com";
    sign_up_and_in(&browser, &site, "Ada Lovelace", email, "analytical engine").await;
    browser
        .wait_until(&shows("dashboard"), "the dashboard after sign-in")
        .await;

    browser.click("header nav a[href='/accounts']").await;
    browser
        .wait_until(&shows("accounts"), "the profile form")
        .await;
    browser.fill("#profile-name", "Ada King").await;
    browser
        .click("form[action$='/actions/profile'] button[type=submit]")
        .await;
    browser
        .wait_until(
            "document.querySelector('header .user-menu').textContent.includes('Ada King')",
            "the new name in the header",
        )
        .await;
    assert_eq!(browser.url().await.path(), "/accounts");
    // "Saved" is shown once: announced, and the address loses ?saved=1.
    browser
        .wait_until(
            "location.search === '' && document.querySelector('[data-fragment-loader-target=announcer]').textContent.includes('saved')",
            "the saved notice announced and out of the address",
        )
        .await;
    assert!(browser
        .text("main")
        .await
        .contains("Your changes are saved."));

    browser
        .click("header form[action$='/actions/sign-out'] button[type=submit]")
        .await;
    browser
        .wait_until(
            "!document.querySelector('header .user-menu').textContent.includes('Ada King') \
             && document.querySelector('header .user-menu').textContent.includes('Sign in')",
            "the signed-out header",
        )
        .await;
    browser
        .wait_until(&shows("accounts"), "the accounts section")
        .await;
    assert!(browser.text("main").await.contains("Create an account"));
    assert!(browser.text("main").await.contains("You are signed out."));
    browser
        .wait_until("location.search === ''", "?signed_out=1 out of the address")
        .await;
    assert!(marker_survived(&browser).await, "a full page load happened");
    browser.quit_without_console_errors().await;
}

#[tokio::test]
async fn a_service_still_unknown_at_a_swap_gets_the_full_pages_unavailable_box() {
    let site = Stack::start_with(StackOptions {
        down_at_start: vec![mf_tests::Team::Pricing],
        ..StackOptions::default()
    })
    .await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    open(&browser, &site, "/accounts").await;
    mark_window(&browser).await;
    browser.click("header nav a[href='/pricing']").await;
    let unavailable = "main [data-slot='pricing/plans'][data-fragment-status='unavailable']";
    browser
        .wait_until(
            &format!("document.querySelector(\"{unavailable}\")"),
            "the unavailable box",
        )
        .await;
    let message = browser.text(unavailable).await;
    assert!(
        message.contains("Pricing is unavailable right now."),
        "{message}"
    );
    assert!(
        !marker_survived(&browser).await,
        "the page was loaded, as a full load shows it"
    );
    browser.quit_without_console_errors().await;
}

#[tokio::test]
async fn a_service_that_comes_up_after_the_page_loaded_is_shown_on_the_next_navigation() {
    let _heavy = mf_tests::heavy();
    let mut site = Stack::start_with(StackOptions {
        down_at_start: vec![mf_tests::Team::Pricing],
        ..StackOptions::default()
    })
    .await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    // The registry the loader reads now has no URL for pricing's slots.
    open(&browser, &site, "/accounts").await;
    mark_window(&browser).await;
    site.start_service("pricing").await;
    let mut known = false;
    for _ in 0..50 {
        let registry = mf_tests::json(site.get("/registry.json").await).await;
        if registry["services"]["pricing"]["available"] == true {
            known = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(known, "the shell did not read the pricing manifest");
    // The loader sees a slot without a URL, reads the registry again and fetches the plans.
    browser.click("header nav a[href='/pricing']").await;
    browser
        .wait_until(
            "document.querySelector('main [data-fragment=\"pricing/plans\"]')",
            "the plans",
        )
        .await;
    assert!(marker_survived(&browser).await, "a full reload happened");
    browser.assert_no_console_errors_except(|_| false).await;
    browser.quit().await;
}
