use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use crate::helpers::{
    browser, location, session_token, set_cookie, spawn_app, spawn_app_with, without_tokens, Value,
    PASSWORD,
};

#[tokio::test]
async fn sign_up_signs_nobody_in_until_the_address_is_confirmed() {
    let app = spawn_app().await;
    let res = app
        .post_sign_up(&app.client, "Ada", "ada@example.com")
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/?signed-up=1");
    assert!(
        res.headers().get("set-cookie").is_none(),
        "no cookie at sign-up"
    );
    assert_eq!(app.accounts(), 1);
    assert!(app.session_of(&app.client).await.is_none());
    let page = app.get("/?signed-up=1").await.text().await.unwrap();
    assert!(
        page.contains("We have emailed the address you gave"),
        "{page}"
    );
    // The right password for an unconfirmed address fails as a wrong one does.
    let refused = app.sign_in(&app.client, "ada@example.com", PASSWORD).await;
    let wrong = app
        .sign_in(&browser(), "ada@example.com", "wrong password!")
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wrong.status(), refused.status());
    let (refused, wrong) = (refused.text().await.unwrap(), wrong.text().await.unwrap());
    assert!(
        refused.contains("the address is not confirmed yet"),
        "{refused}"
    );
    assert_eq!(without_tokens(&refused), without_tokens(&wrong));
}

#[tokio::test]
async fn once_confirmed_sign_in_sets_an_http_only_lax_session_cookie_and_redirects() {
    let app = spawn_app().await;
    let res = app.sign_up("Ada", "ada@example.com").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/");
    let cookie = set_cookie(&res);
    assert!(cookie.starts_with("mf_session="), "{cookie}");
    for part in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=1209600"] {
        assert!(cookie.contains(part), "{cookie} lacks {part}");
    }
    assert!(!cookie.contains("Secure"));
    assert_eq!(app.accounts(), 1);
    let user = app.session_of(&app.client).await.unwrap();
    assert_eq!(user["name"], "Ada");
    assert_eq!(user["plan"], "pro");
    assert!(user["id"].as_i64().unwrap() > 0);
}

#[tokio::test]
async fn through_the_shell_sign_up_redirects_to_the_accounts_notice() {
    let app = spawn_app().await;
    let token = app.csrf(&app.client).await;
    let res = app
        .client
        .post(app.url("/actions/sign-up"))
        .header("x-mf-base-path", "/svc/accounts")
        .form(&[
            ("name", "Ada"),
            ("email", "ada@example.com"),
            ("password", PASSWORD),
            ("plan", "starter"),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/accounts?signed-up=1");
}

#[tokio::test]
async fn secure_cookies_setting_marks_the_cookie_secure() {
    let app = spawn_app_with(&["--secure-cookies"]).await;
    let res = app.sign_up("Ada", "ada@example.com").await;
    assert!(set_cookie(&res).contains("; Secure"));
}

#[tokio::test]
async fn signed_in_fragments_show_the_profile_and_the_user_menu() {
    let app = spawn_app().await;
    app.sign_up("Ada Lovelace", "ada@example.com").await;
    let account = app.fragment("account").await;
    assert!(account.contains("Your profile"), "{account}");
    assert!(account.contains(r#"action="/actions/profile""#));
    assert!(account.contains(r#"action="/actions/sign-out""#));
    assert!(account.contains("ada@example.com"));
    assert!(
        account.contains(r#"<option value="pro" selected>Pro</option>"#),
        "{account}"
    );
    let menu = app.fragment("user-menu").await;
    assert!(
        menu.contains("Ada Lovelace") && menu.contains("Sign out"),
        "{menu}"
    );
}

#[tokio::test]
async fn sign_out_deletes_the_session_and_clears_the_cookie() {
    let app = spawn_app().await;
    let res = app.sign_up("Ada", "ada@example.com").await;
    let cookie = set_cookie(&res);
    let token = cookie.split(';').next().unwrap().to_owned();
    let res = app
        .post_with_csrf(&app.client, "/actions/sign-out", &[])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/?signed_out=1");
    assert!(set_cookie(&res).contains("Max-Age=0"));
    assert!(app.session_of(&app.client).await.is_none());
    assert_eq!(app.storage.count_sessions().unwrap(), 0);
    // The old cookie, replayed, is worthless.
    let replay = reqwest::Client::new()
        .get(app.url("/internal/session"))
        .header("cookie", token)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sign_in_with_any_letter_case_starts_a_new_session() {
    let app = spawn_app().await;
    app.sign_up("Ada", "ada@example.com").await;
    let other = browser();
    let res = app.sign_in(&other, "ADA@Example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(set_cookie(&res).starts_with("mf_session="));
    assert_eq!(app.session_of(&other).await.unwrap()["name"], "Ada");
    assert_eq!(app.storage.count_sessions().unwrap(), 2);
}

#[tokio::test]
async fn profile_changes_the_name_and_the_plan() {
    let app = spawn_app().await;
    app.sign_up("Ada", "ada@example.com").await;
    let res = app
        .post_with_csrf(
            &app.client,
            "/actions/profile",
            &[("name", "Ada King"), ("plan", "team")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/?saved=1");
    let user = app.session_of(&app.client).await.unwrap();
    assert_eq!(
        (user["name"].as_str(), user["plan"].as_str()),
        (Some("Ada King"), Some("team"))
    );
    let html = app
        .get("/fragments/account?saved=1")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Your changes are saved."), "{html}");
    let html = app
        .get("/fragments/account?plan=starter")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("You picked the Starter plan"), "{html}");
}

#[tokio::test]
async fn the_database_keeps_only_the_hash_of_the_session_token() {
    let app = spawn_app().await;
    let res = app.sign_up("Ada", "ada@example.com").await;
    let token = session_token(&res);
    let sql = "SELECT token_hash FROM sessions";
    let stored = app.db.query(sql, sql);
    assert_eq!(
        stored,
        [Value::Bytes(Sha256::digest(token.as_bytes()).to_vec())]
    );
    let sql = "SELECT password_hash FROM accounts";
    let [Value::Text(hash)] = &app.db.query(sql, sql)[..] else {
        panic!("one password hash");
    };
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains(PASSWORD));
}

#[tokio::test]
async fn a_tampered_or_unknown_cookie_reads_as_signed_out() {
    let app = spawn_app().await;
    let res = app.sign_up("Ada", "ada@example.com").await;
    let token = session_token(&res);
    let mut flipped = token.clone().into_bytes();
    flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    for bad in [
        flipped.as_str(),
        "x",
        "",
        &format!("{token}AAAA"),
        "%%%<script>",
    ] {
        let client = reqwest::Client::new();
        for path in [
            "/internal/session",
            "/fragments/account",
            "/fragments/user-menu",
        ] {
            let res = client
                .get(app.url(path))
                .header("cookie", format!("mf_session={bad}"))
                .send()
                .await
                .unwrap();
            let status = res.status();
            let body = res.text().await.unwrap();
            if path == "/internal/session" {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}");
            } else {
                assert_eq!(status, StatusCode::OK, "{bad}");
                assert!(!body.contains("Ada"), "{bad}: {body}");
                assert!(body.contains("Sign in"));
            }
        }
    }
}

#[tokio::test]
async fn standalone_form_errors_render_the_whole_preview_page_and_loader_gets_the_fragment() {
    let app = spawn_app().await;
    let res = app
        .post_with_csrf(
            &app.client,
            "/actions/sign-up",
            &[
                ("name", ""),
                ("email", "x"),
                ("password", "p"),
                ("plan", "pro"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    let token = app.csrf(&app.client).await;
    let res = app
        .client
        .post(app.url("/actions/sign-up"))
        .header("x-mf-loader", "1")
        .form(&[("name", ""), ("csrf_token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.headers()["cache-control"], "private, no-store");
    let html = res.text().await.unwrap();
    assert!(
        html.starts_with(r#"<section class="accounts stack" data-fragment="accounts/account""#),
        "{html}"
    );
}

#[tokio::test]
async fn an_expired_session_reads_as_signed_out() {
    let app = spawn_app().await;
    app.sign_up("Ada", "ada@example.com").await;
    assert!(app.session_of(&app.client).await.is_some());
    app.db.query(
        "UPDATE sessions SET expires_at = unixepoch() - 1 RETURNING 'expired'",
        "UPDATE sessions SET expires_at = extract(epoch FROM now())::bigint - 1 RETURNING 'expired'::text",
    );
    assert!(app.session_of(&app.client).await.is_none());
    let html = app.fragment("user-menu").await;
    assert!(html.contains("Sign in") && !html.contains("Ada"), "{html}");
}

#[tokio::test]
async fn signing_in_while_signed_in_redirects_without_a_new_session() {
    let app = spawn_app().await;
    app.sign_up("Ada", "ada@example.com").await;
    let res = app.sign_in(&app.client, "ada@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(res.headers().get("set-cookie").is_none());
    assert_eq!(app.storage.count_sessions().unwrap(), 1);
}
