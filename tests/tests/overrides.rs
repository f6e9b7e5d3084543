//! Per-browser overrides (issue 23), over HTTP against real processes: a second svc-pricing
//! (a team's working copy, [`MarkedPricing`]) stands in for pricing for one client only, in
//! pages, `/registry.json` and the proxy, and never enters the shared caches; the proxy's
//! SSRF corpus sent as override URLs is refused every time with nothing stored; with
//! overrides off, a cookie (forged, or validly signed by another shell with the same secret)
//! changes nothing.

use mf_tests::{
    client, proxy_escapes, slot_status, Canary, MarkedPricing, Stack, StackOptions, SECRET,
};
use reqwest::header::{CACHE_CONTROL, COOKIE, SET_COOKIE};
use reqwest::StatusCode;
use shared_ui::settings::Secret;
use shell::overrides::cookie::CookieKey;

const MARKER: &str = "Working copy MARKER of the pricing team.";
const BANNER: &str = "class=\"mf-overrides\"";
const PAGE: &str = "/_mosaic/overrides";

/// A stack whose shell allows overrides to `hosts`.
async fn stack_allowing(hosts: &str) -> Stack {
    Stack::start_with(StackOptions {
        shell_args: vec!["--allow-overrides".into(), hosts.into()],
        ..StackOptions::default()
    })
    .await
}

/// Posts the overrides form as the page would (with this site's `Origin`).
async fn post(stack: &Stack, http: &reqwest::Client, form: &[(&str, &str)]) -> reqwest::Response {
    http.post(stack.url(PAGE))
        .header("origin", &stack.shell_url)
        .form(form)
        .send()
        .await
        .expect("the shell answers")
}

async fn text(http: &reqwest::Client, url: String, headers: &[(&str, &str)]) -> String {
    let mut request = http.get(&url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let res = request.send().await.expect("the shell answers");
    assert!(res.status().is_success(), "GET {url}: {}", res.status());
    res.text().await.expect("a body")
}

/// The fragment cache's lookups so far (hits and misses), from the admin port.
async fn fragment_cache_lookups(stack: &Stack) -> u64 {
    let metrics = text(&client(), format!("{}/metrics", stack.admin_url()), &[]).await;
    metrics
        .lines()
        .filter(|l| l.starts_with("shell_cache_") && l.contains("cache=\"fragment\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// The `mf_overrides` value a `Set-Cookie` of `res` stores.
fn stored_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("mf_overrides="))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn an_override_shows_for_its_browser_only_in_pages_registry_and_proxy() {
    let marked = MarkedPricing::start(MARKER).await;
    let stack = stack_allowing("localhost").await;
    let (mine, other) = (client(), client());
    // The other browser fills the shared fragment cache first (the anonymous teaser is
    // `public, max-age=30`).
    let before = text(&other, stack.url("/dashboard"), &[]).await;
    assert!(!before.contains(MARKER) && !before.contains(BANNER));

    // A shared link only asks: nothing is stored on a GET.
    let link = format!("{PAGE}?service=pricing&url={}", marked.url);
    let res = mine.get(stack.url(&link)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(stored_cookie(&res).is_none());
    let confirm = res.text().await.unwrap();
    assert!(confirm.contains(&marked.url) && confirm.contains("Use it in this browser"));
    assert!(!text(&mine, stack.url("/pricing"), &[])
        .await
        .contains(MARKER));

    let res = post(
        &stack,
        &mine,
        &[("service", "pricing"), ("url", &marked.url)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let set = res.headers().get(SET_COOKIE).unwrap().to_str().unwrap();
    for part in ["mf_overrides=", "HttpOnly", "SameSite=Lax", "Max-Age="] {
        assert!(set.contains(part), "{set}");
    }

    // Pages, with the banner; the override's fragments never go through the shared fragment
    // cache: of /pricing's two slots only the user menu is looked up there.
    let lookups = fragment_cache_lookups(&stack).await;
    let pricing = text(&mine, stack.url("/pricing"), &[]).await;
    assert!(
        pricing.contains(MARKER) && pricing.contains(BANNER),
        "{pricing}"
    );
    assert_eq!(fragment_cache_lookups(&stack).await, lookups + 1);
    let dashboard = text(&mine, stack.url("/dashboard"), &[]).await;
    assert!(
        dashboard.contains(MARKER),
        "the teaser comes from the override"
    );
    let overview = text(&mine, stack.url(PAGE), &[]).await;
    assert!(overview.contains(&marked.url) && overview.contains("overridden in this browser"));

    // The registry and the proxy, as the loader asks them.
    let loader = [("x-mf-loader", "1")];
    let registry: serde_json::Value =
        serde_json::from_str(&text(&mine, stack.url("/registry.json"), &loader).await).unwrap();
    assert_eq!(registry["services"]["pricing"]["overridden"], true);
    assert_eq!(registry["services"]["dashboard"]["overridden"], false);
    let res = mine
        .get(stack.url("/svc/pricing/fragments/plans"))
        .header("x-mf-loader", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()[CACHE_CONTROL], "private, no-store");
    assert!(res.text().await.unwrap().contains(MARKER));
    let css = registry["services"]["pricing"]["css"][0].as_str().unwrap();
    assert!(css.contains(".css?v="), "a content-hashed URL: {css}");
    let res = mine.get(stack.url(css)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{css}");
    // Even at its hashed URL, an override's asset is never kept: a browser that later drops
    // the override must not find the working copy's bytes under a URL the site uses.
    assert_eq!(res.headers()[CACHE_CONTROL], "private, no-store", "{css}");

    // The other browser, meanwhile: the registered pricing everywhere, no banner.
    for path in ["/pricing", "/dashboard", "/svc/pricing/fragments/plans"] {
        let html = text(&other, stack.url(path), &loader).await;
        assert!(!html.contains(MARKER) && !html.contains(BANNER), "{path}");
    }
    let registry: serde_json::Value =
        serde_json::from_str(&text(&other, stack.url("/registry.json"), &loader).await).unwrap();
    assert_eq!(registry["services"]["pricing"]["overridden"], false);

    // Counted apart.
    let metrics = text(&client(), format!("{}/metrics", stack.admin_url()), &[]).await;
    for series in [
        r#"shell_overridden_requests_total{service="pricing",route="page"}"#,
        r#"shell_overridden_requests_total{service="pricing",route="proxy"}"#,
        r#"shell_overridden_requests_total{service="pricing",route="registry"}"#,
        r#"shell_override_fragment_outcomes_total{service="pricing",fragment="plans",status="ok"}"#,
    ] {
        assert!(metrics.contains(series), "{series} missing");
    }

    // The working copy stops: its slot falls back as usual, never to a shared last good copy.
    marked.stop().await;
    let res = mine.get(stack.url("/pricing")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    let slot = slot_status(&html, "pricing/plans").unwrap();
    assert!(
        ["fallback", "unavailable"].contains(&slot.as_str()),
        "{slot}"
    );
    assert!(!html.contains(MARKER) && html.contains(BANNER));

    // Clearing brings the registered service back.
    let res = post(&stack, &mine, &[("clear", "1"), ("back", "/pricing")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/pricing");
    let pricing = text(&mine, stack.url("/pricing"), &[]).await;
    assert!(!pricing.contains(MARKER) && !pricing.contains(BANNER));
    assert_eq!(
        slot_status(&pricing, "pricing/plans").as_deref(),
        Some("ok")
    );
    stack.stop().await;
}

/// The corpus as override URLs: on the canary's host (not allowed), on an allowed host with
/// the corpus as a path, as the URL itself, behind credentials, a fragment or another scheme.
fn corpus_as_override_urls(canary: &str, canary_port: &str) -> Vec<String> {
    proxy_escapes(canary)
        .into_iter()
        .flat_map(|target| {
            [
                format!("http://{canary}{target}"),
                format!("http://localhost:{canary_port}{target}"),
                format!("https://localhost{target}"),
                target.clone(),
                format!("http://localhost@{canary}{target}"),
                format!("http://localhost:{canary_port}@{canary}/"),
                format!("http://{canary}#@localhost:{canary_port}{target}"),
                format!("gopher://localhost:{canary_port}{target}"),
                format!("file://localhost{target}"),
            ]
        })
        .collect()
}

#[tokio::test]
async fn the_proxy_ssrf_corpus_as_override_urls_is_refused_every_time_and_nothing_is_stored() {
    let canary = Canary::start().await;
    let stack = stack_allowing("localhost").await;
    let http = client();
    let port = canary.authority.rsplit(':').next().unwrap().to_owned();
    let urls = corpus_as_override_urls(&canary.authority, &port);
    assert_eq!(urls.len(), 9 * proxy_escapes(&canary.authority).len());
    assert!(
        urls.len() >= 200,
        "the corpus is whole: {} URLs",
        urls.len()
    );
    let mut refused = 0;
    for url in &urls {
        let link = stack
            .client
            .get(stack.url(PAGE))
            .query(&[("service", "pricing"), ("url", url)]);
        let res = link.send().await.unwrap();
        let by_link = res.status().is_client_error() && stored_cookie(&res).is_none();
        let body = res.text().await.unwrap();
        assert!(body.contains("Nothing was changed"), "{url}: {body}");
        let res = post(&stack, &http, &[("service", "pricing"), ("url", url)]).await;
        let by_form = res.status().is_client_error() && stored_cookie(&res).is_none();
        assert!(by_link && by_form, "{url} was not refused");
        refused += 1;
    }
    assert_eq!(refused, urls.len(), "100% of {} refused", urls.len());
    let page = text(&http, stack.url("/pricing"), &[]).await;
    assert!(!page.contains(BANNER), "nothing was stored");
    assert_eq!(canary.hit_count(), 0, "the canary was never reached");
    stack.stop().await;
}

#[tokio::test]
async fn each_refusal_is_a_clear_4xx_page_and_stores_nothing() {
    let stack = stack_allowing("localhost").await;
    let http = client();
    for (form, status, says) in [
        (
            vec![("service", "nope"), ("url", "http://localhost:1")],
            400,
            "no service called `nope`",
        ),
        (
            vec![("service", "accounts"), ("url", "http://localhost:1")],
            403,
            "session service",
        ),
        (
            vec![("service", "pricing"), ("url", "http://127.0.0.1:1")],
            403,
            "not a host this site allows",
        ),
        (
            vec![("service", "pricing"), ("url", "http://me:pw@localhost:1")],
            400,
            "user name or password",
        ),
        (
            vec![("service", "pricing"), ("url", "ftp://localhost:1")],
            400,
            "http:// or https://",
        ),
        (
            vec![("service", "pricing"), ("url", "http://localhost:1/x")],
            400,
            "has a path",
        ),
        (vec![("url", "http://localhost:1")], 400, "names no service"),
    ] {
        let res = post(&stack, &http, &form).await;
        assert_eq!(res.status().as_u16(), status, "{form:?}");
        assert!(stored_cookie(&res).is_none(), "{form:?}");
        let body = res.text().await.unwrap();
        assert!(
            body.contains(says) && body.contains("Nothing was changed"),
            "{form:?}: {body}"
        );
    }
    // A form from another site, or with no Origin, is refused before anything is read.
    for origin in [Some("http://evil.example"), None] {
        let mut request = http.post(stack.url(PAGE));
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let res = request
            .form(&[("service", "pricing"), ("url", "http://localhost:1")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{origin:?}");
        assert!(stored_cookie(&res).is_none());
    }
    stack.stop().await;
}

#[tokio::test]
async fn with_overrides_off_a_forged_or_foreign_cookie_changes_nothing() {
    let marked = MarkedPricing::start(MARKER).await;
    let on = stack_allowing("localhost").await;
    let off = Stack::start().await;
    // A cookie validly signed by another shell (same secret, overrides on there).
    let res = post(
        &on,
        &client(),
        &[("service", "pricing"), ("url", &marked.url)],
    )
    .await;
    let foreign = stored_cookie(&res).expect("the other shell stores the override");
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let with = |value: &str| format!("mf_overrides={value}");
    let seen = text(&plain, on.url("/pricing"), &[("cookie", &with(&foreign))]).await;
    assert!(seen.contains(MARKER), "the cookie works where it was made");

    // Forged: the right shape, another secret; and one signed right but naming a host the
    // shell does not allow (checked again on every request).
    let pairs = [("pricing".to_owned(), marked.url.clone())];
    let forged = CookieKey::new(Secret::new("another-secret-0123456789".into())).seal(&pairs);
    let port = marked.url.rsplit(':').next().unwrap();
    let elsewhere = [("pricing".to_owned(), format!("http://127.0.0.1:{port}"))];
    let disallowed = CookieKey::new(Secret::new(SECRET.into())).seal(&elsewhere);

    for (stack, cookie) in [
        (&off, &foreign),
        (&off, &forged),
        (&on, &forged),
        (&on, &disallowed),
    ] {
        let cookie = with(cookie);
        let headers = [("cookie", cookie.as_str()), ("x-mf-loader", "1")];
        for path in ["/pricing", "/dashboard", "/svc/pricing/fragments/plans"] {
            let html = text(&plain, stack.url(path), &headers).await;
            assert!(!html.contains(MARKER) && !html.contains(BANNER), "{path}");
        }
        let registry = text(&plain, stack.url("/registry.json"), &headers).await;
        assert!(!registry.contains("\"overridden\":true"), "{registry}");
    }
    let res = plain
        .get(off.url(PAGE))
        .header(COOKIE, with(&foreign))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "no overrides page when off"
    );
    marked.stop().await;
    on.stop().await;
    off.stop().await;
}

#[tokio::test]
async fn an_override_whose_manifest_names_another_service_is_not_used() {
    let stack = stack_allowing("localhost").await;
    let http = client();
    // Pricing pointed at the dashboard service (an allowed host): stored, but its manifest
    // names `dashboard`, so no pricing slot, asset or proxied path comes from it.
    let dashboard = stack
        .service_url("dashboard")
        .replace("127.0.0.1", "localhost");
    let res = post(
        &stack,
        &http,
        &[("service", "pricing"), ("url", &dashboard)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = http.get(stack.url("/pricing")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains(BANNER));
    assert_eq!(
        slot_status(&html, "pricing/plans").as_deref(),
        Some("unavailable")
    );
    assert!(!html.contains("data-fragment=\"dashboard/"), "{html}");
    let res = http
        .get(stack.url("/svc/pricing/fragments/overview"))
        .header("x-mf-loader", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    stack.stop().await;
}
