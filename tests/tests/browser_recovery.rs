//! Sign-up and account recovery in Chromium, JavaScript on and off (issue 21): sign up on
//! the shell's /accounts page (signed in only once confirmed), follow the confirmation link
//! mailed through a real SMTP server on loopback (Debian's `python3-aiosmtpd`), sign in;
//! then ask for a reset link, follow it, set a new password, sign out and sign in with it.
//! svc-accounts runs here with `--smtp-url` and `--public-url` pointing at this shell; the
//! dashboard and pricing come from a normal stack.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use mf_tests::browser::Browser;
use mf_tests::free_port;
use mf_tests::{Stack, FAST_HASH_ARGS, SECRET};

const OLD_PASSWORD: &str = "correct horse battery";
const NEW_PASSWORD: &str = "a brand new passphrase";

/// aiosmtpd writing every message into a Maildir; killed when dropped.
struct MailServer {
    port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl MailServer {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let python = ["/usr/bin/python3", "python3"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("python3");
        let child = Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.path().join("maildir"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 with aiosmtpd (apt-get install python3-aiosmtpd)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no SMTP server"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { port, child, dir }
    }

    /// The link of the first message whose text contains `subject`, waiting up to 20 s.
    async fn link(&self, subject: &str, param: &str) -> String {
        let started = Instant::now();
        loop {
            let messages = std::fs::read_dir(self.dir.path().join("maildir/new"))
                .into_iter()
                .flatten()
                .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                .map(|m| {
                    m.replace("=\r\n", "")
                        .replace("=\n", "")
                        .replace("=3D", "=")
                });
            for message in messages.filter(|m| m.contains(subject)) {
                let marker = format!("?{param}=");
                if let Some(at) = message.find(&marker) {
                    let start = message[..at].rfind("http").expect("an absolute link");
                    let end = message[at + marker.len()..]
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                        .map_or(message.len(), |e| at + marker.len() + e);
                    return message[start..end].to_owned();
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no {subject:?} mail"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for MailServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A shell whose accounts service mails through `mail`.
struct Site {
    url: String,
    _stack: Stack,
    _db: tempfile::TempDir,
}

async fn start_site(mail: &MailServer) -> Site {
    let stack = Stack::start().await;
    let shell_port = free_port();
    let url = format!("http://127.0.0.1:{shell_port}");
    let db = tempfile::tempdir().expect("temp dir");
    let (smtp, public, path) = (
        format!("smtp://127.0.0.1:{}", mail.port),
        format!("{url}/accounts"),
        db.path().join("accounts.db").display().to_string(),
    );
    let mut args = vec!["svc-accounts", "--port", "0", "--context-secret", SECRET];
    args.extend(FAST_HASH_ARGS);
    args.extend(["--database", &path, "--trusted-proxies", "127.0.0.1"]);
    args.extend(["--smtp-url", &smtp, "--public-url", &public]);
    let accounts = svc_accounts::startup::Application::build(
        svc_accounts::settings::Settings::try_parse_from(args).expect("accounts settings"),
    )
    .await
    .expect("svc-accounts starts");
    let services = format!(
        "dashboard={},pricing={},accounts=http://127.0.0.1:{}",
        stack.service_url("dashboard"),
        stack.service_url("pricing"),
        accounts.port()
    );
    tokio::spawn(accounts.run_until_stopped());
    let shell = shell::startup::Application::build(
        shell::settings::Settings::try_parse_from([
            "shell",
            "--port",
            &shell_port.to_string(),
            "--context-secret",
            SECRET,
            "--services",
            &services,
            "--admin-port",
            "0",
        ])
        .expect("shell settings"),
    )
    .await
    .expect("the shell starts");
    tokio::spawn(shell.run_until_stopped());
    Site {
        url,
        _stack: stack,
        _db: db,
    }
}

/// Fills and submits a form on the page, then waits for `after`.
async fn submit(browser: &Browser, fields: &[(&str, &str)], button: &str, after: &str) {
    for (selector, text) in fields {
        browser.fill(selector, text).await;
    }
    browser.click(button).await;
    browser.wait_until(after, after).await;
}

async fn recover_an_account(browser: Browser) {
    let mail = MailServer::start();
    let site = start_site(&mail).await;
    browser.goto(&format!("{}/accounts", site.url)).await;
    let sign_up = [
        ("#sign-up-name", "Ada Lovelace"),
        ("#sign-up-email", "ada@example.com"),
        ("#sign-up-password", OLD_PASSWORD),
    ];
    // Sign-up signs nobody in: the page says a message is on its way.
    let notice = "document.body.innerText.includes('We have emailed the address you gave')";
    submit(
        &browser,
        &sign_up,
        "form[action$='/actions/sign-up'] button",
        notice,
    )
    .await;
    assert_eq!(
        browser
            .eval("return !!document.querySelector('.user-menu__name');")
            .await,
        false,
        "signed in before confirming"
    );
    // Follow the mailed confirmation link, then sign in.
    let link = mail.link("Confirm your address", "confirm").await;
    browser.goto(&link).await;
    let confirmed = "document.body.innerText.includes('your address is confirmed')";
    browser.wait_until(confirmed, "the address confirmed").await;
    // The loader refreshes the header beside the swap: wait for both, the menu and the page.
    let signed_in =
        "document.querySelector('.user-menu__name') && location.pathname === '/dashboard'";
    let first_sign_in = [
        ("#sign-in-email", "ada@example.com"),
        ("#sign-in-password", OLD_PASSWORD),
    ];
    submit(
        &browser,
        &first_sign_in,
        "form[action$='/actions/sign-in'] button",
        signed_in,
    )
    .await;
    let sign_out = "form[action$='/actions/sign-out'] button";
    browser.click(sign_out).await;
    let signed_out =
        "!document.querySelector('.user-menu__name') && document.querySelector('#forgot-email')";
    browser.wait_until(signed_out, "signed out").await;
    if !browser.url().await.path().ends_with("/accounts") {
        browser.goto(&format!("{}/accounts", site.url)).await;
    }

    // Forgot the password: ask for a link.
    browser.click("details.accounts__forgot summary").await;
    let sent = "document.body.innerText.includes('If an account uses that address')";
    let ask = [("#forgot-email", "ada@example.com")];
    submit(
        &browser,
        &ask,
        "form[action$='/actions/request-reset'] button",
        sent,
    )
    .await;

    // Follow the mailed link and choose a new password: signed in, on the dashboard.
    let link = mail.link("Choose a new password", "reset").await;
    assert!(
        link.starts_with(&format!("{}/accounts?reset=", site.url)),
        "{link}"
    );
    browser.goto(&link).await;
    let new = [("#reset-password", NEW_PASSWORD)];
    let button = "form[action$='/actions/reset-password'] button";
    submit(&browser, &new, button, signed_in).await;
    assert_eq!(browser.url().await.path(), "/dashboard");

    // Sign out, then in with the new password.
    browser.click(sign_out).await;
    browser.wait_until(signed_out, "signed out again").await;
    if !browser.url().await.path().ends_with("/accounts") {
        browser.goto(&format!("{}/accounts", site.url)).await;
    }
    let sign_in = [
        ("#sign-in-email", "ada@example.com"),
        ("#sign-in-password", NEW_PASSWORD),
    ];
    submit(
        &browser,
        &sign_in,
        "form[action$='/actions/sign-in'] button",
        signed_in,
    )
    .await;
    assert_eq!(browser.text(".user-menu__name").await, "Ada Lovelace");
    browser.quit().await;
}

#[tokio::test]
async fn a_lost_password_is_reset_by_the_mailed_link_with_javascript() {
    let _heavy = mf_tests::heavy();
    if let Some(browser) = Browser::start().await {
        recover_an_account(browser).await;
    }
}

#[tokio::test]
async fn a_lost_password_is_reset_by_the_mailed_link_without_javascript() {
    let _heavy = mf_tests::heavy();
    if let Some(browser) = Browser::start_without_javascript().await {
        recover_an_account(browser).await;
    }
}
