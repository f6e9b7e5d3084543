//! `spawn_app()`: a real svc-dashboard on a free port in this process, and a [`TestApp`] with
//! one method per thing the tests do. Logs go to stderr only with `TEST_LOG=1`.

use std::time::Duration;

use actix_web::dev::ServerHandle;
use clap::Parser;
use shared_ui::context::{ContextKey, UserContext};
use shared_ui::contract::Manifest;
use shared_ui::headers;
use shared_ui::service::Secret;
use svc_dashboard::settings::Settings;
use svc_dashboard::startup::Application;

/// The context secret every test app is started with.
pub const SECRET: &str = "test-context-secret-0123456789";

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    pub key: ContextKey,
    handle: ServerHandle,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop the workers; the future is not awaited because Drop cannot be async.
        drop(self.handle.stop(false));
    }
}

fn init_test_log() {
    if std::env::var_os("TEST_LOG").is_some() {
        shared_ui::service::init_tracing();
    }
}

/// The settings a user would pass, plus `extra` flags.
fn settings(extra: &[&str]) -> Result<Settings, clap::Error> {
    let mut args = vec![
        "svc-dashboard",
        "--port",
        "0",
        "--bind",
        "127.0.0.1",
        "--context-secret",
        SECRET,
    ];
    args.extend_from_slice(extra);
    Settings::try_parse_from(args)
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(extra: &[&str]) -> TestApp {
    init_test_log();
    let app = Application::build(settings(extra).expect("settings parse"))
        .await
        .expect("the app builds");
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
            .unwrap(),
        key: ContextKey::new(Secret::new(SECRET.to_owned())),
        handle,
    }
}

pub fn ada(plan: &str) -> UserContext {
    UserContext {
        id: 1,
        name: "Ada <Lovelace>".to_owned(),
        plan: plan.to_owned(),
    }
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.get_with(path, &[]).await
    }

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

    pub async fn manifest(&self) -> Manifest {
        let res = self.get("/manifest.json").await;
        assert_eq!(res.status(), 200);
        Manifest::parse(&res.bytes().await.unwrap()).expect("the manifest follows the contract")
    }
}

pub fn header<'a>(res: &'a reqwest::Response, name: &str) -> &'a str {
    res.headers()
        .get(name)
        .unwrap_or_else(|| panic!("missing header {name}"))
        .to_str()
        .unwrap()
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
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect()
}
