//! `spawn_app()`: svc-accounts in-process on port 0 with its own temporary database, and a
//! `TestApp` with one method per endpoint. Logs only with `TEST_LOG=1`.

use std::path::PathBuf;

use clap::Parser;
use reqwest::redirect::Policy;
use reqwest::{Client, Response, StatusCode};
use svc_accounts::settings::Settings;
use svc_accounts::startup::Application;
use svc_accounts::storage::Storage;

/// The context secret every test app uses.
pub const SECRET: &str = "test-context-secret-0123456789";
/// A password that passes the rules.
pub const PASSWORD: &str = "correct horse battery";

/// Cheap argon2id for tests; production keeps the documented cost.
pub fn test_args(db: &std::path::Path) -> Vec<String> {
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
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain([db.display().to_string()])
    .collect()
}

pub struct TestApp {
    pub address: String,
    /// A browser: stores cookies, does not follow redirects (tests look at the 303s).
    pub client: Client,
    pub storage: Storage,
    pub db_path: PathBuf,
    pub handle: actix_web::dev::ServerHandle,
    _dir: tempfile::TempDir,
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
        shared_ui::service::init_tracing();
    }
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("accounts.db");
    let mut args = test_args(&db_path);
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let settings = Settings::try_parse_from(args).unwrap();
    let app = Application::build(settings).await.unwrap();
    let port = app.port();
    let storage = app.storage();
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        client: browser(),
        storage,
        db_path,
        handle,
        _dir: dir,
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
        let token = self.csrf(client).await;
        let mut fields = form.to_vec();
        fields.push(("csrf_token", &token));
        self.post(client, path, &fields).await
    }

    pub async fn sign_up_as(&self, client: &Client, name: &str, email: &str) -> Response {
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
