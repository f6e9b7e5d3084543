//! The contract of `docs/CONTRACT.md`, held against every service there is: the three teams,
//! the Python team (`python3 examples/python/changelog.py` as a process) and the minimal
//! example (`examples/minimal-rust`, in this process).
//!
//! - Every live manifest is valid against the committed JSON Schema
//!   (`docs/manifest.schema.json`), and the schema and `Manifest::validate` agree on
//!   manifests broken one rule at a time.
//! - `shell check --strict` passes on every service and fails a server without security
//!   headers, naming the check.

use std::path::Path;

use maud::html;
use mf_tests::python::PythonService;
use mf_tests::{FakeService, FakeSpec, Stack, SECRET};
use serde_json::{json, Value};
use shared_ui::context::current_user;
use shared_ui::contract::check::{check_with, Options};
use shared_ui::contract::Manifest;
use shared_ui::kit::{Fragment, NoSettings, Service, Team};
use shared_ui::server::StartError;
use shared_ui::settings::Common;
use shared_ui::testkit::{self, TestApp};

/// The committed schema, compiled.
fn schema() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/manifest.schema.json");
    let text = std::fs::read_to_string(&path).expect("docs/manifest.schema.json is there");
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("the schema compiles")
}

/// Every service there is, running: `(name, base URL)`, and what keeps them up.
struct Everyone {
    stack: Stack,
    _python: PythonService,
    minimal: TestApp,
    python_url: String,
}

impl Everyone {
    async fn start() -> Everyone {
        let python = PythonService::start().await;
        Everyone {
            stack: Stack::start().await,
            python_url: python.url.clone(),
            _python: python,
            minimal: testkit::spawn::<minimal_rust::Hello>(&[]).await,
        }
    }

    fn urls(&self) -> Vec<(&'static str, String)> {
        let mut urls: Vec<_> = ["pricing", "dashboard", "accounts"]
            .into_iter()
            .map(|name| (name, self.stack.service_url(name)))
            .collect();
        urls.push(("changelog (Python)", self.python_url.clone()));
        urls.push(("hello (minimal-rust)", self.minimal.address.clone()));
        urls
    }
}

fn problems(validator: &jsonschema::Validator, manifest: &Value) -> Vec<String> {
    validator
        .iter_errors(manifest)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[tokio::test]
async fn every_services_manifest_is_valid_against_the_committed_schema() {
    let validator = schema();
    let everyone = Everyone::start().await;
    let client = reqwest::Client::new();
    for (name, url) in everyone.urls() {
        let body = client
            .get(format!("{url}/manifest.json"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let manifest: Value = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("{name}: the manifest is not JSON: {e}"));
        let problems = problems(&validator, &manifest);
        assert!(problems.is_empty(), "{name}: {problems:#?}");
    }
    everyone.stack.stop().await;
}

fn sample() -> Value {
    json!({
        "name": "pricing",
        "version": "1.0.0+abc",
        "fragments": [{"id": "plans", "path": "/fragments/plans", "title": "Plans",
                       "fallback": "<p>Plans are unavailable.</p>"}],
        "assets": {"css": ["/assets/pricing.css"],
                   "controllers": [{"identifier": "pricing-toggle", "module": "/assets/toggle.js"}]},
        "actions": ["/actions/choose"]
    })
}

#[test]
fn the_schema_and_manifest_validate_agree_rule_by_rule() {
    let validator = schema();
    let long = |n: usize| "a".repeat(n);
    // (JSON pointer, value, whether the manifest stays valid)
    let cases: Vec<(&str, Value, bool)> = vec![
        ("/name", json!("svc-2"), true),
        ("/name", json!(long(40)), true),
        ("/name", json!(long(41)), false),
        ("/name", json!("Pricing"), false),
        ("/name", json!("2fa"), false),
        ("/name", json!(""), false),
        ("/version", json!("~".repeat(64)), true),
        ("/version", json!("~".repeat(65)), false),
        ("/version", json!("1.0 beta"), false),
        ("/version", json!(""), false),
        ("/version", json!("1.0\u{e9}"), false),
        ("/fragments", json!([]), false),
        ("/fragments/0/id", json!("-x"), false),
        ("/fragments/0/title", json!(long(100)), true),
        ("/fragments/0/title", json!(long(101)), false),
        ("/fragments/0/title", json!("   "), false),
        ("/fragments/0/fallback", json!(long(16 * 1024)), true),
        ("/fragments/0/fallback", json!(long(16 * 1024 + 1)), false),
        ("/fragments/0/path", json!("/"), true),
        ("/fragments/0/path", json!("/a/b_c~d/e-1.2"), true),
        ("/fragments/0/path", json!("/..a/.b/c.."), true),
        ("/fragments/0/path", json!(format!("/{}", long(199))), true),
        ("/fragments/0/path", json!(format!("/{}", long(200))), false),
        ("/fragments/0/path", json!("/metrics"), false),
        ("/fragments/0/path", json!("/metrics/x"), true),
        ("/fragments/0/path", json!("fragments/plans"), false),
        ("/fragments/0/path", json!("//evil.example/x"), false),
        ("/fragments/0/path", json!("/a/../b"), false),
        ("/fragments/0/path", json!("/a/./b"), false),
        ("/fragments/0/path", json!("/a/.."), false),
        ("/fragments/0/path", json!("/a//b"), false),
        ("/fragments/0/path", json!("/a/"), false),
        ("/fragments/0/path", json!("/a%2e"), false),
        ("/fragments/0/path", json!("/a?b"), false),
        ("/fragments/0/path", json!("/a:b"), false),
        ("/assets/css/0", json!("https://evil.example/x.css"), false),
        ("/assets/controllers/0/identifier", json!(long(60)), true),
        ("/assets/controllers/0/identifier", json!(long(61)), false),
        ("/assets/controllers/0/module", json!("/a\\b"), false),
        ("/actions/0", json!("/metrics"), false),
    ];
    for (pointer, value, valid) in cases {
        let mut manifest = sample();
        *manifest.pointer_mut(pointer).expect(pointer) = value.clone();
        let rust = Manifest::parse(manifest.to_string().as_bytes());
        let by_schema = validator.is_valid(&manifest);
        assert_eq!(
            rust.is_ok(),
            valid,
            "Manifest::parse, {pointer} = {value}: {rust:?}"
        );
        assert_eq!(by_schema, valid, "the schema, {pointer} = {value}");
    }
    // Missing required fields, and a field of the wrong type.
    for field in ["name", "version", "fragments"] {
        let mut manifest = sample();
        manifest.as_object_mut().unwrap().remove(field);
        assert!(!validator.is_valid(&manifest), "without {field}");
        assert!(Manifest::parse(manifest.to_string().as_bytes()).is_err());
    }
    let mut manifest = sample();
    manifest["actions"] = json!("/actions/choose");
    assert!(!validator.is_valid(&manifest));
    assert!(Manifest::parse(manifest.to_string().as_bytes()).is_err());
    // The one rule only `validate` applies: ids unique within the manifest.
    let mut manifest = sample();
    let twin = manifest["fragments"][0].clone();
    manifest["fragments"].as_array_mut().unwrap().push(twin);
    assert!(Manifest::parse(manifest.to_string().as_bytes()).is_err());
}

#[tokio::test]
async fn strict_check_passes_on_every_service() {
    let everyone = Everyone::start().await;
    for (name, url) in everyone.urls() {
        let report = check_with(&url, &Options::strict(SECRET)).await;
        assert!(report.passed(), "{name}:\n{report}");
        let text = report.to_string();
        for strict in [
            "security headers",
            "HEAD ",
            "x-request-id is echoed",
            "x-mf-base-path",
            "GET / (the preview)",
        ] {
            assert!(
                text.contains(strict),
                "{name}: no `{strict}` check:\n{text}"
            );
        }
    }
    // Every team of ours shows the signed-in user somewhere, so the context is checked
    // with the forged, expired and malformed values, not only noted.
    let report = check_with(&everyone.minimal.address, &Options::strict(SECRET)).await;
    assert!(
        report
            .to_string()
            .contains("a forged context reads as signed out"),
        "{report}"
    );
    everyone.stack.stop().await;
}

#[tokio::test]
async fn strict_check_fails_a_server_without_security_headers_and_names_it() {
    // A plain actix server that passes the basic checks but sends no security headers.
    let fake = FakeService::start(FakeSpec::new("bare", &["widget"])).await;
    let basic = check_with(&fake.url, &Options::default()).await;
    assert!(basic.passed(), "{basic}");
    let strict = check_with(&fake.url, &Options::strict(SECRET)).await;
    assert!(!strict.passed(), "{strict}");
    let failed: Vec<_> = strict.failures().map(|c| c.name.clone()).collect();
    assert!(
        failed
            .iter()
            .any(|n| n == "GET /fragments/widget: security headers (nosniff, no framing)"),
        "{strict}"
    );
    assert!(
        strict
            .to_string()
            .contains("missing X-Content-Type-Options: nosniff"),
        "{strict}"
    );
    fake.stop().await;
}

/// A kit service (so every header is right) whose fragment greets the signed-in user but is
/// sent `public, max-age=60`: the shell would show one user's greeting to the next.
struct Leaky;

impl Team for Leaky {
    const BINARY: &'static str = "leaky";
    const ABOUT: &'static str = "Shares a per-user fragment.";
    const VERSION: &'static str = "1.0.0";
    const PORT: u16 = 0;
    type Settings = NoSettings;

    async fn service(_: NoSettings, _: &Common) -> Result<Service, StartError> {
        Ok(Service::new("leaky", Self::VERSION).fragment(
            "hello",
            "Hello",
            |req: actix_web::HttpRequest| async move {
                let name = current_user(&req).map_or("stranger".to_owned(), |u| u.name);
                Fragment::new(
                    "public, max-age=60",
                    html! { p data-fragment="leaky/hello" { "Hello, " (name) } },
                )
            },
        ))
    }
}

#[tokio::test]
async fn strict_check_fails_a_per_user_fragment_the_shell_would_share() {
    let app = testkit::spawn::<Leaky>(&[]).await;
    assert!(check_with(&app.address, &Options::default()).await.passed());
    let report = check_with(&app.address, &Options::strict(SECRET)).await;
    let failures: Vec<_> = report.failures().collect();
    assert_eq!(failures.len(), 1, "{report}");
    assert!(
        failures[0].detail.contains("send private or no-store"),
        "{report}"
    );
    // Without the server's secret the check cannot see the user, and says so.
    let blind = check_with(
        &app.address,
        &Options {
            strict: true,
            context_secret: None,
        },
    )
    .await;
    assert!(blind.passed(), "{blind}");
    assert!(
        blind.to_string().contains("not visible from outside"),
        "{blind}"
    );
}
