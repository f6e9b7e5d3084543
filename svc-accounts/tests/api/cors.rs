//! Direct mode: only the configured shell origins may read fragments cross-origin.

use crate::helpers::spawn_app_with;

#[tokio::test]
async fn cors_allows_only_the_configured_shell_origin() {
    let app = spawn_app_with(&["--cors-origins", "http://127.0.0.1:8000"]).await;
    let paths = ["/fragments/user-menu"];
    shared_ui::testkit::assert_cors_only_for(&app.address, "http://127.0.0.1:8000", &paths).await;
}

#[tokio::test]
async fn without_cors_origins_no_origin_is_allowed() {
    let app = spawn_app_with(&[]).await;
    let res = app
        .client
        .get(app.url("/fragments/user-menu"))
        .header("Origin", "http://127.0.0.1:8000")
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
}
