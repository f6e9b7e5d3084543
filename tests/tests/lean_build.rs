//! Lean builds (issue 25): OTLP export is the `otlp` cargo feature, off in a default build
//! and chosen, TLS included, by shared-ui itself.
//!
//! - A default build of svc-pricing compiles no OTLP stack: `cargo tree` (offline, the
//!   lock's crates) names no `tonic` and no `opentelemetry` crate.
//! - svc-pricing built ALONE with the feature (`cargo build -p svc-pricing --features otlp`
//!   into a target folder of its own, `<target>/otlp-alone`, so nothing the shell or the
//!   tests enable can unify into it) exports its request span to an https OTLP/HTTP
//!   receiver whose certificate comes from a certificate authority made for the test,
//!   trusted through `OTEL_EXPORTER_OTLP_CERTIFICATE` only; the same binary not told to
//!   trust it exports nothing and logs the export error (the certificate is checked). The
//!   first build compiles svc-pricing's dependencies (about 230 crates, unoptimised and
//!   without line tables: a third of the time at `opt-level` 1) once; later runs reuse them.
//!
//! Both read the checkout, so they wait for the scaffold test, which adds a crate to the
//! workspace for a while (`mf_tests::checkout`): the tree for its whole run, the build only
//! while it copies the workspace, then builds the copy. They are not heavy: the build runs
//! at the lowest CPU priority (`nice -n 19`) beside the other tests, using what the
//! browser and process tests leave idle, instead of stopping them for minutes on a cold
//! build folder.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mf_tests::cargo_env::set_modified;
use mf_tests::replicas::Process;
use mf_tests::{get_with, OtlpReceiver, SECRET};

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the workspace")
        .to_path_buf()
}

/// cargo's target folder of this test binary (`<target>/debug/deps/lean_build-…`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.ancestors()
        .nth(3)
        .expect("the test binary lives in <target>/<profile>/deps")
        .to_path_buf()
}

/// `cargo ARGS` in the workspace root, as from a terminal (at `nice -n 19`): its stdout, or a panic with its
/// output.
fn cargo(args: &[&str]) -> String {
    cargo_in(&root(), args)
}

/// `cargo ARGS` in the workspace at `workspace`, as [`cargo`].
fn cargo_in(workspace: &Path, args: &[&str]) -> String {
    // At the lowest CPU priority: the other tests, timed ones among them, come first.
    let mut command = Command::new("nice");
    command
        .args(["-n", "19"])
        .arg(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    mf_tests::cargo_env::as_from_a_terminal(&mut command);
    let out = command
        .current_dir(workspace)
        .args(args)
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The crates (`name vX.Y.Z`) of svc-pricing's normal dependency tree with `features`.
fn crates_of_svc_pricing(features: &[&str]) -> Vec<String> {
    let mut args = vec!["tree", "-p", "svc-pricing", "-e", "normal", "--offline"];
    args.extend(["--prefix", "none", "--no-dedupe", "--locked"]);
    args.extend(features);
    let mut crates: Vec<String> = cargo(&args)
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            Some(format!("{} {}", words.next()?, words.next()?))
        })
        .collect();
    crates.sort();
    crates.dedup();
    crates
}

fn is_otlp_stack(krate: &str) -> bool {
    krate.starts_with("tonic") || krate.starts_with("opentelemetry")
}

#[test]
fn a_default_build_of_svc_pricing_compiles_no_otlp_stack() {
    // Not while the scaffold test has a crate of its own in the workspace.
    let _checkout = mf_tests::checkout();
    let default = crates_of_svc_pricing(&[]);
    let stack: Vec<&String> = default.iter().filter(|c| is_otlp_stack(c)).collect();
    assert!(stack.is_empty(), "in a default build: {stack:?}");
    // The same tree with the feature has them: the filter above can fail.
    let with_otlp = crates_of_svc_pricing(&["--features", "otlp"]);
    assert!(
        with_otlp
            .iter()
            .any(|c| c.starts_with("opentelemetry-otlp ")),
        "{with_otlp:?}"
    );
    eprintln!(
        "svc-pricing's normal dependencies: {} crates by default, {} with --features otlp",
        default.len(),
        with_otlp.len()
    );
}

/// Copies the workspace (without build folders, `node_modules` and `.git`: 6 MB) to `to`,
/// each file with its modification time.
fn copy_workspace(from: &Path, to: &Path, skip: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        if path == skip || ["target", "node_modules", ".git"].contains(&name.to_str().unwrap_or(""))
        {
            continue;
        }
        if entry.file_type()?.is_dir() {
            copy_workspace(&path, &to.join(&name), skip)?;
        } else if entry.file_type()?.is_file() {
            std::fs::copy(&path, to.join(&name))?;
            set_modified(&to.join(&name), entry.metadata()?.modified()?)?;
        }
    }
    Ok(())
}

/// Builds svc-pricing alone with the feature into `<target>/otlp-alone`; its path. It builds
/// a copy of the workspace (`<target>/otlp-alone/workspace`), taken while no scaffold test
/// changes the checkout, so that the checkout is held for the copy only, not for the whole
/// build: on a fresh machine the build takes minutes at `nice -n 19`, and the scaffold
/// test, heavy, waited for it with every other heavy test behind it (180 s in a fresh run).
fn build_svc_pricing_alone_with_otlp() -> PathBuf {
    let dir = target_dir().join("otlp-alone");
    let copy = dir.join("workspace");
    {
        // Not while the scaffold test has a crate of its own in the workspace.
        let _checkout = mf_tests::checkout();
        let _ = std::fs::remove_dir_all(&copy);
        copy_workspace(&root(), &copy, &target_dir()).expect("the workspace copied");
    }
    let started = Instant::now();
    cargo_in(
        &copy,
        &[
            "build",
            "-p",
            "svc-pricing",
            "--features",
            "otlp",
            "--locked",
            "--target-dir",
            dir.to_str().expect("a UTF-8 target folder"),
            // Its own folder shares nothing with the test build, so it is a cold build of about
            // 230 crates on a new machine: unoptimised and without line tables it takes a third
            // of the time (measured 2026-12-05 alone on 2 cores: 67 s against 192 s, 103
            // CPU-seconds against 341), and the test only needs the binary to export a span.
            "--config",
            "profile.dev.package.\"*\".opt-level=0",
            "--config",
            "profile.dev.debug=false",
        ],
    );
    eprintln!(
        "cargo build -p svc-pricing --features otlp (alone, {}): {:.1} s",
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    dir.join("debug").join("svc-pricing")
}

/// A valid incoming trace of its own for each request.
fn traceparent(trace_id: &str) -> String {
    format!("00-{trace_id}-00f067aa0ba902b7-01")
}

/// svc-pricing (the binary at `path`) exporting to `receiver` with `env` more; one
/// fragment request in trace `trace_id`, then waits (at most 10 s) until `done` says so of
/// its log. Its log.
async fn one_request(
    path: &Path,
    receiver: &OtlpReceiver,
    env: &[(&str, &str)],
    trace_id: &str,
    done: impl Fn(&str) -> bool,
) -> String {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("pricing.log");
    let mut all = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url.as_str()),
        // Batches every 100 ms rather than every 5 s, so the test waits less.
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ];
    all.extend_from_slice(env);
    let path = path.to_str().expect("a UTF-8 path");
    let common = ["--context-secret", SECRET];
    let pricing = Process::start_logged_with_env("pricing", path, &common, &log, &all).await;
    let res = get_with(
        &reqwest::Client::new(),
        format!("{}/fragments/plans", pricing.url()),
        &[("traceparent", &traceparent(trace_id))],
    )
    .await;
    assert_eq!(res.status(), 200);
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if done(&text) || started.elapsed() > Duration::from_secs(10) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether `receiver` has svc-pricing's request span of trace `trace_id`.
fn received(receiver: &OtlpReceiver, trace_id: &str) -> bool {
    receiver
        .spans()
        .iter()
        .any(|s| s.service == "svc-pricing" && s.name == "request" && s.trace_id == trace_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svc_pricing_built_alone_exports_to_an_https_collector() {
    let binary = tokio::task::spawn_blocking(build_svc_pricing_alone_with_otlp)
        .await
        .unwrap();
    let receiver = OtlpReceiver::start_https().await;
    assert!(receiver.url.starts_with("https://127.0.0.1:"));
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, receiver.ca_pem().expect("an https receiver")).unwrap();

    // Not told to trust the receiver's authority: the handshake fails, the export error is
    // in the log and nothing arrives.
    let untrusted = "0af7651916cd43dd8448eb211c80319c";
    let log = one_request(&binary, &receiver, &[], untrusted, |log| {
        log.contains("ExportError")
    })
    .await;
    assert!(log.contains("BatchSpanProcessor.ExportError"), "{log}");
    assert!(
        !received(&receiver, untrusted),
        "a span came through a certificate no root trusts: {:#?}",
        receiver.spans()
    );

    // Trusting it: the span arrives as a protobuf ExportTraceServiceRequest, over https.
    let trusted = "4bf92f3577b34da6a3ce929d0e0e4736";
    let ca = ca.to_str().expect("a UTF-8 path");
    let env = [("OTEL_EXPORTER_OTLP_CERTIFICATE", ca)];
    let log = one_request(&binary, &receiver, &env, trusted, |_| {
        received(&receiver, trusted)
    })
    .await;
    assert!(
        received(&receiver, trusted),
        "no svc-pricing span in trace {trusted}; received: {:#?}\nsvc-pricing's log:\n{log}",
        receiver.spans()
    );
    assert!(!log.contains("ExportError"), "{log}");
    receiver.stop().await;
}
