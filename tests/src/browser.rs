//! Headless Chromium for the browser tests, driven over WebDriver with the tests' own client
//! ([`crate::webdriver`]).
//!
//! [`Browser::start`] runs Debian's `chromedriver` on a free loopback port as a child process
//! (shut down and killed by its PID on drop) and opens a Chromium session with a fresh
//! profile. Console messages are collected through `goog:loggingPrefs`, so a test can assert
//! that a page logged no error. [`Browser::axe_violations`] runs axe-core in the page and
//! [`nu_validate`] runs the W3C Nu HTML checker (`vnu.jar`); both come from `tests/web-tools`
//! (`scripts/install-browser-deps` installs them, and the browser).
//!
//! A missing Chromium or chromedriver (looked up on `PATH`) makes [`Browser::start`] answer
//! `None`, after one line naming what to install (`shared_ui::testkit::missing`), so a plain
//! `cargo test` on a machine without them skips the browser tests and says why; under
//! `CI=true` it fails instead. A missing tool (vnu.jar, axe-core) fails the test with a
//! message that says what to install: the browser tests never skip silently.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::free_port;
use crate::webdriver::{Client, Locator};

/// Debian's Chromium, looked up on `PATH` (Debian installs it as `/usr/bin/chromium`).
pub const CHROMIUM: &str = "chromium";
/// Its WebDriver (Debian's `chromium-driver`), looked up on `PATH`.
pub const CHROMEDRIVER: &str = "chromedriver";
/// axe-core in `tests/web-tools` (npm).
const AXE: &str = "axe-core/axe.min.js";
/// The W3C Nu HTML checker in `tests/web-tools` (npm), run with `java`.
const VNU: &str = "vnu-jar/build/dist/vnu.jar";
/// What to run when the browser or the tools are missing.
pub const INSTALL_HINT: &str =
    "run scripts/install-browser-deps (apt-get install chromium chromium-driver default-jre-headless, then npm ci in tests/web-tools)";
/// Console errors that are not the loader's or a fragment's doing and would fail every
/// browser test: none today (every page links the shared favicon, so Chromium no longer
/// asks for `/favicon.ico`). Add an entry only with the issue that tracks its fix.
pub const KNOWN_NOISE: &[&str] = &[];
/// How long [`Browser::wait_until`] waits by default.
pub const WAIT: Duration = Duration::from_secs(10);

/// A Chromium session and the chromedriver process behind it.
pub struct Browser {
    client: Client,
    driver: Child,
    driver_port: u16,
    // Dropped after the driver: Chromium's profile lives here.
    _profile: tempfile::TempDir,
}

/// Whether the page may run JavaScript.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scripts {
    /// The normal browser.
    Enabled,
    /// JavaScript switched off in the profile (pages must work by full loads).
    Disabled,
}

/// `program`'s path on `PATH`, if it is there.
fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// `true` when nothing is missing; otherwise one line naming every missing program (looked
/// up on `PATH`) and file, and `false` (a panic under `CI=true`).
fn all_there(programs: &[&str], files: &[PathBuf]) -> bool {
    let mut missing: Vec<String> = programs
        .iter()
        .filter(|program| on_path(program).is_none())
        .map(|program| format!("{program} (not on PATH)"))
        .collect();
    missing.extend(
        files
            .iter()
            .filter(|f| !f.is_file())
            .map(|f| f.display().to_string()),
    );
    if !missing.is_empty() {
        shared_ui::testkit::missing(&missing.join(", "), INSTALL_HINT);
    }
    missing.is_empty()
}

/// Chromium's and chromedriver's paths, with axe-core there too; `None` after saying what is
/// missing (a panic under `CI=true`).
fn browser_and_driver() -> Option<(PathBuf, PathBuf)> {
    if !all_there(&[CHROMIUM, CHROMEDRIVER], &[web_tool(AXE)]) {
        return None;
    }
    Some((on_path(CHROMIUM)?, on_path(CHROMEDRIVER)?))
}

impl Browser {
    /// A headless Chromium with JavaScript on; `None` (the test skips) when Chromium or
    /// chromedriver is not installed, outside CI.
    pub async fn start() -> Option<Self> {
        Self::launch(Scripts::Enabled).await
    }

    /// A headless Chromium with JavaScript off; `None` as for [`Browser::start`].
    pub async fn start_without_javascript() -> Option<Self> {
        Self::launch(Scripts::Disabled).await
    }

    async fn launch(scripts: Scripts) -> Option<Self> {
        let (chromium, chromedriver) = browser_and_driver()?;
        let profile = tempfile::Builder::new()
            .prefix("mf-chromium-")
            .tempdir()
            .expect("a temp dir for the Chromium profile");
        let driver_port = free_port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start chromedriver ({e}); {INSTALL_HINT}"));
        let mut browser_driver = DriverGuard(Some(driver));
        wait_for_driver(driver_port);

        let mut args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--no-first-run".to_owned(),
            "--window-size=1280,900".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut options = json!({ "binary": chromium });
        if scripts == Scripts::Disabled {
            args.push("--blink-settings=scriptEnabled=false".to_owned());
            options["prefs"] = json!({ "profile.managed_default_content_settings.javascript": 2 });
        }
        options["args"] = json!(args);
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), options);
        caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));

        let client = Client::connect(&format!("http://127.0.0.1:{driver_port}"), caps)
            .await
            .unwrap_or_else(|e| panic!("cannot open a Chromium session ({e}); {INSTALL_HINT}"));
        Some(Self {
            client,
            driver: browser_driver.0.take().expect("driver"),
            driver_port,
            _profile: profile,
        })
    }

    /// The WebDriver client, for anything the helpers here do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Loads `url` and waits for the load event.
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("cannot load {url}: {e}"));
    }

    /// Runs `source` in every document this session opens from now on, before the page's
    /// own scripts and whatever its CSP says (Chrome DevTools'
    /// `Page.addScriptToEvaluateOnNewDocument`, through chromedriver): a probe that must
    /// see the page from its first byte, as a `MutationObserver` or a `PerformanceObserver`.
    pub async fn on_new_document(&self, source: &str) {
        let body = json!({
            "cmd": "Page.addScriptToEvaluateOnNewDocument",
            "params": { "source": source },
        });
        self.client
            .command(Method::POST, "goog/cdp/execute", Some(body))
            .await
            .unwrap_or_else(|e| panic!("Page.addScriptToEvaluateOnNewDocument failed: {e}"));
    }

    /// Runs `script` (a function body; `return` a value) and gives back its JSON result.
    pub async fn eval(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Runs `script` as an async script: it calls `arguments[0]` (`done`) with its result.
    pub async fn eval_async(&self, script: &str) -> Value {
        self.client
            .execute_async(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("async script failed: {e}\n{script}"))
    }

    /// Polls the JavaScript expression `condition` until it is truthy, for up to [`WAIT`];
    /// panics naming `what` did not happen, with the page's URL and `<main>` state.
    pub async fn wait_until(&self, condition: &str, what: &str) {
        let script = format!("return Boolean({condition});");
        let deadline = Instant::now() + WAIT;
        loop {
            if self.eval(&script).await == Value::Bool(true) {
                return;
            }
            if Instant::now() > deadline {
                let state = self
                    .eval("const m = document.querySelector('main'); return [location.href, document.title, m && m.dataset.section, m && m.getAttribute('aria-busy'), m && m.innerText.slice(0, 300)];")
                    .await;
                panic!("timed out waiting for {what} ({condition}); page state: {state}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Loads `url` and waits until the fragment loader has connected (it records the page's
    /// history entry) and has the registry: a click before the registry arrives is a full
    /// load.
    pub async fn open_with_loader(&self, url: &str) {
        self.goto(url).await;
        self.wait_until(
            "window.Stimulus && history.state && history.state.mf === true",
            "the fragment loader to connect",
        )
        .await;
        self.wait_until(
            "performance.getEntriesByType('resource').some((e) => e.name.endsWith('/registry.json') && e.responseEnd > 0)",
            "the registry to load",
        )
        .await;
    }

    /// Clicks the header's link to `section` from script and waits until `<main>` shows it,
    /// loaded.
    pub async fn go_to_section(&self, section: &str) {
        self.eval(&format!(
            "document.querySelector(\"header nav a[href='/{section}']\").click();"
        ))
        .await;
        self.wait_until(&shows(section), section).await;
    }

    /// Clicks the first element matching the CSS `selector` (a real WebDriver click).
    pub async fn click(&self, selector: &str) {
        self.client
            .find(Locator::Css(selector))
            .await
            .unwrap_or_else(|e| panic!("no element {selector}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click {selector}: {e}"));
    }

    /// Types `text` into the field matching `selector`, replacing its value.
    pub async fn fill(&self, selector: &str, text: &str) {
        let field = self
            .client
            .find(Locator::Css(selector))
            .await
            .unwrap_or_else(|e| panic!("no field {selector}: {e}"));
        field.clear().await.expect("clear the field");
        field
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("cannot type into {selector}: {e}"));
    }

    /// The text of the first element matching `selector`.
    pub async fn text(&self, selector: &str) -> String {
        self.client
            .find(Locator::Css(selector))
            .await
            .unwrap_or_else(|e| panic!("no element {selector}: {e}"))
            .text()
            .await
            .expect("element text")
    }

    /// The current URL.
    pub async fn url(&self) -> url::Url {
        self.client.current_url().await.expect("current url")
    }

    /// The console messages logged since the last call (levels `SEVERE`, `WARNING`, ...),
    /// each as `LEVEL source message`.
    pub async fn console(&self) -> Vec<String> {
        let entries = self
            .client
            .command(Method::POST, "se/log", Some(json!({ "type": "browser" })))
            .await
            .unwrap_or_else(|e| panic!("chromedriver's log: {e}"));
        entries
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| {
                        format!(
                            "{} {} {}",
                            str_of(&e["level"]),
                            str_of(&e["source"]),
                            str_of(&e["message"])
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The console errors logged since the last call to [`Browser::console`].
    pub async fn console_errors(&self) -> Vec<String> {
        self.console()
            .await
            .into_iter()
            .filter(|line| line.starts_with("SEVERE"))
            .collect()
    }

    /// Panics if the pages logged a console error since the last look.
    pub async fn assert_no_console_errors(&self) {
        self.assert_no_console_errors_except(|_| false).await;
    }

    /// Panics if the pages logged a console error since the last look, other than those
    /// the test provoked on purpose (`expected`, e.g. the network error of a 422 answer).
    pub async fn assert_no_console_errors_except(&self, expected: impl Fn(&str) -> bool) {
        let errors: Vec<String> = self
            .console_errors()
            .await
            .into_iter()
            .filter(|e| !KNOWN_NOISE.iter().any(|noise| e.contains(noise)) && !expected(e))
            .collect();
        assert!(errors.is_empty(), "console errors:\n{}", errors.join("\n"));
    }

    /// Saves a PNG screenshot of the viewport.
    pub async fn screenshot(&self, path: &Path) {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// Runs axe-core in the current page and returns its serious and critical violations,
    /// each as `rule: help @ selectors`.
    pub async fn axe_violations(&self) -> Vec<String> {
        let source = std::fs::read_to_string(web_tool(AXE))
            .unwrap_or_else(|e| panic!("axe-core is missing ({e}); {INSTALL_HINT}"));
        self.eval(&source).await;
        let found = self
            .eval_async(
                r#"const done = arguments[arguments.length - 1];
                axe.run(document, { resultTypes: ["violations"] }).then(
                  (r) => done(r.violations
                    .filter((v) => v.impact === "serious" || v.impact === "critical")
                    .map((v) => `${v.id} (${v.impact}): ${v.help} @ ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)),
                  (e) => done([`axe failed: ${e}`]));"#,
            )
            .await;
        serde_json::from_value(found).expect("axe answer is a list of strings")
    }

    /// Asserts that the pages logged no console error, then ends the session: how every
    /// browser test ends.
    pub async fn quit_without_console_errors(self) {
        self.assert_no_console_errors().await;
        self.quit().await;
    }

    /// Ends the session (closes Chromium) and stops chromedriver.
    pub async fn quit(self) {
        // `close` ends the WebDriver session; Drop then stops the driver.
        let _ = self.client.close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // /shutdown makes chromedriver close the browsers it started (also after a failed
        // assertion, when `quit` was not reached); then the driver is killed by its PID.
        shutdown_driver(self.driver_port);
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Kills chromedriver if the session never opened.
struct DriverGuard(Option<Child>);

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The condition (JavaScript) that `<main>` shows `section` and is no longer loading.
pub fn shows(section: &str) -> String {
    format!(
        "document.querySelector('main').dataset.section === '{section}' \
         && !document.querySelector('main').hasAttribute('aria-busy')"
    )
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn wait_for_driver(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if http_get(port, "/status").is_some_and(|body| body.contains("\"ready\":true")) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("chromedriver did not get ready on port {port}; {INSTALL_HINT}");
}

fn shutdown_driver(port: u16) {
    let _ = http_get(port, "/shutdown");
}

/// A tiny blocking GET (usable from Drop): the answer's text so far, or None. chromedriver
/// keeps the connection open, so reading stops at a quiet pause rather than at EOF.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(_) if !answer.is_empty() => break,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return None,
        }
    }
    Some(String::from_utf8_lossy(&answer).into_owned())
}

/// A file under `tests/web-tools/node_modules/`.
pub fn web_tool(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("web-tools/node_modules")
        .join(relative)
}

/// Validates HTML documents with the W3C Nu checker (`vnu.jar --errors-only`, one JVM for
/// all of them). `docs` are `(name, html)`; a name is also the temp file's stem. Returns
/// the errors, each prefixed with the document's name; `None` (the test skips) when java or
/// vnu.jar is missing, outside CI. A fragment must be wrapped with [`fragment_document`]
/// first.
pub fn nu_validate(docs: &[(String, String)]) -> Option<Vec<String>> {
    let jar = web_tool(VNU);
    if !all_there(&["java"], std::slice::from_ref(&jar)) {
        return None;
    }
    let dir = tempfile::tempdir().expect("temp dir for vnu");
    let mut files = Vec::new();
    for (i, (name, html)) in docs.iter().enumerate() {
        let stem: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let path = dir.path().join(format!("{i:02}-{stem}.html"));
        std::fs::write(&path, html).expect("write the page for vnu");
        files.push((name.clone(), path));
    }
    let output = Command::new("java")
        .args(["-jar"])
        .arg(&jar)
        .args(["--errors-only", "--format", "gnu"])
        .args(files.iter().map(|(_, p)| p))
        .output()
        .unwrap_or_else(|e| panic!("cannot run java ({e}); {INSTALL_HINT}"));
    let report = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout);
    let mut errors = Vec::new();
    for line in report.lines().filter(|l| !l.trim().is_empty()) {
        let named = files
            .iter()
            .find(|(_, p)| line.contains(&*p.to_string_lossy()))
            .map(|(name, p)| line.replace(&*p.to_string_lossy(), name))
            .unwrap_or_else(|| line.to_owned());
        errors.push(named);
    }
    if !output.status.success() && errors.is_empty() {
        errors.push(format!("vnu failed with {}", output.status));
    }
    Some(errors)
}

/// A minimal valid document around a fragment, so the checker judges only the fragment.
pub fn fragment_document(fragment: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>fragment</title></head><body>{fragment}</body></html>"
    )
}

/// Signs up with the accounts page's form (JavaScript on or off alike), sees the "check your
/// mail" notice, confirms the address as its mailed link would, and signs in with the form.
pub async fn sign_up_and_in(
    browser: &Browser,
    site: &crate::Stack,
    name: &str,
    email: &str,
    password: &str,
) {
    browser.fill("#sign-up-name", name).await;
    browser.fill("#sign-up-email", email).await;
    browser.fill("#sign-up-password", password).await;
    browser
        .click("form[action$='/actions/sign-up'] button[type=submit]")
        .await;
    browser
        .wait_until(
            "document.body.innerText.includes('We have emailed the address you gave')",
            "the check-your-mail notice after sign-up",
        )
        .await;
    site.confirm_address(email);
    browser.fill("#sign-in-email", email).await;
    browser.fill("#sign-in-password", password).await;
    browser
        .click("form[action$='/actions/sign-in'] button[type=submit]")
        .await;
}
