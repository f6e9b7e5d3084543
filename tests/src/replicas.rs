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
/// beside this test binary's folder (`target/debug/`); an absolute path as it is (a binary
/// built elsewhere, e.g. alone in a target folder of its own).
pub fn binary(name: &str) -> PathBuf {
    if std::path::Path::new(name).is_absolute() {
        return PathBuf::from(name);
    }
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
    /// Starts `binary` (a name in `target/debug/`, or an absolute path: [`binary`]) with
    /// `args` plus `--port <free port>` and waits until it answers
    /// `/healthz` (at most 30 s). Tries another port if the first was taken meanwhile.
    pub async fn start(name: &str, binary_name: &str, args: &[&str]) -> Process {
        Self::spawn(name, binary_name, args, None, &[]).await
    }

    /// Like [`Process::start`], with `RUST_LOG=info` and its log (stderr) appended to `log`.
    pub async fn start_logged(
        name: &str,
        binary_name: &str,
        args: &[&str],
        log: &std::path::Path,
    ) -> Process {
        Self::spawn(name, binary_name, args, Some(log), &[]).await
    }

    /// Like [`Process::start_logged`], with more environment variables.
    pub async fn start_logged_with_env(
        name: &str,
        binary_name: &str,
        args: &[&str],
        log: &std::path::Path,
        env: &[(&str, &str)],
    ) -> Process {
        Self::spawn(name, binary_name, args, Some(log), env).await
    }

    /// Tries up to five free ports.
    async fn spawn(
        name: &str,
        binary_name: &str,
        args: &[&str],
        log: Option<&std::path::Path>,
        env: &[(&str, &str)],
    ) -> Process {
        for _ in 0..5 {
            if let Some(process) =
                Self::try_start(name, binary_name, args, free_port(), log, env).await
            {
                return process;
            }
        }
        panic!("{name} ({binary_name}) did not start");
    }

    /// Starts it again on the port it had (after [`Self::kill9`]), as a restarted container
    /// comes back on its service port; waits until it answers `/healthz` (at most 30 s a try;
    /// the port may stay held for a moment after the kill).
    pub async fn restart(&mut self, args: &[&str]) {
        self.kill9();
        let (name, binary_name, port) = (self.name.clone(), self.binary.clone(), self.port);
        for _ in 0..50 {
            if let Some(process) = Self::try_start(&name, &binary_name, args, port, None, &[]).await
            {
                *self = process;
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{name} ({binary_name}) did not start again on port {port}");
    }

    /// Starts `binary` on `port` (e.g. one the shell was told about before) and waits until
    /// it answers `/healthz` (at most 30 s).
    pub async fn start_on(name: &str, binary_name: &str, args: &[&str], port: u16) -> Process {
        match Self::try_start(name, binary_name, args, port, None, &[]).await {
            Some(process) => process,
            None => panic!("{name} ({binary_name}) did not start on port {port}"),
        }
    }

    async fn try_start(
        name: &str,
        binary_name: &str,
        args: &[&str],
        port: u16,
        log: Option<&std::path::Path>,
        env: &[(&str, &str)],
    ) -> Option<Process> {
        let path = binary(binary_name);
        {
            let stderr = match log {
                Some(log) => Stdio::from(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(log)
                        .expect("the log file opens"),
                ),
                None if std::env::var("TEST_LOG").is_ok() => Stdio::inherit(),
                None => Stdio::null(),
            };
            // The shell's admin listener defaults to port 9000: a fixed port that two test
            // runs on one machine (or a shell already running) would fight over. Unless the
            // test chose one, the shell's admin listener takes any free port.
            let admin: &[&str] = if binary_name == "shell" && !args.contains(&"--admin-port") {
                &["--admin-port", "0"]
            } else {
                &[]
            };
            let mut child = Command::new(&path)
                .args(args)
                .args(admin)
                .args(["--port", &port.to_string()])
                .env("RUST_LOG", if log.is_some() { "info" } else { "warn" })
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr)
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
                        return Some(Process {
                            name: name.to_owned(),
                            binary: binary_name.to_owned(),
                            port,
                            child,
                            killed: false,
                        });
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        None
    }

    /// SIGTERM by PID: the graceful stop.
    pub fn terminate(&self) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32)
            .expect("a child has a positive PID");
        rustix::process::kill_process(pid, rustix::process::Signal::TERM)
            .expect("SIGTERM reaches the child");
    }

    /// Waits at most `limit` for the process to exit; its status, or `None` if it still runs.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.killed = true;
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
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

/// The three teams as processes, for the tests that put a shell of their own in front of
/// them: svc-pricing and svc-dashboard with `common` arguments, svc-accounts with `common`,
/// a fresh SQLite file in [`Teams::dir`] and `accounts_extra`.
pub struct Teams {
    /// svc-pricing.
    pub pricing: Process,
    /// svc-dashboard.
    pub dashboard: Process,
    /// svc-accounts.
    pub accounts: Process,
    /// A temporary folder holding the accounts database (deleted when dropped).
    pub dir: tempfile::TempDir,
}

impl Teams {
    /// Starts the three teams.
    pub async fn start(common: &[&str], accounts_extra: &[&str]) -> Teams {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let pricing = Process::start("svc-pricing", "svc-pricing", common).await;
        let dashboard = Process::start("svc-dashboard", "svc-dashboard", common).await;
        let db = dir.path().join("accounts.db").display().to_string();
        let mut accounts_args = common.to_vec();
        accounts_args.extend(["--database", db.as_str()]);
        accounts_args.extend_from_slice(accounts_extra);
        let accounts = Process::start("svc-accounts", "svc-accounts", &accounts_args).await;
        Teams {
            pricing,
            dashboard,
            accounts,
            dir,
        }
    }

    /// Starts a shell composing the three teams: `args`, then `--services` naming them.
    pub async fn start_shell(&self, args: &[&str]) -> Process {
        let services = self.services();
        let mut all = args.to_vec();
        all.extend(["--services", services.as_str()]);
        Process::start("shell", "shell", &all).await
    }

    /// The shell's `--services` value for the three.
    fn services(&self) -> String {
        format!(
            "pricing={},dashboard={},accounts={}",
            self.pricing.url(),
            self.dashboard.url(),
            self.accounts.url()
        )
    }
}
