//! Helpers for the fault tests under load (`tests/tests/faults.rs`) and the hostile-client
//! tests (`tests/tests/hostile.rs`):
//!
//! - [`FaultServer`]: a fragment server on raw TCP whose behaviour can be switched while it
//!   runs ([`Fault`]): healthy, dripping its answer a byte at a time, answering 500, a 50 MB
//!   fragment, invalid UTF-8, a whole document, or a redeploy whose manifest is invalid.
//! - [`System`]: the shell as a real process (the built `target/debug/shell`), with the
//!   three real services as processes beside it and a section `/faulty` that holds a slot of
//!   the fault server (or of any URL) next to the healthy fragments.
//! - [`load`]: pages at a fixed rate for a fixed time, every answer checked.
//! - [`Memory`]: a process's `VmRSS` and `VmHWM`, read from `/proc`.
//!
//! Everything is on 127.0.0.1 and bounded in time.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::replicas::Process;
use crate::{slot_status, FAST_HASH_ARGS, SECRET};

/// What a [`FaultServer`] does with fragment requests (and, for [`Fault::BadRedeploy`], with
/// its manifest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Fault {
    /// A good fragment (version `1`), with the server's `Cache-Control`.
    Healthy = 0,
    /// The whole answer, status line included, one byte every 20 ms.
    Drip = 1,
    /// `500 Internal Server Error`.
    Error500 = 2,
    /// A 50 MB fragment: with a `Content-Length` on even requests, chunked on odd ones.
    Huge = 3,
    /// `text/html` whose body is not UTF-8.
    InvalidUtf8 = 4,
    /// A whole HTML document instead of a fragment.
    WholeDocument = 5,
    /// A redeploy: fragments say version `2-bad`, and the manifest no longer validates.
    BadRedeploy = 6,
    /// A later good redeploy: fragments and manifest at version `3`.
    GoodRedeploy = 7,
}

impl Fault {
    fn from_u8(v: u8) -> Fault {
        match v {
            1 => Fault::Drip,
            2 => Fault::Error500,
            3 => Fault::Huge,
            4 => Fault::InvalidUtf8,
            5 => Fault::WholeDocument,
            6 => Fault::BadRedeploy,
            7 => Fault::GoodRedeploy,
            _ => Fault::Healthy,
        }
    }

    /// The version its fragments and manifest carry.
    fn version(self) -> &'static str {
        match self {
            Fault::BadRedeploy => "2-bad",
            Fault::GoodRedeploy => "3",
            _ => "1",
        }
    }
}

/// The fallback the fault server's manifest declares for its fragment.
pub const FAULT_FALLBACK: &str = "<p class=\"muted\">The faulty widget is resting.</p>";
/// What its healthy fragment says.
pub const FAULT_HEALTHY: &str = "Faulty widget, healthy";
/// Bytes of a [`Fault::Huge`] answer.
pub const HUGE_BYTES: usize = 50 * 1024 * 1024;

/// A fragment server named `faulty` with one fragment, `widget`, whose behaviour
/// [`FaultServer::set`] switches at run time. Every answer closes its connection.
pub struct FaultServer {
    /// Its base URL.
    pub url: String,
    mode: Arc<AtomicU8>,
    /// Fragment requests seen.
    pub fragment_hits: Arc<AtomicUsize>,
    /// Manifest requests seen.
    pub manifest_hits: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl FaultServer {
    /// Starts one on a free port; `cache_control` goes on its healthy answers.
    pub async fn start(cache_control: &'static str) -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let mode = Arc::new(AtomicU8::new(Fault::Healthy as u8));
        let fragment_hits = Arc::new(AtomicUsize::new(0));
        let manifest_hits = Arc::new(AtomicUsize::new(0));
        let (m, f, h) = (
            Arc::clone(&mode),
            Arc::clone(&fragment_hits),
            Arc::clone(&manifest_hits),
        );
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let (m, f, h) = (Arc::clone(&m), Arc::clone(&f), Arc::clone(&h));
                tokio::spawn(async move {
                    let _ = serve_fault(conn, &m, &f, &h, cache_control).await;
                });
            }
        });
        FaultServer {
            url,
            mode,
            fragment_hits,
            manifest_hits,
            task,
        }
    }

    /// Switches its behaviour.
    pub fn set(&self, fault: Fault) {
        self.mode.store(fault as u8, Ordering::SeqCst);
    }

    /// Fragment requests so far.
    pub fn fragments_served(&self) -> usize {
        self.fragment_hits.load(Ordering::SeqCst)
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn manifest_json(fault: Fault) -> String {
    let path = if fault == Fault::BadRedeploy {
        // Fails validation: a path that leaves the service.
        "/../fragments/widget"
    } else {
        "/fragments/widget"
    };
    serde_json::json!({
        "name": "faulty",
        "version": fault.version(),
        "fragments": [{
            "id": "widget",
            "path": path,
            "title": "Faulty widget",
            "fallback": FAULT_FALLBACK,
        }],
        "assets": { "css": [], "controllers": [] },
        "actions": [],
    })
    .to_string()
}

async fn serve_fault(
    mut conn: TcpStream,
    mode: &AtomicU8,
    fragment_hits: &AtomicUsize,
    manifest_hits: &AtomicUsize,
    cache_control: &str,
) -> std::io::Result<()> {
    let _ = conn.set_nodelay(true);
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = conn.read(&mut buf).await?;
        if n == 0 || head.len() > 16 * 1024 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
    let fault = Fault::from_u8(mode.load(Ordering::SeqCst));
    let answer = |status: &str, ctype: &str, extra: &str, body: &[u8]| {
        let mut out = format!(
            "HTTP/1.1 {status}\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\n{extra}connection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(body);
        out
    };
    if path == "/manifest.json" {
        manifest_hits.fetch_add(1, Ordering::SeqCst);
        let body = manifest_json(fault);
        let out = answer("200 OK", "application/json", "", body.as_bytes());
        return conn.write_all(&out).await;
    }
    if path == "/healthz" {
        return conn
            .write_all(&answer("200 OK", "text/plain", "", b"ok"))
            .await;
    }
    if path != "/fragments/widget" {
        return conn
            .write_all(&answer("404 Not Found", "text/plain", "", b"no"))
            .await;
    }
    let n = fragment_hits.fetch_add(1, Ordering::SeqCst);
    let version = format!("x-fragment-version: {}\r\n", fault.version());
    let healthy = format!(
        "<section data-fragment=\"faulty/widget\"><p>{FAULT_HEALTHY} ({})</p></section>",
        fault.version()
    );
    let html = "text/html; charset=utf-8";
    match fault {
        Fault::Healthy | Fault::BadRedeploy | Fault::GoodRedeploy => {
            let extra = format!("{version}cache-control: {cache_control}\r\n");
            conn.write_all(&answer("200 OK", html, &extra, healthy.as_bytes()))
                .await
        }
        Fault::Drip => {
            let out = answer(
                "200 OK",
                html,
                &format!("{version}cache-control: no-store\r\n"),
                healthy.as_bytes(),
            );
            for b in out {
                tokio::time::sleep(Duration::from_millis(20)).await;
                conn.write_all(&[b]).await?;
            }
            Ok(())
        }
        Fault::Error500 => {
            conn.write_all(&answer(
                "500 Internal Server Error",
                "text/plain",
                &version,
                b"something broke",
            ))
            .await
        }
        Fault::Huge => {
            let chunk = vec![b'x'; 64 * 1024];
            if n.is_multiple_of(2) {
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: {html}\r\n{version}cache-control: no-store\r\ncontent-length: {HUGE_BYTES}\r\nconnection: close\r\n\r\n"
                );
                conn.write_all(head.as_bytes()).await?;
                for _ in 0..HUGE_BYTES / chunk.len() {
                    conn.write_all(&chunk).await?;
                }
            } else {
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: {html}\r\n{version}cache-control: no-store\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
                );
                conn.write_all(head.as_bytes()).await?;
                let framed =
                    [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
                for _ in 0..HUGE_BYTES / chunk.len() {
                    conn.write_all(&framed).await?;
                }
                conn.write_all(b"0\r\n\r\n").await?;
            }
            Ok(())
        }
        Fault::InvalidUtf8 => {
            let body = b"<section data-fragment=\"faulty/widget\"><p>\xff\xfe\xc3\x28 broken</p></section>";
            conn.write_all(&answer(
                "200 OK",
                html,
                &format!("{version}cache-control: no-store\r\n"),
                body,
            ))
            .await
        }
        Fault::WholeDocument => {
            let body = format!(
                "<!DOCTYPE html><html><head><title>x</title></head><body>{healthy}</body></html>"
            );
            conn.write_all(&answer(
                "200 OK",
                html,
                &format!("{version}cache-control: no-store\r\n"),
                body.as_bytes(),
            ))
            .await
        }
    }
}

/// A process's memory, from `/proc/{pid}/status`, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// Resident set size now.
    pub rss_kib: u64,
    /// The peak resident set size so far (high-water mark).
    pub hwm_kib: u64,
}

impl Memory {
    /// Reads it for `pid`.
    pub fn of(pid: u32) -> Memory {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_else(|e| panic!("cannot read /proc/{pid}/status: {e}"));
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
        };
        Memory {
            rss_kib: field("VmRSS:"),
            hwm_kib: field("VmHWM:"),
        }
    }
}

impl std::fmt::Display for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RSS {:.1} MiB, peak {:.1} MiB",
            self.rss_kib as f64 / 1024.0,
            self.hwm_kib as f64 / 1024.0
        )
    }
}

/// The fragment timeout the [`System`]'s shell runs with, in ms.
pub const FRAGMENT_TIMEOUT_MS: u64 = 1000;
/// The page budget the [`System`]'s shell runs with, in ms.
pub const PAGE_BUDGET_MS: u64 = 2000;

/// The shell and the three services, each a real process (the debug binaries), plus a
/// section `/faulty` with the slot `{name}/widget` of an extra service at `extra_url`
/// beside `pricing/teaser` and `dashboard/overview` (and the accounts menu in the header).
pub struct System {
    /// The shell.
    pub shell: Process,
    /// svc-pricing.
    pub pricing: Process,
    /// svc-dashboard.
    pub dashboard: Process,
    /// svc-accounts.
    pub accounts: Process,
    /// The name of the extra service.
    pub extra: String,
    _dir: tempfile::TempDir,
}

impl System {
    /// Starts the services, then the shell with `extra` = `extra_url` registered.
    pub async fn start(extra: &str, extra_url: &str) -> System {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let common = ["--context-secret", SECRET];
        let pricing = Process::start("svc-pricing", "svc-pricing", &common).await;
        let dashboard = Process::start("svc-dashboard", "svc-dashboard", &common).await;
        let db = dir.path().join("accounts.db").display().to_string();
        let mut accounts_args = vec!["--context-secret", SECRET, "--database", &db];
        accounts_args.extend(FAST_HASH_ARGS);
        let accounts = Process::start("svc-accounts", "svc-accounts", &accounts_args).await;
        let config = dir.path().join("shell.toml");
        std::fs::write(&config, sections_with(extra)).expect("the shell config is written");
        let services = format!(
            "pricing={},dashboard={},accounts={},{extra}={extra_url}",
            pricing.url(),
            dashboard.url(),
            accounts.url()
        );
        let shell = Process::start(
            "shell",
            "shell",
            &[
                "--context-secret",
                SECRET,
                "--services",
                &services,
                "--config",
                &config.display().to_string(),
                "--fragment-timeout-ms",
                &FRAGMENT_TIMEOUT_MS.to_string(),
                "--page-budget-ms",
                &PAGE_BUDGET_MS.to_string(),
            ],
        )
        .await;
        System {
            shell,
            pricing,
            dashboard,
            accounts,
            extra: extra.to_owned(),
            _dir: dir,
        }
    }

    /// The shell's URL for `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.shell.url())
    }

    /// The shell's memory now.
    pub fn shell_memory(&self) -> Memory {
        Memory::of(self.shell.pid())
    }

    /// The registry's version of a service, if its manifest is known.
    pub async fn registry_version(&self, service: &str) -> Option<String> {
        let res = reqwest::get(self.url("/registry.json")).await.ok()?;
        let json: serde_json::Value = serde_json::from_slice(&res.bytes().await.ok()?).ok()?;
        json["services"][service]["version"]
            .as_str()
            .map(str::to_owned)
    }
}

fn sections_with(extra: &str) -> String {
    format!(
        r#"# Written by the fault tests: the default sections and /faulty.
[[sections]]
id = "dashboard"
title = "Dashboard"
path = "/dashboard"
slots = [{{ service = "dashboard", fragment = "overview" }}, {{ service = "pricing", fragment = "teaser" }}]

[[sections]]
id = "accounts"
title = "Account"
path = "/accounts"
slots = [{{ service = "accounts", fragment = "account" }}]

[[sections]]
id = "pricing"
title = "Pricing"
path = "/pricing"
slots = [{{ service = "pricing", fragment = "plans" }}]

[[sections]]
id = "faulty"
title = "Faulty"
path = "/faulty"
slots = [{{ service = "{extra}", fragment = "widget" }}, {{ service = "pricing", fragment = "teaser" }}, {{ service = "dashboard", fragment = "overview" }}]
"#
    )
}

/// The healthy slots of `/faulty`, which must be `ok` on every page (but the watched one).
pub const HEALTHY_SLOTS: [&str; 3] = ["pricing/teaser", "dashboard/overview", "accounts/user-menu"];

/// What a [`load`] run saw.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Pages asked for.
    pub pages: usize,
    /// Pages that answered 200 with a whole page.
    pub ok_pages: usize,
    /// The slowest page (request to last byte).
    pub slowest: Duration,
    /// How many pages took longer than the page budget plus the slack.
    pub over_budget: usize,
    /// The `data-fragment-status` of the watched slot, counted.
    pub slot: BTreeMap<String, usize>,
    /// Pages whose healthy slots were not all `ok`.
    pub healthy_missing: usize,
    /// The first few problems, for the failure message.
    pub problems: Vec<String>,
    /// Wall time of the run.
    pub took: Duration,
}

impl LoadReport {
    /// Pages per second over the run.
    pub fn rate(&self) -> f64 {
        self.pages as f64 / self.took.as_secs_f64().max(0.001)
    }

    /// Panics with the report unless every page was 200, whole, within budget and held
    /// every healthy slot.
    pub fn assert_all_good(&self, what: &str) {
        assert!(self.pages > 0, "{what}: no page was asked for");
        assert!(
            self.ok_pages == self.pages && self.healthy_missing == 0 && self.over_budget == 0,
            "{what}: {self:#?}"
        );
    }
}

/// Time allowed past the page budget for a page to reach the client on a loaded 2-core
/// machine (the request queues before the shell's clock starts; the last bytes travel).
pub const BUDGET_SLACK: Duration = Duration::from_millis(2500);

/// Asks for `path` on the shell `rate` times a second for `duration` (at most `max_in_flight`
/// at once), checks every answer and counts the `data-fragment-status` of `watched`.
pub async fn load(
    base: &str,
    path: &str,
    rate: u32,
    duration: Duration,
    watched: &str,
) -> LoadReport {
    const MAX_IN_FLIGHT: usize = 256;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .pool_max_idle_per_host(MAX_IN_FLIGHT)
        .build()
        .expect("a client");
    let report = Arc::new(Mutex::new(LoadReport::default()));
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    let url = format!("{base}{path}");
    let budget = Duration::from_millis(PAGE_BUDGET_MS) + BUDGET_SLACK;
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1) / rate.max(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tasks = Vec::new();
    while started.elapsed() < duration {
        tick.tick().await;
        let permit = Arc::clone(&permits)
            .acquire_owned()
            .await
            .expect("the semaphore stays open");
        let (client, url, report) = (client.clone(), url.clone(), Arc::clone(&report));
        let watched = watched.to_owned();
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let asked = Instant::now();
            let result = match client.get(&url).send().await {
                Ok(res) => {
                    let status = res.status();
                    res.text().await.map(|t| (status, t))
                }
                Err(e) => Err(e),
            };
            let took = asked.elapsed();
            let mut r = report.lock().expect("the report lock");
            r.pages += 1;
            r.slowest = r.slowest.max(took);
            if took > budget {
                r.over_budget += 1;
            }
            match result {
                Ok((status, html)) if status == 200 && html.ends_with("</html>") => {
                    r.ok_pages += 1;
                    let missing: Vec<&str> = HEALTHY_SLOTS
                        .iter()
                        .filter(|s| {
                            **s != watched && slot_status(&html, s).as_deref() != Some("ok")
                        })
                        .copied()
                        .collect();
                    if !missing.is_empty() {
                        r.healthy_missing += 1;
                        if r.problems.len() < 5 {
                            r.problems
                                .push(format!("healthy slots not ok: {missing:?}"));
                        }
                    }
                    let s = slot_status(&html, &watched).unwrap_or_else(|| "absent".into());
                    *r.slot.entry(s).or_default() += 1;
                }
                Ok((status, html)) => {
                    if r.problems.len() < 5 {
                        let tail: String = html.chars().rev().take(80).collect();
                        r.problems.push(format!(
                            "status {status}, page ends {:?}",
                            tail.chars().rev().collect::<String>()
                        ));
                    }
                }
                Err(e) => {
                    if r.problems.len() < 5 {
                        r.problems.push(format!("request failed: {e}"));
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let mut report = Arc::try_unwrap(report)
        .expect("every task is done")
        .into_inner()
        .expect("the report lock");
    report.took = started.elapsed();
    report
}

/// Asks for `path` until `slot` is `ok` (at most `within`); returns how long that took.
pub async fn until_ok(base: &str, path: &str, slot: &str, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let client = reqwest::Client::new();
    while started.elapsed() < within {
        if let Ok(res) = client.get(format!("{base}{path}")).send().await {
            if let Ok(html) = res.text().await {
                if slot_status(&html, slot).as_deref() == Some("ok") {
                    return Some(started.elapsed());
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// The rate of the fault tests in pages per second: `FAULT_RATE`, default 200.
pub fn rate() -> u32 {
    std::env::var("FAULT_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

/// The length of each fault test's load, `FAULT_SECS` seconds, default 3.
pub fn load_time() -> Duration {
    Duration::from_secs_f64(
        std::env::var("FAULT_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3.0),
    )
}
