//! svc-pricing against the fragment contract, over real HTTP on a free port.

mod helpers;

use std::io::Write;
use std::process::Command;

use helpers::{ada, assert_sound_html, header, settings, spawn_app, spawn_app_with};
use shared_ui::{headers, testkit};
use svc_pricing::startup::Application;

const FRAGMENTS: [&str; 2] = ["plans", "teaser"];

#[tokio::test]
async fn the_service_passes_the_contract_checks_of_shell_check_strict() {
    shared_ui::testkit::assert_contract_strict(&spawn_app().await).await;
}

#[tokio::test]
async fn manifest_parses_validates_and_lists_plans_and_teaser() {
    let app = spawn_app().await;
    let m = app.manifest().await;
    assert_eq!(m.name, "pricing");
    assert!(m.version.starts_with(env!("CARGO_PKG_VERSION")));
    let plans = m.fragment("plans").expect("plans");
    assert_eq!(plans.path, "/fragments/plans");
    assert_eq!(plans.title, "Plans");
    assert!(plans.fallback.as_deref().unwrap().contains("See our plans"));
    let teaser = m.fragment("teaser").expect("teaser");
    assert_eq!(teaser.title, "Upgrade");
    assert!(teaser.fallback.is_some());
    // At their content-hashed URLs, answered immutable.
    assert_eq!(m.assets.css.len(), 1);
    assert!(m.assets.css[0].starts_with("/assets/pricing.css?v="));
    assert_eq!(m.assets.controllers[0].identifier, "pricing-toggle");
    let module = &m.assets.controllers[0].module;
    assert!(
        module.starts_with("/assets/pricing-toggle.js?v="),
        "{module}"
    );
    let res = app.get(module).await;
    assert_eq!(header(&res, "cache-control"), shared_ui::assets::IMMUTABLE);
    assert!(m.actions.is_empty());
}

#[tokio::test]
async fn every_fragment_is_a_bare_fragment_with_the_contract_headers() {
    let app = spawn_app().await;
    let version = app.manifest().await.version;
    for id in FRAGMENTS {
        let res = app.get(&format!("/fragments/{id}")).await;
        assert_eq!(res.status(), 200, "{id}");
        assert_eq!(header(&res, "content-type"), "text/html; charset=utf-8");
        assert_eq!(header(&res, "cache-control"), "public, max-age=30", "{id}");
        assert!(header(&res, "vary").contains("x-mf-user"));
        assert_eq!(header(&res, headers::FRAGMENT_VERSION), version);
        assert!(!header(&res, headers::REQUEST_ID).is_empty());
        let body = res.text().await.unwrap();
        assert!(
            !body.contains("<html") && !body.contains("<body"),
            "{id}: {body}"
        );
        assert!(
            body.contains(&format!(r#"data-fragment="pricing/{id}""#)),
            "{id}: root element names the fragment"
        );
        assert_sound_html(&body, 2);
    }
}

#[tokio::test]
async fn plans_render_both_prices_and_the_toggle_for_every_plan() {
    let app = spawn_app().await;
    let body = app.get("/fragments/plans").await.text().await.unwrap();
    for (plan, monthly, yearly) in [("pro", "$12", "$120"), ("team", "$29", "$290")] {
        assert!(
            body.contains(&format!(r#"href="/accounts?plan={plan}""#)),
            "{plan}"
        );
        assert!(body.contains(&format!(r#"<span class="plan__figure">{monthly}</span>"#)));
        assert!(body.contains(&format!(r#"<span class="plan__figure">{yearly}</span>"#)));
    }
    assert!(body.contains("Free"));
    assert!(body.contains(r#"data-controller="pricing-toggle""#));
    assert!(body.contains(r#"data-pricing-toggle-billing-value="monthly""#));
    assert!(body.contains(
        r#"type="radio" name="billing" id="pricing-billing-monthly" value="monthly" checked"#
    ));
    assert!(body.contains(r#"aria-live="polite""#));
    // Without JavaScript the hidden yearly prices are still named next to the monthly ones.
    assert!(body.contains("or $120 billed yearly (save 17%)"));
    assert!(body.contains(r#"data-billing="yearly" hidden"#));
    assert!(!body.contains(r#"data-billing="monthly" hidden"#));
}

#[tokio::test]
async fn billing_query_picks_the_initial_prices() {
    let app = spawn_app().await;
    let body = app
        .get("/fragments/plans?billing=yearly")
        .await
        .text()
        .await
        .unwrap();
    assert!(body.contains(r#"data-pricing-toggle-billing-value="yearly""#));
    assert!(body.contains(r#"data-billing="monthly" hidden"#));
    assert!(!body.contains(r#"data-billing="yearly" hidden"#));
    assert!(body.contains(r#"value="yearly" checked"#));
    let teaser = app
        .get("/fragments/teaser?billing=yearly")
        .await
        .text()
        .await
        .unwrap();
    assert!(teaser.contains("Upgrade to Pro — $120/yr"), "{teaser}");
    // Other parameters of a section's query (the shell passes them on) are ignored.
    let res = app.get("/fragments/plans?plan=pro&billing=monthly").await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn the_previews_links_to_site_pages_end_in_no_404() {
    let app = spawn_app().await;
    // Its own section is its preview, query kept (the toggle's `?billing=`).
    let res = app.get("/pricing?billing=yearly").await;
    assert_eq!(res.status(), 303);
    assert_eq!(header(&res, "location"), "/?billing=yearly");
    // Another team's section ("Sign in", "Choose Pro") says where it lives.
    for path in ["/accounts?plan=pro", "/dashboard"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        let body = res.text().await.unwrap();
        assert!(
            body.contains("Another team&#39;s page") || body.contains("Another team's page"),
            "{body}"
        );
        assert!(body.contains(r#"href="/""#), "a way back: {body}");
    }
}

#[tokio::test]
async fn a_bad_billing_value_is_a_400_page_that_escapes_it() {
    let app = spawn_app().await;
    for path in ["/fragments/plans", "/fragments/teaser", "/"] {
        let res = app
            .get(&format!("{path}?billing=%3Cscript%3Ealert(1)%3C/script%3E"))
            .await;
        assert_eq!(res.status(), 400, "{path}");
        let body = res.text().await.unwrap();
        assert!(
            body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{body}"
        );
        assert!(!body.contains("<script>alert"), "{path} echoed raw input");
        assert!(body.contains("billing=monthly or billing=yearly"));
    }
    let res = app
        .get("/fragments/plans?billing=monthly&billing=yearly")
        .await;
    assert_eq!(
        res.status(),
        400,
        "a repeated parameter is a 400, not a 500"
    );
}

#[tokio::test]
async fn the_signed_in_user_sees_their_plan_highlighted_in_a_private_answer() {
    let app = spawn_app().await;
    let res = app.get_as("/fragments/plans", &ada("pro")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "cache-control"), "private, no-store");
    let body = res.text().await.unwrap();
    assert!(
        body.contains(r#"aria-current="true" data-plan="pro""#),
        "{body}"
    );
    assert!(body.contains("Current plan"));
    assert!(body.contains("Your plan"));
    assert!(!body.contains(r#"href="/accounts?plan=pro""#));
    assert!(body.contains(r#"href="/accounts?plan=team""#));
    assert_eq!(body.matches("aria-current").count(), 1);
}

#[tokio::test]
async fn the_teaser_suggests_the_next_plan_up_for_a_signed_in_user() {
    let app = spawn_app().await;
    let anon = app.get("/fragments/teaser").await.text().await.unwrap();
    assert!(anon.contains("Upgrade to Pro — $12/mo"), "{anon}");
    assert!(anon.contains(r#"href="/pricing""#));
    let pro = app.get_as("/fragments/teaser", &ada("pro")).await;
    assert_eq!(header(&pro, "cache-control"), "private, no-store");
    let pro = pro.text().await.unwrap();
    assert!(pro.contains("Upgrade to Team — $29/mo"), "{pro}");
    assert!(pro.contains("You are on Pro."));
    let team = app
        .get_as("/fragments/teaser", &ada("team"))
        .await
        .text()
        .await
        .unwrap();
    assert!(team.contains("our top plan"), "{team}");
    let unknown = app
        .get_as("/fragments/teaser", &ada("legacy"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        unknown.contains("Upgrade to Pro"),
        "an unknown plan gets the visitor's offer"
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
        let res = app
            .get_with("/fragments/plans", &[(headers::USER_CONTEXT, value)])
            .await;
        assert_eq!(res.status(), 200);
        assert_eq!(header(&res, "cache-control"), "public, max-age=30");
        let body = res.text().await.unwrap();
        assert!(!body.contains("Current plan"), "{value} was believed");
        assert!(!body.contains("aria-current"));
    }
}

#[tokio::test]
async fn shell_section_links_ignore_the_base_path_header_safe_or_not() {
    let app = spawn_app().await;
    let plain = app.get("/fragments/plans").await.text().await.unwrap();
    for base in ["/svc/pricing", "//evil.example", "javascript:alert(1)"] {
        let res = app
            .get_with("/fragments/plans", &[(headers::BASE_PATH, base)])
            .await;
        assert_eq!(res.status(), 200);
        let body = res.text().await.unwrap();
        assert_eq!(
            body, plain,
            "the plans link only to shell sections (base {base})"
        );
        assert!(!body.contains("evil.example") && !body.contains("javascript:"));
    }
}

#[tokio::test]
async fn unknown_fragments_and_routes_are_404_pages() {
    let app = spawn_app().await;
    let paths = [
        "/nope",
        "/fragments",
        "/fragments/plans/extra",
        "/assets/nope.css",
    ];
    testkit::assert_unknown_routes_are_404_pages(&app, &paths).await;
}

#[tokio::test]
async fn assets_have_etags_and_answer_304_to_if_none_match() {
    let app = spawn_app().await;
    let assets = [
        ("/assets/pricing.css", "text/css", "var(--accent)"),
        (
            "/assets/pricing-toggle.js",
            "text/javascript",
            "from \"@hotwired/stimulus\"",
        ),
        (
            "/assets/shared/boot.js",
            "text/javascript",
            "registerControllers",
        ),
        ("/assets/shared/shared.css", "text/css", "--accent"),
    ];
    testkit::assert_assets_revalidate(&app, &assets).await;
}

#[tokio::test]
async fn the_preview_page_has_the_import_map_boot_module_and_both_fragments() {
    let app = spawn_app().await;
    let res = app.get("/").await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "content-type"), "text/html; charset=utf-8");
    let body = res.text().await.unwrap();
    assert!(body.starts_with("<!DOCTYPE html>"));
    assert!(body.contains(r#"<script type="importmap">"#));
    assert!(body.contains("/assets/shared/stimulus-3.2.2.js"));
    // Every asset at its content-hashed URL.
    assert!(body.contains(r#"<script type="module" src="/assets/shared/boot.js?v="#));
    assert!(body.contains(r#"href="/assets/pricing.css?v="#));
    assert!(body.contains(r#""module":"/assets/pricing-toggle.js?v="#));
    assert!(body.contains("<h1>Pricing</h1>"));
    assert!(body.contains(r#"data-fragment="pricing/plans""#));
    assert!(body.contains(r#"data-fragment="pricing/teaser""#));
    assert_sound_html(&body, 1);
    let signed = app.get_as("/", &ada("starter")).await.text().await.unwrap();
    assert!(
        signed.contains("Ada &lt;Lovelace&gt;"),
        "the name is escaped"
    );
    assert!(signed.contains(r#"aria-current="true" data-plan="starter""#));
}

#[tokio::test]
async fn health_and_readiness_answer_200() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/readyz").await.status(), 200);
}

#[tokio::test]
async fn head_requests_get_the_get_status_and_headers_without_a_body() {
    let app = spawn_app().await;
    for path in [
        "/fragments/plans",
        "/manifest.json",
        "/healthz",
        "/assets/pricing.css",
    ] {
        let res = reqwest::Client::new()
            .head(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "HEAD {path}");
        assert!(res.headers().contains_key("content-type"), "HEAD {path}");
        assert!(
            res.bytes().await.unwrap().is_empty(),
            "HEAD {path} has a body"
        );
    }
}

#[tokio::test]
async fn a_request_id_is_accepted_and_echoed() {
    let app = spawn_app().await;
    let res = app
        .get_with(
            "/fragments/plans",
            &[(headers::REQUEST_ID, "trace-abc-123")],
        )
        .await;
    assert_eq!(header(&res, headers::REQUEST_ID), "trace-abc-123");
}

fn catalogue_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

#[tokio::test]
async fn a_bad_catalogue_fails_build_with_an_error_naming_the_field() {
    let bad =
        svc_pricing::BUILT_IN_CATALOG.replace("monthly_cents = 1200", "monthly_cents = -1200");
    let file = catalogue_file(&bad);
    let path = file.path().to_str().unwrap();
    let err = match Application::build(settings(&["--catalog", path]).unwrap()).await {
        Ok(_) => panic!("a negative price was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("--catalog / PRICING_CATALOG"), "{err}");
    assert!(
        err.contains("catalog plans[1].monthly_cents: must be"),
        "{err}"
    );

    let err = match Application::build(settings(&["--catalog", "/no/such/catalog.toml"]).unwrap())
        .await
    {
        Ok(_) => panic!("a missing file was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("cannot read /no/such/catalog.toml"), "{err}");
}

#[tokio::test]
async fn a_catalogue_file_replaces_the_built_in_one_and_changes_the_version() {
    let default_version = spawn_app().await.manifest().await.version;
    let file = catalogue_file(
        r#"
currency = "EUR"
[[plans]]
id = "hobby"
name = "Hobby"
monthly_cents = 0
yearly_cents = 0
features = ["One site"]
[[plans]]
id = "business"
name = "Business"
monthly_cents = 4950
yearly_cents = 49500
features = ["Many sites"]
[[plans]]
id = "scale"
name = "Scale"
monthly_cents = 150000
yearly_cents = 1500000
features = ["All the sites"]
"#,
    );
    let app = spawn_app_with(&["--catalog", file.path().to_str().unwrap()]).await;
    assert_ne!(app.manifest().await.version, default_version);
    let body = app.get("/fragments/plans").await.text().await.unwrap();
    assert!(body.contains("€49.50"), "{body}");
    assert!(body.contains("€1,500"));
    assert!(body.contains("/accounts?plan=business"));
    assert!(body.contains("Prices in EUR"));
}

#[test]
fn the_binary_exits_2_naming_the_field_of_a_bad_catalogue() {
    let bad =
        svc_pricing::BUILT_IN_CATALOG.replace("yearly_cents = 29000", "yearly_cents = \"lots\"");
    let file = catalogue_file(&bad);
    let out = Command::new(env!("CARGO_BIN_EXE_svc-pricing"))
        .args(["--port", "0", "--catalog", file.path().to_str().unwrap()])
        .env_remove("PRICING_CATALOG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("catalog plans[2].yearly_cents: must be a whole number"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_command_line_answers_help_and_healthcheck_and_refuses_a_bad_setting() {
    let app = spawn_app().await;
    let catalogue = ["--catalog", "PRICING_CATALOG"];
    testkit::assert_command_line(env!("CARGO_BIN_EXE_svc-pricing"), &catalogue, app.port).await;
}

#[tokio::test]
async fn cors_answers_only_the_configured_shell_origin() {
    let app = spawn_app_with(&["--cors-origins", "http://127.0.0.1:8000"]).await;
    let paths = [
        "/fragments/plans",
        "/fragments/teaser",
        "/assets/pricing-toggle.js",
    ];
    testkit::assert_cors_only_for(&app.address, "http://127.0.0.1:8000", &paths).await;
    let plain = spawn_app().await;
    let res = plain
        .get_with("/fragments/plans", &[("origin", "http://127.0.0.1:8000")])
        .await;
    assert!(
        res.headers().get("access-control-allow-origin").is_none(),
        "no CORS unless configured"
    );
}
