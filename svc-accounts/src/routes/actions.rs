//! The form actions. Each one: read the body strictly (400/413/415), refuse cross-site
//! posts (403), check the CSRF token against the request's session (403 with the form
//! again), validate into domain types (422 with inline errors), then do the work and answer
//! 303 (through the shell: to a shell section; standalone: to `/`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::form::{self, Form};
use super::{
    account_answer, binding, db, hashing, in_shell, see_other, signed_in, AppState, Signed,
};
use crate::domain::{Email, Name, Password};
use crate::error::AppError;
use crate::security::csrf::check_origin;
use crate::security::rate_limit::client_ip;
use crate::security::session::Token;
use crate::storage::{now_secs, CreateAccountError, NewAccount};
use crate::views::{AccountState, Notice, ProfileForm, SignInForm, SignUpForm};

/// Shown when the CSRF token is missing, forged, expired or belongs to another session.
pub const FORM_EXPIRED: &str =
    "Your form expired or did not come from this site, so nothing was saved. Please try again.";

/// Where to go after signing in or up.
fn home(req: &HttpRequest) -> &'static str {
    if in_shell(req) {
        "/dashboard"
    } else {
        "/"
    }
}

/// The common start of every action: body, origin, session, CSRF token.
async fn begin(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<(Form, Option<Signed>, bool), AppError> {
    let form = form::read(req, payload).await?;
    check_origin(req, &state.trusted_origins).map_err(AppError::CrossSite)?;
    let signed = signed_in(state, req).await?;
    let csrf_ok = state
        .csrf
        .verify(form.get("csrf_token"), binding(signed.as_ref()));
    Ok((form, signed, csrf_ok))
}

fn session_expiry(state: &AppState) -> i64 {
    now_secs() + state.cookies.ttl.as_secs() as i64
}

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

/// `POST /actions/sign-up`: name, email, password, plan.
pub async fn sign_up(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (mut form, signed, csrf_ok) = begin(&req, payload, &state).await?;
    let password = form.take("password");
    let mut sign_up = SignUpForm {
        name: form.take("name"),
        email: form.take("email"),
        plan: form.take("plan"),
        ..SignUpForm::default()
    };
    if let Some(signed) = &signed {
        let notice = (!csrf_ok).then(|| Notice::danger(FORM_EXPIRED));
        if notice.is_some() {
            let s = signed_in_state(signed);
            return Ok(account_answer(
                &state,
                &req,
                StatusCode::FORBIDDEN,
                Some(signed),
                &s,
                notice.as_ref(),
            ));
        }
        // Already signed in: nothing to create.
        return Ok(see_other(home(&req), None));
    }
    if !csrf_ok {
        let s = AccountState::SignedOut {
            sign_up,
            sign_in: SignInForm::default(),
        };
        return Ok(account_answer(
            &state,
            &req,
            StatusCode::FORBIDDEN,
            None,
            &s,
            Some(&Notice::danger(FORM_EXPIRED)),
        ));
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
        let s = AccountState::SignedOut {
            sign_up,
            sign_in: SignInForm::default(),
        };
        return Ok(account_answer(
            &state,
            &req,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            &s,
            None,
        ));
    };

    let password_hash = hashing(&state, move |h| h.hash(password.expose())).await?;
    let token = Token::generate();
    let hash = token.hash();
    let expires_at = session_expiry(&state);
    let new = NewAccount {
        name: name.as_str().to_owned(),
        email: email.as_str().to_owned(),
        password_hash,
        plan,
    };
    let created = {
        let storage = state.storage.clone();
        web::block(move || storage.create_account_with_session(&new, hash, expires_at)).await?
    };
    match created {
        Ok(account) => {
            tracing::info!(account_id = account.id, "account created");
            Ok(see_other(home(&req), Some(state.cookies.set(&token))))
        }
        Err(CreateAccountError::EmailTaken) => {
            sign_up.email_error =
                Some("An account with this email already exists. Sign in instead.");
            let s = AccountState::SignedOut {
                sign_up,
                sign_in: SignInForm {
                    email: email.as_str().to_owned(),
                    ..SignInForm::default()
                },
            };
            Ok(account_answer(
                &state,
                &req,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                &s,
                None,
            ))
        }
        Err(CreateAccountError::Storage(e)) => Err(e.into()),
    }
}

/// `POST /actions/sign-in`: email, password. Wrong credentials get one generic message;
/// too many failures (per email, per client) get a 429.
pub async fn sign_in(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (mut form, signed, csrf_ok) = begin(&req, payload, &state).await?;
    let password = form.take("password");
    let mut sign_in = SignInForm {
        email: form.take("email"),
        ..SignInForm::default()
    };
    if let Some(signed) = &signed {
        if !csrf_ok {
            let s = signed_in_state(signed);
            return Ok(account_answer(
                &state,
                &req,
                StatusCode::FORBIDDEN,
                Some(signed),
                &s,
                Some(&Notice::danger(FORM_EXPIRED)),
            ));
        }
        return Ok(see_other(home(&req), None));
    }
    let signed_out = |sign_in: SignInForm| AccountState::SignedOut {
        sign_up: SignUpForm::default(),
        sign_in,
    };
    if !csrf_ok {
        return Ok(account_answer(
            &state,
            &req,
            StatusCode::FORBIDDEN,
            None,
            &signed_out(sign_in),
            Some(&Notice::danger(FORM_EXPIRED)),
        ));
    }
    let email = match Email::parse(&sign_in.email) {
        Ok(email) => Some(email),
        Err(e) => {
            sign_in.email_error = Some(e);
            None
        }
    };
    if password.is_empty() {
        sign_in.password_error = Some("Enter your password.");
    } else if password.len() > Password::MAX_BYTES {
        sign_in.password_error = Some("Use a password of at most 128 bytes.");
    }
    let Some(email) = email.filter(|_| sign_in.password_error.is_none()) else {
        return Ok(account_answer(
            &state,
            &req,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            &signed_out(sign_in),
            None,
        ));
    };

    let client = client_ip(&req);
    if let Err(limited) = state.limiter.check(email.as_str(), client) {
        tracing::warn!(%client, "sign-in refused: too many failures");
        sign_in.alert = Some(limited.message());
        let mut res = account_answer(
            &state,
            &req,
            StatusCode::TOO_MANY_REQUESTS,
            None,
            &signed_out(sign_in),
            None,
        );
        if let Ok(v) = actix_web::http::header::HeaderValue::from_str(
            &limited.retry_after.as_secs().max(1).to_string(),
        ) {
            res.headers_mut()
                .insert(actix_web::http::header::RETRY_AFTER, v);
        }
        return Ok(res);
    }
    let lookup = email.as_str().to_owned();
    let credentials = db(&state, move |s| s.credentials(&lookup)).await?;
    let (account_id, stored) = match credentials {
        Some((id, hash)) => (Some(id), Some(hash)),
        None => (None, None),
    };
    let matches = hashing(&state, move |h| h.verify(&password, stored.as_deref())).await?;
    let Some(account_id) = account_id.filter(|_| matches) else {
        state.limiter.record_failure(email.as_str(), client);
        tracing::info!(%client, "sign-in failed");
        sign_in.alert = Some("Email or password is wrong.".to_owned());
        return Ok(account_answer(
            &state,
            &req,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            &signed_out(sign_in),
            None,
        ));
    };
    state.limiter.record_success(email.as_str());
    let token = Token::generate();
    let hash = token.hash();
    let expires_at = session_expiry(&state);
    db(&state, move |s| {
        s.create_session(account_id, hash, expires_at)
    })
    .await?;
    tracing::info!(account_id, "signed in");
    Ok(see_other(home(&req), Some(state.cookies.set(&token))))
}

/// `POST /actions/sign-out`: ends the session and clears the cookie. Signed out already,
/// it just clears the cookie (there is nothing to forge).
pub async fn sign_out(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (_form, signed, csrf_ok) = begin(&req, payload, &state).await?;
    let location = if in_shell(&req) { "/accounts" } else { "/" };
    let Some(signed) = signed else {
        return Ok(see_other(location, Some(state.cookies.clear())));
    };
    if !csrf_ok {
        let s = signed_in_state(&signed);
        return Ok(account_answer(
            &state,
            &req,
            StatusCode::FORBIDDEN,
            Some(&signed),
            &s,
            Some(&Notice::danger(FORM_EXPIRED)),
        ));
    }
    let hash = signed.hash;
    db(&state, move |s| s.delete_session(hash)).await?;
    tracing::info!(account_id = signed.account.id, "signed out");
    Ok(see_other(location, Some(state.cookies.clear())))
}

/// `POST /actions/profile`: name and plan.
pub async fn profile(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (mut form, signed, csrf_ok) = begin(&req, payload, &state).await?;
    let Some(signed) = signed else {
        let s = AccountState::SignedOut {
            sign_up: SignUpForm::default(),
            sign_in: SignInForm::default(),
        };
        let notice = Notice::danger(
            "Your session has ended, so nothing was saved. Sign in again to change your profile.",
        );
        return Ok(account_answer(
            &state,
            &req,
            StatusCode::UNAUTHORIZED,
            None,
            &s,
            Some(&notice),
        ));
    };
    let mut profile = ProfileForm {
        name: form.take("name"),
        plan: form.take("plan"),
        ..ProfileForm::default()
    };
    if !csrf_ok {
        let s = AccountState::SignedIn {
            account: signed.account.clone(),
            profile,
        };
        return Ok(account_answer(
            &state,
            &req,
            StatusCode::FORBIDDEN,
            Some(&signed),
            &s,
            Some(&Notice::danger(FORM_EXPIRED)),
        ));
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
        let s = AccountState::SignedIn {
            account: signed.account.clone(),
            profile,
        };
        return Ok(account_answer(
            &state,
            &req,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(&signed),
            &s,
            None,
        ));
    };
    let account_id = signed.account.id;
    let name = name.as_str().to_owned();
    let updated = db(&state, move |s| s.update_profile(account_id, &name, &plan)).await?;
    if updated.is_none() {
        let s = AccountState::SignedOut {
            sign_up: SignUpForm::default(),
            sign_in: SignInForm::default(),
        };
        let notice = Notice::danger("This account no longer exists.");
        return Ok(account_answer(
            &state,
            &req,
            StatusCode::UNAUTHORIZED,
            None,
            &s,
            Some(&notice),
        ));
    }
    tracing::info!(account_id, "profile updated");
    let location = if in_shell(&req) {
        "/accounts?saved=1"
    } else {
        "/?saved=1"
    };
    Ok(see_other(location, None))
}
