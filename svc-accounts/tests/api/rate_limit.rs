use reqwest::StatusCode;

use crate::helpers::{browser, spawn_app, spawn_app_with, PASSWORD};

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
    // The test client plays the shell: a trusted proxy whose X-Forwarded-For is believed.
    let app = spawn_app_with(&["--trusted-proxies", "127.0.0.1"]).await;
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

#[tokio::test]
async fn x_forwarded_for_from_an_untrusted_peer_cannot_dodge_the_client_limit() {
    // Nothing trusted (the default): a client that reaches the service directly and makes
    // up a new X-Forwarded-For for every guess is still one client, its TCP peer.
    let app = spawn_app().await;
    let client = browser();
    let token = app.csrf(&client).await;
    let mut statuses = Vec::new();
    for i in 0..21 {
        let res = client
            .post(app.url("/actions/sign-in"))
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .form(&[
                ("email", format!("user{i}@example.com").as_str()),
                ("password", "wrong password!"),
                ("csrf_token", &token),
            ])
            .send()
            .await
            .unwrap();
        statuses.push(res.status());
    }
    assert!(
        statuses[..20]
            .iter()
            .all(|s| *s == StatusCode::UNPROCESSABLE_ENTITY),
        "{statuses:?}"
    );
    assert_eq!(statuses[20], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
}

#[tokio::test]
async fn thirty_concurrent_guesses_at_one_email_get_five_password_checks() {
    let app = spawn_app().await;
    app.sign_up("Ada", "ada@example.com").await;
    let attacker = browser();
    let token = app.csrf(&attacker).await;
    // 29 wrong guesses and the right password, all at once.
    let guesses = (0..30).map(|i| {
        let client = attacker.clone();
        let token = token.clone();
        let url = app.url("/actions/sign-in");
        let password = if i == 29 {
            PASSWORD.to_owned()
        } else {
            format!("wrong guess {i}!")
        };
        async move {
            client
                .post(url)
                .form(&[
                    ("email", "ada@example.com"),
                    ("password", password.as_str()),
                    ("csrf_token", token.as_str()),
                ])
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let checked = statuses
        .iter()
        .filter(|s| **s != StatusCode::TOO_MANY_REQUESTS)
        .count();
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(
        checked, 5,
        "only five passwords may be checked: {statuses:?}"
    );
    assert_eq!(limited, 25, "{statuses:?}");
}

#[tokio::test]
async fn sign_ups_are_limited_per_client_address() {
    let app = spawn_app_with(&["--sign-up-limit-per-client", "3"]).await;
    for i in 0..3 {
        app.sign_up_as(&browser(), "Ada", &format!("ada{i}@example.com"))
            .await;
    }
    let client = browser();
    let token = app.csrf(&client).await;
    let res = client
        .post(app.url("/actions/sign-up"))
        .form(&[
            ("name", "Eve"),
            ("email", "eve@example.com"),
            ("password", PASSWORD),
            ("plan", "starter"),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().get("retry-after").is_some());
    assert!(res.headers().get("set-cookie").is_none());
    let html = res.text().await.unwrap();
    assert!(html.contains("Too many accounts were created"), "{html}");
    assert_eq!(app.accounts(), 3);
}

#[tokio::test]
async fn sign_ups_are_limited_globally_across_addresses() {
    let app = spawn_app_with(&[
        "--sign-up-limit-global",
        "2",
        "--trusted-proxies",
        "127.0.0.1",
    ])
    .await;
    let mut statuses = Vec::new();
    for i in 0..3 {
        let client = browser();
        let token = app.csrf(&client).await;
        let res = client
            .post(app.url("/actions/sign-up"))
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .form(&[
                ("name", "Ada"),
                ("email", format!("ada{i}@example.com").as_str()),
                ("password", PASSWORD),
                ("plan", "starter"),
                ("csrf_token", token.as_str()),
            ])
            .send()
            .await
            .unwrap();
        statuses.push(res.status());
    }
    assert_eq!(
        statuses,
        [
            StatusCode::SEE_OTHER,
            StatusCode::SEE_OTHER,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
}
