//! `shell check URL`: passes on our three services, fails on broken servers and names the
//! fault. Uses the library function (the subcommand prints the same report).

use mf_tests::{FakeService, FakeSpec, Stack};

#[tokio::test]
async fn the_contract_check_passes_on_our_three_services() {
    let stack = Stack::start().await;
    for name in ["pricing", "dashboard", "accounts"] {
        let report = shell::check::check(&stack.service_url(name)).await;
        assert!(report.passed(), "{name}:\n{report}");
        let text = report.to_string();
        assert!(
            text.contains("✔ GET /manifest.json parses and validates"),
            "{text}"
        );
        assert!(text.contains("All "), "{text}");
        assert!(
            report
                .checks
                .iter()
                .any(|c| c.name.contains("If-None-Match")),
            "{name}: assets checked"
        );
    }
}

#[tokio::test]
async fn the_contract_check_names_a_missing_version_header() {
    let mut spec = FakeSpec::new("broken", &["widget"]);
    spec.omit_version = true;
    let fake = FakeService::start(spec).await;
    let report = shell::check::check(&fake.url).await;
    assert!(!report.passed());
    let failures: Vec<_> = report.failures().collect();
    assert_eq!(failures.len(), 1, "{report}");
    assert!(failures[0].name.contains("fragment `widget`"), "{report}");
    assert!(
        failures[0]
            .detail
            .contains("x-fragment-version header is missing"),
        "{report}"
    );
    assert!(report.to_string().contains("✘ fragment `widget`"));
}

#[tokio::test]
async fn the_contract_check_names_a_bad_manifest_field_and_a_whole_document() {
    let mut spec = FakeSpec::new("broken", &["widget"]);
    spec.bad_manifest = true;
    let fake = FakeService::start(spec).await;
    let report = shell::check::check(&fake.url).await;
    assert!(!report.passed());
    let first = report.failures().next().unwrap();
    assert!(first.name.contains("manifest.json"), "{report}");
    assert!(first.detail.contains("fragments[0].path"), "{report}");

    let mut spec = FakeSpec::new("broken", &["widget"]);
    spec.whole_document = true;
    let fake = FakeService::start(spec).await;
    let report = shell::check::check(&fake.url).await;
    let failure = report.failures().next().expect("a failure");
    assert!(
        failure.name.contains("is a fragment, not a document"),
        "{report}"
    );
}

#[tokio::test]
async fn the_contract_check_validates_personal_and_min_height() {
    let mut spec = FakeSpec::new("sized", &["widget"]);
    spec.personal = Some(false);
    spec.min_height = Some(180);
    let fake = FakeService::start(spec).await;
    let report = shell::check::check(&fake.url).await;
    assert!(report.passed(), "{report}");

    for bad in [0, 4001] {
        let mut spec = FakeSpec::new("sized", &["widget"]);
        spec.min_height = Some(bad);
        let fake = FakeService::start(spec).await;
        let report = shell::check::check(&fake.url).await;
        let first = report.failures().next().expect("a failure");
        assert!(first.detail.contains("fragments[0].min_height"), "{report}");
    }
}

#[tokio::test]
async fn the_contract_check_fails_on_a_server_that_is_not_there() {
    let report = shell::check::check(&format!("http://127.0.0.1:{}", mf_tests::free_port())).await;
    assert!(!report.passed());
    assert!(report.to_string().contains("no answer"), "{report}");
    let report = shell::check::check("ftp://example.com").await;
    assert!(!report.passed());
}
