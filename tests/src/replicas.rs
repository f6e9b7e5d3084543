//! Helpers for the replica test (`tests/tests/replicas.rs`): the real binaries run as
//! processes (so `kill -9` is a real `kill -9`), and [`Balancer`], a TCP round-robin load
//! balancer.
//!
//! The balancer is a small one written here rather than Debian's nginx or HAProxy: the test
//! then needs no package, no config file and no root, and it behaves like their plain TCP
//! mode with a passive health check: each new connection goes to the next backend in turn,
//! a backend that refuses the connection is skipped for the next one (as `proxy_next_upstream
//! error` and HAProxy's `redispatch` do), and a connection whose backend dies is cut, so
//! the requests in flight on a killed process fail, as they would behind either.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::free_port;

/// A workspace binary built by `cargo build --workspace --bins` (as `scripts/test` does),
/// beside this test binary's folder (`target/debug/`).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/debug/deps/replicas-… → target/debug
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test binary lives in target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the binaries first with `cargo build --workspace --bins`",
        path.display()
    );
    path
}

/// One service running as a process of its own, on a port of 127.0.0.1. Killed (SIGKILL)
/// when dropped.
#[derive(Debug)]
pub struct Process {
    /// A label for reports.
    pub name: String,
    /// Its port.
    pub port: u16,
    binary: String,
    child: Child,
    killed: bool,
}

impl Process {
    /// Starts `binary` with `args` plus `--port <free port>` and waits until it answers
    /// `/healthz` (at most 30 s). Tries another port if the first was taken meanwhile.
    pub async fn start(name: &str, binary_name: &str, args: &[&str]) -> Process {
        Self::start_at(name, binary_name, args, None).await
    }

    /// Starts it again on the port it had (after [`Self::kill9`]), as a restarted container
    /// comes back on its service port; waits until it answers `/healthz` (at most 30 s).
    pub async fn restart(&mut self, args: &[&str]) {
        self.kill9();
        let binary_name = self.binary.clone();
        *self = Self::start_at(&self.name, &binary_name, args, Some(self.port)).await;
    }

    async fn start_at(name: &str, binary_name: &str, args: &[&str], port: Option<u16>) -> Process {
        let path = binary(binary_name);
        let fixed = port;
        for _ in 0..if fixed.is_some() { 50 } else { 5 } {
            let port = fixed.unwrap_or_else(free_port);
            let mut child = Command::new(&path)
                .args(args)
                .args(["--port", &port.to_string()])
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(if std::env::var("TEST_LOG").is_ok() {
                    Stdio::inherit()
                } else {
                    Stdio::null()
                })
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
            let started = Instant::now();
            let url = format!("http://127.0.0.1:{port}/healthz");
            let probe = reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .expect("a client");
            while started.elapsed() < Duration::from_secs(30) {
                if child.try_wait().ok().flatten().is_some() {
                    break; // It could not bind (port taken): try another.
                }
                if let Ok(res) = probe.get(&url).send().await {
                    if res.status().is_success() {
                        return Process {
                            name: name.to_owned(),
                            binary: binary_name.to_owned(),
                            port,
                            child,
                            killed: false,
                        };
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let _ = child.kill();
            let _ = child.wait();
            if fixed.is_some() {
                // The port may still be held for a moment after the kill.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        panic!("{name} ({binary_name}) did not start");
    }

    /// `kill -9`: SIGKILL by PID, no graceful shutdown.
    pub fn kill9(&mut self) {
        if !self.killed {
            let _ = self.child.kill();
            let _ = self.child.wait();
            self.killed = true;
        }
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A TCP round-robin balancer on a port of 127.0.0.1 in front of `backends`.
#[derive(Debug)]
pub struct Balancer {
    /// Its port.
    pub port: u16,
    /// Connections handed to a backend.
    pub connections: Arc<AtomicUsize>,
    /// Backends skipped because they refused the connection.
    pub skipped: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Balancer {
    /// Starts balancing over the backends' ports.
    pub async fn start(backends: &[u16]) -> Balancer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the balancer");
        let port = listener.local_addr().expect("its address").port();
        let backends: Arc<Vec<SocketAddr>> = Arc::new(
            backends
                .iter()
                .map(|p| SocketAddr::from(([127, 0, 0, 1], *p)))
                .collect(),
        );
        let connections = Arc::new(AtomicUsize::new(0));
        let skipped = Arc::new(AtomicUsize::new(0));
        let next = Arc::new(AtomicUsize::new(0));
        let (c, s) = (Arc::clone(&connections), Arc::clone(&skipped));
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let (backends, next) = (Arc::clone(&backends), Arc::clone(&next));
                let (c, s) = (Arc::clone(&c), Arc::clone(&s));
                tokio::spawn(async move {
                    let first = next.fetch_add(1, Ordering::Relaxed);
                    for i in 0..backends.len() {
                        let addr = backends[(first + i) % backends.len()];
                        let connect =
                            tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(addr))
                                .await;
                        match connect {
                            Ok(Ok(backend)) => {
                                let _ = backend.set_nodelay(true);
                                c.fetch_add(1, Ordering::Relaxed);
                                splice(client, backend).await;
                                return;
                            }
                            _ => {
                                s.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    // No backend: the client's connection is closed unanswered.
                });
            }
        });
        Balancer {
            port,
            connections,
            skipped,
            task,
        }
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies both ways until either side closes or fails; then both are closed.
async fn splice(mut client: TcpStream, mut backend: TcpStream) {
    let _ = tokio::io::copy_bidirectional(&mut client, &mut backend).await;
}
