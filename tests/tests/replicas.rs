//! Replicas under faults: two shells and two svc-accounts replicas (real processes, the
//! debug binaries) on one PostgreSQL, each pair behind a TCP round-robin balancer
//! (`mf_tests::replicas::Balancer`), with svc-pricing and svc-dashboard beside them:
//!
//! ```text
//! client ─► balancer ─► shell 1 ┐              ┌► svc-accounts 1 ┐
//!                    └► shell 2 ┴► balancer ───┴► svc-accounts 2 ┴► PostgreSQL
//!                               (both shells also reach svc-pricing and svc-dashboard)
//! ```
//!
//! Workers sign up, look at pages and sign in through the front balancer; a few seconds in,
//! shell 1 and svc-accounts 1 get `kill -9`. Afterwards: every sign-up that got its 303
//! signs in (no account lost), every session cookie handed out still reads as its user on
//! the surviving replica (no session lost), pages answer 200 again at once, and the only
//! failures are requests in flight around the kills (counted and printed).
//!
//! Needs PostgreSQL: `ACCOUNTS_TEST_POSTGRES_URL` (`scripts/with-postgres`), or an installed
//! `postgresql` the test starts a throwaway server of; skipped locally without either, a
//! failure under `CI=true`. Bounded: about 12 s of load, loopback only.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mf_tests::replicas::{Balancer, Process};
use mf_tests::{csrf_in, SECRET};
use reqwest::StatusCode;
use svc_accounts::storage::postgres::testing;
use svc_accounts::storage::{Database, Storage};

const WORKERS: usize = 6;
const LOAD: Duration = Duration::from_secs(12);
const KILL_AT: Duration = Duration::from_secs(4);
/// Failures later than this after the kills would not be "in flight on the killed process".
const GRACE: Duration = Duration::from_secs(2);
/// Cheap argon2id, and sign-up limits out of the way (every sign-up comes from 127.0.0.1):
/// the test is about state across processes, not hashing or limits.
const ACCOUNTS_ARGS: [&str; 8] = [
    "--argon2-memory-kib",
    "64",
    "--argon2-iterations",
    "1",
    "--sign-up-limit-per-client",
    "1000000",
    "--sign-up-limit-global",
    "1000000",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Page,
    SignUp,
    SignIn,
}

#[derive(Debug)]
struct Outcome {
    at: Duration,
    kind: Kind,
    error: Option<String>,
}

#[derive(Debug, Default)]
struct Log {
    outcomes: Vec<Outcome>,
    /// Emails whose sign-up got a 303, with the name.
    accounts: Vec<(String, String)>,
    /// Session cookies handed out (sign-ins), with the name they belong to.
    sessions: Vec<(String, String)>,
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        // A new connection per request: the balancer picks a backend per connection, so a
        // client is not pinned to a dead one by a kept-alive connection.
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client")
}

fn session_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("mf_session="))
        .and_then(|v| v.split(';').next())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// GET a page through the front: `Ok(html)` on 200.
async fn page(client: &reqwest::Client, front: &str, path: &str) -> Result<String, String> {
    let res = client
        .get(format!("{front}{path}"))
        .send()
        .await
        .map_err(|e| format!("GET {path}: {e}"))?;
    if res.status() != StatusCode::OK {
        return Err(format!("GET {path}: {}", res.status()));
    }
    res.text()
        .await
        .map_err(|e| format!("GET {path} body: {e}"))
}

/// Posts the account form's action through the shell: `Ok(cookie)` on a 303 with a session
/// (a sign-in), `Ok("")` on a 303 without one (a sign-up).
async fn post_form(
    client: &reqwest::Client,
    front: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> Result<String, String> {
    let html = page(client, front, "/accounts").await?;
    let token = csrf_in(&html).ok_or("the accounts page has no form (accounts unavailable)")?;
    let mut form = fields.to_vec();
    form.push(("csrf_token", &token));
    let res = client
        .post(format!("{front}/svc/accounts/actions/{action}"))
        .form(&form)
        .send()
        .await
        .map_err(|e| format!("POST {action}: {e}"))?;
    if res.status() != StatusCode::SEE_OTHER {
        return Err(format!("POST {action}: {}", res.status()));
    }
    match (action, session_cookie(&res)) {
        ("sign-up", None) => Ok(String::new()),
        ("sign-up", Some(_)) => Err("POST sign-up: signed in before confirming".to_owned()),
        (_, cookie) => cookie.ok_or_else(|| format!("POST {action}: 303 without a session")),
    }
}

/// Confirms `email`'s address in the shared database, as its mailed link would.
async fn confirm(storage: &Storage, email: &str) {
    let (storage, email) = (storage.clone(), email.to_owned());
    let found = tokio::task::spawn_blocking(move || storage.confirm_address(&email))
        .await
        .unwrap()
        .unwrap();
    assert!(found, "a 303'd sign-up has its account");
}

async fn worker(id: usize, front: String, storage: Storage, start: Instant, log: Arc<Mutex<Log>>) {
    let record = |kind: Kind, error: Option<String>| {
        log.lock().unwrap().outcomes.push(Outcome {
            at: start.elapsed(),
            kind,
            error,
        });
    };
    let mut i = 0;
    while start.elapsed() < LOAD {
        i += 1;
        let (name, email) = (
            format!("Worker {id} #{i}"),
            format!("w{id}-{i}@example.com"),
        );
        let client = browser();
        let signed_up = post_form(
            &client,
            &front,
            "sign-up",
            &[
                ("name", &name),
                ("email", &email),
                ("password", "correct horse battery"),
                ("plan", "pro"),
            ],
        )
        .await;
        match signed_up {
            Ok(_) => {
                record(Kind::SignUp, None);
                log.lock()
                    .unwrap()
                    .accounts
                    .push((email.clone(), name.clone()));
            }
            Err(e) => {
                record(Kind::SignUp, Some(e));
                continue;
            }
        }
        confirm(&storage, &email).await;
        for path in ["/dashboard", "/pricing"] {
            let answer = page(&client, &front, path).await;
            record(Kind::Page, answer.err());
        }
        let other = browser();
        let signed_in = post_form(
            &other,
            &front,
            "sign-in",
            &[("email", &email), ("password", "correct horse battery")],
        )
        .await;
        match signed_in {
            Ok(cookie) => {
                record(Kind::SignIn, None);
                log.lock().unwrap().sessions.push((cookie, name));
            }
            Err(e) => record(Kind::SignIn, Some(e)),
        }
    }
}

async fn count_accounts(storage: &Storage) -> i64 {
    let storage = storage.clone();
    tokio::task::spawn_blocking(move || storage.count_accounts())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shells_and_two_accounts_replicas_on_one_postgres_lose_nothing_to_kill_9() {
    let _heavy = mf_tests::heavy();
    let Some(admin) = testing::admin_url() else {
        shared_ui::testkit::missing(testing::NEEDS, testing::INSTALL);
        return;
    };
    let database = testing::create_database(&admin);
    let common = ["--context-secret", SECRET];

    let pricing = Process::start("svc-pricing", "svc-pricing", &common).await;
    let dashboard = Process::start("svc-dashboard", "svc-dashboard", &common).await;
    let mut accounts_args = vec!["--database", database.as_str()];
    accounts_args.extend(common);
    accounts_args.extend(ACCOUNTS_ARGS);
    let mut accounts_1 = Process::start("svc-accounts 1", "svc-accounts", &accounts_args).await;
    let accounts_2 = Process::start("svc-accounts 2", "svc-accounts", &accounts_args).await;
    let accounts_lb = Balancer::start(&[accounts_1.port, accounts_2.port]).await;
    let services = format!(
        "pricing={},dashboard={},accounts={}",
        pricing.url(),
        dashboard.url(),
        accounts_lb.url()
    );
    // Two shells on one machine: each its own admin port.
    let mut shell_args = vec!["--services", services.as_str(), "--admin-port", "0"];
    shell_args.extend(common);
    let mut shell_1 = Process::start("shell 1", "shell", &shell_args).await;
    let shell_2 = Process::start("shell 2", "shell", &shell_args).await;
    let front = Balancer::start(&[shell_1.port, shell_2.port]).await;

    let storage = {
        let db = Database::parse(&database).unwrap();
        tokio::task::spawn_blocking(move || Storage::open(&db))
            .await
            .unwrap()
            .unwrap()
    };
    let accounts_at_start = count_accounts(&storage).await;

    let log = Arc::new(Mutex::new(Log::default()));
    let start = Instant::now();
    let workers: Vec<_> = (0..WORKERS)
        .map(|id| {
            tokio::spawn(worker(
                id,
                front.url(),
                storage.clone(),
                start,
                Arc::clone(&log),
            ))
        })
        .collect();

    tokio::time::sleep(KILL_AT).await;
    let accounts_before_kill = count_accounts(&storage).await;
    let killed_at = start.elapsed();
    accounts_1.kill9();
    shell_1.kill9();
    let kills = 2;

    for w in workers {
        w.await.unwrap();
    }
    let log = Arc::try_unwrap(log).unwrap().into_inner().unwrap();
    let accounts_after = count_accounts(&storage).await;

    // No account lost: every 303'd sign-up signs in, through what is left.
    let mut lost_accounts = Vec::new();
    for (email, _) in &log.accounts {
        let fields = [
            ("email", email.as_str()),
            ("password", "correct horse battery"),
        ];
        if let Err(e) = post_form(&browser(), &front.url(), "sign-in", &fields).await {
            lost_accounts.push(format!("{email}: {e}"));
        }
    }
    // No session lost: every cookie handed out still reads as its user on the survivor.
    let survivor = reqwest::Client::new();
    let mut lost_sessions = Vec::new();
    for (cookie, name) in &log.sessions {
        let res = survivor
            .get(format!("{}/internal/session", accounts_2.url()))
            .header("cookie", format!("mf_session={cookie}"))
            .send()
            .await
            .unwrap();
        let user: serde_json::Value =
            serde_json::from_str(&res.text().await.unwrap_or_default()).unwrap_or_default();
        if user["name"] != name.as_str() {
            lost_sessions.push(format!("{name}: {user}"));
        }
    }
    // Pages answer at once after the kills.
    let mut pages_after = 0;
    for path in ["/", "/dashboard", "/accounts", "/pricing"].repeat(5) {
        page(&browser(), &front.url(), path)
            .await
            .unwrap_or_else(|e| panic!("a page failed after the kills: {e}"));
        pages_after += 1;
    }

    let count = |kind: Kind| log.outcomes.iter().filter(|o| o.kind == kind).count();
    let errors: Vec<&Outcome> = log.outcomes.iter().filter(|o| o.error.is_some()).collect();
    eprintln!(
        "replicas: {} requests in {:.1} s ({} sign-ups, {} sign-ins, {} page views; each \
         sign-up and sign-in also GETs /accounts for its form), {kills} kills at {:.1} s \
         (shell 1, svc-accounts 1), {} errors",
        log.outcomes.len(),
        LOAD.as_secs_f64(),
        count(Kind::SignUp),
        count(Kind::SignIn),
        count(Kind::Page),
        killed_at.as_secs_f64(),
        errors.len()
    );
    for e in errors.iter().take(20) {
        eprintln!(
            "  error at {:.2} s ({:?}): {}",
            e.at.as_secs_f64(),
            e.kind,
            e.error.as_deref().unwrap_or_default()
        );
    }
    eprintln!(
        "replicas: accounts at start {accounts_at_start}, before the kills \
         {accounts_before_kill}, after {accounts_after}; {} sign-ups answered 303, all \
         {} sign in afterwards: {}; {} sessions handed out, still valid: {}; {pages_after} \
         pages after the kills, all 200; front balancer: {} connections, {} refused \
         (dead shell skipped); accounts balancer: {} connections, {} refused",
        log.accounts.len(),
        log.accounts.len(),
        lost_accounts.is_empty(),
        log.sessions.len(),
        log.sessions.len() - lost_sessions.len(),
        front.connections.load(std::sync::atomic::Ordering::Relaxed),
        front.skipped.load(std::sync::atomic::Ordering::Relaxed),
        accounts_lb
            .connections
            .load(std::sync::atomic::Ordering::Relaxed),
        accounts_lb
            .skipped
            .load(std::sync::atomic::Ordering::Relaxed),
    );

    assert!(
        log.accounts.len() >= 20,
        "too little load to show anything: {} sign-ups",
        log.accounts.len()
    );
    assert!(
        log.outcomes
            .iter()
            .any(|o| o.at > killed_at + GRACE && o.error.is_none()),
        "the load went on after the kills"
    );
    assert!(lost_accounts.is_empty(), "accounts lost: {lost_accounts:?}");
    assert!(lost_sessions.is_empty(), "sessions lost: {lost_sessions:?}");
    // A sign-up in flight at the kill may have been committed without its 303 reaching the
    // client; none may be missing.
    assert!(
        accounts_after - accounts_at_start >= log.accounts.len() as i64,
        "{accounts_after} accounts for {} sign-ups",
        log.accounts.len()
    );
    let outside: Vec<_> = errors
        .iter()
        .filter(|e| e.at < killed_at || e.at > killed_at + GRACE)
        .collect();
    assert!(
        outside.is_empty(),
        "only requests in flight at the kills may fail: {outside:?}"
    );
    assert!(
        errors.len() <= 2 * WORKERS,
        "more failures than requests in flight: {}",
        errors.len()
    );

    drop((front, shell_1, shell_2, accounts_lb, accounts_1, accounts_2));
    drop(storage);
    testing::drop_database(&admin, &database);
}
