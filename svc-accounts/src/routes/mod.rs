//! Every route of svc-accounts, declared to the kit in [`declare`]; handlers are thin and
//! share the helpers below (database calls off the async workers, the session of a request, the
//! 422/403 form answer, the 303 redirect).

mod actions;
/// The strict form reader: public for the fuzzer (`fuzz/`) and the property tests
/// (`tests/tests/properties.rs`), which drive [`form::parse`] with hostile bodies.
pub mod form;
mod fragments;
mod internal;
mod post;
mod recovery;

use actix_web::http::{header, StatusCode};
use actix_web::Responder;
use actix_web::{web, HttpRequest, HttpResponse};
use shared_ui::kit::{Preview, Service};
use shared_ui::respond;

use crate::domain::{Account, PlanList};
use crate::error::AppError;
use crate::security::csrf::{Binding, CsrfKey};
use crate::security::device::DeviceKey;
use crate::security::password::Hasher;
use crate::security::rate_limit::Limiter;
use crate::security::session::{self, CookiePolicy, TokenHash};
use crate::storage::{Storage, StorageError};
use crate::views::{self, AccountState, Notice, ViewContext};

pub use form::FORM_LIMIT;
pub use recovery::{CONFIRM_TTL, RESET_TTL};

/// What the handlers share (one per process, behind `web::Data`).
#[derive(Debug)]
pub struct AppState {
    /// The database.
    pub storage: Storage,
    /// argon2id at the configured cost.
    pub hasher: Hasher,
    /// Bounds how many argon2 computations run at once (each takes the full memory cost),
    /// so a burst of sign-ins queues instead of exhausting memory.
    pub hash_slots: tokio::sync::Semaphore,
    /// Signs form tokens.
    pub csrf: CsrfKey,
    /// Signs and checks device cookies (a known browser's own sign-in budget).
    pub devices: DeviceKey,
    /// Sign-in and sign-up counters.
    pub limiter: Limiter,
    /// The proxies whose `X-Forwarded-For` is believed (the shell).
    pub trusted_proxies: shared_ui::proxies::TrustedProxies,
    /// Plans a user may pick.
    pub plans: PlanList,
    /// Session cookie attributes.
    pub cookies: CookiePolicy,
    /// Extra origins allowed to post.
    pub trusted_origins: Vec<String>,
    /// The manifest version, sent on every fragment.
    pub version: String,
    /// Sign-ups, sign-ins, failures, rate limits, hash time (`GET /metrics`).
    pub metrics: crate::metrics::AccountsMetrics,
    /// Sends the mailed links (SMTP, or the log in development).
    pub mailer: crate::mail::Mailer,
    /// The account page as users reach it, which mailed links point to.
    pub public_url: String,
}

impl AppState {
    /// The client address of a request, for the rate limits: the peer, or what a trusted
    /// proxy says in `X-Forwarded-For`.
    pub fn client_ip(&self, req: &HttpRequest) -> std::net::IpAddr {
        let peer = req
            .peer_addr()
            .map_or(std::net::IpAddr::from([127, 0, 0, 1]), |a| a.ip());
        self.trusted_proxies.client_ip(peer, req.headers())
    }
}

/// The service's own stylesheet URL (service-relative).
pub const STYLESHEET: &str = "/assets/accounts.css";

/// Declares every route to the kit: the two fragments, the six form actions,
/// `GET /internal/session` and the preview (its own page, whose forms post back to it). The
/// kit adds `/manifest.json`, `/healthz`, `/readyz` and `/assets/…`.
pub fn declare(service: Service) -> Service {
    service
        .fragment("account", "Account", fragments::account)
        .fragment("user-menu", "Account menu", fragments::user_menu)
        .fallback(USER_MENU_FALLBACK)
        .action(ACTIONS[0], actions::sign_up)
        .action(ACTIONS[1], actions::sign_in)
        .action(ACTIONS[2], actions::sign_out)
        .action(ACTIONS[3], actions::profile)
        .action(ACTIONS[4], recovery::request_reset)
        .action(ACTIONS[5], recovery::reset_password)
        .routes(|cfg| {
            cfg.route(
                "/internal/session",
                shared_ui::respond::read().to(internal::session),
            );
        })
        .preview(
            "Account",
            "svc-accounts on its own: the account fragment, with the user-menu fragment above it (the shell shows the menu in its header).",
        )
        .preview_with(fragments::preview)
}

/// What the shell shows for the user menu when svc-accounts cannot answer.
const USER_MENU_FALLBACK: &str = r#"<div class="user-menu" data-fragment="accounts/user-menu"><a class="btn btn--secondary" href="/accounts">Account</a></div>"#;

/// The form actions, as listed in the manifest.
pub const ACTIONS: [&str; 6] = [
    "/actions/sign-up",
    "/actions/sign-in",
    "/actions/sign-out",
    "/actions/profile",
    "/actions/request-reset",
    "/actions/reset-password",
];

/// Runs blocking storage work on the blocking pool, never on an async worker.
async fn db<T, F>(state: &AppState, f: F) -> Result<T, AppError>
where
    T: Send + 'static,
    F: FnOnce(&Storage) -> Result<T, StorageError> + Send + 'static,
{
    let storage = state.storage.clone();
    Ok(web::block(move || f(&storage)).await??)
}

/// Runs an argon2 computation on the blocking pool once a hashing slot is free, and times
/// it (the computation, not the wait for a slot).
async fn hashing<T, F>(state: &AppState, op: crate::metrics::HashOp, f: F) -> Result<T, AppError>
where
    T: Send + 'static,
    F: FnOnce(&Hasher) -> T + Send + 'static,
{
    let _slot = state
        .hash_slots
        .acquire()
        .await
        .map_err(|_| AppError::Cancelled)?;
    let hasher = state.hasher.clone();
    let metrics = state.metrics.clone();
    Ok(web::block(move || {
        let started = std::time::Instant::now();
        let out = f(&hasher);
        metrics.hashed(op, started.elapsed());
        out
    })
    .await?)
}

/// A signed-in request: the session's hash and its account.
#[derive(Debug, Clone)]
struct Signed {
    hash: TokenHash,
    account: Account,
}

/// The live session of the request's cookie; tampered, unknown or expired reads as `None`.
async fn signed_in(state: &AppState, req: &HttpRequest) -> Result<Option<Signed>, AppError> {
    let Some(hash) = session::from_request(req) else {
        return Ok(None);
    };
    let account = db(state, move |s| s.account_for_session(hash)).await?;
    Ok(account.map(|account| Signed { hash, account }))
}

fn binding(signed: Option<&Signed>) -> Binding {
    signed.map_or(Binding::Anonymous, |s| Binding::Session(s.hash))
}

/// Whether the request came through the shell (it sends the base path).
fn in_shell(req: &HttpRequest) -> bool {
    !respond::base_path(req).is_empty()
}

/// Renders the `account` fragment with `status`: a bare fragment through the shell or its
/// loader, the whole preview page when posted standalone (so JavaScript-off works there).
fn account_answer(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    signed: Option<&Signed>,
    account_state: &AccountState,
    notice: Option<&Notice>,
) -> HttpResponse {
    let base = respond::base_path(req);
    let csrf = state.csrf.issue(binding(signed));
    let ctx = ViewContext {
        base: &base,
        in_shell: !base.is_empty(),
        csrf: &csrf,
        plans: &state.plans,
    };
    let fragment = views::account(&ctx, account_state, notice);
    let mut res = if ctx.in_shell || req.headers().contains_key(shared_ui::headers::LOADER) {
        respond::fragment_response(&state.version, "private, no-store", fragment)
    } else {
        let menu = views::user_menu(&ctx, signed.map(|s| &s.account));
        preview_response(req, views::preview_content(fragment, menu))
    };
    *res.status_mut() = status;
    res
}

/// The preview page around `content`, in the kit's chrome like every team's preview.
fn preview_response(req: &HttpRequest, content: maud::Markup) -> HttpResponse {
    let mut res = Preview(content).respond_to(req);
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("private, no-store"),
    );
    res.headers_mut().insert(
        header::VARY,
        header::HeaderValue::from_static("cookie, x-mf-base-path"),
    );
    res
}

/// A 303 to `location`, optionally setting or clearing the session cookie.
fn see_other(location: &str, set_cookie: Option<String>) -> HttpResponse {
    let mut res = HttpResponse::SeeOther();
    res.insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if let Some(cookie) = set_cookie {
        res.insert_header((header::SET_COOKIE, cookie));
    }
    res.finish()
}
