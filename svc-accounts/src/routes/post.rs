//! A posted form, checked before any action runs: [`Post`], the extractor every form action
//! (sign-up, sign-in, sign-out, profile, password recovery) takes as its one argument. It
//! reads the body strictly (400/413/415), refuses cross-site posts (403) and checks the
//! CSRF token against the request's session; and [`with_retry_after`], the `Retry-After`
//! of a rate-limited answer.

use actix_web::http::{header, StatusCode};
use actix_web::{dev, web, FromRequest, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;

use super::form::{self, Form};
use super::{account_answer, binding, in_shell, see_other, signed_in, AppState, Signed};
use crate::domain::Email;
use crate::error::AppError;
use crate::security::csrf::check_origin;
use crate::security::device;
use crate::security::rate_limit::{Limited, SignInAttempt};
use crate::security::session::{self, Token};
use crate::storage::{now_secs, NewSession};
use crate::views::{AccountState, Notice};

/// Shown when the CSRF token is missing, forged, expired or belongs to another session.
pub const FORM_EXPIRED: &str =
    "Your form expired or did not come from this site, so nothing was saved. Please try again.";

/// A POST that passed the body and origin checks: its form, its session (if any), and
/// whether its CSRF token is good for that session. An extractor: an action takes it as its
/// one argument, and a body, origin or database failure answers before the action runs.
pub(super) struct Post {
    pub(super) req: HttpRequest,
    pub(super) state: web::Data<AppState>,
    pub(super) form: Form,
    pub(super) signed: Option<Signed>,
    pub(super) csrf_ok: bool,
}

impl FromRequest for Post {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut dev::Payload) -> Self::Future {
        let state = web::Data::<AppState>::extract(req);
        let payload = web::Payload::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let state = state.await?;
            let payload = payload.await?;
            Ok(Post::begin(req, payload, state).await?)
        })
    }
}

impl Post {
    /// The common start of every action: body, origin, session, CSRF token.
    async fn begin(
        req: HttpRequest,
        payload: web::Payload,
        state: web::Data<AppState>,
    ) -> Result<Self, AppError> {
        let form = form::read(&req, payload).await?;
        check_origin(&req, &state.trusted_origins).map_err(AppError::CrossSite)?;
        let signed = signed_in(&state, &req).await?;
        let csrf_ok = state
            .csrf
            .verify(form.get("csrf_token"), binding(signed.as_ref()));
        Ok(Self {
            req,
            state,
            form,
            signed,
            csrf_ok,
        })
    }

    /// The `account` fragment again, with `status`.
    pub(super) fn answer(
        &self,
        status: StatusCode,
        account_state: &AccountState,
        notice: Option<Notice>,
    ) -> HttpResponse {
        account_answer(
            &self.state,
            &self.req,
            status,
            self.signed.as_ref(),
            account_state,
            notice.as_ref(),
        )
    }

    /// 403 with the form again (and a fresh token): the CSRF token did not verify.
    pub(super) fn expired(&self, account_state: &AccountState) -> HttpResponse {
        self.answer(
            StatusCode::FORBIDDEN,
            account_state,
            Some(Notice::danger(FORM_EXPIRED)),
        )
    }

    /// Through the shell: the shell's section path; standalone: the preview.
    pub(super) fn redirect_target(
        &self,
        shell_path: &'static str,
        standalone: &'static str,
    ) -> &'static str {
        if in_shell(&self.req) {
            shell_path
        } else {
            standalone
        }
    }

    /// 303 after signing in or up, with the new session's cookie (or none).
    pub(super) fn home(&self, token: Option<&Token>) -> HttpResponse {
        see_other(
            self.redirect_target("/dashboard", "/"),
            token.map(|t| self.state.cookies.set(t)),
        )
    }

    /// 303 after a sign-in to `email`: the new session's cookie, and the device cookie that
    /// makes this browser a known device for `email` from now on.
    pub(super) fn signed_in_home(&self, token: &Token, email: &str) -> HttpResponse {
        let known = session::cookie_value(&self.req, device::COOKIE_NAME);
        let value = self.state.devices.renew(known.as_deref(), email);
        let mut res = self.home(Some(token));
        let set = device::set_cookie(&value, self.state.cookies.secure);
        if let Ok(v) = header::HeaderValue::from_str(&set) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
        res
    }

    /// Counts a sign-in attempt at `email` from `client`; a browser whose device cookie
    /// vouches for `email` counts against its own budget (then `true`).
    pub(super) async fn count_sign_in(
        &self,
        email: &Email,
        client: std::net::IpAddr,
    ) -> Result<(SignInAttempt, bool), Limited> {
        let cookie = session::cookie_value(&self.req, device::COOKIE_NAME);
        let known = self.state.devices.known(cookie.as_deref(), email.as_str());
        let limiter = &self.state.limiter;
        let attempt = limiter
            .begin_sign_in(email.as_str(), client, known.as_ref())
            .await?;
        Ok((attempt, known.is_some()))
    }

    /// A session for `token`, ending one cookie lifetime from now.
    pub(super) fn new_session(&self, token: &Token) -> NewSession {
        NewSession {
            hash: token.hash(),
            expires_at: now_secs() + self.state.cookies.ttl.as_secs() as i64,
        }
    }
}

/// A 429 answer with its `Retry-After`.
pub(super) fn with_retry_after(mut res: HttpResponse, limited: Limited) -> HttpResponse {
    res.headers_mut().insert(
        header::RETRY_AFTER,
        header::HeaderValue::from(limited.retry_after.as_secs().max(1)),
    );
    res
}
