use std::time::Duration;

use reqwest::StatusCode;
use shared_ui::contract::Manifest;

use crate::helpers::{csrf_in, spawn_app};

#[tokio::test]
async fn the_service_passes_the_contract_checks_of_shell_check_strict() {
    shared_ui::testkit::assert_contract_strict_at(&spawn_app().await.address).await;
}

#[tokio::test]
async fn manifest_lists_both_fragments_the_actions_and_a_version() {
    let app = spawn_app().await;
    let res = app.get("/manifest.json").await;
    assert_eq!(res.status(), StatusCode::OK);
    let manifest = Manifest::parse(&res.bytes().await.unwrap()).unwrap();
    assert_eq!(manifest.name, "accounts");
    assert!(manifest
        .version
        .starts_with(concat!(env!("CARGO_PKG_VERSION"), "+")));
    assert_eq!(
        manifest.fragment("account").unwrap().path,
        "/fragments/account"
    );
    assert_eq!(
        manifest.fragment("user-menu").unwrap().path,
        "/fragments/user-menu"
    );
    for action in [
        "/actions/sign-up",
        "/actions/sign-in",
        "/actions/sign-out",
        "/actions/profile",
    ] {
        assert!(manifest.actions.iter().any(|a| a == action), "{action}");
    }
    assert!(!manifest.actions.iter().any(|a| a.contains("internal")));
    let [css_url] = manifest.assets.css.as_slice() else {
        panic!("one stylesheet: {:?}", manifest.assets.css);
    };
    assert!(css_url.starts_with("/assets/accounts.css?v="), "{css_url}");
    let css = app.get(css_url).await;
    assert_eq!(css.status(), StatusCode::OK);
    assert!(css.headers().get("etag").is_some());
    assert_eq!(
        css.headers()["cache-control"],
        shared_ui::assets::IMMUTABLE,
        "its hashed URL is cached for good"
    );
}

#[tokio::test]
async fn fragments_are_bare_private_html_carrying_the_manifest_version() {
    let app = spawn_app().await;
    let manifest: serde_json::Value = app.get("/manifest.json").await.json().await.unwrap();
    for (id, root) in [
        ("account", "accounts/account"),
        ("user-menu", "accounts/user-menu"),
    ] {
        let res = app.get(&format!("/fragments/{id}")).await;
        assert_eq!(res.status(), StatusCode::OK);
        let headers = res.headers().clone();
        assert_eq!(headers["content-type"], "text/html; charset=utf-8");
        assert_eq!(headers["cache-control"], "private, no-store");
        assert_eq!(
            headers["x-fragment-version"],
            manifest["version"].as_str().unwrap()
        );
        let html = res.text().await.unwrap();
        assert!(!html.contains("<html") && !html.contains("<body"), "{html}");
        assert!(
            html.contains(&format!(r#"data-fragment="{root}""#)),
            "{html}"
        );
    }
}

#[tokio::test]
async fn signed_out_account_fragment_has_sign_up_and_sign_in_forms() {
    let app = spawn_app().await;
    let html = app.fragment("account").await;
    assert!(html.contains(r#"action="/actions/sign-up""#), "{html}");
    assert!(html.contains(r#"action="/actions/sign-in""#), "{html}");
    assert!(html.contains("Create an account") && html.contains("Sign in"));
    assert!(!csrf_in(&html).is_empty());
    let menu = app.fragment("user-menu").await;
    assert!(
        menu.contains(r#"href="/""#) && menu.contains("Sign in"),
        "{menu}"
    );
}

#[tokio::test]
async fn forms_and_links_use_the_base_path_and_shell_sections_through_the_shell() {
    let app = spawn_app().await;
    let through_shell = [("x-mf-base-path", "/svc/accounts")];
    let html = app.text_with("/fragments/account", &through_shell).await;
    assert!(
        html.contains(r#"action="/svc/accounts/actions/sign-up""#),
        "{html}"
    );
    let menu = app.text_with("/fragments/user-menu", &through_shell).await;
    assert!(menu.contains(r#"href="/accounts""#), "{menu}");
}

#[tokio::test]
async fn plan_query_preselects_the_plan_and_unknown_plans_are_ignored() {
    let app = spawn_app().await;
    let html = app
        .get("/fragments/account?plan=team")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(r#"<option value="team" selected>Team</option>"#),
        "{html}"
    );
    let html = app
        .get("/fragments/account?plan=%3Cscript%3E")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(r#"<option value="starter" selected>Starter</option>"#),
        "{html}"
    );
    assert!(!html.contains("<script>"));
}

#[tokio::test]
async fn preview_page_shows_both_fragments_with_shared_assets() {
    let app = spawn_app().await;
    let res = app.get("/").await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains(r#"data-fragment="accounts/account""#));
    assert!(html.contains(r#"data-fragment="accounts/user-menu""#));
    assert!(html.contains("/assets/shared/shared.css") && html.contains("/assets/accounts.css"));
    assert_eq!(
        app.get("/assets/shared/shared.css").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn unknown_fragments_and_routes_are_404_pages() {
    let app = spawn_app().await;
    assert_eq!(
        app.get("/fragments/nope").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get("/nope").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.get("/assets/nope.css").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn health_is_ok_and_readyz_turns_503_when_the_database_is_gone() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    app.db.destroy();
    // SQLite notices at once; PostgreSQL's check runs every second.
    let started = std::time::Instant::now();
    let res = loop {
        let res = app.get("/readyz").await;
        if res.status() != StatusCode::OK || started.elapsed() > Duration::from_secs(5) {
            break res;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = res.text().await.unwrap();
    assert!(body.contains(&app.db.shown()), "{body}");
}

#[tokio::test]
async fn internal_session_is_401_json_without_a_cookie() {
    let app = spawn_app().await;
    let res = app.get("/internal/session").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["cache-control"], "private, no-store");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "signed out");
}
