//! svc-dashboard against the fragment contract, over real HTTP on a free port.

mod helpers;

use helpers::{ada, assert_sound_html, header, spawn_app};
use shared_ui::{headers, testkit};

const FRAGMENTS: [(&str, &str); 2] = [("overview", "private, no-store"), ("stats", "no-store")];

/// The number in `data-requests="…"` of a stats fragment.
fn requests_of(html: &str) -> u64 {
    let start = html.find("data-requests=\"").expect("stats root") + "data-requests=\"".len();
    html[start..start + html[start..].find('"').unwrap()]
        .parse()
        .unwrap()
}

#[tokio::test]
async fn the_service_passes_the_contract_checks_of_shell_check_strict() {
    shared_ui::testkit::assert_contract_strict(&spawn_app().await).await;
}

#[tokio::test]
async fn manifest_parses_validates_and_lists_overview_and_stats() {
    let app = spawn_app().await;
    let m = app.manifest().await;
    assert_eq!(m.name, "dashboard");
    assert!(m.version.starts_with(env!("CARGO_PKG_VERSION")));
    let overview = m.fragment("overview").expect("overview");
    assert_eq!(
        (overview.path.as_str(), overview.title.as_str()),
        ("/fragments/overview", "Overview")
    );
    assert!(overview
        .fallback
        .as_deref()
        .unwrap()
        .contains("Your dashboard"));
    let stats = m.fragment("stats").expect("stats");
    assert_eq!(
        (stats.path.as_str(), stats.title.as_str()),
        ("/fragments/stats", "Live figures")
    );
    assert_eq!(m.assets.css.len(), 1);
    assert!(m.assets.css[0].starts_with("/assets/dashboard.css?v="));
    assert_eq!(m.assets.controllers[0].identifier, "auto-refresh");
    assert!(m.assets.controllers[0]
        .module
        .starts_with("/assets/auto-refresh.js?v="));
    assert!(m.actions.is_empty());
}

#[tokio::test]
async fn every_fragment_is_a_bare_fragment_with_the_contract_headers() {
    let app = spawn_app().await;
    let version = app.manifest().await.version;
    for (id, cache_control) in FRAGMENTS {
        let res = app.get(&format!("/fragments/{id}")).await;
        assert_eq!(res.status(), 200, "{id}");
        assert_eq!(header(&res, "content-type"), "text/html; charset=utf-8");
        assert_eq!(header(&res, "cache-control"), cache_control, "{id}");
        assert_eq!(header(&res, headers::FRAGMENT_VERSION), version);
        let body = res.text().await.unwrap();
        assert!(
            !body.contains("<html") && !body.contains("<body"),
            "{id}: {body}"
        );
        assert!(
            body.contains(&format!(r#"data-fragment="dashboard/{id}""#)),
            "{id}"
        );
        assert_sound_html(&body, 2);
    }
}

#[tokio::test]
async fn the_overview_greets_the_signed_in_user_with_their_plan() {
    let app = spawn_app().await;
    let res = app.get_as("/fragments/overview", &ada("team")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "cache-control"), "private, no-store");
    let body = res.text().await.unwrap();
    assert!(
        body.contains("Welcome back, Ada &lt;Lovelace&gt;"),
        "{body}"
    );
    assert!(!body.contains("<Lovelace>"), "the name is escaped");
    assert!(body.contains(r#"<span class="badge badge--info">Team plan</span>"#));
    assert!(body.contains(r#"href="/accounts""#));
    assert!(!body.contains("You are signed out"));
}

#[tokio::test]
async fn the_overview_says_clearly_when_nobody_is_signed_in() {
    let app = spawn_app().await;
    let body = app.get("/fragments/overview").await.text().await.unwrap();
    assert!(body.contains("You are signed out"), "{body}");
    assert!(body.contains(r#"href="/accounts">Sign in or create an account</a>"#));
    assert!(!body.contains("Welcome back"));
    assert!(
        !body.contains(r#"data-fragment="dashboard/stats""#),
        "the service's figures are its team's business, on the preview"
    );
    let preview = app.get("/").await.text().await.unwrap();
    assert!(
        preview.contains(r#"data-fragment="dashboard/stats""#),
        "{preview}"
    );
}

#[tokio::test]
async fn a_forged_or_expired_context_reads_as_signed_out() {
    let app = spawn_app().await;
    let other = shared_ui::context::ContextKey::new(shared_ui::settings::Secret::new(
        "another-secret-0123456789".to_owned(),
    ));
    let forged = other.sign(&ada("pro"), std::time::Duration::from_secs(60));
    let expired = app.key.sign_with_expiry(&ada("pro"), 1);
    for value in [forged.as_str(), expired.as_str(), "garbage", "a.b"] {
        let body = app
            .get_with("/fragments/overview", &[(headers::USER_CONTEXT, value)])
            .await
            .text()
            .await
            .unwrap();
        assert!(body.contains("You are signed out"), "{value} was believed");
        assert!(!body.contains("Welcome back"));
    }
}

#[tokio::test]
async fn the_stats_figures_change_after_requests_are_made() {
    let app = spawn_app().await;
    let first = app.get("/fragments/stats").await.text().await.unwrap();
    let before = requests_of(&first);
    for _ in 0..5 {
        assert_eq!(app.get("/healthz").await.status(), 200);
    }
    assert_eq!(app.get("/fragments/overview").await.status(), 200);
    let second = app.get("/fragments/stats").await.text().await.unwrap();
    let after = requests_of(&second);
    // The first stats request, five health checks and the overview were all recorded.
    assert!(
        after >= before + 7,
        "requests served went from {before} to {after}"
    );
    assert!(
        second.contains(&format!(r#"data-stat="requests">{after}</dd>"#)),
        "{second}"
    );
    assert!(
        second.contains(r#"data-stat="fragments">2</dd>"#),
        "{second}"
    );
    for p in ["p50", "p95", "p99", "max"] {
        assert!(second.contains(&format!(r#"data-percentile="{p}""#)), "{p}");
    }
    assert!(second.contains(" µs</td>") || second.contains(" ms</td>"));
    assert!(second.contains("<caption>Time spent in this service over the last"));
    assert!(second.contains("<time datetime=\""));
}

#[tokio::test]
async fn the_refresh_query_sets_the_interval_and_a_bad_one_is_an_escaped_400() {
    let app = spawn_app().await;
    let body = app.get("/?refresh=30").await.text().await.unwrap();
    assert!(body.contains(r#"data-auto-refresh-interval-value="30""#));
    let default = app.get("/?plan=pro").await.text().await.unwrap();
    assert!(
        default.contains(r#"data-auto-refresh-interval-value="5""#),
        "other parameters are ignored"
    );
    for path in ["/fragments/overview", "/"] {
        let res = app
            .get(&format!("{path}?refresh=%3Cscript%3Ealert(1)%3C/script%3E"))
            .await;
        assert_eq!(res.status(), 400, "{path}");
        let body = res.text().await.unwrap();
        assert!(
            body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{body}"
        );
        assert!(!body.contains("<script>alert"), "{path} echoed raw input");
    }
    assert_eq!(app.get("/fragments/overview?refresh=1").await.status(), 400);
    assert_eq!(
        app.get("/fragments/overview?refresh=5&refresh=6")
            .await
            .status(),
        400
    );
}

#[tokio::test]
async fn unknown_fragments_and_routes_are_404_pages() {
    let app = spawn_app().await;
    let paths = [
        "/nope",
        "/fragments",
        "/fragments/stats/extra",
        "/assets/nope.js",
    ];
    testkit::assert_unknown_routes_are_404_pages(&app, &paths).await;
}

#[tokio::test]
async fn assets_have_etags_and_answer_304_to_if_none_match() {
    let app = spawn_app().await;
    let assets = [
        ("/assets/dashboard.css", "text/css", "var(--surface)"),
        (
            "/assets/auto-refresh.js",
            "text/javascript",
            "from \"@hotwired/stimulus\"",
        ),
        (
            "/assets/shared/boot.js",
            "text/javascript",
            "registerControllers",
        ),
    ];
    testkit::assert_assets_revalidate(&app, &assets).await;
}

#[tokio::test]
async fn the_preview_page_has_the_import_map_boot_module_and_the_overview() {
    let app = spawn_app().await;
    let res = app.get("/").await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "cache-control"), "no-store");
    let body = res.text().await.unwrap();
    assert!(body.starts_with("<!DOCTYPE html>"));
    assert!(body.contains(r#"<script type="importmap">"#));
    // Every asset at its content-hashed URL.
    assert!(body.contains(r#"<script type="module" src="/assets/shared/boot.js?v="#));
    assert!(body.contains(r#"href="/assets/dashboard.css?v="#));
    assert!(body.contains(r#""module":"/assets/auto-refresh.js?v="#));
    assert!(body.contains("<h1>Dashboard</h1>"));
    assert!(body.contains(r#"data-fragment="dashboard/overview""#));
    assert!(body.contains(r#"data-auto-refresh-url-value="/fragments/stats""#));
    assert_sound_html(&body, 1);
    let signed = app.get_as("/", &ada("pro")).await.text().await.unwrap();
    assert!(signed.contains("Welcome back, Ada &lt;Lovelace&gt;"));
}

#[tokio::test]
async fn health_and_readiness_answer_200_and_request_ids_are_echoed() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/readyz").await.status(), 200);
    let res = app
        .get_with(
            "/fragments/stats",
            &[(headers::REQUEST_ID, "trace-abc-123")],
        )
        .await;
    assert_eq!(header(&res, headers::REQUEST_ID), "trace-abc-123");
}

#[tokio::test]
async fn the_command_line_answers_help_and_healthcheck_and_refuses_a_bad_setting() {
    let app = spawn_app().await;
    testkit::assert_command_line(env!("CARGO_BIN_EXE_svc-dashboard"), &[], app.port).await;
}

#[tokio::test]
async fn cors_answers_only_the_configured_shell_origin() {
    let app = helpers::spawn_app_with(&["--cors-origins", "http://127.0.0.1:8000"]).await;
    let paths = [
        "/fragments/overview",
        "/fragments/stats",
        "/assets/auto-refresh.js",
    ];
    testkit::assert_cors_only_for(&app.address, "http://127.0.0.1:8000", &paths).await;
}
