//! Sign-up and sign-in throughput of svc-accounts at the production argon2id cost.
//!
//! Run: `cargo bench -p svc-accounts`. Starts the app in-process on port 0 with a temporary
//! database (WAL, synchronous=FULL, as in production), then over HTTP on 127.0.0.1 with a
//! bounded concurrency: SIGN_UPS sign-ups, SIGN_INS sign-ins of those accounts, and
//! LOOKUPS `/internal/session` lookups (what the shell calls per page). Prints requests per
//! second and p50/p99 latency. Environment: `BENCH_SIGN_UPS`, `BENCH_SIGN_INS`,
//! `BENCH_LOOKUPS`, `BENCH_CONCURRENCY` override the defaults.

use std::io::Write;
use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::stream::{self, StreamExt};
use reqwest::redirect::Policy;
use reqwest::StatusCode;
use svc_accounts::security::password::{HashCost, Hasher};
use svc_accounts::settings::Settings;
use svc_accounts::startup::Application;
use svc_accounts::storage::Storage;

const PASSWORD: &str = "correct horse battery staple";

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Phase {
    name: &'static str,
    count: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Phase {
    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[index]
    }

    fn report(&self, out: &mut impl Write) {
        let _ = writeln!(
            out,
            "{:<22} {:>6} requests  {:>9.1} /s   p50 {:>7.1} ms   p99 {:>7.1} ms",
            self.name,
            self.count,
            self.count as f64 / self.elapsed.as_secs_f64(),
            self.percentile(0.50).as_secs_f64() * 1000.0,
            self.percentile(0.99).as_secs_f64() * 1000.0,
        );
    }
}

async fn run<F, Fut>(name: &'static str, count: usize, concurrency: usize, f: F) -> Phase
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = StatusCode>,
{
    let started = Instant::now();
    let latencies: Vec<Duration> = stream::iter(0..count)
        .map(|i| {
            let fut = f(i);
            async move {
                let t = Instant::now();
                let status = fut.await;
                assert!(
                    status == StatusCode::SEE_OTHER || status == StatusCode::OK,
                    "{name} #{i} answered {status}"
                );
                t.elapsed()
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    Phase {
        name,
        count,
        elapsed: started.elapsed(),
        latencies,
    }
}

/// Starts the app on `db` with extra flags; returns its base URL and an anonymous form token.
async fn start(db: &std::path::Path, extra: &[&str]) -> (String, String, Storage) {
    let db = db.display().to_string();
    let mut args = vec![
        "svc-accounts",
        "--port",
        "0",
        "--context-secret",
        "bench-context-secret-0123456789",
        "--database",
        &db,
    ];
    args.extend_from_slice(extra);
    let settings = Settings::try_parse_from(args).expect("bench settings parse");
    let app = Application::build(settings).await.expect("the app starts");
    let base = format!("http://127.0.0.1:{}", app.port());
    let storage = app.storage();
    tokio::spawn(app.run_until_stopped());
    let html = reqwest::get(format!("{base}/fragments/account"))
        .await
        .expect("fragment")
        .text()
        .await
        .expect("body");
    let marker = r#"name="csrf_token" value=""#;
    let start = html.find(marker).expect("a csrf field") + marker.len();
    let token = html[start..start + html[start..].find('"').expect("end")].to_owned();
    (base, token, storage)
}

fn sign_up_request(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    i: usize,
) -> impl std::future::Future<Output = StatusCode> {
    let request = client.post(format!("{base}/actions/sign-up")).form(&[
        ("name", "Bench User".to_owned()),
        ("email", format!("bench{i}@example.com")),
        ("password", PASSWORD.to_owned()),
        ("plan", "pro".to_owned()),
        ("csrf_token", token.to_owned()),
    ]);
    async move { request.send().await.expect("sign-up answers").status() }
}

#[tokio::main]
async fn main() {
    let sign_ups = env_or("BENCH_SIGN_UPS", 200);
    let sign_ins = env_or("BENCH_SIGN_INS", 200).min(sign_ups);
    let lookups = env_or("BENCH_LOOKUPS", 2000);
    let concurrency = env_or("BENCH_CONCURRENCY", 8);

    let dir = tempfile::tempdir().expect("a temporary folder");
    let (base, token, storage) = start(&dir.path().join("bench.db"), &[]).await;
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("a client");

    // One hash on one thread, for reference.
    let hasher = Hasher::new(HashCost::PRODUCTION);
    let t = Instant::now();
    let _ = hasher.hash(PASSWORD);
    let one_hash = t.elapsed();

    let sign_up = run("sign-up (POST)", sign_ups, concurrency, |i| {
        sign_up_request(&client, &base, &token, i)
    })
    .await;

    // A new account signs in once its address is confirmed (the mailed link, here at once).
    for i in 0..sign_ins {
        let email = format!("bench{i}@example.com");
        storage.confirm_address(&email).expect("confirmed");
    }

    let cookies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sign_in = run("sign-in (POST)", sign_ins, concurrency, |i| {
        let client = client.clone();
        let url = format!("{base}/actions/sign-in");
        let token = token.clone();
        let cookies = cookies.clone();
        async move {
            let email = format!("bench{i}@example.com");
            let res = client
                .post(url)
                .form(&[
                    ("email", email.as_str()),
                    ("password", PASSWORD),
                    ("csrf_token", token.as_str()),
                ])
                .send()
                .await
                .expect("sign-in answers");
            if let Some(c) = res.headers().get("set-cookie") {
                let pair = c
                    .to_str()
                    .unwrap_or("")
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .to_owned();
                cookies.lock().expect("lock").push(pair);
            }
            res.status()
        }
    })
    .await;

    let cookies: Vec<String> = cookies.lock().expect("lock").clone();
    let lookup = run("/internal/session (GET)", lookups, concurrency, |i| {
        let client = client.clone();
        let url = format!("{base}/internal/session");
        let cookie = cookies[i % cookies.len()].clone();
        async move {
            client
                .get(url)
                .header("cookie", cookie)
                .send()
                .await
                .expect("lookup answers")
                .status()
        }
    })
    .await;

    // The same sign-ups at argon2's minimum cost (NOT a production setting): what the
    // HTTP, validation and SQLite (WAL, fsync per commit) parts cost without the hash.
    let (cheap_base, cheap_token, _) = start(
        &dir.path().join("cheap.db"),
        &["--argon2-memory-kib", "8", "--argon2-iterations", "1"],
    )
    .await;
    let storage_bound = run("sign-up, m=8 KiB t=1", sign_ups, concurrency, |i| {
        sign_up_request(&client, &cheap_base, &cheap_token, i)
    })
    .await;

    // A benchmark report goes to stdout; services log through tracing instead.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "svc-accounts benchmark (release, in-process, 127.0.0.1)"
    );
    let _ = writeln!(
        out,
        "password hashing: {} (one hash on one thread: {:.1} ms)",
        HashCost::PRODUCTION.describe(),
        one_hash.as_secs_f64() * 1000.0
    );
    let _ = writeln!(
        out,
        "database: SQLite WAL, synchronous=FULL; concurrency {concurrency}; 2 HTTP workers; {} CPUs",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for phase in [&sign_up, &sign_in, &lookup] {
        phase.report(&mut out);
    }
    let _ = writeln!(
        out,
        "without the production hash cost (storage and HTTP only):"
    );
    storage_bound.report(&mut out);
}
