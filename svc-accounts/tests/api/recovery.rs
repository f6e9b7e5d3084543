//! Sign-up without enumeration, address confirmation and password reset by mailed links,
//! through a real SMTP server on loopback (`MailServer`), on SQLite and PostgreSQL.

use reqwest::{Response, StatusCode};
use sha2::{Digest, Sha256};

use crate::helpers::{
    browser, link_token, location, spawn_app_with_mail, without_tokens, Value, PASSWORD,
};

const NEW_PASSWORD: &str = "a brand new passphrase";

/// What a sign-up answer shows a visitor: status, Location, and each Set-Cookie with its
/// value blanked (values are random either way).
fn shape(res: &Response) -> (StatusCode, String, Vec<String>) {
    let cookies = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| {
            let c = c.to_str().unwrap();
            let (name, rest) = c.split_once('=').unwrap();
            let (value, attributes) = rest.split_once(';').unwrap();
            format!("{name}=<{} chars>;{attributes}", value.len())
        })
        .collect();
    (res.status(), location(res), cookies)
}

#[tokio::test]
async fn sign_up_with_a_taken_address_answers_as_a_new_one_and_mails_the_owner() {
    let (app, mail) = spawn_app_with_mail(&[]).await;
    let visitor = browser();
    let new = app.post_sign_up(&visitor, "Ada", "ada@example.com").await;
    let confirm = mail
        .wait_for("ada@example.com", "Confirm your address")
        .await;
    let intruder = browser();
    let taken = app
        .post_sign_up(&intruder, "Impostor", "ADA@example.com")
        .await;
    assert_eq!(shape(&new), shape(&taken));
    assert_eq!(new.status(), StatusCode::SEE_OTHER);
    let landing = app.url(&location(&new));
    let (new_body, taken_body) = (new.text().await.unwrap(), taken.text().await.unwrap());
    assert_eq!(new_body, taken_body);
    // Nothing was created, the intruder is not signed in, and the owner is told.
    assert_eq!(app.accounts(), 1);
    assert!(app.session_of(&intruder).await.is_none());
    // Nobody is signed in after a sign-up, so the next page is the same too.
    assert!(app.session_of(&visitor).await.is_none());
    let next = |client: reqwest::Client| {
        let url = landing.clone();
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let (after_new, after_taken) = (next(visitor.clone()).await, next(intruder.clone()).await);
    assert_eq!(without_tokens(&after_new), without_tokens(&after_taken));
    let note = mail
        .wait_for("ada@example.com", "Someone tried to create an account")
        .await;
    assert!(!note.contains("?reset="), "{note}");
    assert!(confirm.contains("?confirm="), "{confirm}");
}

#[tokio::test]
async fn a_new_account_confirms_its_address_once_by_the_mailed_link_then_signs_in() {
    let (app, mail) = spawn_app_with_mail(&[]).await;
    app.post_sign_up(&app.client, "Ada", "ada@example.com")
        .await;
    let message = mail
        .wait_for("ada@example.com", "Confirm your address")
        .await;
    let token = link_token(&message, "confirm");
    let confirmed = || {
        let rows = app.db.query(
            "SELECT CAST(email_confirmed_at IS NOT NULL AS TEXT) FROM accounts",
            "SELECT (email_confirmed_at IS NOT NULL)::text FROM accounts",
        );
        // SQLite says 0/1, PostgreSQL false/true.
        match rows.as_slice() {
            [Value::Text(t)] => t == "1" || t == "true",
            other => panic!("{other:?}"),
        }
    };
    assert!(!confirmed());
    let html = app.fragment(&format!("account?confirm={token}")).await;
    assert!(html.contains("your address is confirmed"), "{html}");
    assert!(confirmed());
    let again = app.fragment(&format!("account?confirm={token}")).await;
    assert!(again.contains("expired or was already used"), "{again}");
    let res = app.sign_in(&app.client, "ada@example.com", PASSWORD).await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "signed in once confirmed"
    );
    assert!(app.session_of(&app.client).await.is_some());
}

/// Posts a reset request for `email` from a fresh browser; the answer.
async fn request_reset(app: &crate::helpers::TestApp, email: &str) -> Response {
    app.post_with_csrf(&browser(), "/actions/request-reset", &[("email", email)])
        .await
}

#[tokio::test]
async fn a_password_reset_link_is_mailed_hashed_single_use_and_ends_other_sessions() {
    let (app, mail) = spawn_app_with_mail(&[]).await;
    app.sign_up("Ada", "ada@example.com").await;
    let laptop = browser();
    app.sign_in(&laptop, "ada@example.com", PASSWORD).await;
    assert!(app.session_of(&app.client).await.is_some());

    // Known and unknown addresses get the same answer; only the owner gets a message.
    let known = request_reset(&app, "ada@example.com").await;
    let unknown = request_reset(&app, "nobody@example.com").await;
    assert_eq!(known.status(), StatusCode::SEE_OTHER);
    assert_eq!(shape(&known), shape(&unknown));
    assert_eq!(location(&known), "/?sent=1");
    let message = mail
        .wait_for("ada@example.com", "Choose a new password")
        .await;
    assert_eq!(mail.count_to("nobody@example.com"), 0);
    let token = link_token(&message, "reset");

    // The database holds the link's sha256 only.
    let stored = app.db.query(
        "SELECT token_hash FROM email_links WHERE purpose = 'reset'",
        "SELECT token_hash FROM email_links WHERE purpose = 'reset'",
    );
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    assert_eq!(stored, [Value::Bytes(digest.to_vec())]);

    // The link opens the new-password form; setting it signs this browser in.
    let phone = browser();
    let page = app
        .get_with(&phone, &format!("/fragments/account?reset={token}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Choose a new password"), "{page}");
    let res = set_password(&app, &phone, &token, NEW_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.session_of(&phone).await.unwrap()["name"], "Ada");
    // Every other session ended; the old password no longer works, the new one does.
    assert!(app.session_of(&app.client).await.is_none());
    assert!(app.session_of(&laptop).await.is_none());
    let old = app.sign_in(&browser(), "ada@example.com", PASSWORD).await;
    assert_eq!(old.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let new = app
        .sign_in(&browser(), "ada@example.com", NEW_PASSWORD)
        .await;
    assert_eq!(new.status(), StatusCode::SEE_OTHER);
    // The link works once.
    let again = set_password(&app, &browser(), &token, "yet another passphrase").await;
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again
        .text()
        .await
        .unwrap()
        .contains("expired or was already used"));
}

async fn set_password(
    app: &crate::helpers::TestApp,
    client: &reqwest::Client,
    token: &str,
    password: &str,
) -> Response {
    app.post_with_csrf(
        client,
        "/actions/reset-password",
        &[("token", token), ("password", password)],
    )
    .await
}

#[tokio::test]
async fn an_expired_reset_link_is_refused_and_requests_are_rate_limited() {
    let (app, mail) = spawn_app_with_mail(&[]).await;
    app.sign_up("Ada", "ada@example.com").await;
    request_reset(&app, "ada@example.com").await;
    let message = mail
        .wait_for("ada@example.com", "Choose a new password")
        .await;
    let token = link_token(&message, "reset");
    // 30 minutes later (the expiry moved into the past).
    app.db.query(
        "UPDATE email_links SET expires_at = expires_at - 1801 RETURNING purpose",
        "UPDATE email_links SET expires_at = expires_at - 1801 RETURNING purpose",
    );
    let res = set_password(&app, &browser(), &token, NEW_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let old = app.sign_in(&browser(), "ada@example.com", PASSWORD).await;
    assert_eq!(old.status(), StatusCode::SEE_OTHER);
    // Three requests per address in an hour: the first above was one.
    for _ in 0..2 {
        let res = request_reset(&app, "ada@example.com").await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
    }
    let res = request_reset(&app, "ada@example.com").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().get("retry-after").is_some());
}

#[tokio::test]
async fn a_malformed_reset_link_shows_no_form_and_a_signed_in_page_reflects_no_token() {
    let (app, _mail) = spawn_app_with_mail(&[]).await;
    let page = app.fragment("account?reset=Lovelace%22%3E").await;
    assert!(!page.contains("Lovelace"), "{page}");
    assert!(page.contains("expired or was already used"), "{page}");
    app.sign_up("Ada", "ada@example.com").await;
    let token = "A".repeat(43);
    let page = app.fragment(&format!("account?reset={token}")).await;
    assert!(!page.contains(&token), "{page}");
    assert!(page.contains("Your profile"), "{page}");
}

#[tokio::test]
async fn a_password_reset_confirms_an_address_whose_confirmation_mail_was_lost() {
    let (app, mail) = spawn_app_with_mail(&[]).await;
    app.post_sign_up(&app.client, "Ada", "ada@example.com")
        .await;
    mail.wait_for("ada@example.com", "Confirm your address")
        .await;
    // The owner never opens that link; signing up again mails the owner, who resets.
    let again = app.post_sign_up(&browser(), "Ada", "ada@example.com").await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    let note = mail
        .wait_for("ada@example.com", "Someone tried to create an account")
        .await;
    assert!(note.contains("confirms this address"), "{note}");
    request_reset(&app, "ada@example.com").await;
    let message = mail
        .wait_for("ada@example.com", "Choose a new password")
        .await;
    let phone = browser();
    let token = link_token(&message, "reset");
    let res = set_password(&app, &phone, &token, NEW_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.session_of(&phone).await.unwrap()["name"], "Ada");
    let later = app
        .sign_in(&browser(), "ada@example.com", NEW_PASSWORD)
        .await;
    assert_eq!(
        later.status(),
        StatusCode::SEE_OTHER,
        "confirmed by the reset"
    );
}
