//! The proxy `/svc/{service}/{path…}`: declared paths only, every escape refused with a
//! 4xx, a canary outside the registry never reached; cookies pass, hop-by-hop headers do
//! not; bodies are capped; browsers navigating to a fragment go to its section.

use mf_tests::{proxy_escapes, raw_request, Canary, Stack};
use reqwest::StatusCode;

#[tokio::test]
async fn the_proxy_refuses_every_escape_and_never_reaches_a_host_outside_the_registry() {
    let canary = Canary::start().await;
    let stack = Stack::start().await;
    let c = canary.authority.clone();
    let targets = proxy_escapes(&c);
    for target in &targets {
        for method in ["GET", "POST"] {
            let answer = raw_request(
                &stack.shell_url,
                method,
                target.as_bytes(),
                "content-length: 0\r\n",
            )
            .await;
            assert!(
                (400..500).contains(&answer.status),
                "{method} {target} answered {} ({})",
                answer.status,
                answer.body
            );
            assert!(
                !answer.body.contains("canary"),
                "{method} {target} reached the canary"
            );
        }
    }
    // Absolute-form request targets name the canary as the host: still only the registry.
    let absolute = format!("http://{c}/svc/pricing/fragments/plans");
    let answer = raw_request(&stack.shell_url, "GET", absolute.as_bytes(), "").await;
    assert!(!answer.body.contains("canary"));
    // A raw NUL byte in the request line.
    let answer = raw_request(
        &stack.shell_url,
        "GET",
        b"/svc/pricing/fragments/plans\0x",
        "",
    )
    .await;
    assert!((400..500).contains(&answer.status) || answer.status == 0);
    // Messages say why.
    let answer = raw_request(&stack.shell_url, "GET", b"/svc/pricing/%2e%2e/x", "").await;
    assert_eq!(answer.status, 400);
    assert!(
        answer.body.contains("plain service path"),
        "{}",
        answer.body
    );
    let res = stack.get("/svc/accounts/internal/session").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("declares in its manifest"));
    let res = stack.get("/svc/nope/fragments/x").await;
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("no service called `nope`"));
    assert_eq!(canary.hit_count(), 0, "the canary was never reached");
}

#[tokio::test]
async fn declared_fragments_and_assets_pass_with_server_timing_and_the_forwarded_context() {
    let stack = Stack::start().await;
    let res = stack
        .get("/svc/pricing/fragments/plans?billing=yearly")
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    assert!(res.headers()["server-timing"]
        .to_str()
        .unwrap()
        .starts_with("upstream;desc=\"pricing\";dur="));
    assert!(res.headers().contains_key("x-fragment-version"));
    // The fragment sees the base path it is served under: its forms post through the proxy.
    let html = stack
        .get("/svc/accounts/fragments/account")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("action=\"/svc/accounts/actions/sign-in\""),
        "{html}"
    );

    let res = stack.get("/svc/pricing/assets/pricing-toggle.js").await;
    assert_eq!(res.status(), StatusCode::OK);
    let etag = res.headers()["etag"].clone();
    let etag = etag.to_str().unwrap();
    let res = stack
        .get_with(
            "/svc/pricing/assets/pricing-toggle.js",
            &[("if-none-match", etag)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    // Shared assets under any service's base path are the shell's own.
    let res = stack.get("/svc/accounts/assets/shared/shared.css").await;
    assert_eq!(res.status(), StatusCode::OK);
    // HEAD works, other methods do not.
    let res = stack
        .client
        .head(stack.url("/svc/pricing/fragments/plans"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = stack
        .client
        .delete(stack.url("/svc/pricing/fragments/plans"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    // A POST to a fragment (not an action) is refused.
    let res = stack
        .client
        .post(stack.url("/svc/pricing/fragments/plans"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn hop_by_hop_headers_are_dropped_and_bodies_are_capped() {
    let stack = Stack::start().await;
    // Hop-by-hop request headers are not forwarded, and none come back.
    let answer = raw_request(
        &stack.shell_url,
        "GET",
        b"/svc/pricing/fragments/teaser",
        "Keep-Alive: timeout=5\r\nTE: trailers\r\nProxy-Authorization: x\r\n",
    )
    .await;
    assert_eq!(answer.status, 200);
    let head = answer.head.to_ascii_lowercase();
    assert!(!head.contains("keep-alive:"));
    assert!(head.contains("server-timing:"));

    let big = "x".repeat(70 * 1024);
    let res = stack
        .client
        .post(stack.url("/svc/accounts/actions/sign-in"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_browser_navigating_to_a_fragment_url_is_sent_to_its_section() {
    let stack = Stack::start().await;
    let navigate = [("sec-fetch-mode", "navigate"), ("accept", "text/html")];
    let res = stack
        .get_with("/svc/pricing/fragments/plans?billing=yearly", &navigate)
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/pricing?billing=yearly");
    let res = stack
        .get_with("/svc/pricing/fragments/teaser", &[("accept", "text/html")])
        .await;
    assert_eq!(res.headers()["location"], "/dashboard");
    // Reloading the URL of a form posted with JavaScript off goes back to its section.
    let res = stack
        .get_with("/svc/accounts/actions/sign-in", &navigate[..1])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/accounts");
    // Without navigation, a GET of an action is simply not declared.
    let res = stack.get("/svc/accounts/actions/sign-in").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
