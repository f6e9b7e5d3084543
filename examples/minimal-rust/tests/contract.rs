use minimal_rust::Hello;
use shared_ui::testkit::{self, ada};

#[tokio::test]
async fn the_service_passes_the_contract_checks_of_shell_check_strict() {
    testkit::assert_contract_strict(&testkit::spawn::<Hello>(&[]).await).await;
}

#[tokio::test]
async fn the_preview_shows_the_greeting_to_the_signed_in_user() {
    let app = testkit::spawn::<Hello>(&[]).await;
    let page = app.get_as("/", &ada("pro")).await.text().await.unwrap();
    assert!(page.contains("Hello, Ada &lt;Lovelace&gt;!"), "{page}");
}

#[tokio::test]
async fn the_manifest_reserves_the_greetings_height_and_keeps_it_personal() {
    let app = testkit::spawn::<Hello>(&[]).await;
    let body = app.get("/manifest.json").await.bytes().await.unwrap();
    let manifest = shared_ui::contract::Manifest::parse(&body).unwrap();
    let greeting = manifest.fragment("greeting").unwrap();
    assert_eq!(greeting.min_height, Some(48));
    assert!(greeting.personal, "the greeting names the user");
}
