//! The `shell` binary as users run it: bad settings exit 2 naming the entry, the example
//! configuration is accepted, `check` exits non-zero on a server that is not there,
//! `healthcheck` probes the address the shell binds.

use std::process::Command;

fn shell() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shell"));
    for var in [
        "SHELL_SERVICES",
        "SHELL_CONFIG",
        "SHELL_FRAGMENT_TIMEOUT_MS",
        "SHELL_PAGE_BUDGET_MS",
        "PORT",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

#[test]
fn a_bad_registry_entry_stops_the_start_with_exit_2_and_names_it() {
    for (services, needle) in [
        ("pricing=ftp://127.0.0.1:1", "ftp://127.0.0.1:1"),
        ("Bad_Name=http://127.0.0.1:1", "Bad_Name"),
        (
            "pricing=http://127.0.0.1:1,pricing=http://127.0.0.1:2",
            "`pricing` is listed twice",
        ),
        ("pricing=http://127.0.0.1:1", "unknown service `dashboard`"),
    ] {
        let out = shell().args(["--services", services]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{services}: {stderr}");
        assert!(stderr.contains(needle), "{services}: {stderr}");
    }
}

#[test]
fn a_bad_config_file_names_the_file_and_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shell.toml");
    std::fs::write(
        &path,
        "[[services]]\nname = \"pricing\"\nurl = \"http://127.0.0.1:1\"\n\n[[sections]]\nid = \"x\"\ntitle = \"X\"\npath = \"/x\"\nslots = [{ service = \"ghost\", fragment = \"a\" }]\n",
    )
    .unwrap();
    let out = shell()
        .args(["--config", path.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("SHELL_CONFIG"), "{stderr}");
    assert!(stderr.contains("unknown service `ghost`"), "{stderr}");
}

#[test]
fn the_example_configuration_is_valid() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/shell.example.toml");
    let settings =
        <shell::settings::Settings as clap::Parser>::try_parse_from(["shell", "--config", example])
            .unwrap();
    let config = settings.resolve().unwrap();
    assert_eq!(config.services.len(), 3);
    assert_eq!(config.sections.len(), 3);
    assert_eq!(
        config.public_origin.as_deref(),
        Some("http://localhost:8000")
    );
}

#[test]
fn check_exits_non_zero_and_says_why_when_the_server_is_not_there() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = shell()
        .args(["check", &format!("http://127.0.0.1:{port}")])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("✘ GET /manifest.json parses and validates: no answer"),
        "{stdout}"
    );
    assert!(stdout.contains("checks failed."), "{stdout}");
}

#[test]
fn the_development_secret_beyond_loopback_stops_the_start_with_exit_2() {
    for args in [
        vec!["--bind", "0.0.0.0", "--port", "0"],
        vec![
            "--bind",
            "0.0.0.0",
            "--port",
            "0",
            "--context-secret",
            "dev-only-context-secret-change-me",
        ],
    ] {
        let out = shell()
            .env_remove("CONTEXT_SECRET")
            .env_remove("CONTEXT_SECRET_FILE")
            .env_remove("MOSAIC_DEV")
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("--context-secret / CONTEXT_SECRET"),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("--dev"), "says how to allow it: {stderr}");
    }
}

/// Kills the child when dropped, so a failing test leaves no server behind.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The three services, where none listens (`/healthz` needs none of them).
const NOWHERE: &str =
    "pricing=http://127.0.0.1:9,dashboard=http://127.0.0.1:9,accounts=http://127.0.0.1:9";

#[test]
fn healthcheck_probes_the_address_the_shell_binds() {
    // All of 127/8 is loopback on Linux; a shell bound to 127.0.0.2 alone is not on 127.0.0.1.
    let Ok(probe) = std::net::TcpListener::bind("127.0.0.2:0") else {
        return;
    };
    let port = probe.local_addr().unwrap().port().to_string();
    drop(probe);
    let _shell = Running(
        shell()
            .env("BIND", "127.0.0.2")
            .args(["--port", &port, "--admin-port", "0", "--services", NOWHERE])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let healthcheck = |bind: &str| {
        shell()
            .env("BIND", bind)
            .args(["--port", &port, "healthcheck"])
            .output()
            .unwrap()
    };
    let started = std::time::Instant::now();
    while !healthcheck("127.0.0.2").status.success() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "the healthcheck never saw the shell on its BIND address"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // The old probe of 127.0.0.1 finds nothing there, and says where it knocked.
    let elsewhere = healthcheck("127.0.0.1");
    assert_eq!(elsewhere.status.code(), Some(1));
    let said = String::from_utf8_lossy(&elsewhere.stderr);
    assert!(said.contains(&format!("127.0.0.1:{port}")), "{said}");
}
