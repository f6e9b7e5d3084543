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
    // 30 wrong guesses, all at once. (The right password is tried after them, below: sent
    // among them, it could be checked among the first five, and a success forgets the
    // email's failures, so the count would depend on the order the requests landed in.)
    let guesses = (0..30).map(|i| {
        let client = attacker.clone();
        let token = token.clone();
        let url = app.url("/actions/sign-in");
        let password = format!("wrong guess {i}!");
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
    // The budget is spent: even the right password is not checked now.
    let right = attacker
        .post(app.url("/actions/sign-in"))
        .form(&[
            ("email", "ada@example.com"),
            ("password", PASSWORD),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(right, StatusCode::TOO_MANY_REQUESTS);
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

/// Five wrong guesses at `email` from a fresh browser (a stranger), each a 422.
async fn strangers_guess(app: &crate::helpers::TestApp, email: &str) {
    let stranger = browser();
    for _ in 0..5 {
        let res = app.sign_in(&stranger, email, "wrong password!").await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
}

#[tokio::test]
async fn strangers_cannot_lock_out_a_browser_that_signed_in_before() {
    let app = spawn_app().await;
    app.sign_up_as(&browser(), "Ada", "ada@example.com").await;
    // Ada signs in once from her browser, which becomes a known device, and signs out.
    let ada = browser();
    let res = app.sign_in(&ada, "ada@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cookies: Vec<_> = res.headers().get_all("set-cookie").iter().collect();
    assert!(
        cookies.iter().any(|c| {
            let c = c.to_str().unwrap();
            c.starts_with("mf_device=") && c.contains("HttpOnly") && c.contains("SameSite=Strict")
        }),
        "{cookies:?}"
    );
    app.post_with_csrf(&ada, "/actions/sign-out", &[]).await;
    assert!(app.session_of(&ada).await.is_none());

    // A stranger who knows only her email uses up the email's budget.
    strangers_guess(&app, "ada@example.com").await;
    // A stranger with a device cookie of their own account gains nothing for Ada's.
    let mallory = browser();
    app.sign_up_as(&browser(), "Mallory", "mallory@example.com")
        .await;
    let res = app.sign_in(&mallory, "mallory@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    app.post_with_csrf(&mallory, "/actions/sign-out", &[]).await;
    for client in [browser(), mallory] {
        let res = app.sign_in(&client, "ada@example.com", PASSWORD).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(res.headers().get("set-cookie").is_none());
    }

    // Ada's own browser still signs in, with the right password.
    let res = app.sign_in(&ada, "ada@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.session_of(&ada).await.unwrap()["name"], "Ada");
    app.post_with_csrf(&ada, "/actions/sign-out", &[]).await;

    // Her browser's own wrong guesses pause only her browser, after five.
    for _ in 0..5 {
        let res = app
            .sign_in(&ada, "ada@example.com", "wrong password!")
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let res = app.sign_in(&ada, "ada@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_forged_device_cookie_counts_as_a_stranger() {
    let app = spawn_app().await;
    app.sign_up_as(&browser(), "Ada", "ada@example.com").await;
    strangers_guess(&app, "ada@example.com").await;
    let forged = "AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let client = browser();
    let token = app.csrf(&client).await;
    let res = client
        .post(app.url("/actions/sign-in"))
        .header("cookie", format!("mf_device={forged}"))
        .form(&[
            ("email", "ada@example.com"),
            ("password", PASSWORD),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// A sign-in (wrong password) or sign-up from `ip`, told by the trusted proxy; the status.
async fn attempt_from(
    app: &crate::helpers::TestApp,
    action: &str,
    ip: &str,
    email: &str,
) -> StatusCode {
    let client = browser();
    let token = app.csrf(&client).await;
    client
        .post(app.url(action))
        .header("x-forwarded-for", ip)
        .form(&[
            ("name", "Ada"),
            ("email", email),
            ("password", "wrong password!"),
            ("plan", "starter"),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn failed_sign_ins_from_one_ipv6_64_count_as_one_client() {
    let app = spawn_app_with(&["--trusted-proxies", "127.0.0.1"]).await;
    for i in 0..20 {
        let status = attempt_from(
            &app,
            "/actions/sign-in",
            &format!("2001:db8:1:2::{:x}", i + 1),
            &format!("user{i}@example.com"),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let rotated = "2001:db8:1:2:ffff:ffff:ffff:fffe";
    let status = attempt_from(&app, "/actions/sign-in", rotated, "fresh@example.com").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Another /64 is another client; IPv4 clients are keyed by their address.
    let other = "2001:db8:1:3::1";
    let status = attempt_from(&app, "/actions/sign-in", other, "fresh@example.com").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn sign_ups_from_one_ipv6_64_share_one_budget_and_the_prefix_is_a_setting() {
    let app = spawn_app_with(&[
        "--trusted-proxies",
        "127.0.0.1",
        "--sign-up-limit-per-client",
        "3",
    ])
    .await;
    let mut statuses = Vec::new();
    for i in 0..4 {
        let ip = format!("2001:db8:7:7::{}", i + 1);
        let email = format!("ada{i}@example.com");
        statuses.push(attempt_from(&app, "/actions/sign-up", &ip, &email).await);
    }
    assert_eq!(statuses[3], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
    assert_eq!(app.accounts(), 3);
    // With --ipv6-prefix 128 every address is its own client again.
    let app = spawn_app_with(&[
        "--trusted-proxies",
        "127.0.0.1",
        "--sign-up-limit-per-client",
        "3",
        "--ipv6-prefix",
        "128",
    ])
    .await;
    for i in 0..4 {
        let ip = format!("2001:db8:7:7::{}", i + 1);
        let email = format!("ada{i}@example.com");
        let status = attempt_from(&app, "/actions/sign-up", &ip, &email).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
    }
}
