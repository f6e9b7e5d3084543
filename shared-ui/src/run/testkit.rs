//! The test kit (feature `testkit`, for dev-dependencies): a team's service on a free port in
//! the test's process, a [`TestApp`] to talk to it, and the contract checks of `shell check`
//! as one assertion.
//!
//! ```ignore
//! #[tokio::test]
//! async fn follows_the_contract() {
//!     shared_ui::testkit::assert_contract(&shared_ui::testkit::spawn::<MyTeam>(&[]).await).await;
//! }
//! ```
//!
//! Logs go to stderr only with `TEST_LOG=1`.

use std::time::Duration;

use actix_web::dev::ServerHandle;

use crate::context::{ContextKey, UserContext};
use crate::contract::check::{self, Report};
use crate::contract::Manifest;
use crate::headers;
use crate::kit::{self, Application, Cli, Team};
use crate::server::StartError;
use crate::settings::Secret;

/// The context secret every test app is started with.
pub const SECRET: &str = "test-context-secret-0123456789";

/// A running service and a client for it; stops the server when dropped.
pub struct TestApp {
    /// `http://127.0.0.1:{port}`.
    pub address: String,
    /// The bound port.
    pub port: u16,
    /// A client with a 10 s timeout that does not follow redirects.
    pub client: reqwest::Client,
    /// The key that signs user contexts for this app ([`SECRET`]).
    pub key: ContextKey,
    handle: ServerHandle,
}

impl std::fmt::Debug for TestApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestApp")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop the workers; the future is not awaited because Drop cannot be async.
        drop(self.handle.stop(false));
    }
}

fn init_test_log() {
    if std::env::var_os("TEST_LOG").is_some() {
        crate::logging::init_tracing();
    }
}

/// The command line a user would give the team's binary for a test (port 0, loopback,
/// [`SECRET`]), plus `extra` flags.
pub fn cli<T: Team>(extra: &[&str]) -> Result<Cli<T::Settings>, clap::Error> {
    let mut args = vec![
        T::BINARY,
        "--port",
        "0",
        "--bind",
        "127.0.0.1",
        "--context-secret",
        SECRET,
    ];
    args.extend_from_slice(extra);
    kit::parse::<T, _, _>(args)
}

/// Builds the team's application from [`cli`] without running it (for start-up errors).
pub async fn build<T: Team>(extra: &[&str]) -> Result<Application, StartError> {
    init_test_log();
    Application::build::<T>(cli::<T>(extra).expect("settings parse")).await
}

/// Spawns the team's service on a free port with `extra` flags.
pub async fn spawn<T: Team>(extra: &[&str]) -> TestApp {
    serve(build::<T>(extra).await.expect("the app builds"))
}

/// Runs a built application in the background.
pub fn serve(app: Application) -> TestApp {
    let port = app.port();
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client"),
        key: ContextKey::new(Secret::new(SECRET.to_owned())),
        handle,
    }
}

/// Runs the contract checks of `shell check` against the app.
pub async fn contract_report(app: &TestApp) -> Report {
    check::run(&app.address).await
}

/// Asserts that the app passes every contract check of `shell check`; the failure message
/// is the report.
pub async fn assert_contract(app: &TestApp) {
    assert_contract_at(&app.address).await;
}

/// The same for any server at `base` (`http://127.0.0.1:4000`).
pub async fn assert_contract_at(base: &str) {
    let report = check::run(base).await;
    assert!(report.passed(), "{report}");
}

/// Runs the strict checks of `shell check --strict` (signing with [`SECRET`]) on `app` and
/// fails with the report if any failed.
pub async fn assert_contract_strict(app: &TestApp) {
    assert_contract_strict_at(&app.address).await;
}

/// The same for any server at `base` that runs with [`SECRET`].
pub async fn assert_contract_strict_at(base: &str) {
    let report = check::check_with(base, &check::Options::strict(SECRET)).await;
    assert!(report.passed(), "{report}");
}

/// A signed-in test user on `plan`, whose name needs escaping.
pub fn ada(plan: &str) -> UserContext {
    UserContext {
        id: 1,
        name: "Ada <Lovelace>".to_owned(),
        plan: plan.to_owned(),
        since: None,
        changed: None,
    }
}

/// A response header as text; panics naming it when it is missing.
pub fn header<'a>(res: &'a reqwest::Response, name: &str) -> &'a str {
    res.headers()
        .get(name)
        .unwrap_or_else(|| panic!("missing header {name}"))
        .to_str()
        .expect("a text header")
}

/// Checks what a validator would: ids are unique, headings never skip a level (from
/// `first_heading` on), and every `aria-labelledby` and `label for` points at an element.
pub fn assert_sound_html(html: &str, first_heading: u8) {
    let ids = attribute_values(html, "id");
    let mut seen = std::collections::HashSet::new();
    for id in &ids {
        assert!(seen.insert(id.clone()), "duplicate id {id:?}");
    }
    for attr in ["aria-labelledby", "for"] {
        for target in attribute_values(html, attr) {
            assert!(
                seen.contains(&target),
                "{attr}={target:?} points at nothing"
            );
        }
    }
    let mut last = first_heading - 1;
    for (i, _) in html.match_indices("<h") {
        let Some(level) = html[i + 2..].chars().next().and_then(|c| c.to_digit(10)) else {
            continue;
        };
        let level = level as u8;
        assert!(
            level >= first_heading,
            "h{level} above the fragment's level"
        );
        assert!(level <= last + 1, "heading jumps from h{last} to h{level}");
        last = level;
    }
}

fn attribute_values(html: &str, name: &str) -> Vec<String> {
    let needle = format!(" {name}=\"");
    html.match_indices(&needle)
        .map(|(i, _)| {
            let rest = &html[i + needle.len()..];
            rest[..rest.find('"').unwrap_or(rest.len())].to_owned()
        })
        .collect()
}

impl TestApp {
    /// `GET path`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.get_with(path, &[]).await
    }

    /// `GET path` with extra headers.
    pub async fn get_with(&self, path: &str, extra: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self.client.get(format!("{}{path}", self.address));
        for (name, value) in extra {
            req = req.header(*name, *value);
        }
        req.send().await.expect("request answered")
    }

    /// `GET path` as the signed-in user `user`.
    pub async fn get_as(&self, path: &str, user: &UserContext) -> reqwest::Response {
        let signed = self.key.sign(user, Duration::from_secs(60));
        self.get_with(path, &[(headers::USER_CONTEXT, &signed)])
            .await
    }

    /// The manifest, asserted to be 200 and to follow the contract.
    pub async fn manifest(&self) -> Manifest {
        let res = self.get("/manifest.json").await;
        assert_eq!(res.status(), 200);
        Manifest::parse(&res.bytes().await.expect("a body"))
            .expect("the manifest follows the contract")
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bound, read, released): for a
/// process that binds it itself, or as a port where nothing listens.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

/// The kit's command line, checked against a team's built binary (`binary`, from
/// `env!("CARGO_BIN_EXE_…")`): [`assert_help_names`] the shared settings, the `healthcheck`
/// subcommand and `team_settings`; [`assert_bad_setting_exits_2`] with a context secret
/// that is too short; [`assert_healthcheck`] against `live_port`, where the team's service
/// runs. One line in each team's tests instead of a copied block.
pub async fn assert_command_line(binary: &str, team_settings: &[&str], live_port: u16) {
    let mut names = vec![
        "--port",
        "PORT",
        "--bind",
        "--context-secret",
        "healthcheck",
    ];
    names.extend_from_slice(team_settings);
    assert_help_names(binary, &names);
    assert_bad_setting_exits_2(
        binary,
        &["--port", "0", "--context-secret", "short"],
        "--context-secret / CONTEXT_SECRET",
    );
    assert_healthcheck(binary, live_port).await;
}

/// `binary --help` succeeds and names every one of `names`.
pub fn assert_help_names(binary: &str, names: &[&str]) {
    let out = std::process::Command::new(binary)
        .arg("--help")
        .output()
        .expect("the binary runs");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in names {
        assert!(help.contains(needle), "--help lacks {needle}: {help}");
    }
}

/// `binary args` refuses to start with exit code 2 and a message naming `named`.
pub fn assert_bad_setting_exits_2(binary: &str, args: &[&str], named: &str) {
    let out = std::process::Command::new(binary)
        .args(args)
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(named), "{stderr}");
}

/// `binary --port P healthcheck` exits 0 for `live_port` (a running service) and 1 for a
/// port where nothing listens.
pub async fn assert_healthcheck(binary: &str, live_port: u16) {
    let healthcheck = |port: u16| {
        let binary = binary.to_owned();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(binary)
                .args(["--port", &port.to_string(), "healthcheck"])
                .status()
                .expect("the binary runs")
        })
    };
    let live = healthcheck(live_port).await.expect("the healthcheck ran");
    assert!(live.success(), "the healthcheck sees the service");
    let dead = healthcheck(free_port()).await.expect("the healthcheck ran");
    assert_eq!(dead.code(), Some(1));
}

/// Direct mode, checked against a service at `base` started with `--cors-origins origin`:
/// each of `paths` answers `origin` with 200 and `Access-Control-Allow-Origin: origin`, and
/// another origin without it; a preflight for the first path from `origin` gets 204 and
/// allows `x-mf-loader`, one from another origin 403 and no CORS headers.
pub async fn assert_cors_only_for(base: &str, origin: &str, paths: &[&str]) {
    const FOREIGN: &str = "http://evil.example";
    const ALLOW_ORIGIN: &str = "access-control-allow-origin";
    let client = reqwest::Client::new();
    for path in paths {
        let get = |from: &str| {
            client
                .get(format!("{base}{path}"))
                .header("origin", from)
                .send()
        };
        let ok = get(origin).await.expect("request answered");
        assert_eq!(ok.status(), 200, "{path}");
        assert_eq!(header(&ok, ALLOW_ORIGIN), origin, "{path}");
        let foreign = get(FOREIGN).await.expect("request answered");
        assert!(foreign.headers().get(ALLOW_ORIGIN).is_none(), "{path}");
    }
    let preflight = |from: &str| {
        client
            .request(reqwest::Method::OPTIONS, format!("{base}{}", paths[0]))
            .header("origin", from)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "x-mf-loader")
            .send()
    };
    let allowed = preflight(origin).await.expect("request answered");
    assert_eq!(allowed.status(), 204);
    assert!(header(&allowed, "access-control-allow-headers").contains("x-mf-loader"));
    let refused = preflight(FOREIGN).await.expect("request answered");
    assert_eq!(refused.status(), 403);
    assert!(refused.headers().get(ALLOW_ORIGIN).is_none());
}

/// An unknown fragment is a 404 page that shows its escaped id, and each of `paths` (unknown
/// routes, fragments and assets of the team) is a 404.
pub async fn assert_unknown_routes_are_404_pages(app: &TestApp, paths: &[&str]) {
    let res = app.get("/fragments/%3Cscript%3Ex").await;
    assert_eq!(res.status(), 404);
    let body = res.text().await.expect("a body");
    assert!(body.contains("&lt;script&gt;x"), "{body}");
    assert!(!body.contains("<script>x"));
    for path in paths {
        assert_eq!(app.get(path).await.status(), 404, "{path}");
    }
}

/// Each asset `(path, content type, a marker in its body)` answers 200 with that type, the
/// marker and an `ETag`, and an empty 304 to `If-None-Match` with that ETag.
pub async fn assert_assets_revalidate(app: &TestApp, assets: &[(&str, &str, &str)]) {
    for (path, kind, marker) in assets {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert!(header(&res, "content-type").starts_with(kind), "{path}");
        let etag = header(&res, "etag").to_owned();
        assert!(res.text().await.expect("a body").contains(marker), "{path}");
        let again = app.get_with(path, &[("if-none-match", &etag)]).await;
        assert_eq!(again.status(), 304, "{path}");
        assert!(again.bytes().await.expect("a body").is_empty(), "{path}");
    }
}

/// A test that needs something this machine lacks (Chromium, chromedriver, a PostgreSQL
/// server): `what` is missing, `install` says how to get it. Under `CI=true` this panics
/// (there the tests must run); elsewhere it writes one line, `skipped: missing {what}:
/// {install}`, once per test binary and `what`, straight to stderr (past the harness's
/// capture, so a plain `cargo test` shows it) and the caller skips its test.
pub fn missing(what: &str, install: &str) {
    use std::io::Write as _;
    use std::sync::Mutex;

    static SAID: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let line = format!("missing {what}: {install}");
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{line} (CI=true: the tests that need it must run, not skip)"
    );
    let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    if !said.iter().any(|w| w == what) {
        said.push(what.to_owned());
        // Not eprintln!: the test harness captures that and shows it only for failures.
        let _ = writeln!(std::io::stderr(), "skipped: {line}");
    }
}
