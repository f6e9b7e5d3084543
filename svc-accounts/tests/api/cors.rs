//! Direct mode: only the configured shell origins may read fragments cross-origin.

use crate::helpers::spawn_app_with;

#[tokio::test]
async fn cors_allows_only_the_configured_shell_origin() {
    let app = spawn_app_with(&["--cors-origins", "http://127.0.0.1:8000"]).await;

    let ok = app
        .client
        .get(app.url("/fragments/user-menu"))
        .header("Origin", "http://127.0.0.1:8000")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "http://127.0.0.1:8000"
    );

    let foreign = app
        .client
        .get(app.url("/fragments/user-menu"))
        .header("Origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert!(foreign
        .headers()
        .get("access-control-allow-origin")
        .is_none());

    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/fragments/user-menu"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "GET")
            .header("Access-Control-Request-Headers", "x-mf-loader")
            .send()
    };
    let allowed = preflight("http://127.0.0.1:8000").await.unwrap();
    assert_eq!(allowed.status(), 204);
    assert!(allowed.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("x-mf-loader"));
    let refused = preflight("http://evil.example").await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(refused
        .headers()
        .get("access-control-allow-origin")
        .is_none());
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
