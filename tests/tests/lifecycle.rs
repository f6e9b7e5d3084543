//! Operations, through the real binaries run as processes (`cargo build --workspace --bins`
//! first, as `scripts/test` does):
//!
//! - compression that streams: with `Accept-Encoding: br`, `gzip` or `zstd`, a page whose
//!   second fragment is 800 ms late still sends its (compressed) head at once, and the whole
//!   body decodes to the uncompressed page (per-request timings aside);
//! - start in any order: a service started after the shell is used within 3 s with no
//!   request in between, and a service whose manifest is not known gets no guessed
//!   fragment request (its slot shows the "unavailable" box);
//! - SIGTERM: the shell and a kit service (svc-accounts) refuse new connections at once,
//!   finish what is in flight (a page with a 1 s fragment; a form whose body is still
//!   arriving) and exit 0; `/readyz` answers 503 once a binary is stopping.
//!
//! The fragment services behind the shell are [`FakeService`]s in this test process: real
//! HTTP servers on loopback whose delay the test sets.

use std::io::Write;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use mf_tests::replicas::Process;
use mf_tests::{
    free_port, get_status, get_text, get_with, json, slot_status, FakeService, FakeSpec,
    FAST_HASH_ARGS, SECRET,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A shell configuration with the given services (name, URL) and one section `/late`
/// (the default one) showing `slots`; no chrome, no session service.
fn shell_config(dir: &tempfile::TempDir, services: &[(&str, &str)], slots: &[&str]) -> String {
    let mut toml = String::from(
        "fragment_timeout_ms = 3000\npage_budget_ms = 4000\ndefault_section = \"late\"\n\
         session_service = \"\"\nchrome = []\n",
    );
    for (name, url) in services {
        toml.push_str(&format!(
            "\n[[services]]\nname = \"{name}\"\nurl = \"{url}\"\n"
        ));
    }
    let slots: Vec<String> = slots
        .iter()
        .map(|s| {
            let (service, fragment) = s.split_once('/').expect("service/fragment");
            format!("{{ service = \"{service}\", fragment = \"{fragment}\" }}")
        })
        .collect();
    toml.push_str(&format!(
        "\n[[sections]]\nid = \"late\"\ntitle = \"Late\"\npath = \"/late\"\nslots = [{}]\n",
        slots.join(", ")
    ));
    let path = dir.path().join("shell.toml");
    std::fs::write(&path, toml).expect("the config is written");
    path.display().to_string()
}

/// The shell as a process, configured with `config`.
async fn shell(config: &str, extra: &[&str]) -> Process {
    let mut args = vec!["--context-secret", SECRET, "--config", config];
    args.extend(extra);
    Process::start("shell", "shell", &args).await
}

/// Decodes what has arrived of a body so far (a truncated stream decodes as far as it goes).
fn decode(coding: &str, bytes: &[u8]) -> String {
    let out = match coding {
        "br" => {
            let mut d = brotli::DecompressorWriter::new(Vec::new(), 4096);
            d.write_all(bytes).expect("brotli decodes");
            d.flush().expect("brotli flushes");
            d.get_ref().clone()
        }
        "gzip" => {
            let mut d = flate2::write::GzDecoder::new(Vec::new());
            d.write_all(bytes).expect("gzip decodes");
            d.flush().expect("gzip flushes");
            d.get_ref().clone()
        }
        "zstd" => {
            let mut d = zstd::stream::write::Decoder::new(Vec::new()).expect("a zstd decoder");
            d.write_all(bytes).expect("zstd decodes");
            d.flush().expect("zstd flushes");
            d.get_ref().clone()
        }
        other => panic!("no decoder for {other}"),
    };
    String::from_utf8(out).expect("the page is UTF-8")
}

/// A page without its per-request parts (each slot's `data-fragment-ms`).
fn normalised(page: &str) -> String {
    let mut out = String::with_capacity(page.len());
    let mut rest = page;
    while let Some(at) = rest.find("data-fragment-ms=\"") {
        let value = at + "data-fragment-ms=\"".len();
        let end = value + rest[value..].find('"').expect("a closing quote");
        out.push_str(&rest[..value]);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// `GET url` with an `Accept-Encoding` (or none): the headers, and each chunk with when it
/// arrived.
async fn timed_get(
    url: &str,
    accept_encoding: Option<&str>,
) -> (reqwest::header::HeaderMap, Vec<(Duration, bytes::Bytes)>) {
    // reqwest here has no decompression features: the body arrives as the server sent it.
    let client = reqwest::Client::new();
    let mut req = client.get(url);
    if let Some(ae) = accept_encoding {
        req = req.header("accept-encoding", ae);
    }
    let started = Instant::now();
    let res = req.send().await.expect("the shell answers");
    assert_eq!(res.status(), 200);
    let headers = res.headers().clone();
    let mut chunks = Vec::new();
    let mut body = res.bytes_stream();
    while let Some(chunk) = body.next().await {
        chunks.push((started.elapsed(), chunk.expect("a chunk")));
    }
    (headers, chunks)
}

#[tokio::test]
async fn compressed_pages_still_stream_their_head_before_a_late_fragment() {
    const LATE: Duration = Duration::from_millis(800);
    let fast = FakeService::start(FakeSpec::new("fast", &["hello"])).await;
    let mut slow_spec = FakeSpec::new("slow", &["late"]);
    slow_spec.delay = LATE;
    let slow = FakeService::start(slow_spec).await;
    let dir = tempfile::tempdir().unwrap();
    let config = shell_config(
        &dir,
        &[("fast", &fast.url), ("slow", &slow.url)],
        &["fast/hello", "slow/late"],
    );
    let shell = shell(&config, &[]).await;
    let url = format!("{}/late", shell.url());

    let (headers, chunks) = timed_get(&url, None).await;
    assert!(headers.get("content-encoding").is_none());
    let identity: Vec<u8> = chunks.iter().flat_map(|(_, c)| c.to_vec()).collect();
    let identity = String::from_utf8(identity).unwrap();
    assert!(identity.contains("Fake late fragment"), "{identity}");
    assert_eq!(slot_status(&identity, "slow/late").as_deref(), Some("ok"));

    for coding in ["br", "gzip", "zstd"] {
        let accept = format!("{coding}, identity;q=0.5");
        let (headers, chunks) = timed_get(&url, Some(&accept)).await;
        assert_eq!(
            headers
                .get("content-encoding")
                .and_then(|v| v.to_str().ok()),
            Some(coding)
        );
        let vary: Vec<_> = headers
            .get_all("vary")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert!(
            vary.iter()
                .any(|v| v.eq_ignore_ascii_case("accept-encoding")),
            "{coding}: Vary {vary:?}"
        );
        assert!(chunks.len() >= 2, "{coding}: the body came in one piece");
        // What arrived before the late fragment could have: the head, at once.
        let (first_at, _) = chunks[0];
        assert!(
            first_at < LATE - Duration::from_millis(300),
            "{coding}: the first byte came after {first_at:?}"
        );
        let early: Vec<u8> = chunks
            .iter()
            .take_while(|(at, _)| *at < LATE)
            .flat_map(|(_, c)| c.to_vec())
            .collect();
        let early = decode(coding, &early);
        assert!(
            early.starts_with("<!DOCTYPE html>") && early.contains("</head>"),
            "{coding}: the head did not decode from the early bytes: {early}"
        );
        assert!(
            !early.contains("Fake late fragment"),
            "{coding}: the late fragment came early"
        );
        let (last_at, _) = chunks[chunks.len() - 1];
        assert!(last_at >= LATE, "{coding}: done after {last_at:?}");
        let whole: Vec<u8> = chunks.iter().flat_map(|(_, c)| c.to_vec()).collect();
        let page = decode(coding, &whole);
        assert_eq!(normalised(&page), normalised(&identity), "{coding}");
    }
}

#[tokio::test]
async fn a_service_started_after_the_shell_is_used_within_3_s_and_none_is_guessed_meanwhile() {
    let pricing_port = free_port();
    let pricing_url = format!("http://127.0.0.1:{pricing_port}");
    // Up, but its manifest does not validate: the shell must not guess `/fragments/late`.
    let mut broken_spec = FakeSpec::new("broken", &["late"]);
    broken_spec.bad_manifest = true;
    let broken = FakeService::start(broken_spec).await;
    let dir = tempfile::tempdir().unwrap();
    let config = shell_config(
        &dir,
        &[("pricing", &pricing_url), ("broken", &broken.url)],
        &["pricing/plans", "broken/late"],
    );
    let shell = shell(&config, &[]).await;
    let client = reqwest::Client::new();
    let page = get_text(&client, format!("{}/late", shell.url())).await;
    assert_eq!(
        slot_status(&page, "pricing/plans").as_deref(),
        Some("unavailable")
    );
    assert_eq!(
        slot_status(&page, "broken/late").as_deref(),
        Some("unavailable")
    );
    let registry =
        json(get_with(&client, format!("{}/registry.json", shell.url()), &[]).await).await;
    assert_eq!(registry["services"]["pricing"]["available"], false);
    assert_eq!(registry["sections"][0]["slots"][0]["url"], "");
    assert_eq!(
        broken.hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "a fragment was fetched from a guessed path"
    );

    // Late enough that the backoff has grown past its first steps.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let _pricing = Process::start_on(
        "svc-pricing",
        "svc-pricing",
        &["--context-secret", SECRET],
        pricing_port,
    )
    .await;
    let up = Instant::now();
    // No request meanwhile (a page would make the shell ask at once): only the backoff reads
    // the manifest.
    tokio::time::sleep(Duration::from_secs(3).saturating_sub(up.elapsed())).await;
    let page = get_text(&client, format!("{}/late", shell.url())).await;
    assert_eq!(
        slot_status(&page, "pricing/plans").as_deref(),
        Some("ok"),
        "svc-pricing was not used 3 s after it started"
    );
    assert!(page.contains("data-fragment=\"pricing/plans\""));
    assert_eq!(broken.hits.load(std::sync::atomic::Ordering::SeqCst), 0);
}

/// Tries to connect to `port` until it is refused (at most `limit`); when it was.
async fn refused_within(port: u16, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return Some(started.elapsed())
            }
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    None
}

#[tokio::test]
async fn sigterm_lets_the_shell_finish_a_streamed_page_with_a_slow_fragment_then_exit_0() {
    let fast = FakeService::start(FakeSpec::new("fast", &["hello"])).await;
    let mut slow_spec = FakeSpec::new("slow", &["late"]);
    slow_spec.delay = Duration::from_secs(1);
    let slow = FakeService::start(slow_spec).await;
    let dir = tempfile::tempdir().unwrap();
    let config = shell_config(
        &dir,
        &[("fast", &fast.url), ("slow", &slow.url)],
        &["fast/hello", "slow/late"],
    );
    let mut shell = shell(&config, &["--shutdown-grace", "5"]).await;
    let port = shell.port;
    let url = format!("{}/late", shell.url());
    let started = Instant::now();
    let page = tokio::spawn(async move {
        let res = reqwest::Client::new()
            .get(url)
            .header("accept-encoding", "br")
            .send()
            .await
            .expect("the page starts");
        let status = res.status();
        let body = res.bytes().await.expect("the page completes");
        (status, body, Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    shell.terminate();
    let refused = refused_within(port, Duration::from_secs(2)).await;
    let refused_at = started.elapsed();
    assert!(refused.is_some(), "new connections were still accepted");
    let (status, body, done) = page.await.unwrap();
    assert_eq!(status, 200);
    let page = decode("br", &body);
    assert!(page.contains("Fake late fragment"), "{page}");
    assert_eq!(slot_status(&page, "slow/late").as_deref(), Some("ok"));
    assert!(page.ends_with("</html>"), "the page was cut off");
    assert!(
        refused_at < done.duration_since(started),
        "the listener closed only after the page ({refused_at:?})"
    );
    let status = shell.wait_exit(Duration::from_secs(5)).await;
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{status:?}");
}

#[tokio::test]
async fn sigterm_lets_a_kit_service_finish_a_request_in_flight_then_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("accounts.db").display().to_string();
    let mut accounts = Process::start(
        "svc-accounts",
        "svc-accounts",
        &[
            &["--context-secret", SECRET, "--database", &db][..],
            &FAST_HASH_ARGS,
            &["--shutdown-grace", "5"],
        ]
        .concat(),
    )
    .await;
    let port = accounts.port;
    // A form post whose body is still arriving when SIGTERM comes.
    let body = "email=someone%40example.com&password=not-the-password";
    let (first, rest) = body.split_at(10);
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let head = format!(
        "POST /actions/sign-in HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{first}",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    accounts.terminate();
    assert!(
        refused_within(port, Duration::from_secs(2)).await.is_some(),
        "new connections were still accepted"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    stream.write_all(rest.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("the answer comes within the grace period")
        .expect("the answer is read");
    let answer = String::from_utf8_lossy(&answer);
    let (head, page) = answer.split_once("\r\n\r\n").expect("a whole answer");
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    assert!((200..500).contains(&status), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    assert!(
        page.contains("</html>") || page.contains("</section>"),
        "{page}"
    );
    let status = accounts.wait_exit(Duration::from_secs(5)).await;
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{status:?}");
}

#[tokio::test]
async fn readyz_answers_503_once_a_binary_is_stopping() {
    // In-process: the flag SIGTERM sets, without closing the listener, so that /readyz can
    // still be asked.
    let pricing = svc_pricing::startup::Application::build(
        <svc_pricing::settings::Settings as clap::Parser>::try_parse_from([
            "svc-pricing",
            "--port",
            "0",
        ])
        .unwrap(),
    )
    .await
    .unwrap();
    let pricing_url = format!("http://127.0.0.1:{}", pricing.port());
    let pricing_stopping = pricing.stopping();
    let pricing_task = tokio::spawn(pricing.run_until_stopped());
    let shell = shell::startup::Application::build(
        <shell::settings::Settings as clap::Parser>::try_parse_from([
            "shell",
            "--port",
            "0",
            "--admin-port",
            "0",
            "--services",
            // Only pricing answers; the others are never asked in this test.
            &format!(
                "pricing={pricing_url},dashboard=http://127.0.0.1:{},accounts=http://127.0.0.1:{}",
                free_port(),
                free_port()
            ),
        ])
        .unwrap(),
    )
    .await
    .unwrap();
    let shell_url = format!("http://127.0.0.1:{}", shell.port());
    let shell_stopping = shell.stopping();
    let handle = shell.handle();
    let shell_task = tokio::spawn(shell.run_until_stopped());
    let client = reqwest::Client::new();
    for (url, stopping) in [
        (&pricing_url, &pricing_stopping),
        (&shell_url, &shell_stopping),
    ] {
        let ready = get_with(&client, format!("{url}/readyz"), &[]).await;
        assert_eq!(ready.status(), 200, "{url}");
        stopping.set();
        let ready = get_with(&client, format!("{url}/readyz"), &[]).await;
        assert_eq!(ready.status(), 503, "{url}");
        assert!(ready.text().await.unwrap().contains("stopping"));
        let live = get_status(&client, format!("{url}/healthz")).await;
        assert_eq!(live, 200, "{url}: alive while stopping");
    }
    handle.stop(true).await;
    let _ = shell_task.await;
    pricing_task.abort();
}

#[tokio::test]
async fn compressed_assets_get_a_weak_etag_that_still_revalidates_to_304() {
    // In process: the same middleware as the binaries, on the whole stack.
    let stack = mf_tests::Stack::start().await;
    for path in [
        "/assets/shared/shared.css",
        "/assets/fragment-loader.js",
        "/svc/pricing/assets/pricing.css",
    ] {
        let plain = stack.get(path).await;
        assert_eq!(plain.status(), 200, "{path}");
        assert!(plain.headers().get("content-encoding").is_none(), "{path}");
        let strong = plain.headers()["etag"].to_str().unwrap().to_owned();
        assert!(strong.starts_with('"'), "{path}: {strong}");
        let plain_body = plain.bytes().await.unwrap();

        let res = stack.get_with(path, &[("accept-encoding", "gzip")]).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["content-encoding"], "gzip", "{path}");
        assert!(res.headers().get("content-length").is_none(), "{path}");
        let weak = res.headers()["etag"].to_str().unwrap().to_owned();
        assert_eq!(weak, format!("W/{strong}"), "{path}");
        let body = res.bytes().await.unwrap();
        assert!(body.len() < plain_body.len(), "{path}");
        assert_eq!(decode("gzip", &body).as_bytes(), &plain_body[..], "{path}");

        let revalidated = stack
            .get_with(
                path,
                &[
                    ("accept-encoding", "gzip"),
                    ("if-none-match", weak.as_str()),
                ],
            )
            .await;
        assert_eq!(revalidated.status(), 304, "{path}");
        assert_eq!(revalidated.headers()["etag"].to_str().unwrap(), weak);
    }
    // Too small to be worth it: sent as it is.
    let tiny = stack
        .get_with("/healthz", &[("accept-encoding", "br")])
        .await;
    assert!(tiny.headers().get("content-encoding").is_none());
    stack.stop().await;
}
