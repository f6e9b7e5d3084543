//! The shell's session cache is keyed by the session token, not by the whole `Cookie`
//! header (issue 21, item 5): a sign-out ends that token on the shell at once, whatever
//! other cookies ride along with it, through the real services and shell on loopback.

use mf_tests::Stack;

/// A client with no cookie store: each request says its `Cookie` header itself.
fn bare_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a test client")
}

/// The `csrf_token` of the first form of a page (svc-accounts' hidden input).
fn csrf_token(html: &str) -> String {
    let (_, rest) = html
        .split_once(r#"name="csrf_token" value=""#)
        .expect("a form token");
    rest.split('"').next().unwrap_or_default().to_owned()
}

/// Signs a new user up through the shell's proxy, confirms the address and signs in;
/// returns the session token the sign-in set.
async fn sign_up(stack: &Stack) -> String {
    let res = stack
        .sign_up_navigating("Ada Lovelace", "ada@example.com")
        .await;
    assert_eq!(res.status(), 303, "sign-in through the shell");
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    let value = cookie
        .strip_prefix("mf_session=")
        .expect("the session cookie");
    value.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_sign_out_ends_the_session_whatever_other_cookies_ride_along() {
    let stack = Stack::start().await;
    let token = sign_up(&stack).await;
    let http = bare_client();
    let page = |path: &'static str, cookie: String| {
        let req = http.get(stack.url(path)).header("cookie", cookie);
        async move { req.send().await.unwrap().text().await.unwrap() }
    };
    let alone = format!("mf_session={token}");
    let beside = format!("theme=dark; mf_session={token}; lang=en");
    let form = csrf_token(&page("/accounts", alone.clone()).await);
    // The shell looks the session up with another cookie beside the token, and keeps it.
    let before = page("/dashboard", beside.clone()).await;
    assert!(before.contains("Ada Lovelace"), "signed in");
    // Signed out with the token alone: another spelling of the same session's cookies.
    let res = http
        .post(stack.url("/svc/accounts/actions/sign-out"))
        .header("cookie", &alone)
        .header("origin", &stack.shell_url)
        .header("x-mf-loader", "1")
        .form(&[("csrf_token", form.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "signed out");
    // At once, the same token beside the other cookies reads as signed out.
    let after = page("/dashboard", beside).await;
    assert!(
        !after.contains("Ada Lovelace"),
        "the signed-out token still rendered the user beside another cookie"
    );
    stack.stop().await;
}
