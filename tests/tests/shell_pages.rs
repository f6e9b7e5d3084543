//! The shell's pages: composition from all three teams, streaming, headers, the registry,
//! the 404 page, and forms with JavaScript off. Tests marked "external-ready" use
//! `MF_BASE_URL` when it is set (a docker stack); the others spawn their own stack.

use std::time::{Duration, Instant};

use mf_tests::{
    csrf_token, slot_status, slot_tag, timed_chunks, FakeService, FakeSpec, Stack, StackOptions,
};
use reqwest::StatusCode;

/// External-ready.
#[tokio::test]
async fn each_page_composes_the_right_fragments_from_all_three_teams() {
    let stack = Stack::start_or_external().await;
    let expect = [
        (
            "/",
            "dashboard",
            vec!["dashboard/overview", "pricing/teaser"],
            "Dashboard · ",
        ),
        (
            "/dashboard",
            "dashboard",
            vec!["dashboard/overview", "pricing/teaser"],
            "Dashboard · ",
        ),
        (
            "/accounts",
            "accounts",
            vec!["accounts/account"],
            "Account · ",
        ),
        ("/pricing", "pricing", vec!["pricing/plans"], "Pricing · "),
    ];
    for (path, section, slots, title) in expect {
        let (status, headers, html) = stack.page(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(headers["content-type"], "text/html; charset=utf-8");
        assert!(html.starts_with("<!DOCTYPE html>"), "{path}");
        assert!(html.contains(&format!("<title>{title}")), "{path}: title");
        assert!(
            html.contains(&format!(
                "data-fragment-loader-target=\"main\" data-section=\"{section}\""
            )),
            "{path}: main carries the section"
        );
        // The accounts user menu sits in the header chrome on every page.
        let header = &html[html.find("<header").unwrap()..html.find("</header>").unwrap()];
        assert!(
            header.contains("data-slot=\"accounts/user-menu\""),
            "{path}: user menu"
        );
        assert!(
            header.contains("data-fragment=\"accounts/user-menu\""),
            "{path}: user menu body"
        );
        assert_eq!(
            slot_status(&html, "accounts/user-menu").as_deref(),
            Some("ok")
        );
        let main = &html[html.find("<main").unwrap()..html.find("</main>").unwrap()];
        for slot in &slots {
            assert!(
                main.contains(&format!("data-slot=\"{slot}\"")),
                "{path}: {slot}"
            );
            assert!(
                main.contains(&format!("data-fragment=\"{slot}\"")),
                "{path}: {slot} body"
            );
            assert_eq!(
                slot_status(&html, slot).as_deref(),
                Some("ok"),
                "{path}: {slot}"
            );
            assert!(slot_tag(&html, slot)
                .unwrap()
                .contains("data-fragment-ms=\""));
        }
        // Slots come in page order.
        if slots.len() == 2 {
            assert!(main.find(slots[0]).unwrap() < main.find(slots[1]).unwrap());
        }
        // The nav marks the current section.
        let current = format!("href=\"/{section}\" aria-current=\"page\"");
        assert!(html.contains(&current), "{path}: nav marks {section}");
        // Twice: the inline navigation and the narrow screen's menu carry the same links.
        assert_eq!(html.matches("aria-current=\"page\"").count(), 2);
        assert!(
            html.contains("<meta name=\"description\" content=\""),
            "{path}"
        );
        // The head lists the CSS and controllers of the services it shows through /svc/,
        // the loader and boot, each at its content-hashed URL; no other service's.
        let head = &html[..html.find("</head>").unwrap()];
        let shows_pricing = slots.iter().any(|s| s.starts_with("pricing/"));
        assert_eq!(
            head.contains("href=\"/svc/pricing/assets/pricing.css?v="),
            shows_pricing,
            "{path}"
        );
        assert_eq!(
            head.contains("rel=\"modulepreload\" href=\"/svc/pricing/assets/pricing-toggle.js?v="),
            shows_pricing,
            "{path}"
        );
        assert!(
            head.contains("href=\"/svc/accounts/assets/accounts.css?v="),
            "{path}"
        );
        assert!(head.contains("<script type=\"module\" src=\"/assets/shared/boot.js?v="));
        assert!(head.contains("<script type=\"module\" src=\"/assets/fragment-loader.js?v="));
        assert!(html.contains(
            "<body data-controller=\"fragment-loader\" data-fragment-loader-registry-value=\"/registry.json\">"
        ));
        assert!(html.contains("data-fragment-loader-target=\"announcer\""));
        assert!(html.contains("data-fragment-loader-target=\"progress\" hidden"));
    }
}

/// External-ready.
#[tokio::test]
async fn pages_carry_a_hash_csp_and_the_security_headers() {
    let stack = Stack::start_or_external().await;
    let (_, headers, html) = stack.page("/dashboard").await;
    let csp = headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    for part in [
        "default-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "img-src 'self' data:",
    ] {
        assert!(csp.contains(part), "{part} in {csp}");
    }
    // The only executable inline script, the import map, is allowed by its hash: the head
    // is the same bytes for every request, so the shell renders it once.
    let import_map = html
        .split("<script type=\"importmap\">")
        .nth(1)
        .and_then(|rest| rest.split("</script>").next())
        .expect("an import map without a nonce attribute");
    let hash = {
        use base64::Engine;
        use sha2::{Digest, Sha256};
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(import_map.as_bytes()))
    };
    assert!(
        csp.contains(&format!("script-src 'self' 'sha256-{hash}';")),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let inline_scripts = html
        .match_indices("<script")
        .filter(|(i, _)| {
            let tag = &html[*i..*i + html[*i..].find('>').unwrap()];
            !tag.contains("src=")
        })
        .count();
    assert_eq!(
        inline_scripts, 2,
        "the import map and the JSON controller list only"
    );
    assert!(html.contains("<script type=\"application/json\" id=\"mf-controllers\">"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(
        headers["referrer-policy"],
        "strict-origin-when-cross-origin"
    );
    // The same policy on every answer (nothing per request to guess or to leak).
    let (_, again, _) = stack.page("/dashboard").await;
    assert_eq!(
        again["content-security-policy"],
        headers["content-security-policy"]
    );
}

/// External-ready.
#[tokio::test]
async fn registry_json_lists_sections_chrome_and_services() {
    let stack = Stack::start_or_external().await;
    let res = stack.get("/registry.json").await;
    assert_eq!(res.status(), StatusCode::OK);
    let json = mf_tests::json(res).await;
    assert_eq!(json["default_section"], "dashboard");
    let sections = json["sections"].as_array().unwrap();
    let ids: Vec<_> = sections.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["dashboard", "accounts", "pricing"]);
    let dashboard = &sections[0];
    assert_eq!(dashboard["title"], "Dashboard");
    assert_eq!(dashboard["path"], "/dashboard");
    assert_eq!(dashboard["slots"][0]["service"], "dashboard");
    assert_eq!(dashboard["slots"][0]["fragment"], "overview");
    assert_eq!(
        dashboard["slots"][0]["url"],
        "/svc/dashboard/fragments/overview"
    );
    assert_eq!(
        dashboard["slots"][1]["url"],
        "/svc/pricing/fragments/teaser"
    );
    assert_eq!(dashboard["slots"][1]["title"], "Upgrade");
    assert_eq!(json["chrome"][0]["slot"], "user-menu");
    assert_eq!(
        json["chrome"][0]["url"],
        "/svc/accounts/fragments/user-menu"
    );
    for name in ["pricing", "dashboard", "accounts"] {
        let svc = &json["services"][name];
        assert_eq!(svc["base"], format!("/svc/{name}"));
        assert_eq!(svc["direct"], false);
        assert!(
            svc["version"].as_str().unwrap().contains('+'),
            "{name} version"
        );
        for css in svc["css"].as_array().unwrap() {
            assert!(css.as_str().unwrap().starts_with(&format!("/svc/{name}/")));
        }
    }
    let module = json["services"]["pricing"]["controllers"][0]["module"]
        .as_str()
        .unwrap();
    assert!(
        module.starts_with("/svc/pricing/assets/pricing-toggle.js?v="),
        "{module}"
    );
}

/// External-ready.
#[tokio::test]
async fn an_unknown_path_gets_a_404_page_inside_the_chrome() {
    let stack = Stack::start_or_external().await;
    let (status, headers, html) = stack.page("/no-such-section?x=<b>").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(headers.contains_key("content-security-policy"));
    assert!(html.contains("Page not found"));
    // The page carries the signed-in user's menu, so nothing the request controls is
    // reflected into it (docs/SECURITY.md, the compression oracle): not the path, not the
    // query.
    assert!(html.contains("Nothing lives at this address."));
    assert!(!html.contains("no-such-section"), "the path is not echoed");
    assert!(!html.contains("x=<b>") && !html.contains("x=&lt;b&gt;"));
    assert!(
        html.contains("data-slot=\"accounts/user-menu\""),
        "the chrome is there"
    );
    assert!(html.contains("<nav class=\"nav\""));
    assert!(!html.contains("aria-current=\"page\""));
}

/// External-ready.
#[tokio::test]
async fn static_assets_of_the_shell_are_served_with_etags() {
    let stack = Stack::start_or_external().await;
    for path in [
        "/assets/fragment-loader.js",
        "/assets/shell.css",
        "/assets/shared/boot.js",
    ] {
        let res = stack.get(path).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let etag = res.headers()["etag"].clone();
        let etag = etag.to_str().unwrap();
        let again = stack.get_with(path, &[("if-none-match", etag)]).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
    }
}

#[tokio::test]
async fn the_head_arrives_before_a_slow_fragment() {
    let mut spec = FakeSpec::new("slow", &["late"]);
    spec.delay = Duration::from_millis(700);
    let slow = FakeService::start(spec).await;
    let stack = Stack::start_with(StackOptions {
        shell_args: vec!["--fragment-timeout-ms".into(), "3000".into()],
        ..StackOptions::with_section("slow", &slow.url, "slow", &["slow/late"])
    })
    .await;
    let started = Instant::now();
    let res = stack.get("/slow").await;
    assert_eq!(res.status(), StatusCode::OK);
    let chunks = timed_chunks(res, started).await;
    let head_at = chunks
        .iter()
        .find(|(_, c)| c.contains("</head>"))
        .map(|(t, _)| *t)
        .expect("a chunk with the head");
    let slow_at = chunks
        .iter()
        .find(|(_, c)| c.contains("data-fragment=\"slow/late\""))
        .map(|(t, _)| *t)
        .expect("a chunk with the slow fragment");
    assert!(
        head_at + Duration::from_millis(400) < slow_at,
        "the head ({head_at:?}) came well before the slow fragment ({slow_at:?})"
    );
    assert!(slow_at >= Duration::from_millis(700));
    // The chrome (header with the user menu) did not wait for the slow fragment either.
    let header_at = chunks
        .iter()
        .find(|(_, c)| c.contains("</header>"))
        .map(|(t, _)| *t)
        .expect("a chunk closing the header");
    assert!(header_at + Duration::from_millis(400) < slow_at);
    let html: String = chunks.into_iter().map(|(_, c)| c).collect();
    assert_eq!(slot_status(&html, "slow/late").as_deref(), Some("ok"));
    assert!(html.ends_with("</html>"));
}

#[tokio::test]
async fn the_query_string_of_a_page_reaches_its_fragments() {
    let stack = Stack::start().await;
    let (_, _, yearly) = stack.page("/pricing?billing=yearly").await;
    let (_, _, monthly) = stack.page("/pricing?billing=monthly").await;
    assert_ne!(
        yearly[yearly.find("data-slot=\"pricing/plans\"").unwrap()..],
        monthly[monthly.find("data-slot=\"pricing/plans\"").unwrap()..],
        "the plans fragment saw the billing parameter"
    );
}

#[tokio::test]
async fn a_form_posted_with_javascript_off_comes_back_inside_the_full_page() {
    let stack = Stack::start().await;
    let (_, _, page) = stack.page("/accounts").await;
    let token = csrf_token(&page);
    // Sign in with a wrong password, as a browser without JavaScript posts it.
    let origin = ("origin", stack.shell_url.as_str());
    let navigate = [
        origin,
        ("sec-fetch-mode", "navigate"),
        ("sec-fetch-site", "same-origin"),
        ("accept", "text/html,application/xhtml+xml"),
    ];
    let wrong = [
        ("csrf_token", token.as_str()),
        ("email", "nobody@example.com"),
        ("password", ""),
    ];
    let res = stack
        .post_form("/svc/accounts/actions/sign-in", &navigate, &wrong)
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.headers().contains_key("content-security-policy"));
    let html = res.text().await.unwrap();
    assert!(
        html.starts_with("<!DOCTYPE html>"),
        "a full page, not a bare fragment"
    );
    assert!(html.contains("data-section=\"accounts\""));
    assert!(html.contains("data-slot=\"accounts/user-menu\""));
    let slot = &html[html.find("data-slot=\"accounts/account\"").unwrap()..];
    assert!(
        slot.contains("field--invalid") || slot.contains("alert--danger"),
        "the inline error"
    );

    // The loader's fetch of the same action gets the bare fragment.
    let loader = [origin, ("x-mf-loader", "1")];
    let res = stack
        .post_form("/svc/accounts/actions/sign-in", &loader, &wrong)
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.headers().contains_key("server-timing"));
    let html = res.text().await.unwrap();
    assert!(!html.contains("<html"));
    assert!(html.contains("data-fragment=\"accounts/account\""));
}

#[tokio::test]
async fn signing_up_through_the_proxy_signs_the_user_in_on_every_teams_fragment() {
    let stack = Stack::start().await;
    let res = stack
        .sign_up_navigating("Grace Hopper", "grace@example.com")
        .await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{:?}",
        res.text().await
    );
    assert_eq!(res.headers()["location"], "/dashboard");
    assert!(res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .starts_with("mf_session="));
    // The cookie went into the client's store; the shell resolves it for every team.
    let (_, _, html) = stack.page("/dashboard").await;
    let header = &html[..html.find("</header>").unwrap()];
    assert!(
        header.contains("Grace Hopper"),
        "the accounts user menu knows the user"
    );
    let overview = &html[html.find("data-slot=\"dashboard/overview\"").unwrap()..];
    assert!(overview.contains("Grace"), "the dashboard knows the user");
}
