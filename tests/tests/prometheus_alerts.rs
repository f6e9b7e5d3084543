//! The alerts of `deploy/prometheus/rules.yml` run by a real Prometheus: Debian's server
//! (`/usr/bin/prometheus`) scrapes the shell's admin port and the three services, started
//! as processes (the built `target/debug` binaries), every second and evaluates the rules
//! every second. Pages are loaded throughout; svc-dashboard is killed with `kill -9`, and
//! Prometheus' HTTP API (`/api/v1/alerts`) must show `MosaicFragmentsFallingBack` firing
//! for the `dashboard` service within a minute, and for no other service.
//!
//! Needs Debian's `prometheus` package (`scripts/check-prometheus` installs it): without
//! `/usr/bin/prometheus` the test says what is missing and passes, except under `CI=true`
//! where it fails. Loopback only, about 45 s.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mf_tests::replicas::{Process, Teams};
use mf_tests::{free_port, json, slot_status, FAST_HASH_ARGS, SECRET};
use serde_json::Value;

/// Where Debian's `prometheus` package puts the server.
const PROMETHEUS: &str = "/usr/bin/prometheus";
/// The alert under test and the time it gets after the kill.
const ALERT: &str = "MosaicFragmentsFallingBack";
const FIRE_WITHIN: Duration = Duration::from_secs(60);
/// Pages a second while the test runs (each fills three slots).
const PAGES_PER_SECOND: u64 = 10;

/// The rules under test, from the repository.
fn rules_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/prometheus/rules.yml")
}

/// The Prometheus server as a process on a port of 127.0.0.1, with a configuration and a
/// storage folder of its own. Killed (by its PID) when dropped.
struct Prometheus {
    child: Child,
    url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts it scraping `targets` (job name, `host:port`) every second with the rules of
    /// the repository; waits until it is ready. Prometheus cannot pick a free port itself
    /// (no port 0), so a free one is chosen, and another if that one was taken meanwhile.
    async fn start(targets: &[(&str, String)]) -> Prometheus {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, config_text(targets)).expect("the configuration is written");
        for _ in 0..5 {
            let port = free_port();
            let log = dir.path().join(format!("prometheus-{port}.log"));
            let mut child = Command::new(PROMETHEUS)
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--log.level=warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::from(
                    std::fs::File::create(&log).expect("a log file"),
                ))
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {PROMETHEUS}: {e}"));
            let url = format!("http://127.0.0.1:{port}");
            if ready(&mut child, &url).await {
                return Prometheus {
                    child,
                    url,
                    log,
                    _dir: dir,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            eprintln!("prometheus on port {port} did not start:\n{text}");
        }
        panic!("{PROMETHEUS} did not start on any of five free ports");
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET /api/v1/<path>` with `query`, its `data`.
    async fn api(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let mut url = url::Url::parse(&format!("{}/api/v1/{path}", self.url)).expect("a URL");
        url.query_pairs_mut().extend_pairs(query);
        let res = http().get(url).send().await.expect("Prometheus answers");
        let body = json(res).await;
        assert_eq!(body["status"], "success", "{path} {query:?}: {body}");
        body["data"].clone()
    }

    /// An instant query's samples: (labels, value).
    async fn query(&self, promql: &str) -> Vec<(Value, f64)> {
        let data = self.api("query", &[("query", promql)]).await;
        data["result"]
            .as_array()
            .expect("a vector result")
            .iter()
            .map(|s| {
                let value = s["value"][1].as_str().and_then(|v| v.parse().ok());
                (s["metric"].clone(), value.unwrap_or(f64::NAN))
            })
            .collect()
    }

    /// The alerts pending or firing now: (name, state, labels).
    async fn alerts(&self) -> Vec<(String, String, Value)> {
        let data = self.api("alerts", &[]).await;
        data["alerts"]
            .as_array()
            .expect("a list of alerts")
            .iter()
            .map(|a| {
                let name = a["labels"]["alertname"].as_str().unwrap_or("").to_owned();
                let state = a["state"].as_str().unwrap_or("").to_owned();
                (name, state, a["labels"].clone())
            })
            .collect()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (at most 30 s) for `GET /-/ready`; false if the process ended or never got ready.
async fn ready(child: &mut Child, url: &str) -> bool {
    let started = Instant::now();
    let client = http();
    while started.elapsed() < Duration::from_secs(30) {
        if child.try_wait().ok().flatten().is_some() {
            return false;
        }
        if let Ok(res) = client.get(format!("{url}/-/ready")).send().await {
            if res.status().is_success() {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// A configuration like `deploy/prometheus/prometheus.yml` (the same job names), with the
/// processes' addresses and one-second intervals.
fn config_text(targets: &[(&str, String)]) -> String {
    let mut text = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
         rule_files:\n  - {}\nscrape_configs:\n",
        rules_file().display()
    );
    for (job, target) in targets {
        text.push_str(&format!(
            "  - job_name: {job}\n    metrics_path: /metrics\n    static_configs:\n      - targets: [\"{target}\"]\n"
        ));
    }
    text
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client")
}

/// Pages of `/dashboard` at [`PAGES_PER_SECOND`] until stopped, counting the pages whose
/// `dashboard/overview` slot showed its fallback.
struct PageLoad {
    stop: Arc<AtomicBool>,
    pages: Arc<AtomicUsize>,
    fallbacks: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl PageLoad {
    fn start(shell: String) -> PageLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let pages = Arc::new(AtomicUsize::new(0));
        let fallbacks = Arc::new(AtomicUsize::new(0));
        let (s, p, f) = (
            Arc::clone(&stop),
            Arc::clone(&pages),
            Arc::clone(&fallbacks),
        );
        let task = tokio::spawn(async move {
            let client = http();
            let mut tick = tokio::time::interval(Duration::from_millis(1000 / PAGES_PER_SECOND));
            while !s.load(Ordering::SeqCst) {
                tick.tick().await;
                let Ok(res) = client.get(format!("{shell}/dashboard")).send().await else {
                    continue;
                };
                let Ok(html) = res.text().await else { continue };
                p.fetch_add(1, Ordering::SeqCst);
                let status = slot_status(&html, "dashboard/overview");
                if matches!(status.as_deref(), Some("fallback" | "unavailable")) {
                    f.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        PageLoad {
            stop,
            pages,
            fallbacks,
            task,
        }
    }

    async fn stop(self) -> (usize, usize) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.task.await;
        (
            self.pages.load(Ordering::SeqCst),
            self.fallbacks.load(Ordering::SeqCst),
        )
    }
}

/// The shell (admin port for `/metrics`) and the three services as processes.
struct Site {
    shell: Process,
    admin_port: u16,
    teams: Teams,
}

impl Site {
    async fn start() -> Site {
        let teams = Teams::start(&["--context-secret", SECRET], &FAST_HASH_ARGS).await;
        let admin_port = free_port();
        let admin = admin_port.to_string();
        let shell_args = ["--context-secret", SECRET, "--admin-port", &admin];
        let shell = teams.start_shell(&shell_args).await;
        Site {
            shell,
            admin_port,
            teams,
        }
    }

    /// The scrape targets, by the job names of `deploy/prometheus/prometheus.yml`.
    fn targets(&self) -> Vec<(&'static str, String)> {
        let at = |port: u16| format!("127.0.0.1:{port}");
        vec![
            ("shell", at(self.admin_port)),
            ("svc-pricing", at(self.teams.pricing.port)),
            ("svc-dashboard", at(self.teams.dashboard.port)),
            ("svc-accounts", at(self.teams.accounts.port)),
        ]
    }
}

/// Whether Prometheus is here; otherwise says what is missing (and fails under `CI=true`).
fn prometheus_installed() -> bool {
    if Path::new(PROMETHEUS).exists() {
        return true;
    }
    shared_ui::testkit::missing(
        PROMETHEUS,
        "install Debian's `prometheus` package (`apt-get install prometheus`, or run \
         scripts/check-prometheus)",
    );
    false
}

/// Polls an instant query until it returns `count` samples (at most `within`); the last
/// samples.
async fn until_query(
    prometheus: &Prometheus,
    promql: &str,
    count: usize,
    within: Duration,
) -> Vec<(Value, f64)> {
    let started = Instant::now();
    loop {
        let samples = prometheus.query(promql).await;
        if samples.len() == count || started.elapsed() > within {
            return samples;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_service_fires_its_fragment_fallback_alert_within_a_minute() {
    let _heavy = mf_tests::heavy();
    if !prometheus_installed() {
        return;
    }
    let mut site = Site::start().await;
    let prometheus = Prometheus::start(&site.targets()).await;
    let load = PageLoad::start(site.shell.url());

    // Every target is scraped, and the recording rules see the real metric names: each
    // service's share of degraded slots is there, at 0.
    let up = until_query(&prometheus, "up == 1", 4, Duration::from_secs(30)).await;
    assert_eq!(
        up.len(),
        4,
        "every target is up: {up:?}\n{}",
        prometheus.log_text()
    );
    let ratios = until_query(
        &prometheus,
        "service:shell_fragment_degraded:ratio_rate2m",
        3,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(ratios.len(), 3, "one ratio per service: {ratios:?}");
    assert!(
        ratios.iter().all(|(_, v)| *v < 0.05),
        "all healthy, below the alert's 5%: {ratios:?}"
    );
    let before = prometheus.alerts().await;
    assert!(
        before.iter().all(|(name, _, _)| name != ALERT),
        "no fallback alert while healthy: {before:?}"
    );

    site.teams.dashboard.kill9();
    let killed = Instant::now();
    let (fired, alerts) = loop {
        let alerts = prometheus.alerts().await;
        let firing = alerts.iter().any(|(name, state, labels)| {
            name == ALERT && state == "firing" && labels["service"] == "dashboard"
        });
        if firing {
            break (Some(killed.elapsed()), alerts);
        }
        if killed.elapsed() > FIRE_WITHIN {
            break (None, alerts);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let (pages, fallbacks) = load.stop().await;
    eprintln!(
        "{ALERT} fired {fired:?} after the kill; {pages} pages, {fallbacks} with the \
         dashboard fallback; alerts: {alerts:?}"
    );
    assert!(
        fired.is_some(),
        "{ALERT} for dashboard did not fire within {FIRE_WITHIN:?} of the kill \
         ({pages} pages, {fallbacks} fell back): {alerts:?}\n{}",
        prometheus.log_text()
    );
    assert!(fallbacks > 0, "the pages showed the dashboard's fallback");
    // Only the killed service's fragments fell back.
    let others: Vec<_> = alerts
        .iter()
        .filter(|(name, _, labels)| name == ALERT && labels["service"] != "dashboard")
        .collect();
    assert!(others.is_empty(), "no other service alerts: {others:?}");
    // Its scrape target is seen down too (pending for a minute before it fires).
    assert!(
        alerts.iter().any(|(name, _, labels)| {
            name == "MosaicTargetDown" && labels["job"] == "svc-dashboard"
        }),
        "the dead target is noticed: {alerts:?}"
    );
}
