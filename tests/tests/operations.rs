//! Operations: Prometheus metrics and W3C Trace Context (`docs/OPERATIONS.md`).
//!
//! The first test runs the real binaries as processes (as `scripts/test` builds them) and
//! reads their `/metrics` and their logs; the others run in-process stacks, which is sound
//! because every app has its own metrics registry (no process-global recorder).

use std::time::{Duration, Instant};

use mf_tests::replicas::Process;
use mf_tests::{
    csrf_in, free_port, get_text, get_with, post_form, FakeService, FakeSpec, OtlpReceiver, Stack,
    StackOptions, FAST_HASH_ARGS, SECRET,
};
use shared_ui::trace::TraceParent;

/// A valid incoming trace (the W3C spec's example).
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

fn traceparent() -> String {
    format!("00-{TRACE_ID}-{PARENT_ID}-01")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// `GET url`: status, content type and body.
async fn get(url: &str) -> (u16, String, String) {
    let res = get_with(&client(), url, &[]).await;
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, content_type, res.text().await.unwrap())
}

/// The value of the sample `series` (name and labels exactly as rendered), if present.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let rest = line.strip_prefix(series)?;
        rest.strip_prefix(' ')?.trim().parse().ok()
    })
}

/// Waits (at most 10 s) until `path`'s text holds every needle; returns the text.
async fn log_with(path: &std::path::Path, needles: &[&str]) -> String {
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let found = text
            .lines()
            .any(|line| needles.iter().all(|n| line.contains(n)));
        if found || started.elapsed() > Duration::from_secs(10) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_view_shows_in_the_metrics_and_its_trace_id_in_every_teams_log() {
    let _heavy = mf_tests::heavy();
    let dir = tempfile::tempdir().unwrap();
    let log = |name: &str| dir.path().join(format!("{name}.log"));
    let common = ["--context-secret", SECRET];
    let pricing = Process::start_logged("pricing", "svc-pricing", &common, &log("pricing")).await;
    let dashboard =
        Process::start_logged("dashboard", "svc-dashboard", &common, &log("dashboard")).await;
    let db = dir.path().join("accounts.db").display().to_string();
    let mut accounts_args = common.to_vec();
    accounts_args.extend(["--database", &db]);
    accounts_args.extend(FAST_HASH_ARGS);
    let accounts =
        Process::start_logged("accounts", "svc-accounts", &accounts_args, &log("accounts")).await;
    let services = format!(
        "pricing={},dashboard={},accounts={}",
        pricing.url(),
        dashboard.url(),
        accounts.url()
    );
    let admin_port = free_port().to_string();
    let mut shell_args = common.to_vec();
    shell_args.extend(["--services", &services, "--admin-port", &admin_port]);
    let shell = Process::start_logged("shell", "shell", &shell_args, &log("shell")).await;
    let admin = format!("http://127.0.0.1:{admin_port}");

    // One page view with an incoming trace and a (signed-out) session cookie, so the shell
    // also asks accounts who is signed in.
    let trace = traceparent();
    let headers = [
        ("traceparent", trace.as_str()),
        ("cookie", "mf_session=not-a-session"),
    ];
    let res = get_with(&client(), format!("{}/dashboard", shell.url()), &headers).await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("data-fragment=\"dashboard/overview\""),
        "{page}"
    );

    // The shell's metrics, on the admin port, in Prometheus text format.
    let (status, content_type, m) = get(&format!("{admin}/metrics")).await;
    assert_eq!(status, 200, "{m}");
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    for (service, fragment) in [
        ("dashboard", "overview"),
        ("pricing", "teaser"),
        ("accounts", "user-menu"),
    ] {
        let labels = format!("service=\"{service}\",fragment=\"{fragment}\"");
        assert_eq!(
            sample(
                &m,
                &format!("shell_fragment_duration_seconds_count{{{labels}}}")
            ),
            Some(1.0),
            "{labels}\n{m}"
        );
        assert_eq!(
            sample(
                &m,
                &format!("shell_fragment_outcomes_total{{{labels},status=\"ok\"}}")
            ),
            Some(1.0),
            "{labels}\n{m}"
        );
    }
    assert!(m.contains("# TYPE shell_fragment_duration_seconds histogram"));
    assert!(m.contains("# TYPE shell_fragment_outcomes_total counter"));
    assert_eq!(
        sample(
            &m,
            r#"http_requests_total{method="GET",route="/dashboard",status="200"}"#
        ),
        Some(1.0),
        "{m}"
    );
    let (_, _, manifest) = get(&format!("{}/manifest.json", dashboard.url())).await;
    let version = serde_json::from_str::<serde_json::Value>(&manifest).unwrap()["version"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        sample(
            &m,
            &format!(r#"shell_manifest_info{{service="dashboard",version="{version}"}}"#)
        ),
        Some(1.0),
        "{m}"
    );
    assert!(
        sample(
            &m,
            r#"shell_manifest_reads_total{service="dashboard",result="ok"}"#
        )
        .is_some_and(|n| n >= 1.0),
        "{m}"
    );
    assert_eq!(
        sample(&m, r#"shell_cache_misses_total{cache="session"}"#),
        Some(1.0),
        "{m}"
    );

    // Each service counts its own requests by route pattern.
    for (service, route) in [
        (&dashboard, "/fragments/overview"),
        (&pricing, "/fragments/teaser"),
        (&accounts, "/fragments/user-menu"),
    ] {
        let (status, content_type, m) = get(&format!("{}/metrics", service.url())).await;
        assert_eq!(status, 200, "{}", service.name);
        assert!(content_type.starts_with("text/plain; version=0.0.4"));
        let series = format!(r#"http_requests_total{{method="GET",route="{route}",status="200"}}"#);
        assert_eq!(sample(&m, &series), Some(1.0), "{}: {m}", service.name);
        let count =
            format!(r#"http_request_duration_seconds_count{{method="GET",route="{route}"}}"#);
        assert_eq!(sample(&m, &count), Some(1.0), "{}: {m}", service.name);
    }
    // Not on the public port, not through the proxy, and the admin port serves nothing else.
    for url in [
        format!("{}/metrics", shell.url()),
        format!("{}/svc/dashboard/metrics", shell.url()),
        format!("{}/svc/accounts/metrics", shell.url()),
        format!("{admin}/dashboard"),
        format!("{admin}/svc/dashboard/metrics"),
    ] {
        let (status, _, body) = get(&url).await;
        assert_eq!(status, 404, "{url}");
        assert!(!body.contains("http_requests_total"), "{url}: {body}");
    }

    // svc-accounts' own figures: a failed sign-in (straight to the service, as a browser
    // with JavaScript off would through the shell) counts, and so does its argon2 time.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = get_text(&browser, format!("{}/fragments/account", accounts.url())).await;
    let token = csrf_in(&form).expect("the sign-in form has a CSRF token");
    let res = post_form(
        &browser,
        format!("{}/actions/sign-in", accounts.url()),
        &[],
        &[
            ("email", "nobody@example.com"),
            ("password", "not the password"),
            ("csrf_token", token.as_str()),
        ],
    )
    .await;
    assert_eq!(res.status(), 422);
    let (_, _, m) = get(&format!("{}/metrics", accounts.url())).await;
    assert_eq!(sample(&m, "accounts_sign_ups_total"), Some(0.0), "{m}");
    assert_eq!(sample(&m, "accounts_sign_ins_total"), Some(0.0), "{m}");
    assert_eq!(
        sample(
            &m,
            r#"accounts_failures_total{action="sign_in",reason="wrong_credentials"}"#
        ),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        sample(
            &m,
            r#"accounts_password_hash_duration_seconds_count{operation="verify"}"#
        ),
        Some(1.0),
        "{m}"
    );

    // The incoming trace id is in the shell's request line and in every team's, including
    // the session lookup.
    let trace = format!("trace_id={TRACE_ID}");
    for (name, path) in [
        ("shell", "path=/dashboard"),
        ("dashboard", "path=/fragments/overview"),
        ("pricing", "path=/fragments/teaser"),
        ("accounts", "path=/fragments/user-menu"),
        ("accounts", "path=/internal/session"),
    ] {
        let text = log_with(&log(name), &[&trace, path]).await;
        assert!(
            text.lines().any(|l| l.contains(&trace) && l.contains(path)),
            "{name}: no line with {trace} and {path}:\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragment_outcomes_proxy_answers_and_cache_lookups_are_counted() {
    let mut cached = FakeSpec::new("alpha", &["a"]);
    cached.cache_control = "public, max-age=1".to_owned();
    let alpha = FakeService::start(cached).await;
    let mut with_fallback = FakeSpec::new("beta", &["b"]);
    with_fallback.fallback = Some("<p>Beta is resting.</p>".to_owned());
    let beta = FakeService::start(with_fallback).await;
    let gamma = FakeService::start(FakeSpec::new("gamma", &["c"])).await;
    let stack = Stack::start_with(StackOptions {
        extra_services: vec![
            ("alpha".into(), alpha.url.clone()),
            ("beta".into(), beta.url.clone()),
            ("gamma".into(), gamma.url.clone()),
        ],
        extra_sections: vec![
            ("t-alpha".into(), "/t-alpha".into(), vec!["alpha/a".into()]),
            ("t-beta".into(), "/t-beta".into(), vec!["beta/b".into()]),
            ("t-gamma".into(), "/t-gamma".into(), vec!["gamma/c".into()]),
        ],
        ..StackOptions::default()
    })
    .await;

    // Fetched (a miss), then from the cache (a hit); once stale, with alpha gone, the last
    // good copy stands in (cached). beta and gamma gone: fallback and unavailable.
    assert_eq!(stack.page("/t-alpha").await.0, 200);
    assert_eq!(stack.page("/t-alpha").await.0, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    alpha.stop().await;
    beta.stop().await;
    gamma.stop().await;
    assert_eq!(stack.page("/t-alpha").await.0, 200);
    assert_eq!(stack.page("/t-beta").await.0, 200);
    assert_eq!(stack.page("/t-gamma").await.0, 200);

    // The proxy: a declared fragment, an undeclared path, an unknown service.
    let loader = |path: &'static str| stack.get_with(path, &[("x-mf-loader", "1")]);
    assert_eq!(loader("/svc/pricing/fragments/plans").await.status(), 200);
    assert_eq!(loader("/svc/pricing/nope").await.status(), 404);
    assert_eq!(loader("/svc/nosuch/fragments/x").await.status(), 404);

    let (status, _, m) = get(&format!("{}/metrics", stack.admin_url())).await;
    assert_eq!(status, 200);
    let outcome = |service: &str, fragment: &str, status: &str| {
        sample(
            &m,
            &format!(
                r#"shell_fragment_outcomes_total{{service="{service}",fragment="{fragment}",status="{status}"}}"#
            ),
        )
    };
    assert_eq!(outcome("alpha", "a", "ok"), Some(2.0), "{m}");
    assert_eq!(outcome("alpha", "a", "cached"), Some(1.0), "{m}");
    assert_eq!(outcome("beta", "b", "fallback"), Some(1.0), "{m}");
    assert_eq!(outcome("gamma", "c", "unavailable"), Some(1.0), "{m}");
    assert_eq!(
        sample(
            &m,
            r#"shell_fragment_duration_seconds_count{service="alpha",fragment="a"}"#
        ),
        Some(3.0),
        "{m}"
    );
    assert!(
        sample(&m, r#"shell_cache_hits_total{cache="fragment"}"#).is_some_and(|n| n >= 1.0),
        "{m}"
    );
    assert!(
        sample(&m, r#"shell_cache_misses_total{cache="fragment"}"#).is_some_and(|n| n >= 3.0),
        "{m}"
    );
    assert_eq!(
        sample(
            &m,
            r#"shell_proxy_requests_total{service="pricing",status="200"}"#
        ),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        sample(
            &m,
            r#"shell_proxy_requests_total{service="pricing",status="404"}"#
        ),
        Some(1.0),
        "{m}"
    );
    assert!(
        !m.contains("nosuch"),
        "an unregistered name is no label: {m}"
    );
    // Route patterns, not raw paths: every proxied path is one series.
    assert_eq!(
        sample(
            &m,
            r#"http_requests_total{method="GET",route="/svc/{tail:.*}",status="404"}"#
        ),
        Some(2.0),
        "{m}"
    );
    assert!(!m.contains("/svc/pricing/nope"), "{m}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shell_sends_the_trace_upstream_and_replaces_an_invalid_one() {
    let fake = FakeService::start(FakeSpec::new("rec", &["one", "two"])).await;
    let stack = Stack::start_with(StackOptions::with_section(
        "rec",
        &fake.url,
        "rec",
        &["rec/one", "rec/two"],
    ))
    .await;
    let page_with = |traceparent: Option<&str>| {
        let mut req = stack.client.get(stack.url("/rec"));
        if let Some(tp) = traceparent {
            req = req.header("traceparent", tp);
        }
        async move {
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), 200);
            res.text().await.unwrap();
        }
    };
    let seen = |from: usize| -> Vec<TraceParent> {
        let all = fake.traceparents.lock().unwrap().clone();
        all[from..]
            .iter()
            .map(|tp| {
                let tp = tp
                    .as_deref()
                    .expect("every upstream request carries a traceparent");
                TraceParent::parse(tp).unwrap_or_else(|| panic!("a valid traceparent: {tp}"))
            })
            .collect()
    };

    // A valid trace: kept, with the shell's own span as the parent of both fragments.
    page_with(Some(&traceparent())).await;
    let got = seen(0);
    assert_eq!(got.len(), 2);
    for tp in &got {
        assert_eq!(tp.trace_id.to_string(), TRACE_ID);
        assert_ne!(tp.parent_id.to_string(), PARENT_ID, "the shell's own span");
        assert_eq!(tp.flags, 1);
    }
    assert_eq!(
        got[0].parent_id, got[1].parent_id,
        "one span per page request"
    );

    // Through the proxy too.
    let trace = traceparent();
    let traced = [("x-mf-loader", "1"), ("traceparent", trace.as_str())];
    let res = stack.get_with("/svc/rec/fragments/one", &traced).await;
    assert_eq!(res.status(), 200);
    let proxied = seen(2);
    assert_eq!(proxied.len(), 1);
    assert_eq!(proxied[0].trace_id.to_string(), TRACE_ID);

    // Invalid ones (all-zero ids, upper case, an unknown version, garbage) and none at all
    // start a fresh trace each.
    let mut fresh = Vec::new();
    for bad in [
        Some("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
        Some("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"),
        Some("00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01"),
        Some("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        Some("not a traceparent"),
        None,
    ] {
        let from = fake.traceparents.lock().unwrap().len();
        page_with(bad).await;
        let got = seen(from);
        assert_eq!(got.len(), 2, "{bad:?}");
        assert_eq!(got[0].trace_id, got[1].trace_id, "{bad:?}");
        assert_ne!(got[0].trace_id.to_string(), TRACE_ID, "{bad:?}");
        fresh.push(got[0].trace_id);
    }
    fresh.sort_by_key(|t| t.to_string());
    fresh.dedup();
    assert_eq!(fresh.len(), 6, "a new trace for every request");
    stack.stop().await;
    fake.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_otlp_export_on_a_pages_spans_reach_the_collector_in_its_trace() {
    let receiver = OtlpReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let log = |name: &str| dir.path().join(format!("{name}.log"));
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url.as_str()),
        // Batches every 100 ms rather than every 5 s, so the test waits less.
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ];
    let common = ["--context-secret", SECRET];
    let dashboard = Process::start_logged_with_env(
        "dashboard",
        "svc-dashboard",
        &common,
        &log("dashboard"),
        &env,
    )
    .await;
    // Pricing and accounts are registered but down (port 1 refuses at once).
    let services = format!(
        "pricing=http://127.0.0.1:1,dashboard={},accounts=http://127.0.0.1:1",
        dashboard.url()
    );
    let mut shell_args = common.to_vec();
    shell_args.extend(["--services", &services, "--admin-port", "0"]);
    let shell =
        Process::start_logged_with_env("shell", "shell", &shell_args, &log("shell"), &env).await;

    let trace = traceparent();
    let res = get_with(
        &client(),
        format!("{}/dashboard", shell.url()),
        &[("traceparent", &trace)],
    )
    .await;
    assert_eq!(res.status(), 200);
    res.text().await.unwrap();

    let started = Instant::now();
    let (page, fragment) = loop {
        let spans = receiver.spans();
        let in_trace = |service: &str| {
            spans
                .iter()
                .find(|s| s.service == service && s.trace_id == TRACE_ID && s.name == "request")
                .cloned()
        };
        if let (Some(page), Some(fragment)) = (in_trace("shell"), in_trace("svc-dashboard")) {
            break (page, fragment);
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no page and fragment spans in trace {TRACE_ID}; received: {spans:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The shell's span is the child of the browser's; the service's, of the shell's.
    assert_eq!(page.parent_span_id, PARENT_ID);
    assert_eq!(fragment.parent_span_id, page.span_id);
    assert_ne!(fragment.span_id, page.span_id);
    // The log lines name the same trace.
    let trace = format!("trace_id={TRACE_ID}");
    let text = log_with(&log("dashboard"), &[&trace, "path=/fragments/overview"]).await;
    assert!(text.contains(&trace), "{text}");
    receiver.stop().await;
}
