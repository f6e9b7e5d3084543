//! Hostile clients against every binary: the shell, svc-accounts, svc-pricing and
//! svc-dashboard, each a real process (the built debug binaries), spoken to over raw TCP
//! sockets on 127.0.0.1:
//!
//! - slowloris: request heads trickled a byte at a time, never finished;
//! - thousands of idle connections (3,000 across the four binaries) that never send a byte;
//! - oversized request lines and headers, and too many headers;
//! - request smuggling shapes: `Content-Length` with `Transfer-Encoding`, two different
//!   `Content-Length`s, an unknown or doubled transfer coding, a space before the colon, and
//!   obsolete line folding.
//!
//! Each is refused with a 4xx or a closed connection (never a 2xx, never a second answer
//! for a smuggled request), and meanwhile a normal client keeps being served: a [`Watcher`]
//! asks every binary's `/healthz` every 50 ms throughout and every answer must be a 200.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mf_tests::replicas::{Process, Teams};
use mf_tests::SECRET;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The four binaries, started as processes.
struct Binaries {
    all: Vec<Process>,
    _dir: tempfile::TempDir,
}

impl Binaries {
    async fn start(extra: &[&str]) -> Binaries {
        let mut common = vec!["--context-secret", SECRET];
        common.extend_from_slice(extra);
        let teams = Teams::start(&common, &[]).await;
        let shell = teams.start_shell(&common).await;
        Binaries {
            all: vec![shell, teams.accounts, teams.pricing, teams.dashboard],
            _dir: teams.dir,
        }
    }

    fn addrs(&self) -> Vec<(String, String)> {
        self.all
            .iter()
            .map(|p| (p.name.clone(), format!("127.0.0.1:{}", p.port)))
            .collect()
    }
}

/// A normal client asking every binary's `/healthz` every 50 ms until stopped; it records
/// every answer that is not a 200 and the slowest one.
struct Watcher {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
    asked: Arc<AtomicUsize>,
    failures: Arc<Mutex<Vec<String>>>,
    slowest: Arc<Mutex<Duration>>,
}

impl Watcher {
    fn start(binaries: &Binaries) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let asked = Arc::new(AtomicUsize::new(0));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let slowest = Arc::new(Mutex::new(Duration::ZERO));
        let targets = binaries.addrs();
        let (s, a, f, w) = (
            Arc::clone(&stop),
            Arc::clone(&asked),
            Arc::clone(&failures),
            Arc::clone(&slowest),
        );
        let task = tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            while !s.load(Ordering::SeqCst) {
                for (name, addr) in &targets {
                    let started = Instant::now();
                    let res = client.get(format!("http://{addr}/healthz")).send().await;
                    let took = started.elapsed();
                    a.fetch_add(1, Ordering::SeqCst);
                    {
                        let mut slow = w.lock().unwrap();
                        *slow = (*slow).max(took);
                    }
                    match res {
                        Ok(r) if r.status() == 200 => {}
                        Ok(r) => f.lock().unwrap().push(format!("{name}: {}", r.status())),
                        Err(e) => f.lock().unwrap().push(format!("{name}: {e}")),
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        Watcher {
            stop,
            task,
            asked,
            failures,
            slowest,
        }
    }

    /// Stops it and checks that every answer was a 200 within `within`.
    async fn assert_served(self, within: Duration, what: &str) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.task.await;
        let failures = self.failures.lock().unwrap().clone();
        let slowest = *self.slowest.lock().unwrap();
        let asked = self.asked.load(Ordering::SeqCst);
        eprintln!("{what}: the normal client asked {asked} times, slowest {slowest:?}");
        assert!(asked >= 4, "{what}: the normal client asked {asked} times");
        assert!(
            failures.is_empty(),
            "{what}: normal requests failed: {failures:?}"
        );
        assert!(
            slowest < within,
            "{what}: a normal request took {slowest:?} (bound {within:?})"
        );
    }
}

/// What came back for raw bytes: everything read until the server closed or `wait` ran out.
#[derive(Debug)]
struct Exchange {
    answer: String,
    closed: bool,
}

impl Exchange {
    /// The status codes of every answer in the bytes read.
    fn statuses(&self) -> Vec<u16> {
        self.answer
            .match_indices("HTTP/1.1 ")
            .filter_map(|(at, _)| self.answer.get(at + 9..at + 12))
            .filter_map(|s| s.parse().ok())
            .collect()
    }

    /// A 4xx, or a closed connection with no answer; never a 2xx nor two answers.
    fn is_refused(&self) -> bool {
        match self.statuses().as_slice() {
            [] => self.closed,
            [one] => (400..500).contains(one),
            _ => false,
        }
    }
}

async fn exchange(addr: &str, bytes: &[u8], wait: Duration) -> Exchange {
    let mut conn = TcpStream::connect(addr).await.unwrap();
    // A server may refuse and close before everything is written: that is an answer too.
    let _ = conn.write_all(bytes).await;
    let mut out = Vec::new();
    // Ended within `wait`: the server closed (an EOF, or a reset for unread bytes).
    let closed = tokio::time::timeout(wait, conn.read_to_end(&mut out))
        .await
        .is_ok();
    Exchange {
        answer: String::from_utf8_lossy(&out).into_owned(),
        closed,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_heads_are_cut_at_the_header_deadline_while_normal_clients_are_served() {
    let _heavy = mf_tests::heavy();
    const PER_BINARY: usize = 50;
    let binaries = Binaries::start(&[]).await;
    let watcher = Watcher::start(&binaries);
    let started = Instant::now();
    let mut lorises = Vec::new();
    for (name, addr) in binaries.addrs() {
        for i in 0..PER_BINARY {
            let (name, addr) = (name.clone(), addr.clone());
            lorises.push(tokio::spawn(async move {
                let mut conn = TcpStream::connect(&addr).await.unwrap();
                let head = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nX-Slow-{i}: ");
                conn.write_all(head.as_bytes()).await.unwrap();
                // One byte every 250 ms for up to 20 s: alive, never done.
                let opened = Instant::now();
                let mut buf = [0u8; 512];
                let mut answer = Vec::new();
                while opened.elapsed() < Duration::from_secs(20) {
                    tokio::select! {
                        n = conn.read(&mut buf) => match n {
                            Ok(0) | Err(_) => return (name, opened.elapsed(), answer),
                            Ok(n) => answer.extend_from_slice(&buf[..n]),
                        },
                        () = tokio::time::sleep(Duration::from_millis(250)) => {
                            if conn.write_all(b"a").await.is_err() {
                                return (name, opened.elapsed(), answer);
                            }
                        }
                    }
                }
                (name, opened.elapsed(), answer)
            }));
        }
    }
    let mut cut_after = Duration::ZERO;
    for loris in lorises {
        let (name, lived, answer) = loris.await.unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            lived < Duration::from_secs(10),
            "{name}: a slowloris connection lived {lived:?}"
        );
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
            "{name}: a never-finished head got {answer:?}"
        );
        cut_after = cut_after.max(lived);
    }
    eprintln!(
        "slowloris: {} connections cut, the last after {cut_after:?} (test {:?})",
        PER_BINARY * 4,
        started.elapsed()
    );
    watcher
        .assert_served(Duration::from_secs(2), "slowloris")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_thousand_idle_connections_neither_starve_normal_clients_nor_stay_open() {
    let _heavy = mf_tests::heavy();
    const IDLE: usize = 3000;
    // The test process holds both ends' file descriptors: lift its soft limit.
    shared_ui::guard::raise_open_files_limit();
    let binaries = Binaries::start(&[]).await;
    let addrs = binaries.addrs();
    let mut idle = Vec::with_capacity(IDLE);
    for i in 0..IDLE {
        let addr = &addrs[i % addrs.len()].1;
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    let watcher = Watcher::start(&binaries);
    // Every idle connection is closed by its server at the header deadline (5 s).
    let started = Instant::now();
    let closes = idle.into_iter().map(|mut conn| async move {
        let mut buf = [0u8; 64];
        let res = tokio::time::timeout(Duration::from_secs(15), conn.read(&mut buf)).await;
        matches!(res, Ok(Ok(0) | Err(_)))
            || matches!(res, Ok(Ok(n)) if buf[..n].starts_with(b"HTTP/1.1 408"))
    });
    let closed = futures_util::future::join_all(closes).await;
    let open = closed.iter().filter(|c| !**c).count();
    eprintln!(
        "idle: {IDLE} connections, {open} still open after {:?}",
        started.elapsed()
    );
    assert_eq!(open, 0, "idle connections were held past the deadline");
    watcher
        .assert_served(Duration::from_secs(2), "idle connections")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_request_lines_and_headers_are_refused_in_every_binary() {
    let _heavy = mf_tests::heavy();
    let binaries = Binaries::start(&[]).await;
    let watcher = Watcher::start(&binaries);
    let long_target = format!("/healthz?{}", "a".repeat(64 * 1024));
    let long_header = "b".repeat(64 * 1024);
    let many_headers: String = (0..200).map(|i| format!("X-Many-{i}: {i}\r\n")).collect();
    for (name, addr) in binaries.addrs() {
        let cases = [
            (
                "a 64 KiB URL",
                format!("GET {long_target} HTTP/1.1\r\nHost: {addr}\r\n\r\n"),
            ),
            (
                "a 16 KiB URL",
                format!(
                    "GET /healthz?{} HTTP/1.1\r\nHost: {addr}\r\n\r\n",
                    "q".repeat(16 * 1024)
                ),
            ),
            (
                "a 12 KiB header",
                format!(
                    "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nX-Big: {}\r\n\r\n",
                    "b".repeat(12 * 1024)
                ),
            ),
            (
                "a 64 KiB header",
                format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nX-Big: {long_header}\r\n\r\n"),
            ),
            (
                "200 headers",
                format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n{many_headers}\r\n"),
            ),
        ];
        for (what, request) in cases {
            let ex = exchange(&addr, request.as_bytes(), Duration::from_secs(8)).await;
            assert!(
                ex.is_refused(),
                "{name}: {what} was not refused: {:?} (closed: {})",
                ex.statuses(),
                ex.closed
            );
        }
        // The same request, of a normal size, is served.
        let ex = exchange(
            &addr,
            format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(ex.statuses(), [200], "{name}: a normal request");
    }
    watcher
        .assert_served(Duration::from_secs(2), "oversized")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_smuggling_shapes_are_refused_in_every_binary() {
    let _heavy = mf_tests::heavy();
    let binaries = Binaries::start(&[]).await;
    let watcher = Watcher::start(&binaries);
    // Each shape asks for /healthz (which a well-formed request gets with a 200) with a
    // body that holds a second request: a server that reads the framing one way answers
    // twice, one that reads it the other way is open to a front proxy reading it otherwise.
    let smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    let chunked = format!("0\r\n\r\n{smuggled}");
    let shapes: Vec<(&str, String)> = vec![
        (
            "Content-Length with Transfer-Encoding",
            format!(
                "Content-Length: {}\r\nTransfer-Encoding: chunked\r\n\r\n{chunked}",
                chunked.len()
            ),
        ),
        (
            "Transfer-Encoding with Content-Length",
            format!("Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n{chunked}"),
        ),
        (
            "two different Content-Lengths",
            format!(
                "Content-Length: 0\r\nContent-Length: {}\r\n\r\n{smuggled}",
                smuggled.len()
            ),
        ),
        (
            "a doubled Content-Length in one header",
            format!("Content-Length: {0}, {0}\r\n\r\n{smuggled}", smuggled.len()),
        ),
        (
            "an unknown transfer coding",
            format!("Transfer-Encoding: xchunked\r\n\r\n{chunked}"),
        ),
        (
            "chunked, then identity",
            format!("Transfer-Encoding: chunked, identity\r\n\r\n{chunked}"),
        ),
        (
            "two Transfer-Encoding headers",
            format!("Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n{chunked}"),
        ),
        (
            "a space before the colon",
            format!("Transfer-Encoding : chunked\r\n\r\n{chunked}"),
        ),
        (
            "Transfer-Encoding folded onto a second line",
            format!("Transfer-Encoding:\r\n chunked\r\n\r\n{chunked}"),
        ),
        (
            "an obsolete line folding",
            "X-Folded: first\r\n second\r\n\r\n".to_owned(),
        ),
    ];
    let mut seen = Vec::new();
    for (name, addr) in binaries.addrs() {
        for (shape, tail) in &shapes {
            let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n{tail}");
            let ex = exchange(&addr, request.as_bytes(), Duration::from_secs(6)).await;
            assert!(
                ex.is_refused(),
                "{name}: {shape} was not refused: statuses {:?}, closed {}:\n{}",
                ex.statuses(),
                ex.closed,
                ex.answer.lines().next().unwrap_or("")
            );
            seen.push(format!(
                "{name} / {shape}: {:?} closed={}",
                ex.statuses(),
                ex.closed
            ));
        }
    }
    eprintln!("smuggling shapes:\n{}", seen.join("\n"));
    watcher
        .assert_served(Duration::from_secs(2), "smuggling")
        .await;
}
