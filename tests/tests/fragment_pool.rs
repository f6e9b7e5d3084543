//! The shell's own pool of fragment connections (`shell/src/client/pool.rs`), against a raw
//! HTTP/1 upstream on a real port that counts its connections and requests: keep-alive
//! connections are reused, a service that closes its idle connections costs no fragment
//! (the request caught by the close is sent again on a new connection), and a connection
//! whose answer was cut at the fragment cap is never used again.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mf_tests::{slot_status, Stack, StackOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the upstream does with a connection once it has answered a fragment request on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closes {
    /// Keeps it open for the next request.
    Never,
    /// Closes it right after the answer (which says `connection: keep-alive`).
    AfterEachAnswer,
    /// Reads the next request on it and closes it without answering: the close of an idle
    /// connection crossing the shell's next request on it.
    OnTheNextRequest,
}

/// A fragment request as the upstream saw it.
#[derive(Debug, Clone)]
struct Seen {
    /// Which connection (1, 2, …, in the order they were accepted).
    connection: usize,
    /// The request head, as it came.
    head: String,
}

/// The raw upstream: fragments `small` (a few bytes) and `big` (2 MiB, chunked, over the
/// shell's 1 MiB cap), a manifest declaring both.
struct Upstream {
    url: String,
    log: Arc<Log>,
}

/// What the upstream saw.
#[derive(Default)]
struct Log {
    /// The fragment requests.
    seen: Mutex<Vec<Seen>>,
    /// Connections the shell closed (an end of stream where a request could start).
    closed_by_the_shell: AtomicUsize,
}

impl Upstream {
    async fn start(name: &'static str, closes: Closes) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let log: Arc<Log> = Arc::default();
        let shared = Arc::clone(&log);
        tokio::spawn(async move {
            let accepted = AtomicUsize::new(0);
            while let Ok((conn, _)) = listener.accept().await {
                let connection = accepted.fetch_add(1, Ordering::Relaxed) + 1;
                tokio::spawn(serve(conn, connection, name, closes, Arc::clone(&shared)));
            }
        });
        Upstream { url, log }
    }

    /// The fragment requests seen so far.
    fn seen(&self) -> Vec<Seen> {
        self.log.seen.lock().unwrap().clone()
    }

    /// How many connections carried fragment requests.
    fn fragment_connections(&self) -> usize {
        let mut ids: Vec<usize> = self.seen().iter().map(|s| s.connection).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }
}

/// One connection: the manifest (then closed), or fragment requests until `closes` says.
async fn serve(mut conn: TcpStream, connection: usize, name: &str, closes: Closes, log: Arc<Log>) {
    let mut answered = false;
    loop {
        let Some(head) = read_head(&mut conn).await else {
            log.closed_by_the_shell.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
        if !path.starts_with("/fragments/") {
            let manifest = format!(
                r#"{{"name":"{name}","version":"1","fragments":[{{"id":"small","path":"/fragments/small","title":"Small"}},{{"id":"big","path":"/fragments/big","title":"Big"}}],"assets":{{"css":[],"controllers":[]}},"actions":[]}}"#
            );
            let (status, body) = match path.as_str() {
                "/manifest.json" => ("200 OK", manifest),
                _ => ("404 Not Found", String::new()),
            };
            let res = format!("HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
            let _ = conn.write_all(res.as_bytes()).await;
            return;
        }
        log.seen.lock().unwrap().push(Seen { connection, head });
        if answered && closes == Closes::OnTheNextRequest {
            return;
        }
        let written = match path.as_str() {
            "/fragments/big" => write_big(&mut conn).await,
            _ => write_small(&mut conn, name).await,
        };
        if !written || closes == Closes::AfterEachAnswer {
            return;
        }
        answered = true;
    }
}

/// Reads one request head (a `GET`, no body); `None` at the end of the connection.
async fn read_head(conn: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte).await.unwrap_or(0) == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

const FRAGMENT_HEAD: &str = "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\nx-fragment-version: 1\r\ncache-control: no-store\r\nconnection: keep-alive\r\nkeep-alive: timeout=5\r\n";

async fn write_small(conn: &mut TcpStream, name: &str) -> bool {
    let body = format!(r#"<p data-fragment="{name}/small">small</p>"#);
    let res = format!(
        "{FRAGMENT_HEAD}content-length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(res.as_bytes()).await.is_ok()
}

/// 2 MiB in chunks of 64 KiB, kept alive: the shell stops reading at 1 MiB.
async fn write_big(conn: &mut TcpStream) -> bool {
    let head = format!("{FRAGMENT_HEAD}transfer-encoding: chunked\r\n\r\n");
    let chunk = format!("10000\r\n{}\r\n", "x".repeat(0x10000));
    let mut ok = conn.write_all(head.as_bytes()).await.is_ok();
    for _ in 0..32 {
        ok = ok && conn.write_all(chunk.as_bytes()).await.is_ok();
    }
    ok && conn.write_all(b"0\r\n\r\n").await.is_ok()
}

/// A stack whose shell runs one worker (one pool) and shows each upstream's `small` at
/// `/{name}`, and `big` at `/{name}-big`.
async fn stack_with(upstreams: &[(&str, &Upstream)]) -> Stack {
    let mut options = StackOptions {
        shell_args: vec!["--workers".into(), "1".into()],
        ..StackOptions::default()
    };
    for (name, upstream) in upstreams {
        let name = (*name).to_owned();
        options
            .extra_services
            .push((name.clone(), upstream.url.clone()));
        for (section, fragment) in [(name.clone(), "small"), (format!("{name}-big"), "big")] {
            let path = format!("/{section}");
            options
                .extra_sections
                .push((section, path, vec![format!("{name}/{fragment}")]));
        }
    }
    Stack::start_with(options).await
}

/// The status of `slot` on the page at `path`.
async fn status_on(stack: &Stack, path: &str, slot: &str) -> Option<String> {
    let (status, _, html) = stack.page(path).await;
    assert_eq!(status, 200, "{path}");
    slot_status(&html, slot)
}

#[tokio::test]
async fn keep_alive_connections_are_reused_with_host_and_origin_form() {
    let steady = Upstream::start("steady", Closes::Never).await;
    let stack = stack_with(&[("steady", &steady)]).await;
    let pages = 20;
    for page in 0..pages {
        let status = status_on(&stack, "/steady", "steady/small").await;
        assert_eq!(status.as_deref(), Some("ok"), "page {page}");
    }
    let seen = steady.seen();
    assert_eq!(seen.len(), pages, "one request per page: {seen:?}");
    let connections = steady.fragment_connections();
    assert!(
        connections <= 2,
        "{pages} pages over one worker took {connections} connections"
    );
    let port = steady.url.rsplit(':').next().unwrap();
    let head = seen[0].head.to_ascii_lowercase();
    assert!(
        head.starts_with("get /fragments/small http/1.1\r\n"),
        "{head}"
    );
    assert!(
        head.contains(&format!("\r\nhost: 127.0.0.1:{port}\r\n")),
        "{head}"
    );
    assert!(head.contains("\r\nuser-agent: mf-shell/"), "{head}");
    assert!(head.contains("\r\nx-forwarded-host: "), "{head}");
    stack.stop().await;
}

#[tokio::test]
async fn a_service_closing_its_idle_connections_costs_no_fragment() {
    let closing = Upstream::start("closing", Closes::AfterEachAnswer).await;
    let racing = Upstream::start("racing", Closes::OnTheNextRequest).await;
    let stack = stack_with(&[("closing", &closing), ("racing", &racing)]).await;
    let pages = 8;
    for page in 0..pages {
        for name in ["closing", "racing"] {
            let status = status_on(&stack, &format!("/{name}"), &format!("{name}/small")).await;
            assert_eq!(status.as_deref(), Some("ok"), "{name}, page {page}");
        }
    }
    assert_eq!(closing.seen().len(), pages, "{:?}", closing.seen());
    // From the second page on, the request on the pooled connection was closed unanswered,
    // and sent again on a new one.
    let seen = racing.seen();
    assert!(
        seen.len() > pages,
        "{} requests for {pages} pages: none sent again",
        seen.len()
    );
    assert_eq!(racing.fragment_connections(), pages, "{seen:?}");
    stack.stop().await;
}

#[tokio::test]
async fn a_body_cut_at_the_cap_leaves_no_connection_behind() {
    let steady = Upstream::start("steady", Closes::Never).await;
    let stack = stack_with(&[("steady", &steady)]).await;
    for round in 0..3 {
        let status = status_on(&stack, "/steady", "steady/small").await;
        assert_eq!(status.as_deref(), Some("ok"), "round {round}");
        let status = status_on(&stack, "/steady-big", "steady/big").await;
        assert_eq!(status.as_deref(), Some("unavailable"), "round {round}");
        let status = status_on(&stack, "/steady", "steady/small").await;
        assert_eq!(status.as_deref(), Some("ok"), "round {round}, after a cut");
    }
    // No request after a `big` one on the same connection: the cut one was dropped.
    let seen = steady.seen();
    for pair in seen.windows(2) {
        let cut = pair[0].head.starts_with("GET /fragments/big ");
        assert!(
            !(cut && pair[1].connection == pair[0].connection),
            "a connection was used again after its body was cut: {seen:?}"
        );
    }
    assert_eq!(seen.len(), 9, "{seen:?}");
    stack.stop().await;
}

#[tokio::test]
async fn an_idle_connection_is_closed_once_past_its_idle_timeout_by_other_traffic() {
    let steady = Upstream::start("steady", Closes::Never).await;
    let other = Upstream::start("other", Closes::Never).await;
    let stack = stack_with(&[("steady", &steady), ("other", &other)]).await;
    let status = status_on(&stack, "/steady", "steady/small").await;
    assert_eq!(status.as_deref(), Some("ok"));
    let closed = || steady.log.closed_by_the_shell.load(Ordering::Relaxed);
    let before = closed();
    // Within the idle timeout (4 s) the connection stays, whatever else goes on.
    let timeout = shell::client::POOL_IDLE_TIMEOUT;
    let status = status_on(&stack, "/other", "other/small").await;
    assert_eq!(status.as_deref(), Some("ok"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(closed(), before, "closed before its idle timeout");
    // Past it, the next answer given back to the pool (another service's) drops it; the
    // service, which keeps idle connections open, sees it closed.
    tokio::time::sleep(timeout).await;
    let status = status_on(&stack, "/other", "other/small").await;
    assert_eq!(status.as_deref(), Some("ok"));
    let started = std::time::Instant::now();
    while closed() == before {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the idle connection is still open past its timeout"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stack.stop().await;
}
