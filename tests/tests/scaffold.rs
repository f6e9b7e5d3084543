//! `launcher new-team NAME` in this worktree, undone afterwards (every file it changes is put
//! back and the crate removed, even when the test fails):
//!
//! - bad and existing names are refused with a message, and nothing changes;
//! - the new crate passes its contract test (its test binaries, built with the workspace);
//! - the launcher's file lists it, and the shell with the configuration the launcher gives it
//!   shows its fragment on its page (the team's binary and the shell as processes, on free
//!   ports), over HTTP and in Chromium, reached through the site's navigation.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use launcher::site::{Site, Start};
use mf_tests::browser::Browser;
use mf_tests::cargo_env::set_modified;

const NAME: &str = "zz-scaffold";
const PACKAGE: &str = "svc-zz-scaffold";
/// The files `new-team` changes (it creates `shell/site.toml` and the crate).
const CHANGED: [&str; 8] = [
    "Cargo.toml",
    "Cargo.lock",
    "launcher.toml",
    "Dockerfile",
    "docker/Dockerfile.offline",
    ".dockerignore",
    "scripts/build-images",
    "docker-compose.yml",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

/// Puts the worktree back as it was on drop.
struct Undo {
    saved: Vec<Saved>,
    created: Vec<PathBuf>,
}

/// A changed file's path, bytes and modification time before the test.
struct Saved {
    path: PathBuf,
    bytes: Vec<u8>,
    modified: std::time::SystemTime,
}

impl Undo {
    fn new() -> Undo {
        let root = root();
        let created = vec![root.join(PACKAGE), root.join("shell/site.toml")];
        for path in &created {
            assert!(
                !path.exists(),
                "{} exists: a previous run was interrupted; remove it and restore the files",
                path.display()
            );
        }
        let saved = CHANGED
            .iter()
            .map(|f| {
                let path = root.join(f);
                let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
                let bytes = std::fs::read(&path).unwrap();
                Saved {
                    path,
                    bytes,
                    modified,
                }
            })
            .collect();
        Undo { saved, created }
    }

    /// Puts the workspace's Cargo.toml's modification time back (its new member stays):
    /// every crate built through clippy-driver (scripts/test's linted build) depends on
    /// that file by its time, and their code does not depend on the list of members, so
    /// the next cargo run compiles the new crate alone instead of the whole workspace.
    fn keep_the_workspace_manifests_time(&self) {
        let manifest = root().join("Cargo.toml");
        let saved = self.saved.iter().find(|s| s.path == manifest).unwrap();
        set_modified(&manifest, saved.modified).unwrap();
    }

    fn unchanged(&self) -> bool {
        self.saved
            .iter()
            .all(|saved| std::fs::read(&saved.path).unwrap() == saved.bytes)
            && self.created.iter().all(|p| !p.exists())
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        // Each file's modification time too: cargo compares the workspace's Cargo.toml by
        // its time, and a crate built through clippy-driver (scripts/test's linted build)
        // depends on it, so a newer time would rebuild every crate of the workspace in the
        // next cargo run (the container stage's tests).
        for saved in &self.saved {
            let restored = std::fs::write(&saved.path, &saved.bytes)
                .and_then(|()| set_modified(&saved.path, saved.modified));
            if let Err(e) = restored {
                eprintln!("cannot restore {}: {e}", saved.path.display());
            }
        }
        for path in &self.created {
            let _ = std::fs::remove_dir_all(path);
            let _ = std::fs::remove_file(path);
        }
    }
}

fn new_team(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(mf_tests::replicas::binary("launcher"))
        .arg("new-team")
        .args(args)
        .output()
        .expect("the launcher runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn cargo(args: &[&str]) -> String {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    // Without the variables nextest set for this test: ring's build script reads one, and
    // its crates would rebuild in the shared build folder, here and again after the test.
    let out = mf_tests::cargo_env::as_from_a_terminal(&mut command)
        .current_dir(root())
        .args(args)
        .output()
        .expect("cargo runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "cargo {args:?} failed:\n{text}");
    text
}

/// The new crate's test binaries built by `cargo test --workspace --no-run` and run as
/// `cargo test` runs them (from the crate's folder); their output. Not `cargo test -p`,
/// what the launcher tells the team: that resolves features for the one package, so tokio,
/// reqwest, rustls, serde_json and every crate above them get other feature sets and are
/// compiled again (most of the 159 s this test took in a fresh CI run, while it held up
/// every other heavy test); with the whole workspace selected the new crate alone is.
fn the_new_crates_tests() -> String {
    let built = cargo(&["test", "--workspace", "--no-run", "--message-format=json"]);
    let mut text = String::new();
    let mut binaries = 0;
    for line in built.lines().filter(|l| l.starts_with('{')) {
        let message: serde_json::Value = serde_json::from_str(line).expect("cargo's JSON");
        let ours = message["package_id"]
            .as_str()
            .is_some_and(|id| id.contains(PACKAGE));
        let test = message["profile"]["test"].as_bool() == Some(true);
        let Some(exe) = message["executable"].as_str().filter(|_| ours && test) else {
            continue;
        };
        let run = Command::new(exe)
            .current_dir(root().join(PACKAGE))
            .output()
            .expect("the test binary runs");
        text.push_str(&String::from_utf8_lossy(&run.stdout));
        text.push_str(&String::from_utf8_lossy(&run.stderr));
        assert!(run.status.success(), "{exe} failed:\n{text}");
        binaries += 1;
    }
    assert!(
        binaries > 0,
        "no test binary of {PACKAGE} was built:\n{built}"
    );
    text
}

/// A child killed by its PID on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(binary: &Path, envs: &[(&str, String)]) -> Running {
    let mut cmd = Command::new(binary);
    for var in [
        "CONTEXT_SECRET",
        "CONTEXT_SECRET_FILE",
        "SHELL_SERVICES",
        "BIND",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(envs.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    Running(
        cmd.spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", binary.display())),
    )
}

/// GETs `url` until its body contains `text` (30 s at most); the last body otherwise.
fn wait_for(url: &str, text: &str) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(body) = get(url) {
            if body.contains(text) {
                return Ok(body);
            }
            last = body;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(last)
}

/// A plain HTTP/1.0 GET (no client crate needed here).
fn get(url: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = std::net::TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(stream, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n")?;
    let mut body = String::new();
    stream.read_to_string(&mut body)?;
    Ok(body)
}

#[tokio::test]
async fn a_new_team_builds_passes_its_contract_test_and_shows_in_the_site() {
    // The workspace gets a crate of its own for a while: not while lean_build runs cargo.
    // Taken before `heavy`, so that a plain `cargo test` does not hold up the other heavy
    // tests while lean_build's build (minutes on a cold machine) holds the checkout.
    let _checkout = mf_tests::checkout();
    let _heavy = mf_tests::heavy();
    let undo = Undo::new();

    for (bad, why) in [
        ("Bad_Name", "is not a service name"),
        ("shell", "the shell's name"),
        ("pricing", "already in"),
    ] {
        let (code, stderr) = new_team(&[bad]);
        assert_eq!(code, Some(2), "{bad}: {stderr}");
        assert!(stderr.contains(why), "{bad}: {stderr}");
        assert!(undo.unchanged(), "a refused name changed files");
    }

    let (code, stderr) = new_team(&[NAME]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("svc-zz-scaffold/src/lib.rs"), "{stderr}");
    let (code, again) = new_team(&[NAME]);
    assert_eq!(code, Some(2), "{again}");
    assert!(again.contains("already"), "{again}");

    // The launcher's file runs it, and names the shell configuration that shows it.
    let site = Site::read(&root().join("launcher.toml")).unwrap();
    let service = site.service(NAME).expect("the team in launcher.toml");
    assert_eq!(service.start, Start::Package(PACKAGE.to_owned()));
    let config = site.shell.as_ref().unwrap().config.clone().unwrap();
    assert!(config.ends_with("shell/site.toml"));

    undo.keep_the_workspace_manifests_time();
    let tests = the_new_crates_tests();
    // The example's tests, the strict contract check among them, all pass.
    assert!(
        !tests.contains("FAILED")
            && tests
                .contains("the_service_passes_the_contract_checks_of_shell_check_strict ... ok"),
        "{tests}"
    );
    // The test build built the team's binary; the shell's is the workspace build's.
    let bin = launcher::plan::target_dir(&root()).join("debug");
    assert!(
        bin.join("shell").exists(),
        "{}/shell is missing: cargo build -p shell first",
        bin.display()
    );
    let (team_port, shell_port, admin_port) = (free_port(), free_port(), free_port());
    let _team = spawn(&bin.join(PACKAGE), &[("PORT", team_port.to_string())]);
    let _shell = spawn(
        &bin.join("shell"),
        &[
            ("PORT", shell_port.to_string()),
            ("ADMIN_PORT", admin_port.to_string()),
            ("SHELL_CONFIG", config.display().to_string()),
            // The same configuration, the team on its test port.
            (
                "SHELL_SERVICES",
                format!("{NAME}=http://127.0.0.1:{team_port}"),
            ),
        ],
    );
    let page = wait_for(
        &format!("http://127.0.0.1:{shell_port}/{NAME}"),
        "data-fragment=\"zz-scaffold/greeting\"",
    )
    .unwrap_or_else(|last| panic!("the team's fragment never showed; last page:\n{last}"));
    assert!(page.contains("Hello, stranger!"), "{page}");
    assert!(
        page.contains("/svc/zz-scaffold/assets/zz-scaffold.css"),
        "{page}"
    );
    in_chromium(shell_port).await;

    drop(undo);
    assert!(!root().join(PACKAGE).exists());
}

/// A visitor's view: the site's start page in Chromium, the new team's section through the
/// navigation (a swap by the loader), its fragment styled by its own stylesheet.
async fn in_chromium(shell_port: u16) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    browser
        .open_with_loader(&format!("http://127.0.0.1:{shell_port}/"))
        .await;
    browser.go_to_section(NAME).await;
    browser
        .wait_until(
            "document.querySelector('main [data-fragment=\"zz-scaffold/greeting\"]')",
            "the new team's fragment after a swap",
        )
        .await;
    assert!(browser.text("main").await.contains("Hello, stranger!"));
    let sheet = browser
        .eval(
            "return [...document.styleSheets].some((s) => (s.href || '').includes('/svc/zz-scaffold/assets/zz-scaffold.css?v='));",
        )
        .await;
    assert_eq!(
        sheet, true,
        "the team's stylesheet (at its hashed URL) is on the page"
    );
    assert_eq!(browser.url().await.path(), format!("/{NAME}"));
    browser.quit_without_console_errors().await;
}
