//! Shared helpers for the cross-service tests.
//!
//! - [`Stack`]: the three real services (in-process, from their libraries, on free ports,
//!   a temporary accounts database, one shared context secret) and the shell configured
//!   with their URLs, as users configure it (`Settings::try_parse_from`). Services can be
//!   stopped and started again on the same port.
//! - [`FakeService`]: a fragment server the tests shape (slow, broken, whole documents, a
//!   slow session service…), logging when each request came.
//! - [`BlackHole`]: accepts TCP connections and never answers.
//! - [`MarkedPricing`]: a second svc-pricing whose plans carry a marker (a team's working
//!   copy, for per-browser overrides).
//! - [`Canary`]: answers anything and counts every hit (it must never be reached through
//!   the shell's proxy).
//! - [`get_with`], [`get_text`], [`get_status`], [`post_form`] (and [`Stack::get_with`],
//!   [`Stack::post_form`]): the common request shapes in one call each.
//! - [`raw_request`]: one HTTP/1.1 request written byte for byte, for URLs no HTTP client
//!   would send unchanged (`..`, backslashes, `%00`).
//! - `browser`: the browser-test harness (its own module), over `webdriver`, the tests' small
//!   W3C WebDriver client; `python`: the Python team as a
//!   process; `replicas`: services as real
//!   processes and a TCP balancer; `faults`: a switchable faulty fragment server, the shell
//!   as a process beside the three services, a paced page load and `/proc` memory readings;
//!   `site`: the shell as a process over the services and configuration a test writes.
//!   `serial`: the lock each heavy test holds, so that they run one at a time; `tls`:
//!   https in front of a helper server, with a certificate authority made per use.
//!
//! External stack: when `MF_BASE_URL` is set (e.g. `http://127.0.0.1:8000` from
//! docker compose), [`Stack::start_or_external`] talks to it instead of spawning, for the
//! tests that only read pages, headers, the registry and the proxy's refusals. Tests that
//! stop services or need helper servers always spawn their own stack.
//!
//! Logs only with `TEST_LOG=1`.

pub mod browser;
pub mod cargo_env;
pub mod faults;
pub mod python;
pub mod replicas;
pub mod serial;
pub mod site;
pub mod tls;
pub mod webdriver;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

/// The lock of the heavy tests (module `serial`).
pub use serial::{checkout, heavy};
/// The context secret the whole test stack shares, and a free port: the test kit's, the same
/// the teams' own tests use.
pub use shared_ui::testkit::{free_port, SECRET};

/// The password of every account the helpers sign up.
pub const PASSWORD: &str = "correct horse battery";

/// svc-accounts flags for a cheap argon2id (64 KiB, one pass): these tests are about
/// accounts, sessions and processes, not the cost of a hash.
pub const FAST_HASH_ARGS: [&str; 4] = ["--argon2-memory-kib", "64", "--argon2-iterations", "1"];

fn init_logs() {
    if std::env::var("TEST_LOG").is_ok() {
        shared_ui::logging::init_tracing();
    }
}

/// A browser-like client: keeps cookies, does not follow redirects (tests look at them).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a test client")
}

/// `GET url` with extra `headers`; panics naming the URL when nothing answers.
pub async fn get_with(
    client: &reqwest::Client,
    url: impl reqwest::IntoUrl,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let url = url.into_url().expect("a URL");
    let mut request = client.get(url.clone());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// The body of `GET url`, whatever its status.
pub async fn get_text(client: &reqwest::Client, url: impl reqwest::IntoUrl) -> String {
    get_with(client, url, &[])
        .await
        .text()
        .await
        .expect("a body")
}

/// The status of `GET url`.
pub async fn get_status(
    client: &reqwest::Client,
    url: impl reqwest::IntoUrl,
) -> reqwest::StatusCode {
    get_with(client, url, &[]).await.status()
}

/// `POST url` of a urlencoded `form` with extra `headers`; panics naming the URL when
/// nothing answers.
pub async fn post_form(
    client: &reqwest::Client,
    url: impl reqwest::IntoUrl,
    headers: &[(&str, &str)],
    form: &[(&str, &str)],
) -> reqwest::Response {
    let url = url.into_url().expect("a URL");
    let mut request = client.post(url.clone()).form(form);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"))
}

/// The value of the first `csrf_token` field of a page or fragment, if it has one.
pub fn csrf_in(html: &str) -> Option<String> {
    let marker = r#"name="csrf_token" value=""#;
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// The value of the first `csrf_token` field; panics when there is none.
pub fn csrf_token(html: &str) -> String {
    csrf_in(html).expect("a csrf token")
}

/// A server running in this test's runtime.
struct Running {
    port: u16,
    handle: ServerHandle,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn stop(self) {
        self.handle.stop(true).await;
        let _ = self.task.await;
    }
}

/// A team's working copy of svc-pricing: a second process (in this test's runtime) whose
/// catalogue gives the recommended plan `marker` as its tagline, so its plans and its teaser
/// show it. Reached as `http://localhost:{port}` (a host name, as a developer's machine).
pub struct MarkedPricing {
    /// `http://localhost:{port}`.
    pub url: String,
    running: Running,
    _dir: tempfile::TempDir,
}

impl MarkedPricing {
    /// Starts one on a free port.
    pub async fn start(marker: &str) -> MarkedPricing {
        const BUILT_IN: &str = include_str!("../../svc-pricing/catalog.toml");
        const TAGLINE: &str = "For professionals who ship every week.";
        assert!(
            BUILT_IN.contains(TAGLINE),
            "the catalogue changed: pick another line"
        );
        let dir = tempfile::tempdir().expect("a temporary folder");
        let catalog = dir.path().join("catalog.toml");
        std::fs::write(&catalog, BUILT_IN.replace(TAGLINE, marker)).expect("write a catalogue");
        let catalog = catalog.display().to_string();
        let args = [
            "svc-pricing",
            "--port",
            "0",
            "--context-secret",
            SECRET,
            "--catalog",
            catalog.as_str(),
        ];
        let app = svc_pricing::startup::Application::build(
            svc_pricing::settings::Settings::try_parse_from(args).unwrap(),
        )
        .await
        .expect("the marked svc-pricing starts");
        let running = Running {
            port: app.port(),
            handle: app.handle(),
            task: tokio::spawn(app.run_until_stopped()),
        };
        MarkedPricing {
            url: format!("http://localhost:{}", running.port),
            running,
            _dir: dir,
        }
    }

    /// Stops it.
    pub async fn stop(self) {
        self.running.stop().await;
    }
}

/// One of our three services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Team {
    /// svc-pricing.
    Pricing,
    /// svc-dashboard.
    Dashboard,
    /// svc-accounts.
    Accounts,
}

impl Team {
    /// Every team.
    pub const ALL: [Team; 3] = [Team::Pricing, Team::Dashboard, Team::Accounts];

    /// The service name in the registry.
    pub fn name(self) -> &'static str {
        match self {
            Team::Pricing => "pricing",
            Team::Dashboard => "dashboard",
            Team::Accounts => "accounts",
        }
    }

    fn from_name(name: &str) -> Team {
        match name {
            "pricing" => Team::Pricing,
            "dashboard" => Team::Dashboard,
            "accounts" => Team::Accounts,
            other => panic!("no team called {other}"),
        }
    }
}

async fn start_team(team: Team, port: u16, db: &std::path::Path) -> Running {
    let port_s = port.to_string();
    let common = ["--port", port_s.as_str(), "--context-secret", SECRET];
    match team {
        Team::Pricing => {
            let mut args = vec!["svc-pricing"];
            args.extend(common);
            let app = svc_pricing::startup::Application::build(
                svc_pricing::settings::Settings::try_parse_from(args).unwrap(),
            )
            .await
            .expect("svc-pricing starts");
            Running {
                port: app.port(),
                handle: app.handle(),
                task: tokio::spawn(app.run_until_stopped()),
            }
        }
        Team::Dashboard => {
            let mut args = vec!["svc-dashboard"];
            args.extend(common);
            let app = svc_dashboard::startup::Application::build(
                svc_dashboard::settings::Settings::try_parse_from(args).unwrap(),
            )
            .await
            .expect("svc-dashboard starts");
            Running {
                port: app.port(),
                handle: app.handle(),
                task: tokio::spawn(app.run_until_stopped()),
            }
        }
        Team::Accounts => {
            let db = db.display().to_string();
            let mut args = vec!["svc-accounts"];
            args.extend(common);
            args.extend(FAST_HASH_ARGS);
            args.extend([
                "--database",
                db.as_str(),
                // The shell runs on loopback: its X-Forwarded-For names the real client.
                "--trusted-proxies",
                "127.0.0.1",
                // Tests sign many users up from one address.
                "--sign-up-limit-per-client",
                "100000",
                "--sign-up-limit-global",
                "100000",
            ]);
            let app = svc_accounts::startup::Application::build(
                svc_accounts::settings::Settings::try_parse_from(args).unwrap(),
            )
            .await
            .expect("svc-accounts starts");
            Running {
                port: app.port(),
                handle: app.handle(),
                task: tokio::spawn(app.run_until_stopped()),
            }
        }
    }
}

/// What to change in a [`Stack`].
#[derive(Debug, Default, Clone)]
pub struct StackOptions {
    /// Extra services: name and base URL (helper servers).
    pub extra_services: Vec<(String, String)>,
    /// Extra sections: id, path and `service/fragment` slots.
    pub extra_sections: Vec<(String, String, Vec<String>)>,
    /// Teams whose port is reserved but which are not started before the shell.
    pub down_at_start: Vec<Team>,
    /// Extra shell flags (`--fragment-timeout-ms 300`).
    pub shell_args: Vec<String>,
}

impl StackOptions {
    /// One extra service, `name` at `url`, shown in one extra section at `/{section}` that
    /// holds `slots` (`service/fragment`).
    pub fn with_section(name: &str, url: &str, section: &str, slots: &[&str]) -> Self {
        StackOptions {
            extra_services: vec![(name.to_owned(), url.to_owned())],
            extra_sections: vec![(
                section.to_owned(),
                format!("/{section}"),
                slots.iter().map(|slot| (*slot).to_owned()).collect(),
            )],
            ..Self::default()
        }
    }
}

/// The three services and the shell, in-process, or an external stack (`MF_BASE_URL`).
pub struct Stack {
    /// The shell's base URL (`http://127.0.0.1:PORT`).
    pub shell_url: String,
    /// A browser-like client (cookies, no redirects).
    pub client: reqwest::Client,
    teams: HashMap<Team, (u16, Option<Running>)>,
    shell: Option<Running>,
    admin_port: u16,
    dir: Option<tempfile::TempDir>,
    db: PathBuf,
}

impl Stack {
    /// The default stack: three services and the shell.
    pub async fn start() -> Stack {
        Self::start_with(StackOptions::default()).await
    }

    /// `MF_BASE_URL`'s stack when set, else [`Stack::start`].
    pub async fn start_or_external() -> Stack {
        match std::env::var("MF_BASE_URL") {
            Ok(url) if !url.is_empty() => Stack {
                shell_url: url.trim_end_matches('/').to_owned(),
                client: client(),
                teams: HashMap::new(),
                shell: None,
                admin_port: 0,
                dir: None,
                db: PathBuf::new(),
            },
            _ => Self::start().await,
        }
    }

    /// A stack with helper services, sections or shell flags added.
    pub async fn start_with(options: StackOptions) -> Stack {
        init_logs();
        let dir = tempfile::tempdir().expect("a temporary folder");
        let db = dir.path().join("accounts.db");
        let mut teams = HashMap::new();
        for team in Team::ALL {
            if options.down_at_start.contains(&team) {
                teams.insert(team, (free_port(), None));
            } else {
                let running = start_team(team, 0, &db).await;
                teams.insert(team, (running.port, Some(running)));
            }
        }
        let mut pairs: Vec<String> = Team::ALL
            .iter()
            .map(|t| format!("{}=http://127.0.0.1:{}", t.name(), teams[t].0))
            .collect();
        pairs.extend(
            options
                .extra_services
                .iter()
                .map(|(n, u)| format!("{n}={u}")),
        );
        let mut args: Vec<String> = [
            "shell",
            "--port",
            "0",
            "--context-secret",
            SECRET,
            "--services",
            &pairs.join(","),
            "--admin-port",
            "0",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        if !options.extra_sections.is_empty() {
            let path = dir.path().join("shell.toml");
            std::fs::write(&path, sections_toml(&options.extra_sections)).unwrap();
            args.extend(["--config".to_owned(), path.display().to_string()]);
        }
        args.extend(options.shell_args.iter().cloned());
        let app = shell::startup::Application::build(
            shell::settings::Settings::try_parse_from(args).unwrap(),
        )
        .await
        .expect("the shell starts");
        let admin_port = app.admin_port();
        let shell = Running {
            port: app.port(),
            handle: app.handle(),
            task: tokio::spawn(app.run_until_stopped()),
        };
        Stack {
            shell_url: format!("http://127.0.0.1:{}", shell.port),
            client: client(),
            teams,
            shell: Some(shell),
            admin_port,
            dir: Some(dir),
            db,
        }
    }

    /// Whether this stack is an external one (`MF_BASE_URL`).
    pub fn is_external(&self) -> bool {
        self.shell.is_none()
    }

    /// An absolute URL on the shell.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.shell_url)
    }

    /// The shell's port.
    pub fn shell_port(&self) -> u16 {
        self.shell.as_ref().map_or(0, |s| s.port)
    }

    /// The shell's admin URL (`/metrics`), `http://127.0.0.1:PORT`.
    pub fn admin_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.admin_port)
    }

    /// The shell's metrics (Prometheus text from the admin port).
    pub async fn metrics(&self) -> String {
        get_text(&self.client, format!("{}/metrics", self.admin_url())).await
    }

    /// Waits (at most 10 s) until the shell's metrics hold a line starting with `series`
    /// (`name{labels} value`); panics naming it otherwise.
    pub async fn wait_for_metric(&self, series: &str) {
        let started = Instant::now();
        while !self.metrics().await.lines().any(|l| l.starts_with(series)) {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no metric {series}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A team's base URL.
    pub fn service_url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}", self.teams[&Team::from_name(name)].0)
    }

    /// `GET` a shell path with the stack's client.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.get_with(path, &[]).await
    }

    /// `GET` a shell path with the stack's client and extra `headers`.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        get_with(&self.client, self.url(path), headers).await
    }

    /// `POST` a form to a shell path with the stack's client and extra `headers`.
    pub async fn post_form(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        post_form(&self.client, self.url(path), headers, form).await
    }

    /// `GET` a shell path and read the whole body.
    pub async fn page(
        &self,
        path: &str,
    ) -> (reqwest::StatusCode, reqwest::header::HeaderMap, String) {
        let res = self.get(path).await;
        let status = res.status();
        let headers = res.headers().clone();
        (status, headers, res.text().await.expect("a body"))
    }

    /// Signs `name` up on the pro plan through the shell's proxy, as a browser with
    /// JavaScript off posts the form of `/accounts` (a navigation from the shell's origin),
    /// confirms the address (as its mailed link would, [`Stack::confirm_address`]) and signs
    /// in the same way: the sign-in's answer; the stack's client keeps the session cookie.
    pub async fn sign_up_navigating(&self, name: &str, email: &str) -> reqwest::Response {
        let (_, _, page) = self.page("/accounts").await;
        let token = csrf_token(&page);
        let form = [
            ("csrf_token", token.as_str()),
            ("name", name),
            ("email", email),
            ("password", PASSWORD),
            ("plan", "pro"),
        ];
        let res = self
            .post_form("/svc/accounts/actions/sign-up", &self.navigating(), &form)
            .await;
        assert_eq!(res.status(), 303, "sign-up: {:?}", res.text().await);
        self.confirm_address(email);
        self.sign_in_navigating(email).await
    }

    /// Signs in with [`PASSWORD`] as a browser with JavaScript off posts the form.
    pub async fn sign_in_navigating(&self, email: &str) -> reqwest::Response {
        let (_, _, page) = self.page("/accounts").await;
        let token = csrf_token(&page);
        let form = [
            ("csrf_token", token.as_str()),
            ("email", email),
            ("password", PASSWORD),
        ];
        self.post_form("/svc/accounts/actions/sign-in", &self.navigating(), &form)
            .await
    }

    /// The headers of a top-level form post from the shell's own page.
    fn navigating(&self) -> [(&str, &str); 3] {
        [
            ("origin", self.shell_url.as_str()),
            ("sec-fetch-mode", "navigate"),
            ("accept", "text/html"),
        ]
    }

    /// Marks `email`'s address confirmed in svc-accounts' database, as the mailed link
    /// would (a new account signs in only once confirmed; the link itself is tested in
    /// svc-accounts and in the browser).
    pub fn confirm_address(&self, email: &str) {
        use svc_accounts::storage::{Database, Storage};
        let database = Database::parse(&self.db.display().to_string()).expect("the database");
        let storage = Storage::open(&database).expect("svc-accounts' database opens");
        assert!(
            storage.confirm_address(&email.to_lowercase()).unwrap(),
            "no account for {email}"
        );
    }

    /// Stops a team's server (it no longer accepts connections afterwards).
    pub async fn stop_service(&mut self, name: &str) {
        let team = Team::from_name(name);
        if let Some(entry) = self.teams.get_mut(&team) {
            if let Some(running) = entry.1.take() {
                running.stop().await;
            }
        }
    }

    /// Starts a team's server again on the same port.
    pub async fn start_service(&mut self, name: &str) {
        let team = Team::from_name(name);
        let port = self.teams[&team].0;
        let mut last = None;
        // The port can take a moment to be free again after a stop.
        for _ in 0..50 {
            match std::net::TcpListener::bind(("127.0.0.1", port)) {
                Ok(l) => {
                    drop(l);
                    let running = start_team(team, port, &self.db).await;
                    self.teams.insert(team, (port, Some(running)));
                    return;
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("port {port} did not come free: {last:?}");
    }

    /// Stops everything (also done on drop, less politely).
    pub async fn stop(mut self) {
        if let Some(s) = self.shell.take() {
            s.stop().await;
        }
        for (_, (_, running)) in self.teams.drain() {
            if let Some(r) = running {
                r.stop().await;
            }
        }
        drop(self.dir.take());
    }
}

fn sections_toml(extra: &[(String, String, Vec<String>)]) -> String {
    let mut out =
        String::from("# Written by the test harness: the default sections plus the test's own.\n");
    let default = [
        (
            "dashboard",
            "Dashboard",
            "/dashboard",
            vec!["dashboard/overview", "pricing/teaser"],
        ),
        ("accounts", "Account", "/accounts", vec!["accounts/account"]),
        ("pricing", "Pricing", "/pricing", vec!["pricing/plans"]),
    ];
    let mut all: Vec<(String, String, String, Vec<String>)> = default
        .iter()
        .map(|(id, t, p, s)| {
            (
                (*id).to_owned(),
                (*t).to_owned(),
                (*p).to_owned(),
                s.iter().map(|x| (*x).to_owned()).collect(),
            )
        })
        .collect();
    all.extend(extra.iter().map(|(id, path, slots)| {
        (
            id.clone(),
            format!("Test {id}"),
            path.clone(),
            slots.clone(),
        )
    }));
    for (id, title, path, slots) in all {
        let slots: Vec<String> = slots
            .iter()
            .map(|s| {
                let (svc, frag) = s.split_once('/').expect("service/fragment");
                format!("{{ service = \"{svc}\", fragment = \"{frag}\" }}")
            })
            .collect();
        out.push_str(&format!(
            "\n[[sections]]\nid = \"{id}\"\ntitle = \"{title}\"\npath = \"{path}\"\nslots = [{}]\n",
            slots.join(", ")
        ));
    }
    out
}

/// How a [`FakeService`] behaves.
#[derive(Debug, Clone)]
pub struct FakeSpec {
    /// Manifest name.
    pub name: String,
    /// Fragment ids (served at `/fragments/{id}`).
    pub fragments: Vec<String>,
    /// Time before each fragment answer.
    pub delay: Duration,
    /// Leave out `x-fragment-version`.
    pub omit_version: bool,
    /// Serve a manifest that does not validate.
    pub bad_manifest: bool,
    /// Answer fragments with a whole HTML document.
    pub whole_document: bool,
    /// Declared fallback HTML for every fragment.
    pub fallback: Option<String>,
    /// `Cache-Control` of fragment answers.
    pub cache_control: String,
    /// The manifest version (sent on every fragment answer unless `omit_version`).
    pub version: String,
    /// `"personal"` of every fragment in the manifest (left out when `None`).
    pub personal: Option<bool>,
    /// `"min_height"` of every fragment in the manifest (left out when `None`).
    pub min_height: Option<u32>,
    /// Answer `GET /internal/session` as a session service, after this long, with the user
    /// [`FAKE_USER`] (when `None`, the path is a 404).
    pub session_delay: Option<Duration>,
}

impl FakeSpec {
    /// A well-behaved fake with one fragment per id.
    pub fn new(name: &str, fragments: &[&str]) -> Self {
        Self {
            name: name.to_owned(),
            fragments: fragments.iter().map(|f| (*f).to_owned()).collect(),
            delay: Duration::ZERO,
            omit_version: false,
            bad_manifest: false,
            whole_document: false,
            fallback: None,
            cache_control: "no-store".to_owned(),
            version: FAKE_VERSION.to_owned(),
            personal: None,
            min_height: None,
            session_delay: None,
        }
    }
}

/// A fragment server the tests shape, counting fragment hits and recording their
/// `traceparent` headers.
pub struct FakeService {
    /// Its base URL.
    pub url: String,
    /// Fragment requests seen.
    pub hits: Arc<AtomicUsize>,
    /// The `traceparent` of each fragment request, in order (`None`: none sent).
    pub traceparents: Arc<std::sync::Mutex<Vec<Option<String>>>>,
    /// When each request came (its path), and when each session answer left (`session
    /// answered`), in order.
    pub log: RequestLog,
    running: Running,
}

/// When a [`FakeService`]'s requests came: `(what, when)`, in order.
pub type RequestLog = Arc<std::sync::Mutex<Vec<(String, Instant)>>>;

/// The entry a [`FakeService`] logs when a session answer leaves.
pub const SESSION_ANSWERED: &str = "session answered";

/// The user a fake session service answers with.
pub const FAKE_USER: &str = r#"{"id":7,"name":"Ada","plan":"pro"}"#;

const FAKE_VERSION: &str = "1.0.0+fake";

impl FakeService {
    /// When the first request for `what` (a path, or [`SESSION_ANSWERED`]) came.
    pub fn first(&self, what: &str) -> Option<Instant> {
        let log = self.log.lock().ok()?;
        log.iter().find(|(w, _)| w == what).map(|(_, t)| *t)
    }
}

async fn fake_session(spec: web::Data<FakeSpec>, log: web::Data<RequestLog>) -> HttpResponse {
    let Some(delay) = spec.session_delay else {
        return HttpResponse::NotFound().finish();
    };
    tokio::time::sleep(delay).await;
    if let Ok(mut log) = log.lock() {
        log.push((SESSION_ANSWERED.to_owned(), Instant::now()));
    }
    HttpResponse::Ok()
        .content_type("application/json")
        .body(FAKE_USER)
}

/// Logs when each request came, before it is answered.
async fn log_request(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    if let Some(log) = req.app_data::<web::Data<RequestLog>>() {
        if let Ok(mut log) = log.lock() {
            log.push((req.path().to_owned(), Instant::now()));
        }
    }
    next.call(req).await
}

async fn fake_manifest(spec: web::Data<FakeSpec>) -> HttpResponse {
    let fragments: Vec<_> = spec
        .fragments
        .iter()
        .map(|id| {
            let mut f = serde_json::json!({ "id": id, "path": format!("/fragments/{id}"), "title": format!("Fake {id}") });
            if let Some(fb) = &spec.fallback {
                f["fallback"] = serde_json::json!(fb);
            }
            if let Some(personal) = spec.personal {
                f["personal"] = serde_json::json!(personal);
            }
            if let Some(px) = spec.min_height {
                f["min_height"] = serde_json::json!(px);
            }
            f
        })
        .collect();
    let mut manifest = serde_json::json!({
        "name": spec.name, "version": spec.version, "fragments": fragments,
        "assets": { "css": [], "controllers": [] }, "actions": [],
    });
    if spec.bad_manifest {
        manifest["fragments"][0]["path"] = serde_json::json!("../../etc/passwd");
    }
    HttpResponse::Ok().json(manifest)
}

async fn fake_fragment(
    req: HttpRequest,
    id: web::Path<String>,
    spec: web::Data<FakeSpec>,
    hits: web::Data<AtomicUsize>,
    traceparents: web::Data<std::sync::Mutex<Vec<Option<String>>>>,
) -> HttpResponse {
    hits.fetch_add(1, Ordering::SeqCst);
    let traceparent = req
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Ok(mut seen) = traceparents.lock() {
        seen.push(traceparent);
    }
    if !spec.fragments.contains(&id) {
        return HttpResponse::NotFound().finish();
    }
    tokio::time::sleep(spec.delay).await;
    let user = req
        .headers()
        .get("x-mf-user")
        .map_or("anonymous", |_| "signed");
    let inner = format!(
        "<section data-fragment=\"{}/{}\"><p>Fake {} fragment ({user})</p></section>",
        spec.name, id, id
    );
    let body = if spec.whole_document {
        format!("<!DOCTYPE html><html><body>{inner}</body></html>")
    } else {
        inner
    };
    let mut res = HttpResponse::Ok();
    res.content_type("text/html; charset=utf-8")
        .insert_header(("cache-control", spec.cache_control.as_str()));
    if !spec.omit_version {
        res.insert_header(("x-fragment-version", spec.version.as_str()));
    }
    res.body(body)
}

impl FakeService {
    /// Starts a fake on a free port.
    pub async fn start(spec: FakeSpec) -> FakeService {
        Self::start_on(spec, 0).await
    }

    /// Starts a fake on `port` (0: a free one), e.g. a "redeploy" on the port of a stopped
    /// fake.
    pub async fn start_on(spec: FakeSpec, port: u16) -> FakeService {
        init_logs();
        let hits = web::Data::new(AtomicUsize::new(0));
        let traceparents = web::Data::new(std::sync::Mutex::new(Vec::new()));
        let log: web::Data<RequestLog> = web::Data::new(Arc::default());
        let spec = web::Data::new(spec);
        let (h, s, t, l) = (
            hits.clone(),
            spec.clone(),
            traceparents.clone(),
            log.clone(),
        );
        let server = HttpServer::new(move || {
            App::new()
                .app_data(h.clone())
                .app_data(t.clone())
                .app_data(s.clone())
                .app_data(l.clone())
                .wrap(actix_web::middleware::from_fn(log_request))
                .configure(shared_ui::health::configure)
                .route("/manifest.json", web::get().to(fake_manifest))
                .route("/fragments/{id}", web::get().to(fake_fragment))
                .route("/internal/session", web::get().to(fake_session))
                .default_service(web::to(shared_ui::respond::not_found))
        })
        .workers(1)
        .shutdown_timeout(0)
        .bind(("127.0.0.1", port))
        .expect("the fake binds");
        let port = server.addrs()[0].port();
        let server = server.run();
        let running = Running {
            port,
            handle: server.handle(),
            task: tokio::spawn(server),
        };
        FakeService {
            url: format!("http://127.0.0.1:{port}"),
            hits: hits.into_inner(),
            traceparents: traceparents.into_inner(),
            log: Arc::clone(&log),
            running,
        }
    }

    /// Stops it.
    pub async fn stop(self) {
        self.running.stop().await;
    }
}

/// One span an [`OtlpReceiver`] received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedSpan {
    /// The resource's `service.name`.
    pub service: String,
    /// The span's name.
    pub name: String,
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
    /// 16 hex digits, or empty for a root span.
    pub parent_span_id: String,
}

/// A small OTLP/HTTP receiver: `POST /v1/traces` with a protobuf
/// `ExportTraceServiceRequest`, decoded and kept.
pub struct OtlpReceiver {
    /// Its base URL (what `OTEL_EXPORTER_OTLP_ENDPOINT` names).
    pub url: String,
    spans: Arc<std::sync::Mutex<Vec<ReceivedSpan>>>,
    running: Running,
    tls: Option<tls::TlsFront>,
}

async fn otlp_traces(
    body: bytes::Bytes,
    spans: web::Data<std::sync::Mutex<Vec<ReceivedSpan>>>,
) -> HttpResponse {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use prost::Message;
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return HttpResponse::BadRequest().body("not an ExportTraceServiceRequest");
    };
    let mut received = Vec::new();
    for resource_spans in request.resource_spans {
        let service = resource_spans
            .resource
            .iter()
            .flat_map(|r| r.attributes.iter())
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| kv.value.as_ref()?.value.as_ref())
            .map(|v| match v {
                Value::StringValue(s) => s.clone(),
                other => format!("{other:?}"),
            })
            .unwrap_or_default();
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                received.push(ReceivedSpan {
                    service: service.clone(),
                    name: span.name,
                    trace_id: hex_of(&span.trace_id),
                    span_id: hex_of(&span.span_id),
                    parent_span_id: hex_of(&span.parent_span_id),
                });
            }
        }
    }
    if let Ok(mut spans) = spans.lock() {
        spans.extend(received);
    }
    // An empty ExportTraceServiceResponse.
    HttpResponse::Ok()
        .content_type("application/x-protobuf")
        .body(Vec::new())
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl OtlpReceiver {
    /// Starts one on a free port.
    pub async fn start() -> OtlpReceiver {
        let spans = web::Data::new(std::sync::Mutex::new(Vec::new()));
        let s = spans.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(s.clone())
                .app_data(web::PayloadConfig::new(16 * 1024 * 1024))
                .route("/v1/traces", web::post().to(otlp_traces))
        })
        .workers(1)
        .shutdown_timeout(0)
        .bind(("127.0.0.1", 0))
        .expect("the receiver binds");
        let port = server.addrs()[0].port();
        let server = server.run();
        OtlpReceiver {
            url: format!("http://127.0.0.1:{port}"),
            spans: spans.into_inner(),
            running: Running {
                port,
                handle: server.handle(),
                task: tokio::spawn(server),
            },
            tls: None,
        }
    }

    /// Starts one reached over https only: `url` is `https://127.0.0.1:{port}`, with a
    /// certificate that only [`OtlpReceiver::ca_pem`] makes trusted.
    pub async fn start_https() -> OtlpReceiver {
        let mut receiver = OtlpReceiver::start().await;
        let front = tls::TlsFront::start(receiver.running.port).await;
        receiver.url = format!("https://127.0.0.1:{}", front.port);
        receiver.tls = Some(front);
        receiver
    }

    /// The PEM certificate of the authority an https receiver's certificate comes from.
    pub fn ca_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|t| t.ca_pem.as_str())
    }

    /// The spans received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Stops it.
    pub async fn stop(self) {
        self.running.stop().await;
    }
}

/// Accepts TCP connections and never answers (holds them open).
pub struct BlackHole {
    /// Its base URL.
    pub url: String,
    task: JoinHandle<()>,
}

impl BlackHole {
    /// Starts one on a free port.
    pub async fn start() -> BlackHole {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        BlackHole {
            url: format!("http://127.0.0.1:{port}"),
            task,
        }
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Answers anything with 200 and counts every connection and request: the proxy must never
/// reach it.
pub struct Canary {
    /// Its base URL.
    pub url: String,
    /// Its `host:port`.
    pub authority: String,
    /// Connections accepted.
    pub hits: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Canary {
    /// Starts one on a free port.
    pub async fn start() -> Canary {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = socket.read(&mut buf).await;
                    let _ = socket
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\ncanary")
                        .await;
                });
            }
        });
        Canary {
            url: format!("http://127.0.0.1:{port}"),
            authority: format!("127.0.0.1:{port}"),
            hits,
            task,
        }
    }

    /// How many connections reached it.
    pub fn hit_count(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Canary {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The proxy's SSRF corpus: request targets that try to leave a service's declared paths or
/// reach another host (`canary` is a `host:port` that must never be reached): unknown
/// services, undeclared and internal paths, traversal plain and encoded, absolute URLs and
/// hosts smuggled into the path, backslashes and NUL bytes. The proxy tests send them as
/// paths; the overrides tests send them as override URLs.
pub fn proxy_escapes(canary: &str) -> Vec<String> {
    let c = canary;
    vec![
        // Unknown service, undeclared paths, the internal session endpoint.
        "/svc/nope/fragments/plans".into(),
        "/svc/pricing/internal/session".into(),
        "/svc/accounts/internal/session".into(),
        "/svc/pricing/".into(),
        "/svc/pricing/manifest.json.bak".into(),
        // Traversal, plain and encoded once and twice, encoded slashes.
        "/svc/pricing/../accounts/internal/session".into(),
        "/svc/pricing/fragments/../../accounts/internal/session".into(),
        "/svc/pricing/%2e%2e/accounts/internal/session".into(),
        "/svc/pricing/%2E%2E%2Faccounts%2Finternal%2Fsession".into(),
        "/svc/pricing/%252e%252e/%252e%252e/internal/session".into(),
        "/svc/pricing/fragments%2fplans".into(),
        "/svc/pricing/.%2e/x".into(),
        // Absolute URLs and hosts smuggled into the path.
        format!("/svc/pricing/http://{c}/"),
        format!("/svc/pricing/http:%2f%2f{c}/"),
        format!("/svc/pricing//{c}/"),
        format!("/svc/pricing/@{c}/"),
        format!("/svc/pricing/user@{c}/fragments/plans"),
        format!("/svc/pricing%40{c}/fragments/plans"),
        format!("/svc/{c}/fragments/plans"),
        // Backslashes and NUL bytes.
        format!("/svc/pricing/\\\\{c}\\fragments"),
        "/svc/pricing/fragments\\plans".into(),
        "/svc/pricing/fragments/plans%00".into(),
        "/svc/pricing/fragments/plans%2500".into(),
        "/svc/pricing/fragments/plans%5c".into(),
    ]
}

/// The answer to a [`raw_request`]: status, the head as text, the body.
#[derive(Debug)]
pub struct RawAnswer {
    /// The status code.
    pub status: u16,
    /// Status line and headers.
    pub head: String,
    /// The body (chunked encoding left as is).
    pub body: String,
}

/// Sends `GET <target>` (or another method) byte for byte to `base` (`http://host:port`)
/// and reads the answer until the server closes.
pub async fn raw_request(
    base: &str,
    method: &str,
    target: &[u8],
    extra_headers: &str,
) -> RawAnswer {
    let authority = base.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    let mut req = Vec::new();
    req.extend_from_slice(method.as_bytes());
    req.push(b' ');
    req.extend_from_slice(target);
    req.extend_from_slice(
        format!(" HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n{extra_headers}\r\n")
            .as_bytes(),
    );
    stream.write_all(&req).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    RawAnswer {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

/// Reads a streamed body chunk by chunk, recording when each arrived (since `since`).
pub async fn timed_chunks(res: reqwest::Response, since: Instant) -> Vec<(Duration, String)> {
    use futures_util::StreamExt;
    let mut stream = res.bytes_stream();
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("a chunk");
        out.push((
            since.elapsed(),
            String::from_utf8_lossy(&chunk).into_owned(),
        ));
    }
    out
}

/// The `<div class="slot" data-slot="…">` element's opening tag for a slot, if present.
pub fn slot_tag<'a>(html: &'a str, slot: &str) -> Option<&'a str> {
    let needle = format!("data-slot=\"{slot}\"");
    let at = html.find(&needle)?;
    let start = html[..at].rfind('<')?;
    let end = at + html[at..].find('>')?;
    Some(&html[start..=end])
}

/// The `data-fragment-status` of a slot in a page.
pub fn slot_status(html: &str, slot: &str) -> Option<String> {
    let tag = slot_tag(html, slot)?;
    let key = "data-fragment-status=\"";
    let start = tag.find(key)? + key.len();
    let len = tag[start..].find('"')?;
    Some(tag[start..start + len].to_owned())
}

/// Reads a JSON body.
pub async fn json(res: reqwest::Response) -> serde_json::Value {
    let body = res.bytes().await.expect("a body");
    serde_json::from_slice(&body).expect("a JSON body")
}
