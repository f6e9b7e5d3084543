use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use reqwest::StatusCode;
use shared_ui::testkit::{self, free_port};
use svc_accounts::settings::Settings;
use svc_accounts::startup::Application;

use crate::helpers::{
    backend, browser, location, post_with_csrf_at, session_at, spawn_app, test_args, Backend,
    TestDb, PASSWORD,
};

const BINARY: &str = env!("CARGO_BIN_EXE_svc-accounts");

/// Starts the real binary on `db` (a path or URL) and waits until it answers /healthz.
async fn start_binary(db: &str) -> (Child, String) {
    for _ in 0..5 {
        let port = free_port();
        let mut args = test_args(db);
        args.remove(0);
        let i = args.iter().position(|a| a == "--port").unwrap();
        args[i + 1] = port.to_string();
        let mut child = Command::new(BINARY)
            .args(&args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let address = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if child.try_wait().unwrap().is_some() {
                break; // Port taken between free_port and bind: try another.
            }
            if let Ok(res) = reqwest::get(format!("{address}/healthz")).await {
                if res.status() == StatusCode::OK {
                    return (child, address);
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("svc-accounts did not start");
}

#[tokio::test]
async fn an_account_survives_kill_9_right_after_the_sign_up_answer() {
    let db = TestDb::new();
    let (mut child, address) = start_binary(&db.value).await;
    let port = address.rsplit(':').next().unwrap();
    let health = Command::new(BINARY)
        .args(["--port", port, "healthcheck"])
        .output()
        .unwrap();
    assert_eq!(
        health.status.code(),
        Some(0),
        "the healthcheck subcommand sees the server"
    );
    let client = browser();
    let sign_up = [
        ("name", "Durable Ada"),
        ("email", "durable@example.com"),
        ("password", PASSWORD),
        ("plan", "team"),
    ];
    let res = post_with_csrf_at(&client, &address, "/actions/sign-up", &sign_up).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // SIGKILL at once: no graceful shutdown, no checkpoint.
    child.kill().unwrap();
    child.wait().unwrap();

    let (mut child, address) = start_binary(&db.value).await;
    // The address confirmed, as its mailed link would, so that the account can sign in.
    db.query(
        "UPDATE accounts SET email_confirmed_at = 1 RETURNING email",
        "UPDATE accounts SET email_confirmed_at = 1 RETURNING email",
    );
    let other = browser();
    let sign_in = [("email", "durable@example.com"), ("password", PASSWORD)];
    let res = post_with_csrf_at(&other, &address, "/actions/sign-in", &sign_in).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/");
    let user = session_at(&other, &address).await;
    assert_eq!(
        (user["name"].as_str(), user["plan"].as_str()),
        (Some("Durable Ada"), Some("team"))
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn a_database_path_that_cannot_be_opened_fails_the_build_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    // A directory is not a database file.
    let settings = Settings::try_parse_from(test_args(&dir.path().display().to_string())).unwrap();
    let err = Application::build(settings).await.unwrap_err().to_string();
    assert!(err.contains(&dir.path().display().to_string()), "{err}");
    assert!(err.contains("cannot open the database"), "{err}");
}

#[test]
fn the_binary_exits_2_naming_an_unopenable_database_path() {
    let path = "/proc/svc-accounts-test/accounts.db";
    let mut args = test_args(path);
    args.remove(0);
    let out = Command::new(BINARY)
        .args(&args)
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(path), "{stderr}");
}

#[tokio::test]
async fn the_command_line_answers_help_and_healthcheck_and_refuses_a_bad_setting() {
    let app = spawn_app().await;
    testkit::assert_command_line(BINARY, &["--database", "ACCOUNTS_DATABASE"], app.port).await;
}

#[test]
fn the_binary_refuses_a_bad_setting_naming_it() {
    let out = Command::new(BINARY)
        .args(["--port", "0", "--plans", "Pro Plan"])
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--plans / ACCOUNTS_PLANS"), "{stderr}");
}

/// Runs the binary with `--database value` and returns its exit code and stderr.
fn start_with_database(value: &str) -> (Option<i32>, String) {
    let mut args = test_args(value);
    args.remove(0);
    let out = Command::new(BINARY)
        .args(&args)
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_binary_refuses_other_database_schemes_and_malformed_urls_naming_the_setting() {
    for value in [
        "mysql://root:hunter2@127.0.0.1/accounts",
        "redis://127.0.0.1",
        "postgres://accounts:hunter2@127.0.0.1:notaport/accounts",
    ] {
        let (code, stderr) = start_with_database(value);
        assert_eq!(code, Some(2), "{value}: {stderr}");
        assert!(
            stderr.contains("--database / ACCOUNTS_DATABASE"),
            "{stderr}"
        );
        assert!(
            !stderr.contains("hunter2"),
            "the password is never shown: {stderr}"
        );
    }
}

#[test]
fn an_unreachable_postgres_stops_the_start_naming_the_url_without_its_password() {
    // Nothing listens on a port just freed.
    let port = free_port();
    let url = format!("postgres://accounts:hunter2@127.0.0.1:{port}/accounts");
    let (code, stderr) = start_with_database(&url);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "postgres://accounts:***@127.0.0.1:{port}/accounts"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

/// On PostgreSQL: two processes on one database, as two replicas behind a balancer. An
/// account made on one signs in on the other, and a sign-out on one ends the session on
/// both.
#[tokio::test]
async fn two_replicas_share_accounts_and_sessions() {
    if backend() != Backend::Postgres {
        return; // Replicas need a shared database; a SQLite file serves one machine.
    }
    let db = TestDb::new();
    let (mut a, address_a) = start_binary(&db.value).await;
    let (mut b, address_b) = start_binary(&db.value).await;
    let client = browser();
    let sign_up = [
        ("name", "Replica Ada"),
        ("email", "replica@example.com"),
        ("password", PASSWORD),
        ("plan", "pro"),
    ];
    let res = post_with_csrf_at(&client, &address_a, "/actions/sign-up", &sign_up).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // The address confirmed, as its mailed link would; then a sign-in on A.
    db.query(
        "UPDATE accounts SET email_confirmed_at = 1 RETURNING email",
        "UPDATE accounts SET email_confirmed_at = 1 RETURNING email",
    );
    let sign_in = [("email", "replica@example.com"), ("password", PASSWORD)];
    let res = post_with_csrf_at(&client, &address_a, "/actions/sign-in", &sign_in).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // The session made on A is known to B.
    let user = session_at(&client, &address_b).await;
    assert_eq!(user["name"], "Replica Ada");
    // Another browser signs in on B with the account made on A.
    let other = browser();
    let res = post_with_csrf_at(&other, &address_b, "/actions/sign-in", &sign_in).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // Signing out on B ends the first browser's session on A too.
    let res = post_with_csrf_at(&client, &address_b, "/actions/sign-out", &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = client
        .get(format!("{address_a}/internal/session"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    a.kill().unwrap();
    b.kill().unwrap();
    a.wait().unwrap();
    b.wait().unwrap();
}

/// Posts the sign-in form to `address` with a fresh token from there.
async fn sign_in_at(client: &reqwest::Client, address: &str, password: &str) -> StatusCode {
    let sign_in = [("email", "counted@example.com"), ("password", password)];
    post_with_csrf_at(client, address, "/actions/sign-in", &sign_in)
        .await
        .status()
}

/// On PostgreSQL the sign-in counters are shared: failures on replica A count on replica B.
#[tokio::test]
async fn failed_sign_ins_on_one_replica_count_on_the_other() {
    if backend() != Backend::Postgres {
        return; // With SQLite there is one process, and its counters are in memory.
    }
    let db = TestDb::new();
    let (mut a, address_a) = start_binary(&db.value).await;
    let (mut b, address_b) = start_binary(&db.value).await;
    let sign_up = [
        ("name", "Counted"),
        ("email", "counted@example.com"),
        ("password", PASSWORD),
        ("plan", "pro"),
    ];
    let res = post_with_csrf_at(&browser(), &address_a, "/actions/sign-up", &sign_up).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    // Five wrong passwords (the per-email limit), three on A and two on B.
    let attacker = browser();
    for address in [&address_a, &address_a, &address_a, &address_b, &address_b] {
        assert_eq!(
            sign_in_at(&attacker, address, "wrong password!").await,
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
    // Neither replica lets even the right password through now.
    for address in [&address_b, &address_a] {
        assert_eq!(
            sign_in_at(&browser(), address, PASSWORD).await,
            StatusCode::TOO_MANY_REQUESTS,
            "{address}"
        );
    }
    a.kill().unwrap();
    b.kill().unwrap();
    a.wait().unwrap();
    b.wait().unwrap();
}

#[test]
fn help_prints_no_secret_from_the_environment() {
    let out = Command::new(BINARY)
        .arg("--help")
        .env(
            "ACCOUNTS_DATABASE",
            "postgres://mosaic:hunter2-db@db:5432/accounts",
        )
        .env("CONTEXT_SECRET", "context-secret-hunter2-0123456789")
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("ACCOUNTS_DATABASE"), "{help}");
    assert!(!help.contains("hunter2"), "{help}");
}

#[test]
fn without_an_smtp_url_the_development_mailer_says_so_at_start() {
    let db = TestDb::new();
    let log_dir = tempfile::tempdir().unwrap();
    let log_path = log_dir.path().join("out.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut args = test_args(&db.value);
    args.remove(0);
    let mut child = Command::new(BINARY)
        .args(&args)
        .env("RUST_LOG", "info")
        .env_remove("ACCOUNTS_SMTP_URL")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut text = String::new();
    while started.elapsed() < Duration::from_secs(30) && !text.contains("no ACCOUNTS_SMTP_URL") {
        std::thread::sleep(Duration::from_millis(50));
        text = std::fs::read_to_string(&log_path).unwrap_or_default();
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        text.contains("no ACCOUNTS_SMTP_URL: confirmation and reset links are written to the log"),
        "{text}"
    );
}
