//! Markup and accessibility of what users get: every shell page, every fragment and every
//! service preview passes the W3C Nu HTML checker, and every section has no serious or
//! critical axe-core violation, after a full load and after a client-side swap. Screenshots
//! of the sections land in the temp dir (`mf-<section>.png`) for a person to look at.

use mf_tests::browser::{fragment_document, nu_validate, Browser};
use mf_tests::Stack;

const SECTIONS: [&str; 3] = ["dashboard", "accounts", "pricing"];

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

#[tokio::test]
async fn every_page_fragment_and_preview_passes_the_nu_html_checker() {
    let _heavy = mf_tests::heavy();
    let site = Stack::start().await;
    let mut docs = Vec::new();
    for path in [
        "/",
        "/dashboard",
        "/accounts",
        "/accounts?plan=pro",
        "/pricing",
        "/pricing?billing=yearly",
        "/no-such-page",
    ] {
        let (_, html) = get(&site.url(path)).await;
        docs.push((format!("shell {path}"), html));
    }
    // Every fragment the registry lists, as the loader fetches it.
    let (_, registry) = get(&site.url("/registry.json")).await;
    let registry: serde_json::Value = serde_json::from_str(&registry).expect("registry JSON");
    let mut fragment_urls: Vec<String> = registry["sections"]
        .as_array()
        .expect("sections")
        .iter()
        .flat_map(|s| s["slots"].as_array().cloned().unwrap_or_default())
        .chain(registry["chrome"].as_array().cloned().unwrap_or_default())
        .map(|slot| slot["url"].as_str().expect("slot url").to_owned())
        .collect();
    fragment_urls.sort();
    fragment_urls.dedup();
    assert!(fragment_urls.len() >= 4, "{fragment_urls:?}");
    for url in &fragment_urls {
        let absolute = if url.starts_with("http") {
            url.clone()
        } else {
            site.url(url)
        };
        let (status, html) = get(&absolute).await;
        assert_eq!(status, 200, "{url}");
        docs.push((format!("fragment {url}"), fragment_document(&html)));
    }
    // Each team's standalone preview.
    for service in ["dashboard", "accounts", "pricing"] {
        let (status, html) = get(&format!("{}/", site.service_url(service))).await;
        assert_eq!(status, 200, "{service} preview");
        docs.push((format!("{service} preview"), html));
    }
    let Some(errors) = nu_validate(&docs) else {
        return;
    };
    assert!(
        errors.is_empty(),
        "Nu HTML checker errors:\n{}",
        errors.join("\n")
    );
}

#[tokio::test]
async fn dom_built_by_the_loader_passes_the_nu_html_checker() {
    let _heavy = mf_tests::heavy();
    let site = Stack::start().await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    browser.open_with_loader(&site.url("/dashboard")).await;
    let mut docs = Vec::new();
    for section in ["pricing", "accounts", "dashboard"] {
        browser.go_to_section(section).await;
        let html = browser
            .eval("return '<!DOCTYPE html>' + document.documentElement.outerHTML;")
            .await;
        docs.push((
            format!("swapped {section}"),
            html.as_str().unwrap().to_owned(),
        ));
    }
    let Some(errors) = nu_validate(&docs) else {
        return;
    };
    assert!(
        errors.is_empty(),
        "Nu HTML checker errors:\n{}",
        errors.join("\n")
    );
    browser.quit_without_console_errors().await;
}

#[tokio::test]
async fn every_section_has_no_serious_axe_violations_after_load_and_after_a_swap() {
    let _heavy = mf_tests::heavy();
    let site = Stack::start().await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    let mut found = Vec::new();
    for section in SECTIONS {
        browser.goto(&site.url(&format!("/{section}"))).await;
        browser
            .wait_until("history.state && history.state.mf", "the loader")
            .await;
        browser
            .screenshot(&std::env::temp_dir().join(format!("mf-{section}.png")))
            .await;
        found.extend(
            browser
                .axe_violations()
                .await
                .into_iter()
                .map(|v| format!("/{section} (full load): {v}")),
        );
    }
    // The same sections built by the loader.
    for section in ["pricing", "accounts", "dashboard"] {
        browser.go_to_section(section).await;
        found.extend(
            browser
                .axe_violations()
                .await
                .into_iter()
                .map(|v| format!("/{section} (swapped): {v}")),
        );
    }
    assert!(found.is_empty(), "axe violations:\n{}", found.join("\n"));
    browser.quit_without_console_errors().await;
}
