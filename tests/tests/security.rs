//! Issue 10's findings, each tried as an attacker would, through real servers on loopback:
//! a compromised team service, slow and upgrading clients, endless fragments and
//! manifests, clients behind a front proxy, a signed-out session, forged forwarding headers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use mf_tests::{client, csrf_token, get_text, get_with, post_form, Stack, StackOptions, PASSWORD};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The request headers a compromised service saw, per path.
type Seen = Arc<Mutex<Vec<(String, Vec<(String, String)>)>>>;

/// A compromised team service: a valid manifest, and answers that try to set cookies,
/// redirect off the site, refresh the page and clear site data. It records every request's
/// headers.
struct Evil {
    url: String,
    seen: Seen,
    handle: actix_web::dev::ServerHandle,
}

const EVIL_MANIFEST: &str = r#"{"name":"evil","version":"1.0.0",
 "fragments":[{"id":"spy","path":"/fragments/spy","title":"Spy"}],
 "assets":{"css":["/assets/evil.css"],"controllers":[]},
 "actions":["/actions/away","/actions/home"]}"#;

async fn evil_handler(req: HttpRequest, seen: web::Data<Seen>) -> HttpResponse {
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    seen.lock().unwrap().push((req.path().to_owned(), headers));
    let planted = "mf_session=planted-by-evil; Path=/; HttpOnly";
    match req.path() {
        "/manifest.json" => HttpResponse::Ok()
            .content_type("application/json")
            .body(EVIL_MANIFEST),
        "/fragments/spy" => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header(("cache-control", "no-store"))
            .insert_header(("x-fragment-version", "1.0.0"))
            .insert_header(("set-cookie", planted))
            .insert_header(("refresh", "0; url=https://evil.example/"))
            .insert_header(("clear-site-data", "\"cookies\""))
            .insert_header(("content-security-policy", "script-src *"))
            .body(r#"<section data-fragment="evil/spy"><p>spy here</p></section>"#),
        "/assets/evil.css" => HttpResponse::Ok()
            .content_type("text/css")
            .insert_header(("etag", "\"e1\""))
            .insert_header(("set-cookie", planted))
            .body("body{}"),
        "/actions/away" => HttpResponse::SeeOther()
            .insert_header(("location", "https://evil.example/phish"))
            .finish(),
        "/actions/home" => HttpResponse::SeeOther()
            .insert_header(("location", "/dashboard"))
            .finish(),
        _ => HttpResponse::NotFound().finish(),
    }
}

impl Evil {
    async fn start() -> Evil {
        let seen: Seen = Arc::default();
        let data = web::Data::new(Arc::clone(&seen));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(evil_handler))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Evil {
            url: format!("http://127.0.0.1:{port}"),
            seen,
            handle,
        }
    }

    /// The headers of every request to `path` so far.
    fn requests_to(&self, path: &str) -> Vec<Vec<(String, String)>> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, h)| h.clone())
            .collect()
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Signs a new user up through the shell's proxy, as the loader does, confirms the address
/// and signs in the same way; the client keeps the session cookie.
async fn sign_up_through_shell(stack: &Stack, http: &reqwest::Client, email: &str) {
    let loader = [("origin", stack.shell_url.as_str()), ("x-mf-loader", "1")];
    let token = csrf_token(&get_text(http, stack.url("/accounts")).await);
    let res = post_form(
        http,
        stack.url("/svc/accounts/actions/sign-up"),
        &loader,
        &[
            ("name", "Ada Lovelace"),
            ("email", email),
            ("password", PASSWORD),
            ("plan", "pro"),
            ("csrf_token", token.as_str()),
        ],
    )
    .await;
    assert_eq!(res.status(), 303, "sign-up through the shell");
    stack.confirm_address(email);
    let token = csrf_token(&get_text(http, stack.url("/accounts")).await);
    let form = [
        ("email", email),
        ("password", PASSWORD),
        ("csrf_token", token.as_str()),
    ];
    let url = stack.url("/svc/accounts/actions/sign-in");
    let res = post_form(http, url, &loader, &form).await;
    assert_eq!(res.status(), 303, "sign-in through the shell");
    let cookie = res
        .headers()
        .get("set-cookie")
        .expect("the session service sets its cookie through the shell")
        .to_str()
        .unwrap();
    assert!(cookie.starts_with("mf_session="), "{cookie}");
}

async fn evil_stack(evil: &Evil) -> Stack {
    Stack::start_with(StackOptions::with_section(
        "evil",
        &evil.url,
        "evil",
        &["evil/spy"],
    ))
    .await
}

#[tokio::test]
async fn a_compromised_service_never_sees_the_session_nor_sets_cookies_nor_redirects_away() {
    let evil = Evil::start().await;
    let stack = evil_stack(&evil).await;
    let http = client();
    sign_up_through_shell(&stack, &http, "ada@example.com").await;

    // A page with the evil fragment, and the fragment and asset through the proxy, with
    // forged contract headers and a forged forwarding scheme from the browser.
    let (status, headers, html) = {
        let res = get_with(&http, stack.url("/evil"), &[]).await;
        (
            res.status(),
            res.headers().clone(),
            res.text().await.unwrap(),
        )
    };
    assert_eq!(status, 200);
    assert!(
        html.contains("spy here"),
        "the team's HTML is trusted into the page"
    );
    assert!(headers.get("set-cookie").is_none());
    let forged = [
        ("x-mf-loader", "1"),
        ("x-mf-user", "forged"),
        ("x-mf-base-path", "//evil.example"),
        ("x-forwarded-proto", "https"),
        ("accept-language", "en-GB,en;q=0.9,fr;q=0.8,de;q=0.7"),
    ];
    let fragment = get_with(&http, stack.url("/svc/evil/fragments/spy"), &forged).await;
    assert_eq!(fragment.status(), 200);
    for name in ["set-cookie", "refresh", "clear-site-data"] {
        assert!(
            fragment.headers().get(name).is_none(),
            "{name} from a team service must not reach the browser"
        );
    }
    assert_ne!(
        fragment
            .headers()
            .get("content-security-policy")
            .map(|v| v.to_str().unwrap()),
        Some("script-src *")
    );
    let asset = get_with(&http, stack.url("/svc/evil/assets/evil.css"), &[]).await;
    assert_eq!(asset.status(), 200);
    assert!(asset.headers().get("set-cookie").is_none());
    assert_eq!(asset.headers()["etag"], "\"e1\"");

    // Every request the service got: no session cookie, and the user only as a signed
    // context the shell made.
    let mut fragment_requests = evil.requests_to("/fragments/spy");
    fragment_requests.extend(evil.requests_to("/assets/evil.css"));
    assert!(fragment_requests.len() >= 3, "{fragment_requests:?}");
    for seen in &fragment_requests {
        assert!(
            !seen
                .iter()
                .any(|(k, v)| k == "cookie" || v.contains("mf_session")),
            "the session cookie reached a team service: {seen:?}"
        );
        assert_ne!(header(seen, "x-mf-user"), Some("forged"));
        assert_eq!(header(seen, "x-mf-base-path"), Some("/svc/evil"));
        // The shell's own warming of the asset cache carries nobody's user or address.
        let warming = header(seen, "x-request-id") == Some("asset-warming");
        let forwarded_proto = if warming { None } else { Some("http") };
        assert_eq!(header(seen, "x-forwarded-proto"), forwarded_proto);
        if warming {
            assert_eq!(header(seen, "x-mf-user"), None);
            assert_eq!(header(seen, "x-forwarded-for"), None);
        }
    }
    let proxied = evil.requests_to("/fragments/spy").pop().unwrap();
    let user = header(&proxied, "x-mf-user").expect("a signed user context");
    assert!(user.contains('.'), "signed: {user}");
    assert_eq!(header(&proxied, "accept-language"), Some("en-gb"));
    assert_eq!(header(&proxied, "x-mf-loader"), Some("1"));

    // Redirects: off the site refused, a path on the site passes.
    let away = http
        .post(stack.url("/svc/evil/actions/away"))
        .header("x-mf-loader", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(away.status(), 502);
    assert!(away.headers().get("location").is_none());
    let home = http
        .post(stack.url("/svc/evil/actions/home"))
        .header("x-mf-loader", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), 303);
    assert_eq!(home.headers()["location"], "/dashboard");

    // The browser kept its real session: the accounts menu still greets the user.
    let (_, _, page) = stack.page("/accounts").await;
    let page = {
        let _ = page;
        get_text(&http, stack.url("/accounts")).await
    };
    assert!(page.contains("Ada Lovelace"), "still signed in");
    evil.handle.stop(false).await;
    stack.stop().await;
}

#[tokio::test]
async fn a_service_worker_cannot_be_installed_through_the_proxy() {
    let evil = Evil::start().await;
    let stack = evil_stack(&evil).await;
    let res = get_with(
        &client(),
        stack.url("/svc/evil/assets/evil.css"),
        &[("service-worker", "script")],
    )
    .await;
    assert_eq!(res.status(), 403);
    evil.handle.stop(false).await;
    stack.stop().await;
}

#[tokio::test]
async fn a_signed_out_session_stops_working_at_once() {
    let stack = Stack::start().await;
    let http = client();
    sign_up_through_shell(&stack, &http, "grace@example.com").await;
    let page = |path: &'static str| {
        let http = http.clone();
        let url = stack.url(path);
        async move { get_text(&http, url).await }
    };
    let before = page("/accounts").await;
    assert!(before.contains("Ada Lovelace"), "signed in");
    let token = csrf_token(&before);
    let res = post_form(
        &http,
        stack.url("/svc/accounts/actions/sign-out"),
        &[("origin", stack.shell_url.as_str()), ("x-mf-loader", "1")],
        &[("csrf_token", token.as_str())],
    )
    .await;
    assert_eq!(res.status(), 303);
    // Replay the old cookie at once (as a thief holding it would): signed out.
    let after = page("/dashboard").await;
    assert!(
        !after.contains("Ada Lovelace"),
        "the old session still worked right after sign-out"
    );
    stack.stop().await;
}

/// Sends a POST head announcing a 4 KiB body, then `body` one byte every `gap` and then
/// nothing, and reads what comes back within `limit`. Returns the status (0 if none) and
/// how long it took.
async fn slow_post(
    addr: &str,
    path: &str,
    body: &'static [u8],
    gap: Duration,
    limit: Duration,
) -> (u16, Duration) {
    let started = Instant::now();
    let (mut rd, mut wr) = TcpStream::connect(addr).await.unwrap().into_split();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: 4096\r\n\r\n"
    );
    wr.write_all(head.as_bytes()).await.unwrap();
    let write = async move {
        for b in body {
            tokio::time::sleep(gap).await;
            if wr.write_all(&[*b]).await.is_err() {
                break;
            }
        }
        std::future::pending::<()>().await;
        wr
    };
    let read = async move {
        let mut out = Vec::new();
        let _ = rd.read_to_end(&mut out).await;
        out
    };
    let answer = tokio::time::timeout(limit, async {
        tokio::select! {
            out = read => out,
            _ = write => Vec::new(),
        }
    })
    .await
    .unwrap_or_default();
    (status_of(&answer), started.elapsed())
}

fn status_of(answer: &[u8]) -> u16 {
    String::from_utf8_lossy(answer)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// svc-accounts alone, with a one-second body deadline.
async fn accounts_with(
    extra: &[&str],
) -> (String, actix_web::dev::ServerHandle, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db").display().to_string();
    let mut args = vec![
        "svc-accounts",
        "--port",
        "0",
        "--context-secret",
        mf_tests::SECRET,
        "--database",
        db.as_str(),
    ];
    args.extend(mf_tests::FAST_HASH_ARGS);
    args.extend(extra);
    use clap::Parser;
    let app = svc_accounts::startup::Application::build(
        svc_accounts::settings::Settings::try_parse_from(args).unwrap(),
    )
    .await
    .unwrap();
    let addr = format!("127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    (addr, handle, dir)
}

#[tokio::test]
async fn bodies_that_never_come_or_trickle_get_408_in_the_shell_and_in_accounts() {
    let stack = Stack::start_with(StackOptions {
        shell_args: vec!["--request-timeout".into(), "1".into()],
        ..StackOptions::default()
    })
    .await;
    let shell = stack.shell_url.trim_start_matches("http://").to_owned();
    let (accounts, handle, _dir) = accounts_with(&["--request-timeout", "1"]).await;
    let cases = [
        (shell.as_str(), "/svc/accounts/actions/sign-in"),
        (accounts.as_str(), "/actions/sign-in"),
    ];
    for (addr, path) in cases {
        // Headers complete, the body never comes.
        let (status, took) =
            slow_post(addr, path, b"", Duration::ZERO, Duration::from_secs(8)).await;
        assert_eq!(status, 408, "{addr}{path}: a missing body");
        assert!(took < Duration::from_secs(4), "{addr}{path}: took {took:?}");
        // A byte every 200 ms: alive, but never done in time.
        let (status, took) = slow_post(
            addr,
            path,
            b"email=a%40b.c&password=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            Duration::from_millis(200),
            Duration::from_secs(8),
        )
        .await;
        assert_eq!(status, 408, "{addr}{path}: a trickled body");
        assert!(took < Duration::from_secs(4), "{addr}{path}: took {took:?}");
    }
    handle.stop(false).await;
    stack.stop().await;
}

#[tokio::test]
async fn an_upgrade_to_websocket_is_refused_at_once_in_every_binary() {
    let stack = Stack::start().await;
    let targets = [
        (stack.shell_url.clone(), "/svc/pricing/fragments/plans"),
        (stack.shell_url.clone(), "/dashboard"),
        (stack.service_url("pricing"), "/fragments/plans"),
        (stack.service_url("dashboard"), "/fragments/overview"),
        (stack.service_url("accounts"), "/fragments/account"),
    ];
    for (base, path) in targets {
        let started = Instant::now();
        let answer = tokio::time::timeout(
            Duration::from_secs(5),
            mf_tests::raw_request(
                &base,
                "GET",
                path.as_bytes(),
                "Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
            ),
        )
        .await
        .expect("an answer, not a held connection");
        assert_eq!(answer.status, 400, "{base}{path}: {}", answer.head);
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    stack.stop().await;
}

/// A fragment server whose chosen path answers a chunked body without end (64 KiB chunks,
/// up to 512 MiB), counting, per connection, the bytes it managed to write before the reader
/// hung up.
struct Endless {
    url: String,
    written: Arc<Mutex<Vec<Arc<AtomicUsize>>>>,
}

impl Endless {
    /// The most any one endless answer got written before its reader hung up.
    async fn most_written(&self) -> usize {
        // Give the last connections a moment to see that the shell hung up.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let all = self.written.lock().unwrap();
        assert!(!all.is_empty(), "the endless path was requested");
        all.iter()
            .map(|w| w.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0)
    }
}

impl Endless {
    async fn start(endless_path: &'static str) -> Endless {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let written: Arc<Mutex<Vec<Arc<AtomicUsize>>>> = Arc::default();
        let counters = Arc::clone(&written);
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let counters = Arc::clone(&counters);
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        if conn.read(&mut byte).await.unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                    let manifest = r#"{"name":"endless","version":"1","fragments":[{"id":"big","path":"/fragments/big","title":"Big"}],"assets":{"css":[],"controllers":[]},"actions":[]}"#;
                    let (ctype, small) = if path == "/manifest.json" {
                        ("application/json", manifest)
                    } else {
                        (
                            "text/html; charset=utf-8",
                            r#"<p data-fragment="endless/big">small</p>"#,
                        )
                    };
                    if path != endless_path {
                        let res = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: {ctype}\r\nx-fragment-version: 1\r\ncache-control: no-store\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{small}",
                            small.len()
                        );
                        let _ = conn.write_all(res.as_bytes()).await;
                        return;
                    }
                    let res = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: {ctype}\r\nx-fragment-version: 1\r\ncache-control: no-store\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
                    );
                    if conn.write_all(res.as_bytes()).await.is_err() {
                        return;
                    }
                    let counter = Arc::new(AtomicUsize::new(0));
                    counters.lock().unwrap().push(Arc::clone(&counter));
                    let chunk = format!("10000\r\n{}\r\n", "x".repeat(0x10000));
                    for _ in 0..(512 * 16) {
                        if conn.write_all(chunk.as_bytes()).await.is_err() {
                            return;
                        }
                        counter.fetch_add(0x10000, Ordering::Relaxed);
                    }
                });
            }
        });
        Endless { url, written }
    }
}

#[tokio::test]
async fn an_endless_chunked_fragment_is_cut_at_its_cap_and_gets_its_fallback() {
    let endless = Endless::start("/fragments/big").await;
    let stack = Stack::start_with(StackOptions::with_section(
        "endless",
        &endless.url,
        "big",
        &["endless/big"],
    ))
    .await;
    for _ in 0..3 {
        let (status, _, html) = stack.page("/big").await;
        assert_eq!(status, 200);
        assert_eq!(
            mf_tests::slot_status(&html, "endless/big").as_deref(),
            Some("unavailable"),
            "the slot shows its fallback"
        );
        assert!(html.contains("data-fragment=\"accounts/user-menu\""));
    }
    // Through the proxy: a 502, not a relayed half.
    let res = get_with(
        &client(),
        stack.url("/svc/endless/fragments/big"),
        &[("x-mf-loader", "1")],
    )
    .await;
    assert_eq!(res.status(), 502);
    // The shell stopped reading each answer near its cap (1 MiB per fragment, 4 MiB per
    // proxied answer), not at 512 MiB: beyond the cap, only what the kernel's socket
    // buffers hold on loopback (a few MiB each way) got written.
    let most = endless.most_written().await;
    assert!(
        most < 16 * (1 << 20),
        "an endless answer got {most} bytes written before the shell hung up"
    );
    stack.stop().await;
}

#[tokio::test]
async fn an_endless_manifest_is_cut_at_its_cap() {
    let endless = Endless::start("/manifest.json").await;
    let stack = Stack::start_with(StackOptions {
        extra_services: vec![("endless".into(), endless.url.clone())],
        ..StackOptions::default()
    })
    .await;
    let (status, _, html) = stack.page("/dashboard").await;
    assert_eq!(status, 200);
    assert!(html.contains("data-fragment=\"dashboard/overview\""));
    let registry = stack.get("/registry.json").await;
    assert_eq!(registry.status(), 200);
    let most = endless.most_written().await;
    assert!(
        most < 16 * (1 << 20),
        "an endless manifest got {most} bytes written before the shell hung up"
    );
    stack.stop().await;
}

/// A failed sign-in through the shell, as a client behind a front proxy at 127.0.0.1
/// whose address is `client_ip`.
async fn failed_sign_in(stack: &Stack, client_ip: &str, email: &str, password: &str) -> u16 {
    let http = client();
    let token = csrf_token(&get_text(&http, stack.url("/accounts")).await);
    let headers = [
        ("origin", stack.shell_url.as_str()),
        ("x-mf-loader", "1"),
        ("x-forwarded-for", client_ip),
    ];
    let form = [
        ("email", email),
        ("password", password),
        ("csrf_token", token.as_str()),
    ];
    post_form(
        &http,
        stack.url("/svc/accounts/actions/sign-in"),
        &headers,
        &form,
    )
    .await
    .status()
    .as_u16()
}

#[tokio::test]
async fn behind_a_front_proxy_twenty_strangers_failing_do_not_lock_out_everyone() {
    // The test client plays a front proxy on 127.0.0.1 that the shell trusts.
    let stack = Stack::start_with(StackOptions {
        shell_args: vec!["--trusted-proxies".into(), "127.0.0.1".into()],
        ..StackOptions::default()
    })
    .await;
    sign_up_through_shell(&stack, &client(), "ada@example.com").await;
    for i in 0..20 {
        let status = failed_sign_in(
            &stack,
            &format!("203.0.113.{i}"),
            &format!("stranger{i}@example.com"),
            "wrong password!",
        )
        .await;
        assert_eq!(status, 422, "stranger {i}");
    }
    // Another client is not one of them.
    let status = failed_sign_in(
        &stack,
        "198.51.100.77",
        "ada@example.com",
        "correct horse battery",
    )
    .await;
    assert_eq!(status, 303, "a real user is not locked out by strangers");
    // And one client failing is still limited, by its own address.
    for i in 0..20 {
        failed_sign_in(
            &stack,
            "192.0.2.5",
            &format!("x{i}@example.com"),
            "wrong password!",
        )
        .await;
    }
    let status = failed_sign_in(&stack, "192.0.2.5", "y@example.com", "wrong password!").await;
    assert_eq!(status, 429);
    stack.stop().await;
}

#[tokio::test]
async fn services_own_pages_carry_a_csp_and_no_framing() {
    let stack = Stack::start().await;
    for name in ["pricing", "dashboard", "accounts"] {
        let res = get_with(&client(), format!("{}/", stack.service_url(name)), &[]).await;
        assert_eq!(res.status(), 200, "{name}");
        let csp = res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("script-src 'self' 'sha256-"), "{name}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{name}: {csp}");
        assert_eq!(res.headers()["x-frame-options"], "DENY");
    }
    stack.stop().await;
}
