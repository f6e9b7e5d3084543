//! Screenshots of every page, for a careful look: each section and the 404 page, on a
//! desktop (1280 px) and a phone (390 px), signed out, signed in, and with svc-pricing
//! stopped; and each team's standalone preview. Real services and shell in this process
//! (the test kit's `Stack`), real headless Chromium (`mf_tests::browser`).
//!
//! Run with `scripts/screenshots [DIR]` (default `docs/screenshots`). Each file is named
//! `{state}-{page}-{width}.png`; a page is captured whole, up to 2,400 px high.

use std::io::Write;
use std::path::{Path, PathBuf};

use mf_tests::browser::sign_up_and_in;
use mf_tests::browser::Browser;
use mf_tests::Stack;

/// The pages of the site, by file-name stem and path.
const PAGES: &[(&str, &str)] = &[
    ("dashboard", "/dashboard"),
    ("accounts", "/accounts"),
    ("pricing", "/pricing"),
    ("not-found", "/no-such-page"),
];
/// Viewport widths: a desktop and a phone.
const WIDTHS: &[u32] = &[1280, 390];
/// The tallest capture.
const MAX_HEIGHT: u32 = 2400;

/// Resizes the window so the viewport is `width` by `height` CSS pixels.
async fn viewport(browser: &Browser, width: u32, height: u32) {
    let client = browser.client();
    client.set_window_size(width, height).await.expect("resize");
    let inner = browser.eval("return [innerWidth, innerHeight];").await;
    let (w, h) = (
        inner[0].as_u64().unwrap_or(0),
        inner[1].as_u64().unwrap_or(0),
    );
    let (dw, dh) = (
        u32::try_from(w).unwrap_or(width),
        u32::try_from(h).unwrap_or(height),
    );
    if (dw, dh) != (width, height) {
        let outer = (2 * width).saturating_sub(dw);
        let outer_h = (2 * height).saturating_sub(dh);
        client
            .set_window_size(outer, outer_h)
            .await
            .expect("resize");
    }
}

/// Loads `url` at `width`, grows the viewport to the page's height and saves it.
async fn capture(browser: &Browser, url: &str, width: u32, file: &Path) {
    viewport(browser, width, 900).await;
    browser.goto(url).await;
    // Let streamed slots, stylesheets and controllers settle.
    browser
        .wait_until(
            "document.readyState === 'complete' && !document.querySelector('main[aria-busy]')",
            "the page to settle",
        )
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let height = browser
        .eval("return document.documentElement.scrollHeight;")
        .await
        .as_u64()
        .unwrap_or(900);
    let height = u32::try_from(height)
        .unwrap_or(MAX_HEIGHT)
        .clamp(600, MAX_HEIGHT);
    viewport(browser, width, height).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    browser.screenshot(file).await;
    // The file written, one per line, for the script's caller.
    let _ = writeln!(std::io::stdout(), "{}", file.display());
}

/// Every page at every width, as `{state}-{page}-{width}.png`.
async fn capture_pages(browser: &Browser, site: &Stack, dir: &Path, state: &str) {
    for (name, path) in PAGES {
        for width in WIDTHS {
            let file = dir.join(format!("{state}-{name}-{width}.png"));
            capture(browser, &site.url(path), *width, &file).await;
        }
    }
}

/// Signs a new account up through the page's own form, confirms its address as the mailed
/// link would, and signs in.
async fn sign_up(browser: &Browser, site: &Stack) {
    viewport(browser, 1280, 900).await;
    browser.goto(&site.url("/accounts")).await;
    let (name, email) = ("Ada Lovelace", "ada@example.com");
    sign_up_and_in(browser, site, name, email, "analytical engine").await;
    browser
        .wait_until(
            "location.pathname === '/dashboard' && document.querySelector('header .user-menu form')",
            "the dashboard, signed in",
        )
        .await;
}

#[tokio::main]
async fn main() {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "docs/screenshots".to_owned()),
    );
    std::fs::create_dir_all(&dir).expect("the screenshots folder");
    let mut site = Stack::start().await;
    let Some(browser) = Browser::start().await else {
        eprintln!("scripts/screenshots: Chromium or chromedriver is missing: run scripts/install-browser-deps");
        std::process::exit(1);
    };

    capture_pages(&browser, &site, &dir, "signed-out").await;
    // The wrong-password answer, as a visitor sees it.
    for width in WIDTHS {
        viewport(&browser, *width, 900).await;
        browser.open_with_loader(&site.url("/accounts")).await;
        browser.fill("#sign-in-email", "nobody@example.com").await;
        browser.fill("#sign-in-password", "not the password").await;
        browser
            .click("form[action$='/actions/sign-in'] button[type=submit]")
            .await;
        browser
            .wait_until("document.querySelector('#sign-in-errors')", "the summary")
            .await;
        browser
            .screenshot(&dir.join(format!("signed-out-wrong-password-{width}.png")))
            .await;
    }
    for team in ["pricing", "dashboard", "accounts"] {
        let file = dir.join(format!("preview-{team}-1280.png"));
        capture(
            &browser,
            &format!("{}/", site.service_url(team)),
            1280,
            &file,
        )
        .await;
    }

    sign_up(&browser, &site).await;
    capture_pages(&browser, &site, &dir, "signed-in").await;

    site.stop_service("pricing").await;
    for (name, path) in [("dashboard", "/dashboard"), ("pricing", "/pricing")] {
        for width in WIDTHS {
            let file = dir.join(format!("pricing-down-{name}-{width}.png"));
            capture(&browser, &site.url(path), *width, &file).await;
        }
    }
    browser.quit().await;
    site.stop().await;
}
