//! The form actions. Each one: read the body strictly (400/413/415), refuse cross-site
//! posts (403), check the CSRF token against the request's session (403 with the form
//! again), validate into domain types (422 with inline errors), then do the work and answer
//! 303 (through the shell: to a shell section; standalone: to `/`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use super::post::{with_retry_after, Post};
use super::{db, hashing, recovery, see_other, AppState, Signed};
use crate::domain::{Email, Name, Password};
use crate::error::AppError;
use crate::metrics::{Action, Failure, HashOp};
use crate::security::session::Token;
use crate::storage::{CreateAccountError, NewAccount, ProfileUpdate};
use crate::views::{AccountState, Notice, ProfileForm, SignInForm, SignUpForm};

fn signed_in_state(signed: &Signed) -> AccountState {
    AccountState::SignedIn {
        account: signed.account.clone(),
        profile: ProfileForm {
            name: signed.account.name.clone(),
            plan: signed.account.plan.clone(),
            ..ProfileForm::default()
        },
    }
}

fn signed_out_state(sign_up: SignUpForm, sign_in: SignInForm) -> AccountState {
    AccountState::SignedOut { sign_up, sign_in }
}

/// `POST /actions/sign-up`: name, email, password, plan.
pub async fn sign_up(mut post: Post) -> Result<HttpResponse, AppError> {
    let state = post.state.clone();
    let password = post.form.take("password");
    let mut sign_up = SignUpForm {
        name: post.form.take("name"),
        email: post.form.take("email"),
        plan: post.form.take("plan"),
        ..SignUpForm::default()
    };
    match (&post.signed, post.csrf_ok) {
        (Some(signed), false) => return Ok(post.expired(&signed_in_state(signed))),
        // Already signed in: nothing to create.
        (Some(_), true) => return Ok(post.home(None)),
        (None, false) => return Ok(post.expired(&signed_out_state(sign_up, SignInForm::default()))),
        (None, true) => {}
    }

    let name = Name::parse(&sign_up.name)
        .map_err(|e| sign_up.name_error = Some(e))
        .ok();
    let email = Email::parse(&sign_up.email)
        .map_err(|e| sign_up.email_error = Some(e))
        .ok();
    let password = Password::parse(password)
        .map_err(|e| sign_up.password_error = Some(e))
        .ok();
    let plan = state
        .plans
        .parse_choice(&sign_up.plan)
        .map_err(|e| sign_up.plan_error = Some(e))
        .ok()
        .map(|p| p.id.clone());
    let (Some(name), Some(email), Some(password), Some(plan)) = (name, email, password, plan)
    else {
        state.metrics.failed(Action::SignUp, Failure::Invalid);
        let form = signed_out_state(sign_up, SignInForm::default());
        return Ok(post.answer(StatusCode::UNPROCESSABLE_ENTITY, &form, None));
    };

    let client = state.client_ip(&post.req);
    if let Err(limited) = state.limiter.begin_sign_up(client).await {
        tracing::warn!(%client, "sign-up refused: too many sign-ups");
        state.metrics.rate_limited(Action::SignUp);
        let form = signed_out_state(sign_up, SignInForm::default());
        let notice = Notice::danger(limited.sign_up_message());
        let res = post.answer(StatusCode::TOO_MANY_REQUESTS, &form, Some(notice));
        return Ok(with_retry_after(res, limited));
    }

    let password_hash = hashing(&state, HashOp::Hash, move |h| h.hash(password.expose())).await?;
    let new = NewAccount {
        name: name.as_str().to_owned(),
        email: email.as_str().to_owned(),
        password_hash,
        plan,
    };
    create_account(&post, &state, new).await
}

/// Creates the account, unconfirmed, and mails a confirmation link; or, when the address
/// has an account already, mails its owner instead. Both ways answer the same 303 to the
/// "check your mail" notice, with no cookie: a new account signs in only once its address
/// is confirmed, so the next page tells nobody who has an account either. Both ways hash
/// the password and run the insert, and mail in the background.
async fn create_account(
    post: &Post,
    state: &web::Data<AppState>,
    new: NewAccount,
) -> Result<HttpResponse, AppError> {
    let email = new.email.clone();
    let created = db(state, move |s| Ok(s.create_account(&new))).await?;
    match created {
        Ok(account) => {
            tracing::info!(account_id = account.id, "account created");
            state.metrics.signed_up();
            recovery::mail_confirmation(state.clone(), account.id, email);
        }
        Err(CreateAccountError::EmailTaken) => {
            tracing::info!("sign-up with an address that has an account: its owner is mailed");
            state.metrics.failed(Action::SignUp, Failure::EmailTaken);
            recovery::mail_address_taken(state, email);
        }
        Err(CreateAccountError::Storage(e)) => return Err(e.into()),
    }
    Ok(see_other(
        post.redirect_target("/accounts?signed-up=1", "/?signed-up=1"),
        None,
    ))
}

/// `POST /actions/sign-in`: email, password. Wrong credentials get one generic message;
/// too many failures (per email, per client) get a 429.
pub async fn sign_in(mut post: Post) -> Result<HttpResponse, AppError> {
    let state = post.state.clone();
    let password = post.form.take("password");
    let mut sign_in = SignInForm {
        email: post.form.take("email"),
        ..SignInForm::default()
    };
    match (&post.signed, post.csrf_ok) {
        (Some(signed), false) => return Ok(post.expired(&signed_in_state(signed))),
        (Some(_), true) => return Ok(post.home(None)),
        (None, false) => return Ok(post.expired(&signed_out_state(SignUpForm::default(), sign_in))),
        (None, true) => {}
    }

    let email = Email::parse(&sign_in.email)
        .map_err(|e| sign_in.email_error = Some(e))
        .ok();
    if password.is_empty() {
        sign_in.password_error = Some("Enter your password.");
    } else if password.len() > Password::MAX_BYTES {
        sign_in.password_error = Some("Use a password of at most 128 bytes.");
    }
    let Some(email) = email.filter(|_| sign_in.password_error.is_none()) else {
        state.metrics.failed(Action::SignIn, Failure::Invalid);
        let form = signed_out_state(SignUpForm::default(), sign_in);
        return Ok(post.answer(StatusCode::UNPROCESSABLE_ENTITY, &form, None));
    };

    // Counted now, before the password is checked, so concurrent guesses cannot outrun it.
    let client = state.client_ip(&post.req);
    let (attempt, known) = match post.count_sign_in(&email, client).await {
        Ok(counted) => counted,
        Err(limited) => {
            tracing::warn!(%client, "sign-in refused: too many attempts");
            state.metrics.rate_limited(Action::SignIn);
            sign_in.alert = Some(limited.message());
            let form = signed_out_state(SignUpForm::default(), sign_in);
            let res = post.answer(StatusCode::TOO_MANY_REQUESTS, &form, None);
            return Ok(with_retry_after(res, limited));
        }
    };

    let lookup = email.as_str().to_owned();
    let found = db(&state, move |s| s.credentials(&lookup)).await?;
    let stored = found.as_ref().map(|c| c.password_hash.clone());
    let matches = hashing(&state, HashOp::Verify, move |h| {
        h.verify(&password, stored.as_deref())
    })
    .await?;
    // An unconfirmed address fails as a wrong password does: a visitor who signed up with
    // someone's address cannot learn by signing in whether that address was new.
    let account_id = match found {
        Some(c) if matches && c.confirmed => c.account_id,
        found => {
            let reason = match found {
                Some(_) if matches => Failure::Unconfirmed,
                _ => Failure::WrongCredentials,
            };
            tracing::info!(%client, reason = reason.label(), "sign-in failed");
            state.metrics.failed(Action::SignIn, reason);
            sign_in.credentials_wrong = true;
            let form = signed_out_state(SignUpForm::default(), sign_in);
            return Ok(post.answer(StatusCode::UNPROCESSABLE_ENTITY, &form, None));
        }
    };

    state.limiter.sign_in_succeeded(attempt).await;
    let token = Token::generate();
    let session = post.new_session(&token);
    db(&state, move |s| s.create_session(account_id, session)).await?;
    tracing::info!(account_id, known_device = known, "signed in");
    state.metrics.signed_in();
    Ok(post.signed_in_home(&token, email.as_str()))
}

/// `POST /actions/sign-out`: ends the session and clears the cookie. Signed out already,
/// it just clears the cookie (there is nothing to forge).
pub async fn sign_out(post: Post) -> Result<HttpResponse, AppError> {
    let state = post.state.clone();
    let location = post.redirect_target("/accounts?signed_out=1", "/?signed_out=1");
    let Some(signed) = &post.signed else {
        return Ok(see_other(location, Some(state.cookies.clear())));
    };
    if !post.csrf_ok {
        return Ok(post.expired(&signed_in_state(signed)));
    }
    let hash = signed.hash;
    db(&state, move |s| s.delete_session(hash)).await?;
    tracing::info!(account_id = signed.account.id, "signed out");
    Ok(see_other(location, Some(state.cookies.clear())))
}

/// `POST /actions/profile`: name and plan.
pub async fn profile(mut post: Post) -> Result<HttpResponse, AppError> {
    let state = post.state.clone();
    let Some(signed) = post.signed.clone() else {
        let form = signed_out_state(SignUpForm::default(), SignInForm::default());
        let notice = Notice::danger(
            "Your session has ended, so nothing was saved. Sign in again to change your profile.",
        );
        return Ok(post.answer(StatusCode::UNAUTHORIZED, &form, Some(notice)));
    };
    let mut profile = ProfileForm {
        name: post.form.take("name"),
        plan: post.form.take("plan"),
        ..ProfileForm::default()
    };
    if !post.csrf_ok {
        let form = AccountState::SignedIn {
            account: signed.account.clone(),
            profile,
        };
        return Ok(post.expired(&form));
    }

    let name = Name::parse(&profile.name)
        .map_err(|e| profile.name_error = Some(e))
        .ok();
    let plan = state
        .plans
        .parse_choice(&profile.plan)
        .map_err(|e| profile.plan_error = Some(e))
        .ok()
        .map(|p| p.id.clone());
    let (Some(name), Some(plan)) = (name, plan) else {
        let form = AccountState::SignedIn {
            account: signed.account.clone(),
            profile,
        };
        return Ok(post.answer(StatusCode::UNPROCESSABLE_ENTITY, &form, None));
    };

    let account_id = signed.account.id;
    let update = ProfileUpdate {
        account_id,
        name: name.as_str().to_owned(),
        plan,
    };
    let updated = db(&state, move |s| s.update_profile(&update)).await?;
    if updated.is_none() {
        post.signed = None;
        let form = signed_out_state(SignUpForm::default(), SignInForm::default());
        let notice = Notice::danger("This account no longer exists.");
        return Ok(post.answer(StatusCode::UNAUTHORIZED, &form, Some(notice)));
    }
    tracing::info!(account_id, "profile updated");
    Ok(see_other(
        post.redirect_target("/accounts?saved=1", "/?saved=1"),
        None,
    ))
}
