//! One bad service never breaks a page: stopped, slow, black-hole and broken services get
//! their fallback within the budget while the other fragments render; a service that comes
//! back (or comes up after the shell) is used again without restarting the shell. These
//! tests always spawn their own stack.

use std::time::{Duration, Instant};

use mf_tests::{slot_status, BlackHole, FakeService, FakeSpec, Stack, StackOptions, Team};
use reqwest::StatusCode;

#[tokio::test]
async fn a_stopped_service_gets_its_fallback_while_the_others_render_and_comes_back_on_restart() {
    let mut stack = Stack::start().await;
    let (_, _, html) = stack.page("/dashboard").await;
    assert_eq!(
        slot_status(&html, "dashboard/overview").as_deref(),
        Some("ok")
    );

    stack.stop_service("dashboard").await;
    let started = Instant::now();
    let (status, _, html) = stack.page("/dashboard").await;
    let took = started.elapsed();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        slot_status(&html, "dashboard/overview").as_deref(),
        Some("fallback")
    );
    assert_eq!(slot_status(&html, "pricing/teaser").as_deref(), Some("ok"));
    assert_eq!(
        slot_status(&html, "accounts/user-menu").as_deref(),
        Some("ok")
    );
    assert!(
        // A refused connection fails at once; the 1 s fragment timeout (plus slack for a
        // loaded machine) bounds it in any case.
        took < Duration::from_millis(1500),
        "within the fragment timeout: {took:?}"
    );
    // The registry still knows the service by its last good manifest.
    let registry = mf_tests::json(stack.get("/registry.json").await).await;
    assert!(registry["services"]["dashboard"]["version"].is_string());

    stack.start_service("dashboard").await;
    let (_, _, html) = stack.page("/dashboard").await;
    assert_eq!(
        slot_status(&html, "dashboard/overview").as_deref(),
        Some("ok")
    );
    assert!(html.contains("data-fragment=\"dashboard/overview\""));
}

#[tokio::test]
async fn a_service_down_when_the_shell_starts_is_used_once_it_is_up() {
    let mut stack = Stack::start_with(StackOptions {
        down_at_start: vec![Team::Pricing],
        ..StackOptions::default()
    })
    .await;
    let (status, _, html) = stack.page("/pricing").await;
    assert_eq!(status, StatusCode::OK, "the shell started and serves");
    assert_eq!(
        slot_status(&html, "pricing/plans").as_deref(),
        Some("unavailable")
    );
    assert!(html.contains("Pricing is unavailable right now."));
    assert!(html.contains("href=\"/pricing\">Retry</a>"));
    assert_eq!(
        slot_status(&html, "accounts/user-menu").as_deref(),
        Some("ok")
    );
    let registry = mf_tests::json(stack.get("/registry.json").await).await;
    assert_eq!(registry["services"]["pricing"]["available"], false);

    stack.start_service("pricing").await;
    // The manifest is read in the background once the service answers (the backoff of
    // reads at start, or a page asking); until then no fragment path is guessed.
    let mut known = false;
    for _ in 0..40 {
        let registry = mf_tests::json(stack.get("/registry.json").await).await;
        if registry["services"]["pricing"]["available"] == true {
            known = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(known, "the pricing manifest was read without a restart");
    let (_, _, html) = stack.page("/pricing").await;
    assert_eq!(slot_status(&html, "pricing/plans").as_deref(), Some("ok"));
    assert!(html.contains("href=\"/svc/pricing/assets/pricing.css?v="));
}

#[tokio::test]
async fn a_black_hole_service_cannot_hold_a_page_past_its_budget() {
    let hole = BlackHole::start().await;
    let stack = Stack::start_with(StackOptions {
        extra_services: vec![("hole".into(), hole.url.clone())],
        extra_sections: vec![(
            "hole".into(),
            "/hole".into(),
            vec!["hole/widget".into(), "pricing/teaser".into()],
        )],
        shell_args: vec![
            "--fragment-timeout-ms".into(),
            "300".into(),
            "--page-budget-ms".into(),
            "600".into(),
        ],
        ..StackOptions::default()
    })
    .await;
    let started = Instant::now();
    let (status, _, html) = stack.page("/hole").await;
    let took = started.elapsed();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        slot_status(&html, "hole/widget").as_deref(),
        Some("unavailable")
    );
    assert!(html.contains("Hole is unavailable right now."));
    assert_eq!(slot_status(&html, "pricing/teaser").as_deref(), Some("ok"));
    assert!(html.ends_with("</html>"));
    // 300 ms fragment timeout, 600 ms page budget; generous slack for a loaded machine.
    assert!(took < Duration::from_millis(2500), "the page took {took:?}");
}

#[tokio::test]
async fn a_slow_fragment_past_its_timeout_shows_the_declared_fallback() {
    let mut spec = FakeSpec::new("slow", &["late"]);
    spec.delay = Duration::from_secs(5);
    spec.fallback = Some("<p class=\"muted\">The slow widget is resting.</p>".into());
    let slow = FakeService::start(spec).await;
    let stack = Stack::start_with(StackOptions {
        shell_args: vec!["--fragment-timeout-ms".into(), "200".into()],
        ..StackOptions::with_section("slow", &slow.url, "slow", &["slow/late"])
    })
    .await;
    let started = Instant::now();
    let (_, _, html) = stack.page("/slow").await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(slot_status(&html, "slow/late").as_deref(), Some("fallback"));
    assert!(html.contains("The slow widget is resting."));
}

#[tokio::test]
async fn broken_answers_never_reach_the_page() {
    let mut whole = FakeSpec::new("whole", &["doc"]);
    whole.whole_document = true;
    let whole = FakeService::start(whole).await;
    let stack = Stack::start_with(StackOptions::with_section(
        "whole",
        &whole.url,
        "whole",
        &["whole/doc", "whole/missing"],
    ))
    .await;
    let (status, _, html) = stack.page("/whole").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        slot_status(&html, "whole/doc").as_deref(),
        Some("unavailable")
    );
    assert_eq!(
        slot_status(&html, "whole/missing").as_deref(),
        Some("unavailable")
    );
    assert_eq!(
        html.matches("<html").count(),
        1,
        "only the shell's own document"
    );
}

#[tokio::test]
async fn a_cacheable_fragment_is_reused_while_fresh_and_stands_in_when_its_service_fails() {
    let mut spec = FakeSpec::new("cached", &["news"]);
    spec.cache_control = "public, max-age=1".into();
    let fake = FakeService::start(spec).await;
    let stack = Stack::start_with(StackOptions::with_section(
        "cached",
        &fake.url,
        "cached",
        &["cached/news"],
    ))
    .await;
    let hits = fake.hits.clone();
    let (_, _, first) = stack.page("/cached").await;
    let (_, _, second) = stack.page("/cached").await;
    assert_eq!(slot_status(&first, "cached/news").as_deref(), Some("ok"));
    assert_eq!(slot_status(&second, "cached/news").as_deref(), Some("ok"));
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the second was a cache hit"
    );

    fake.stop().await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, _, stale) = stack.page("/cached").await;
    assert_eq!(
        slot_status(&stale, "cached/news").as_deref(),
        Some("cached")
    );
    assert!(stale.contains("Fake news fragment"));
}

#[tokio::test]
async fn a_new_fragment_version_makes_the_shell_read_the_manifest_again() {
    let fake = FakeService::start(FakeSpec::new("fake", &["news"])).await;
    let port: u16 = fake.url.rsplit(':').next().unwrap().parse().unwrap();
    let stack = Stack::start_with(StackOptions::with_section(
        "fake",
        &fake.url,
        "fake",
        &["fake/news"],
    ))
    .await;
    let registry = mf_tests::json(stack.get("/registry.json").await).await;
    assert_eq!(registry["services"]["fake"]["version"], "1.0.0+fake");

    // A redeploy on the same port: a new version with a declared fallback.
    fake.stop().await;
    let mut spec = FakeSpec::new("fake", &["news"]);
    spec.version = "2.0.0+fake".into();
    spec.fallback = Some("<p>News are resting.</p>".into());
    let _fake = FakeService::start_on(spec, port).await;

    // No periodic refresh is due (30 s); the fragment answer's version triggers the read.
    let mut seen = false;
    for _ in 0..30 {
        let (_, _, html) = stack.page("/fake").await;
        assert_eq!(slot_status(&html, "fake/news").as_deref(), Some("ok"));
        let registry = mf_tests::json(stack.get("/registry.json").await).await;
        if registry["services"]["fake"]["version"] == "2.0.0+fake" {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        seen,
        "the shell read the new manifest after seeing the new version"
    );
}

#[tokio::test]
async fn a_form_posted_with_javascript_off_to_a_stopped_service_gets_the_page_with_the_unavailable_box(
) {
    let mut stack = Stack::start().await;
    stack.page("/accounts").await;
    stack.stop_service("accounts").await;
    let form = [("email", "a@example.com"), ("password", "x")];
    let navigate = [("sec-fetch-mode", "navigate"), ("accept", "text/html")];
    let res = stack
        .post_form("/svc/accounts/actions/sign-in", &navigate, &form)
        .await;
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    let html = res.text().await.unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("data-section=\"accounts\""));
    assert_eq!(
        slot_status(&html, "accounts/account").as_deref(),
        Some("unavailable")
    );
    assert!(html.contains("Accounts is unavailable right now."));
    // The loader's fetch gets a plain 502 it can show in the form's slot.
    let res = stack
        .post_form(
            "/svc/accounts/actions/sign-in",
            &[("x-mf-loader", "1")],
            &form,
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
}

#[tokio::test]
async fn an_expired_fragment_under_load_is_refetched_once_while_the_others_get_the_stale_copy() {
    let mut spec = FakeSpec::new("cached", &["news"]);
    spec.cache_control = "public, max-age=1".into();
    // A slow service: every request that refetched would wait for it.
    spec.delay = Duration::from_millis(300);
    let fake = FakeService::start(spec).await;
    let stack = Stack::start_with(StackOptions::with_section(
        "cached",
        &fake.url,
        "cached",
        &["cached/news"],
    ))
    .await;
    let hits = fake.hits.clone();
    let (_, _, first) = stack.page("/cached").await;
    assert_eq!(slot_status(&first, "cached/news").as_deref(), Some("ok"));
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // 40 pages at once on the expired entry.
    let pages = (0..40).map(|_| {
        let client = mf_tests::client();
        let url = stack.url("/cached");
        async move {
            let started = std::time::Instant::now();
            let html = mf_tests::get_text(&client, url).await;
            (started.elapsed(), html)
        }
    });
    let answers = futures_util::future::join_all(pages).await;
    for (_, html) in &answers {
        assert_eq!(slot_status(html, "cached/news").as_deref(), Some("ok"));
        assert!(html.contains("Fake news fragment"));
    }
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "one refetch for the expiry, not one per page"
    );
    // Only the page that refetched waited for the slow service.
    let waited = answers
        .iter()
        .filter(|(took, _)| *took >= Duration::from_millis(300))
        .count();
    assert!(waited <= 1, "{waited} pages waited for the refetch");
}

/// The header the shell puts on an answer it made for a failed service.
const STAND_IN: &str = "x-mf-status";

/// A header's value, or "" when it is missing.
fn header<'a>(res: &'a reqwest::Response, name: &str) -> &'a str {
    res.headers()
        .get(name)
        .map_or("", |v| v.to_str().unwrap_or(""))
}

#[tokio::test]
async fn a_stopped_services_assets_are_served_from_the_copies_warmed_before_it_failed() {
    let mut stack = Stack::start().await;
    let (css, js) = (
        "/svc/pricing/assets/pricing.css",
        "/svc/pricing/assets/pricing-toggle.js",
    );
    // The warming fetched both declared assets before any browser asked for them.
    stack
        .wait_for_metric(r#"shell_asset_copies_total{service="pricing",source="warm"} 2"#)
        .await;
    let healthy = stack.get(css).await;
    assert_eq!(healthy.status(), StatusCode::OK);
    let etag = header(&healthy, "etag").to_owned();
    assert!(!etag.is_empty(), "the service sends an ETag");
    let healthy_css = healthy.text().await.unwrap();

    stack.stop_service("pricing").await;
    let res = stack.get(css).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(header(&res, "content-type").starts_with("text/css"));
    assert_eq!(header(&res, "etag"), etag);
    assert_eq!(header(&res, STAND_IN), "cached");
    assert_eq!(res.text().await.unwrap(), healthy_css);
    let revalidated = stack.get_with(css, &[("if-none-match", &etag)]).await;
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    let module = stack.get(js).await;
    assert_eq!(module.status(), StatusCode::OK);
    assert!(header(&module, "content-type").starts_with("text/javascript"));
    // An undeclared path is still refused, copy or not.
    let undeclared = stack.get("/svc/pricing/assets/other.css").await;
    assert_eq!(undeclared.status(), StatusCode::NOT_FOUND);
    stack
        .wait_for_metric(
            r#"shell_proxy_stand_ins_total{service="pricing",kind="asset",status="cached"} 3"#,
        )
        .await;
}

#[tokio::test]
async fn an_asset_never_seen_gets_the_clear_error_while_its_service_is_down() {
    // With no memory for copies, no asset is ever seen.
    let mut stack = Stack::start_with(StackOptions {
        shell_args: vec!["--asset-cache-mib".into(), "0".into()],
        ..StackOptions::default()
    })
    .await;
    stack.stop_service("pricing").await;
    let res = stack.get("/svc/pricing/assets/pricing.css").await;
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    assert!(header(&res, "content-type").starts_with("text/plain"));
    assert_eq!(header(&res, STAND_IN), "");
    let message = res.text().await.unwrap();
    assert!(
        message.contains("`pricing` is unavailable right now"),
        "{message}"
    );
}

#[tokio::test]
async fn a_loader_fetch_of_a_failed_fragment_gets_what_the_full_page_shows() {
    let mut stack = Stack::start().await;
    let loader = [("x-mf-loader", "1")];
    // A healthy full load keeps the (public, cacheable) plans.
    let (_, _, html) = stack.page("/pricing").await;
    assert_eq!(slot_status(&html, "pricing/plans").as_deref(), Some("ok"));
    stack.stop_service("pricing").await;

    // The last good copy, in the page (`ok` while it is fresh: the page does not ask the
    // service then) and for the loader alike.
    let (_, _, page) = stack.page("/pricing").await;
    let status = slot_status(&page, "pricing/plans");
    assert!(
        matches!(status.as_deref(), Some("ok" | "cached")),
        "{status:?}"
    );
    let swap = stack
        .get_with("/svc/pricing/fragments/plans", &loader)
        .await;
    assert_eq!(swap.status(), StatusCode::OK);
    assert_eq!(header(&swap, STAND_IN), "cached");
    assert_eq!(header(&swap, "cache-control"), "no-store");
    let body = swap.text().await.unwrap();
    assert!(body.contains("data-fragment=\"pricing/plans\""), "{body}");
    assert!(page.contains(&body), "the swap shows what the page shows");

    // Never fetched with this query: the declared fallback, in both.
    let (_, _, page) = stack.page("/pricing?billing=yearly").await;
    assert_eq!(
        slot_status(&page, "pricing/plans").as_deref(),
        Some("fallback")
    );
    let swap = stack
        .get_with("/svc/pricing/fragments/plans?billing=yearly", &loader)
        .await;
    assert_eq!(swap.status(), StatusCode::OK);
    assert_eq!(header(&swap, STAND_IN), "fallback");
    let body = swap.text().await.unwrap();
    assert!(page.contains(&body), "the swap shows the page's fallback");
    stack
        .wait_for_metric(
            r#"shell_proxy_stand_ins_total{service="pricing",kind="fragment",status="fallback"} 1"#,
        )
        .await;
}

#[tokio::test]
async fn a_loader_fetch_with_no_copy_and_no_fallback_gets_the_unavailable_box() {
    let spec = FakeSpec::new("gone", &["widget"]);
    let fake = FakeService::start(spec).await;
    let stack = Stack::start_with(StackOptions::with_section(
        "gone",
        &fake.url,
        "gone",
        &["gone/widget"],
    ))
    .await;
    let (_, _, html) = stack.page("/gone").await;
    assert_eq!(slot_status(&html, "gone/widget").as_deref(), Some("ok"));
    fake.stop().await;
    let (_, _, page) = stack.page("/gone").await;
    assert_eq!(
        slot_status(&page, "gone/widget").as_deref(),
        Some("unavailable")
    );
    let swap = stack
        .get_with("/svc/gone/fragments/widget", &[("x-mf-loader", "1")])
        .await;
    assert_eq!(swap.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(header(&swap, STAND_IN), "unavailable");
    assert!(header(&swap, "content-type").starts_with("text/html"));
    let body = swap.text().await.unwrap();
    assert!(body.contains("Gone is unavailable right now."), "{body}");
    assert!(body.contains(r#"href="/gone">Retry</a>"#), "{body}");
    assert!(page.contains(&body), "the same box as the page's");
}

#[tokio::test]
async fn a_loader_fetch_of_a_slow_fragment_gets_its_fallback_within_the_page_budget() {
    let mut spec = FakeSpec::new("sloth", &["nap"]);
    spec.delay = Duration::from_secs(5);
    spec.fallback = Some("<p data-fragment=\"sloth/nap\">Resting.</p>".into());
    let fake = FakeService::start(spec).await;
    let stack = Stack::start_with(StackOptions {
        shell_args: vec!["--page-budget-ms".into(), "1500".into()],
        ..StackOptions::with_section("sloth", &fake.url, "sloth", &["sloth/nap"])
    })
    .await;
    let (_, _, page) = stack.page("/sloth").await;
    assert_eq!(slot_status(&page, "sloth/nap").as_deref(), Some("fallback"));
    let started = Instant::now();
    let swap = stack
        .get_with("/svc/sloth/fragments/nap", &[("x-mf-loader", "1")])
        .await;
    let took = started.elapsed();
    assert_eq!(header(&swap, STAND_IN), "fallback");
    assert!(took < Duration::from_millis(2500), "took {took:?}");
    assert!(page.contains(&swap.text().await.unwrap()));
}
