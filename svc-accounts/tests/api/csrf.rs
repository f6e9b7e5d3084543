use reqwest::StatusCode;

use crate::helpers::{browser, spawn_app, PASSWORD};

fn sign_up_form(token: Option<&str>) -> Vec<(&str, &str)> {
    let mut form = vec![
        ("name", "Ada"),
        ("email", "ada@example.com"),
        ("password", PASSWORD),
        ("plan", "pro"),
    ];
    if let Some(t) = token {
        form.push(("csrf_token", t));
    }
    form
}

#[tokio::test]
async fn a_post_without_or_with_a_forged_csrf_token_is_403_and_stores_nothing() {
    let app = spawn_app().await;
    let real = app.csrf(&app.client).await;
    let (issued, _) = real.split_once('.').unwrap();
    let forged_tag = format!("{issued}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    let future = format!("9999999999.{}", real.split_once('.').unwrap().1);
    for token in [
        None,
        Some(""),
        Some("garbage"),
        Some(forged_tag.as_str()),
        Some(future.as_str()),
    ] {
        let res = app
            .post(&app.client, "/actions/sign-up", &sign_up_form(token))
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{token:?}");
        assert!(res.headers().get("set-cookie").is_none());
        let html = res.text().await.unwrap();
        assert!(html.contains("Your form expired"), "{html}");
        // The answer carries a fresh token, so trying again works.
        assert!(html.contains(r#"name="csrf_token""#));
    }
    assert_eq!(app.accounts(), 0);
    let res = app
        .post(
            &app.client,
            "/actions/sign-in",
            &[("email", "a@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_token_from_another_session_cannot_change_a_profile_or_sign_out() {
    let app = spawn_app().await;
    app.sign_up("Ada", "ada@example.com").await;
    let mallory = browser();
    app.sign_up_as(&mallory, "Mallory", "mallory@example.com")
        .await;
    let malloys_token = app.csrf(&mallory).await;
    let anonymous_token = app.csrf(&browser()).await;
    for token in [malloys_token.as_str(), anonymous_token.as_str()] {
        let res = app
            .post(
                &app.client,
                "/actions/profile",
                &[("name", "Owned"), ("plan", "team"), ("csrf_token", token)],
            )
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        let res = app
            .post(&app.client, "/actions/sign-out", &[("csrf_token", token)])
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }
    let user = app.session_of(&app.client).await.unwrap();
    assert_eq!(user["name"], "Ada");
}

#[tokio::test]
async fn a_post_from_another_origin_is_refused_even_with_a_valid_token() {
    let app = spawn_app().await;
    let token = app.csrf(&app.client).await;
    for (header, value) in [
        ("origin", "https://evil.example"),
        ("origin", "null"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let res = app
            .client
            .post(app.url("/actions/sign-up"))
            .header(header, value)
            .form(&sign_up_form(Some(&token)))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{value}");
        assert!(res.text().await.unwrap().contains("sent from another site"));
    }
    assert_eq!(app.accounts(), 0);
}

#[tokio::test]
async fn a_post_whose_origin_is_the_shells_forwarded_host_is_accepted() {
    let app = spawn_app().await;
    let token = app.csrf(&app.client).await;
    let res = app
        .client
        .post(app.url("/actions/sign-up"))
        .header("origin", "http://shell.example:8000")
        .header("x-forwarded-host", "shell.example:8000")
        .header("x-mf-base-path", "/svc/accounts")
        .form(&sign_up_form(Some(&token)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(app.storage.confirm_address("ada@example.com").unwrap());
    let same_host = app.csrf(&browser()).await;
    let res = browser()
        .post(app.url("/actions/sign-in"))
        .header("origin", app.address.clone())
        .form(&[
            ("email", "ada@example.com"),
            ("password", PASSWORD),
            ("csrf_token", &same_host),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn every_rendering_masks_the_token_afresh_and_each_one_is_accepted() {
    let app = spawn_app().await;
    // Signed out: two renderings of the same form in the same second.
    let (a, b) = (app.csrf(&app.client).await, app.csrf(&app.client).await);
    assert_ne!(
        a, b,
        "the token must not repeat byte-for-byte between answers"
    );
    for token in [&a, &b] {
        let res = app
            .post(
                &app.client,
                "/actions/sign-in",
                &[
                    ("email", "nobody@example.com"),
                    ("password", "wrong password!"),
                    ("csrf_token", token.as_str()),
                ],
            )
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{token}");
    }
    // Signed in: the session-bound token in the user menu changes too, and both work.
    app.sign_up("Ada", "ada@example.com").await;
    let menu = |html: String| crate::helpers::csrf_in(&html);
    let first = menu(app.fragment("user-menu").await);
    let second = menu(app.fragment("user-menu").await);
    assert_ne!(first, second);
    for (token, name) in [(&first, "Ada L"), (&second, "Ada M")] {
        let res = app
            .post(
                &app.client,
                "/actions/profile",
                &[("name", name), ("plan", "pro"), ("csrf_token", token)],
            )
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{token}");
    }
    assert_eq!(app.session_of(&app.client).await.unwrap()["name"], "Ada M");
}
