use reqwest::StatusCode;

use crate::helpers::{browser, spawn_app, PASSWORD};

#[tokio::test]
async fn sign_in_pauses_after_five_failures_for_one_email_even_with_the_right_password() {
    let app = spawn_app().await;
    app.sign_up("Ada", "ada@example.com").await;
    let attacker = browser();
    for _ in 0..5 {
        let res = app
            .sign_in(&attacker, "ada@example.com", "wrong password!")
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let res = app.sign_in(&attacker, "Ada@Example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().get("retry-after").is_some());
    assert!(res.headers().get("set-cookie").is_none());
    let html = res.text().await.unwrap();
    assert!(html.contains("Too many failed sign-ins"), "{html}");
    assert!(html.contains("try again in 15 minutes"), "{html}");
    // Another email from the same client is still allowed.
    app.sign_up_as(&browser(), "Bob", "bob@example.com").await;
    let res = app.sign_in(&browser(), "bob@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn sign_in_pauses_after_twenty_failures_from_one_client_across_emails() {
    let app = spawn_app().await;
    app.sign_up("Ada", "ada@example.com").await;
    let client = browser();
    let token = app.csrf(&client).await;
    let attempt = |email: String, ip: &'static str| {
        let client = client.clone();
        let token = token.clone();
        let url = app.url("/actions/sign-in");
        async move {
            client
                .post(url)
                .header("x-forwarded-for", ip)
                .form(&[
                    ("email", email.as_str()),
                    ("password", "wrong password!"),
                    ("csrf_token", &token),
                ])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    for i in 0..20 {
        assert_eq!(
            attempt(format!("user{i}@example.com"), "203.0.113.9").await,
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
    assert_eq!(
        attempt("fresh@example.com".into(), "203.0.113.9").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // A different client address is not affected.
    assert_eq!(
        attempt("fresh@example.com".into(), "203.0.113.10").await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}
