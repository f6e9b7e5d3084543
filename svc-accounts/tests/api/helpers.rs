//! `spawn_app()`: svc-accounts in-process on port 0 with its own fresh database, and a
//! `TestApp` with one method per endpoint. Logs only with `TEST_LOG=1`.
//!
//! The same suite is built twice (see `Cargo.toml`): the `api` binary runs every test on a
//! SQLite file, `api_postgres` on a new PostgreSQL database per test (`CREATE DATABASE
//! test_<random>` on the server of `ACCOUNTS_TEST_POSTGRES_URL`, which `scripts/with-postgres`
//! exports, or of a throwaway server the process starts when Debian's `postgresql` is
//! installed: `testing::admin_url`). With neither, the PostgreSQL tests are skipped locally,
//! and fail under `CI=true`.

use std::path::{Path, PathBuf};

use clap::Parser;
use reqwest::redirect::Policy;
use reqwest::{Client, Response, StatusCode};
use svc_accounts::settings::Settings;
use svc_accounts::startup::Application;
use svc_accounts::storage::postgres::testing;
use svc_accounts::storage::Storage;

// The context secret every test app uses: the kit's.
use shared_ui::testkit::SECRET;

/// A password that passes the rules.
pub const PASSWORD: &str = "correct horse battery";

/// Which backend this test binary runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// `api_postgres` runs on PostgreSQL, `api` on SQLite.
pub fn backend() -> Backend {
    if env!("CARGO_CRATE_NAME") == "api_postgres" {
        Backend::Postgres
    } else {
        Backend::Sqlite
    }
}

/// A fresh database for one test: a file in a temporary folder, or a new PostgreSQL
/// database (dropped with the value).
pub struct TestDb {
    /// What `--database` gets.
    pub value: String,
    sqlite: Option<(tempfile::TempDir, PathBuf)>,
    admin: Option<String>,
}

impl TestDb {
    /// A new database on this binary's backend. On PostgreSQL with neither
    /// `ACCOUNTS_TEST_POSTGRES_URL` nor an installed PostgreSQL to start, outside CI, the
    /// test is skipped: the note is printed
    /// and the test's process ends with success (nextest runs each test in its own process).
    pub fn new() -> Self {
        match backend() {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("accounts.db");
                Self {
                    value: path.display().to_string(),
                    sqlite: Some((dir, path)),
                    admin: None,
                }
            }
            Backend::Postgres => {
                let Some(admin) = testing::admin_url() else {
                    shared_ui::testkit::missing(testing::NEEDS, testing::INSTALL);
                    std::process::exit(0);
                };
                Self {
                    value: testing::create_database(&admin),
                    sqlite: None,
                    admin: Some(admin),
                }
            }
        }
    }

    /// The SQLite file, on the SQLite backend.
    pub fn sqlite_path(&self) -> Option<&Path> {
        self.sqlite.as_ref().map(|(_, path)| path.as_path())
    }

    /// The name the service shows for this database (the URL with its password hidden).
    pub fn shown(&self) -> String {
        svc_accounts::storage::Database::parse(&self.value)
            .unwrap()
            .to_string()
    }

    /// Runs one statement directly on the database, past the service (tests that look at
    /// or change what is stored). `sqlite` and `postgres` are the same statement in each
    /// dialect; the first column of every row comes back as bytes or text.
    pub fn query(&self, sqlite: &str, postgres: &str) -> Vec<Value> {
        if let Some(path) = self.sqlite_path() {
            let conn = rusqlite::Connection::open(path).unwrap();
            let mut stmt = conn.prepare(sqlite).unwrap();
            let rows = stmt
                .query_map([], |r| {
                    Ok(match r.get_ref(0)? {
                        rusqlite::types::ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
                        rusqlite::types::ValueRef::Text(t) => {
                            Value::Text(String::from_utf8_lossy(t).into_owned())
                        }
                        other => Value::Text(format!("{other:?}")),
                    })
                })
                .unwrap();
            return rows.map(Result::unwrap).collect();
        }
        let (url, sql) = (self.value.clone(), postgres.to_owned());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(conn);
                let rows = client.query(&sql, &[]).await.unwrap();
                rows.iter()
                    .map(|r| match r.columns().first().map(|c| c.type_().clone()) {
                        Some(tokio_postgres::types::Type::BYTEA) => Value::Bytes(r.get(0)),
                        Some(tokio_postgres::types::Type::TEXT) => Value::Text(r.get(0)),
                        other => Value::Text(format!("{other:?}")),
                    })
                    .collect()
            })
        })
        .join()
        .unwrap()
    }

    /// Takes the database away under the running service: deletes the SQLite file, or
    /// drops the PostgreSQL database (closing its connections).
    pub fn destroy(&self) {
        match (self.sqlite_path(), &self.admin) {
            (Some(path), _) => std::fs::remove_file(path).unwrap(),
            (None, Some(admin)) => testing::drop_database(admin, &self.value),
            (None, None) => unreachable!("a test database is SQLite or PostgreSQL"),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(admin) = &self.admin {
            testing::drop_database(admin, &self.value);
        }
    }
}

/// The first column of a row read by [`TestDb::query`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Bytes(Vec<u8>),
    Text(String),
}

/// Cheap argon2id for tests; production keeps the documented cost.
pub fn test_args(db: &str) -> Vec<String> {
    [
        "svc-accounts",
        "--port",
        "0",
        "--context-secret",
        SECRET,
        "--argon2-memory-kib",
        "64",
        "--argon2-iterations",
        "1",
        "--database",
        db,
        // Many sign-ups from one address; tests of the sign-up limit lower these again.
        "--sign-up-limit-per-client",
        "100000",
        "--sign-up-limit-global",
        "100000",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

pub struct TestApp {
    pub address: String,
    pub port: u16,
    /// A browser: stores cookies, does not follow redirects (tests look at the 303s).
    pub client: Client,
    pub storage: Storage,
    pub handle: actix_web::dev::ServerHandle,
    /// Last: dropped after the server was told to stop.
    pub db: TestDb,
}

pub fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(extra: &[&str]) -> TestApp {
    if std::env::var("TEST_LOG").is_ok() {
        shared_ui::logging::init_tracing();
    }
    let db = TestDb::new();
    let mut args = test_args(&db.value);
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let settings = Settings::try_parse_from(args).unwrap();
    let app = Application::build(settings).await.unwrap();
    let port = app.port();
    let storage = app.storage();
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        client: browser(),
        storage,
        handle,
        db,
    }
}

/// The value of the first `csrf_token` hidden field in some HTML.
pub fn csrf_in(html: &str) -> String {
    let marker = r#"name="csrf_token" value=""#;
    let start = html.find(marker).expect("the page has a csrf_token field") + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop the server with the test; the stop command is sent at once.
        drop(self.handle.stop(false));
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn get_with(&self, client: &Client, path: &str) -> Response {
        client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn fragment(&self, id: &str) -> String {
        let res = self.get(&format!("/fragments/{id}")).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.text().await.unwrap()
    }

    /// A fresh form token for this client's session state.
    pub async fn csrf(&self, client: &Client) -> String {
        let html = self
            .get_with(client, "/fragments/account")
            .await
            .text()
            .await
            .unwrap();
        csrf_in(&html)
    }

    /// The body of `GET path` with extra `headers`, with the app's client.
    pub async fn text_with(&self, path: &str, headers: &[(&str, &str)]) -> String {
        let mut request = self.client.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap().text().await.unwrap()
    }

    /// `POST path` of `body` as it is, labelled `content_type`, with the app's client.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Response {
        self.client
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, client: &Client, path: &str, form: &[(&str, &str)]) -> Response {
        client.post(self.url(path)).form(form).send().await.unwrap()
    }

    /// Posts with a fresh CSRF token added.
    pub async fn post_with_csrf(
        &self,
        client: &Client,
        path: &str,
        form: &[(&str, &str)],
    ) -> Response {
        post_with_csrf_at(client, &self.address, path, form).await
    }

    /// A user who signed up, confirmed the address (in the database, as its mailed link
    /// would) and signed in with `client`: the sign-in's answer (or the sign-up's, if it was
    /// refused).
    pub async fn sign_up_as(&self, client: &Client, name: &str, email: &str) -> Response {
        let res = self.post_sign_up(client, name, email).await;
        if res.status() != StatusCode::SEE_OTHER {
            return res;
        }
        assert!(
            self.storage.confirm_address(&email.to_lowercase()).unwrap(),
            "no account for {email}"
        );
        self.sign_in(client, email, PASSWORD).await
    }

    /// Posts the sign-up form, no more (the account is not signed in, nor confirmed).
    pub async fn post_sign_up(&self, client: &Client, name: &str, email: &str) -> Response {
        self.post_with_csrf(
            client,
            "/actions/sign-up",
            &[
                ("name", name),
                ("email", email),
                ("password", PASSWORD),
                ("plan", "pro"),
            ],
        )
        .await
    }

    pub async fn sign_up(&self, name: &str, email: &str) -> Response {
        self.sign_up_as(&self.client, name, email).await
    }

    pub async fn sign_in(&self, client: &Client, email: &str, password: &str) -> Response {
        self.post_with_csrf(
            client,
            "/actions/sign-in",
            &[("email", email), ("password", password)],
        )
        .await
    }

    /// `/internal/session` for this client: the JSON user or `None` on 401.
    pub async fn session_of(&self, client: &Client) -> Option<serde_json::Value> {
        let res = self.get_with(client, "/internal/session").await;
        match res.status() {
            StatusCode::OK => Some(res.json().await.unwrap()),
            StatusCode::UNAUTHORIZED => None,
            other => panic!("/internal/session answered {other}"),
        }
    }

    pub fn accounts(&self) -> i64 {
        self.storage.count_accounts().unwrap()
    }
}

/// Posts `form` to `{address}{path}` with a fresh CSRF token for `client` added last (for a
/// service at any address, such as the binary run as a process).
pub async fn post_with_csrf_at(
    client: &Client,
    address: &str,
    path: &str,
    form: &[(&str, &str)],
) -> Response {
    let html = client
        .get(format!("{address}/fragments/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = csrf_in(&html);
    let mut fields = form.to_vec();
    fields.push(("csrf_token", &token));
    client
        .post(format!("{address}{path}"))
        .form(&fields)
        .send()
        .await
        .unwrap()
}

/// `GET {address}/internal/session` for `client`: the answer as JSON.
pub async fn session_at(client: &Client, address: &str) -> serde_json::Value {
    client
        .get(format!("{address}/internal/session"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The session token the `Set-Cookie` header of a response holds.
pub fn session_token(res: &Response) -> String {
    let cookie = set_cookie(res);
    cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("mf_session=")
        .to_owned()
}

/// The `Set-Cookie` header of a response (the session cookie).
pub fn set_cookie(res: &Response) -> String {
    res.headers()
        .get(reqwest::header::SET_COOKIE)
        .expect("a Set-Cookie header")
        .to_str()
        .unwrap()
        .to_owned()
}

pub fn location(res: &Response) -> String {
    res.headers()
        .get(reqwest::header::LOCATION)
        .expect("a Location header")
        .to_str()
        .unwrap()
        .to_owned()
}

/// A real SMTP server on loopback for one test: Debian's `python3-aiosmtpd` writing every
/// message it receives into a Maildir (`scripts/test` installs it). Stopped when dropped.
pub struct MailServer {
    pub url: String,
    child: std::process::Child,
    dir: tempfile::TempDir,
}

impl MailServer {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // Debian's interpreter, where the package installs the module (not a pyenv shim).
        let python = ["/usr/bin/python3", "python3"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("python3");
        let child = std::process::Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.path().join("maildir"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 with aiosmtpd (apt-get install python3-aiosmtpd)");
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "the SMTP server did not start (is python3-aiosmtpd installed?)"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Self {
            url: format!("smtp://127.0.0.1:{port}"),
            child,
            dir,
        }
    }

    /// Every message received so far, decoded (quoted-printable soft breaks and `=3D`).
    pub fn messages(&self) -> Vec<String> {
        let new = self.dir.path().join("maildir/new");
        let Ok(entries) = std::fs::read_dir(new) else {
            return Vec::new();
        };
        entries
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
            .map(|m| {
                m.replace("=\r\n", "")
                    .replace("=\n", "")
                    .replace("=3D", "=")
            })
            .collect()
    }

    /// Waits (up to 20 s) for a message to `to` whose text contains `subject`.
    pub async fn wait_for(&self, to: &str, subject: &str) -> String {
        let started = std::time::Instant::now();
        loop {
            let found = self.messages().into_iter().find(|m| {
                m.lines()
                    .any(|l| l.eq_ignore_ascii_case(&format!("X-RcptTo: {to}")))
                    && m.contains(subject)
            });
            if let Some(m) = found {
                return m;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "no message to {to} about {subject:?}; got {:?}",
                self.messages()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// The messages to `to`.
    pub fn count_to(&self, to: &str) -> usize {
        self.messages()
            .iter()
            .filter(|m| {
                m.lines()
                    .any(|l| l.eq_ignore_ascii_case(&format!("X-RcptTo: {to}")))
            })
            .count()
    }
}

impl Drop for MailServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The token of the link `?<param>=<token>` in a mailed message.
pub fn link_token(message: &str, param: &str) -> String {
    let marker = format!("?{param}=");
    let start = message.find(&marker).expect("a link in the message") + marker.len();
    message[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// An app that mails through a real SMTP server on loopback.
pub async fn spawn_app_with_mail(extra: &[&str]) -> (TestApp, MailServer) {
    let mail = MailServer::start();
    let mut args = vec!["--smtp-url", mail.url.as_str()];
    args.extend_from_slice(extra);
    (spawn_app_with(&args).await, mail)
}

/// A page with its CSRF tokens blanked (they are fresh in every answer).
pub fn without_tokens(html: &str) -> String {
    html.split(r#"name="csrf_token" value=""#)
        .enumerate()
        .map(|(i, part)| match i {
            0 => part.to_owned(),
            _ => part
                .split_once('"')
                .map_or(String::new(), |(_, rest)| rest.to_owned()),
        })
        .collect::<Vec<_>>()
        .join("<token>")
}
