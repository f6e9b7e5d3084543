use reqwest::StatusCode;

use crate::helpers::{browser, spawn_app, PASSWORD};

/// The content type of a form body.
const FORM: &str = "application/x-www-form-urlencoded";

#[tokio::test]
async fn each_bad_sign_up_field_gets_an_inline_422_error_and_stores_nothing() {
    let app = spawn_app().await;
    let long_name = "n".repeat(101);
    let long_email = format!("{}@example.com", "a".repeat(243));
    let long_password = "p".repeat(129);
    // (what, form, the inline message)
    type Case<'a> = (&'a str, [(&'a str, &'a str); 4], &'a str);
    let cases: Vec<Case> = vec![
        (
            "empty name",
            [
                ("name", ""),
                ("email", "a@example.com"),
                ("password", PASSWORD),
                ("plan", "pro"),
            ],
            "Enter your name.",
        ),
        (
            "blank name",
            [
                ("name", "   "),
                ("email", "a@example.com"),
                ("password", PASSWORD),
                ("plan", "pro"),
            ],
            "Enter your name.",
        ),
        (
            "long name",
            [
                ("name", &long_name),
                ("email", "a@example.com"),
                ("password", PASSWORD),
                ("plan", "pro"),
            ],
            "at most 100 characters",
        ),
        (
            "empty email",
            [
                ("name", "Ada"),
                ("email", ""),
                ("password", PASSWORD),
                ("plan", "pro"),
            ],
            "Enter your email address.",
        ),
        (
            "invalid email",
            [
                ("name", "Ada"),
                ("email", "ada@nowhere"),
                ("password", PASSWORD),
                ("plan", "pro"),
            ],
            "like name@example.com",
        ),
        (
            "long email",
            [
                ("name", "Ada"),
                ("email", &long_email),
                ("password", PASSWORD),
                ("plan", "pro"),
            ],
            "at most 254 characters",
        ),
        (
            "empty password",
            [
                ("name", "Ada"),
                ("email", "a@example.com"),
                ("password", ""),
                ("plan", "pro"),
            ],
            "Choose a password.",
        ),
        (
            "short password",
            [
                ("name", "Ada"),
                ("email", "a@example.com"),
                ("password", "short"),
                ("plan", "pro"),
            ],
            "at least 10 characters",
        ),
        (
            "long password",
            [
                ("name", "Ada"),
                ("email", "a@example.com"),
                ("password", &long_password),
                ("plan", "pro"),
            ],
            "at most 128 bytes",
        ),
        (
            "unknown plan",
            [
                ("name", "Ada"),
                ("email", "a@example.com"),
                ("password", PASSWORD),
                ("plan", "enterprise"),
            ],
            "Pick one of the plans offered.",
        ),
    ];
    for (what, form, message) in cases {
        let res = app
            .post_with_csrf(&app.client, "/actions/sign-up", &form)
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{what}");
        assert!(res.headers().get("set-cookie").is_none(), "{what}");
        let html = res.text().await.unwrap();
        assert!(html.contains(message), "{what}: {html}");
        assert!(html.contains(r#"aria-invalid="true""#), "{what}");
        // The password is never sent back.
        assert!(!html.contains(PASSWORD), "{what}");
        assert_eq!(app.accounts(), 0, "{what}");
    }
}

#[tokio::test]
async fn a_duplicate_email_in_any_letter_case_creates_nothing_and_signs_nobody_in() {
    let app = spawn_app().await;
    assert_eq!(
        app.sign_up("Ada", "ada@example.com").await.status(),
        StatusCode::SEE_OTHER
    );
    let other = browser();
    let res = app
        .post_sign_up(&other, "Impostor", "ADA@EXAMPLE.com")
        .await;
    // Issue 21: the answer is a new sign-up's (303), so it tells nobody who has an account
    // (tests/api/recovery.rs compares the two and checks the owner's mail).
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = res.text().await.unwrap();
    assert!(!html.contains("already exists"), "{html}");
    assert_eq!(app.accounts(), 1);
    assert!(app.session_of(&other).await.is_none());
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_generic_message() {
    let app = spawn_app().await;
    app.sign_up("Ada", "ada@example.com").await;
    let other = browser();
    for (email, password) in [
        ("ada@example.com", "wrong password!"),
        ("nobody@example.com", PASSWORD),
    ] {
        let res = app.sign_in(&other, email, password).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{email}");
        assert!(res.headers().get("set-cookie").is_none());
        let html = res.text().await.unwrap();
        assert!(html.contains("Email or password is wrong"), "{html}");
    }
    assert!(app.session_of(&other).await.is_none());
    assert_eq!(app.storage.count_sessions().unwrap(), 1);
}

#[tokio::test]
async fn sign_in_with_empty_or_oversized_fields_is_422_inline() {
    let app = spawn_app().await;
    let long = "p".repeat(129);
    for (email, password, message) in [
        ("", PASSWORD, "Enter your email address."),
        ("ada@example.com", "", "Enter your password."),
        ("ada@example.com", long.as_str(), "at most 128 bytes"),
    ] {
        let res = app.sign_in(&app.client, email, password).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.text().await.unwrap().contains(message), "{message}");
    }
}

#[tokio::test]
async fn a_non_utf8_form_body_is_a_400_page_and_stores_nothing() {
    let app = spawn_app().await;
    let token = app.csrf(&app.client).await;
    let body = format!("name=%FF%FEAda&email=a%40example.com&password=correct+horse+battery&plan=pro&csrf_token={token}");
    let res = app.post_raw("/actions/sign-up", FORM, body).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("The form field `name` is not valid UTF-8 text."));
    let raw = app
        .post_raw(
            "/actions/sign-in",
            FORM,
            b"email=\xff\xfe&password=x".to_vec(),
        )
        .await;
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.accounts(), 0);
}

#[tokio::test]
async fn a_body_over_16_kib_is_413_and_a_non_form_body_is_415() {
    let app = spawn_app().await;
    let big = format!("name={}", "a".repeat(17 * 1024));
    let res = app.post_raw("/actions/sign-up", FORM, big).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("larger than 16384 bytes"));
    let res = app
        .post_raw("/actions/sign-up", "application/json", r#"{"name":"Ada"}"#)
        .await;
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(app.accounts(), 0);
}

#[tokio::test]
async fn an_xss_payload_as_a_name_renders_as_text_in_both_fragments() {
    let app = spawn_app().await;
    let payload = r#"<script>alert("x")</script><img src=x onerror=alert(1)>"#;
    assert_eq!(
        app.sign_up(payload, "xss@example.com").await.status(),
        StatusCode::SEE_OTHER
    );
    for html in [
        app.fragment("account").await,
        app.fragment("user-menu").await,
        app.get("/").await.text().await.unwrap(),
    ] {
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains("<img src=x"), "{html}");
        assert!(html.contains("&lt;script&gt;alert"), "{html}");
    }
    assert_eq!(app.session_of(&app.client).await.unwrap()["name"], payload);
}

#[tokio::test]
async fn profile_rejects_a_bad_name_or_an_unknown_plan_and_keeps_the_old_values() {
    let app = spawn_app().await;
    app.sign_up("Ada", "ada@example.com").await;
    for (name, plan, message) in [
        ("", "team", "Enter your name."),
        ("Ada", "platinum", "Pick one of the plans offered."),
    ] {
        let res = app
            .post_with_csrf(
                &app.client,
                "/actions/profile",
                &[("name", name), ("plan", plan)],
            )
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.text().await.unwrap().contains(message));
    }
    let user = app.session_of(&app.client).await.unwrap();
    assert_eq!(
        (user["name"].as_str(), user["plan"].as_str()),
        (Some("Ada"), Some("pro"))
    );
}

#[tokio::test]
async fn profile_without_a_session_is_401_and_changes_nothing() {
    let app = spawn_app().await;
    let res = app
        .post_with_csrf(
            &app.client,
            "/actions/profile",
            &[("name", "Mallory"), ("plan", "team")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.text().await.unwrap().contains("Sign in again"));
}
