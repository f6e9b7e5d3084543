//! Account recovery and address confirmation by mailed links.
//!
//! - `POST /actions/request-reset` (email): always answers the same 303 ("if an account uses
//!   that address, a link is on its way"), so it tells nobody who has an account. The look-up,
//!   the new link and the mail happen after the answer, in a task of their own, so the answer
//!   takes as long either way. Rate-limited per email and per client (3 and 10 an hour,
//!   `Limiter::begin_reset`).
//! - The link `<public url>?reset=<token>` shows the new-password form (signed out only:
//!   the form reflects the token, so it is never rendered beside a signed-in user's data);
//!   `POST /actions/reset-password` (token, password) uses the link up, sets the password,
//!   ends every session of the account and signs this browser in.
//! - The link `<public url>?confirm=<token>`, mailed at sign-up, confirms the address when
//!   the `account` fragment is fetched with it (nothing is reflected); the account can sign
//!   in from then on (sign-in refuses an unconfirmed address as it does a wrong password).
//!
//! Links are 32 random bytes (base64url); the database keeps only their sha256, deletes a
//! link when it is used, and refuses it after [`RESET_TTL`] or [`CONFIRM_TTL`].

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use super::post::{with_retry_after, Post};
use super::{db, hashing, AppState};
use crate::domain::{Email, Password};
use crate::error::AppError;
use crate::mail::Mail;
use crate::metrics::HashOp;
use crate::security::session::{self, Token};
use crate::storage::{now_secs, LinkPurpose, NewLink, PasswordReset};
use crate::views::{AccountState, RecoveryForm};

/// How long a password-reset link works, in seconds.
pub const RESET_TTL: i64 = 30 * 60;
/// How long an address-confirmation link works, in seconds.
pub const CONFIRM_TTL: i64 = 7 * 24 * 60 * 60;
/// Shown after a reset request, whether or not an account uses the address.
pub const RESET_SENT: &str = "If an account uses that address, we have emailed it a link to \
     choose a new password. The link works once, for 30 minutes.";
/// Shown after a sign-up, whether the address was new (a confirmation link is mailed) or
/// had an account (its owner is mailed): the same words either way.
pub const SIGN_UP_SENT: &str = "Thank you. We have emailed the address you gave: open the link \
     in that message to finish, then sign in below.";
/// Shown for a reset link that is unknown, used or expired.
pub const LINK_DEAD: &str = "This link has expired or was already used. Ask for a new one below.";

/// A mailed link: `<public url>?<param>=<token>`.
fn link(state: &AppState, param: &str, token: &Token) -> String {
    format!("{}?{param}={}", state.public_url, token.as_str())
}

/// After a new account is created (in the background): store a confirmation link and mail
/// it.
pub fn mail_confirmation(state: web::Data<AppState>, account_id: i64, email: String) {
    actix_web::rt::spawn(async move {
        let token = Token::generate();
        let new_link = NewLink {
            account_id,
            purpose: LinkPurpose::Confirm,
            hash: token.hash(),
            expires_at: now_secs() + CONFIRM_TTL,
        };
        let stored = db(&state, move |s| s.create_link(new_link)).await;
        if let Err(e) = stored {
            tracing::error!(error = %e, account_id, "confirmation link not stored");
            return;
        }
        state.mailer.send(Mail {
            to: email,
            subject: "Confirm your address".to_owned(),
            body: format!(
                "Welcome to Mosaic.\n\nConfirm that this address is yours by opening this link \
                 (it works for 7 days):\n\n{}\n\nIf you did not create an account, ignore this \
                 message.\n",
                link(&state, "confirm", &token)
            ),
        });
    });
}

/// Someone tried to sign up with an address that has an account: tell its owner instead
/// of the visitor.
pub fn mail_address_taken(state: &AppState, email: String) {
    state.mailer.send(Mail {
        to: email,
        subject: "Someone tried to create an account with your address".to_owned(),
        body: format!(
            "Someone, maybe you, tried to create a Mosaic account with this address, which \
             already has one. Nothing was changed.\n\nTo sign in, or to choose a new password \
             if you forgot it (which also confirms this address if it is not yet), go to:\n\n\
             {}\n",
            state.public_url
        ),
    });
}

fn recovery(form: RecoveryForm) -> AccountState {
    AccountState::Recovery(form)
}

/// `POST /actions/request-reset`: email.
pub async fn request_reset(mut post: Post) -> Result<HttpResponse, AppError> {
    let state = post.state.clone();
    let mut form = RecoveryForm {
        email: post.form.take("email"),
        ..RecoveryForm::default()
    };
    if !post.csrf_ok {
        return Ok(post.expired(&recovery(form)));
    }
    let Ok(email) = Email::parse(&form.email).map_err(|e| form.email_error = Some(e)) else {
        return Ok(post.answer(StatusCode::UNPROCESSABLE_ENTITY, &recovery(form), None));
    };
    let client = state.client_ip(&post.req);
    if let Err(limited) = state.limiter.begin_reset(email.as_str(), client).await {
        tracing::warn!(%client, "reset request refused: too many requests");
        form.alert = Some(limited.reset_message());
        let res = post.answer(StatusCode::TOO_MANY_REQUESTS, &recovery(form), None);
        return Ok(with_retry_after(res, limited));
    }
    let email = email.as_str().to_owned();
    let background = state.clone();
    actix_web::rt::spawn(async move { send_reset_link(background, email).await });
    Ok(super::see_other(
        post.redirect_target("/accounts?sent=1", "/?sent=1"),
        None,
    ))
}

/// Looks the address up and, if an account uses it, stores a reset link and mails it.
async fn send_reset_link(state: web::Data<AppState>, email: String) {
    let token = Token::generate();
    let (hash, expires_at) = (token.hash(), now_secs() + RESET_TTL);
    let lookup = email.clone();
    let stored = db(&state, move |s| {
        let Some(account) = s.account_by_email(&lookup)? else {
            return Ok(false);
        };
        s.create_link(NewLink {
            account_id: account.id,
            purpose: LinkPurpose::Reset,
            hash,
            expires_at,
        })?;
        Ok(true)
    })
    .await;
    match stored {
        Ok(false) => tracing::info!("reset requested for an address with no account"),
        Err(e) => tracing::error!(error = %e, "reset link not stored"),
        Ok(true) => state.mailer.send(Mail {
            to: email,
            subject: "Choose a new password".to_owned(),
            body: format!(
                "Someone, hopefully you, asked to choose a new password for your Mosaic \
                 account.\n\nOpen this link to choose it (it works once, for 30 minutes; \
                 choosing a new password signs you out everywhere else):\n\n{}\n\nIf you did \
                 not ask, ignore this message: your password stays as it is.\n",
                link(&state, "reset", &token)
            ),
        }),
    }
}

/// `POST /actions/reset-password`: token, password.
pub async fn reset_password(mut post: Post) -> Result<HttpResponse, AppError> {
    let state = post.state.clone();
    let token = post.form.take("token");
    let password = post.form.take("password");
    let link = session::parse(&token);
    let mut form = RecoveryForm {
        reset_token: link.is_some().then_some(token),
        ..RecoveryForm::default()
    };
    if !post.csrf_ok {
        return Ok(post.expired(&recovery(form)));
    }
    let Some(link) = link else {
        form.alert = Some(LINK_DEAD.to_owned());
        return Ok(post.answer(StatusCode::UNPROCESSABLE_ENTITY, &recovery(form), None));
    };
    let Ok(password) = Password::parse(password).map_err(|e| form.password_error = Some(e)) else {
        return Ok(post.answer(StatusCode::UNPROCESSABLE_ENTITY, &recovery(form), None));
    };
    let password_hash = hashing(&state, HashOp::Hash, move |h| h.hash(password.expose())).await?;
    let session = Token::generate();
    let reset = PasswordReset {
        link,
        password_hash,
        session: post.new_session(&session),
    };
    let Some(account_id) = db(&state, move |s| s.reset_password(&reset)).await? else {
        form.reset_token = None;
        form.alert = Some(LINK_DEAD.to_owned());
        return Ok(post.answer(StatusCode::UNPROCESSABLE_ENTITY, &recovery(form), None));
    };
    tracing::info!(account_id, "password reset; every other session ended");
    Ok(post.home(Some(&session)))
}

/// The `account` fragment's `?confirm=<token>`: uses the link up; the notice to show.
pub async fn confirm(state: &AppState, token: &str) -> Result<&'static str, AppError> {
    let Some(link) = session::parse(token) else {
        return Ok(CONFIRM_DEAD);
    };
    Ok(match db(state, move |s| s.confirm_email(link)).await? {
        Some(account_id) => {
            tracing::info!(account_id, "address confirmed");
            CONFIRMED
        }
        None => CONFIRM_DEAD,
    })
}

/// Shown when a confirmation link worked.
pub const CONFIRMED: &str = "Thank you: your address is confirmed. You can sign in now.";
/// Shown for a confirmation link that is unknown, used or expired.
pub const CONFIRM_DEAD: &str =
    "This confirmation link has expired or was already used; your address may already be confirmed.";
