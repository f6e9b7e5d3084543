//! JSON logs (`LOG_FORMAT=json`, docs/OPERATIONS.md "Logs"): the four binaries run as
//! processes with it; after one page view with a known W3C trace, every line each of them
//! wrote parses as one JSON object with a level, a target and a message, and every line
//! written while serving a request names that request's id and trace id, the page view's
//! trace id in every binary. A bad `LOG_FORMAT` stops a binary at start with exit 2.

use std::path::Path;
use std::time::{Duration, Instant};

use mf_tests::replicas::{binary, Process};
use mf_tests::{get_with, FAST_HASH_ARGS, SECRET};
use serde_json::Value;

/// The page view's trace (the W3C spec's example trace id, a parent of our own).
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const JSON: [(&str, &str); 1] = [("LOG_FORMAT", "json")];

/// The log's lines as JSON objects; panics naming the first line that is not one.
fn json_lines(log: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| match serde_json::from_str::<Value>(line) {
            Ok(v) if v.is_object() => v,
            _ => panic!("{}: not a JSON object: {line}", log.display()),
        })
        .collect()
}

/// The `request` span of a line, if it was written while a request was served.
fn request_span(line: &Value) -> Option<&Value> {
    line["spans"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == "request")
}

/// Waits (10 s at most) until some line of `log` was written in the page view's trace.
async fn until_traced(log: &Path) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let lines = json_lines(log);
        let traced = lines
            .iter()
            .any(|l| request_span(l).is_some_and(|s| s["trace_id"] == TRACE_ID));
        if traced || started.elapsed() > Duration::from_secs(10) {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_log_format_json_every_line_is_json_and_carries_its_requests_trace_id() {
    let dir = tempfile::tempdir().unwrap();
    let log = |name: &str| dir.path().join(format!("{name}.log"));
    let common = ["--context-secret", SECRET];
    let start = |name: &'static str, bin: &'static str, args: Vec<String>| {
        let path = log(name);
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            Process::start_logged_with_env(name, bin, &args, &path, &JSON).await
        }
    };
    let owned = |args: &[&str]| args.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let pricing = start("pricing", "svc-pricing", owned(&common)).await;
    let dashboard = start("dashboard", "svc-dashboard", owned(&common)).await;
    let db = dir.path().join("accounts.db").display().to_string();
    let mut accounts_args = owned(&common);
    accounts_args.extend(owned(&["--database", &db]));
    accounts_args.extend(owned(&FAST_HASH_ARGS));
    let accounts = start("accounts", "svc-accounts", accounts_args).await;
    let services = format!(
        "pricing={},dashboard={},accounts={}",
        pricing.url(),
        dashboard.url(),
        accounts.url()
    );
    let mut shell_args = owned(&common);
    shell_args.extend(owned(&["--services", &services]));
    let shell = start("shell", "shell", shell_args).await;

    // One page view in a known trace, with a session cookie so that accounts is asked too.
    let trace = format!("00-{TRACE_ID}-00f067aa0ba902b7-01");
    let headers = [
        ("traceparent", trace.as_str()),
        ("cookie", "mf_session=not-a-session"),
    ];
    let res = get_with(&mf_tests::client(), shell.url() + "/dashboard", &headers).await;
    assert_eq!(res.status(), 200);
    let _page = res.text().await.unwrap();

    for name in ["shell", "pricing", "dashboard", "accounts"] {
        let lines = until_traced(&log(name)).await;
        assert!(lines.len() > 3, "{name}: too few lines to say anything");
        for line in &lines {
            for key in ["timestamp", "level", "target", "message"] {
                assert!(line[key].is_string(), "{name}: no {key}: {line}");
            }
            if let Some(span) = request_span(line) {
                let (id, trace) = (&span["request_id"], &span["trace_id"]);
                // A request id is any well-formed one (the shell's asset warm-up sends
                // `asset-warming`); a trace id is always 32 hex digits.
                let hex32 = |v: &Value| {
                    v.as_str()
                        .is_some_and(|s| s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()))
                };
                let id_ok = id.as_str().is_some_and(|s| (1..=128).contains(&s.len()));
                assert!(id_ok && hex32(trace), "{name}: {line}");
            }
        }
        let traced = lines
            .iter()
            .filter(|l| request_span(l).is_some_and(|s| s["trace_id"] == TRACE_ID))
            .count();
        assert!(traced > 0, "{name}: no line in the page view's trace");
    }
}

#[test]
fn a_bad_log_format_stops_every_binary_at_start_with_exit_2() {
    for name in ["shell", "svc-pricing", "svc-dashboard", "svc-accounts"] {
        let out = std::process::Command::new(binary(name))
            .env("LOG_FORMAT", "yaml")
            .args(["--port", "0", "--context-secret", SECRET])
            .output()
            .expect("the binary runs");
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {said}");
        assert!(
            said.contains("LOG_FORMAT") && said.contains("yaml"),
            "{name}: {said}"
        );
    }
}
