//! Who is signed in: the session token of the request's cookies, resolved by the session
//! service (`GET /internal/session`) and signed into the user context every service reads.
//!
//! A lookup is kept for [`SESSION_CACHE_TTL`] per session token (by its sha256, so no token
//! is kept in memory), and while one is in flight the other requests of that session wait
//! for it rather than asking again: one lookup in flight per session. The key is the token
//! alone, not the whole `Cookie` header, so that [`Sessions::forget`] (called when the
//! session service sets a cookie: sign-in, sign-out) ends that session on this shell at
//! once, whatever other cookies ride along. A failed lookup reads as signed out and is not
//! kept. The cache is bounded ([`MAX_SESSIONS`]); the least used lookups leave first.
//!
//! The signed context is made once per lookup, not per request: a header value signed for
//! [`DEFAULT_TTL`] (60 s) and reused for at most [`SESSION_CACHE_TTL`] (2 s) still has 58 s
//! to run when a service reads it. Signing per page (JSON, HMAC-SHA256, base64) cost 30,000
//! instructions of a signed-in page's 270,000 (`SIGNED_IN=1 bench/callgrind`).

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderValue;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use shared_ui::context::{ContextKey, UserContext, DEFAULT_TTL};
use shared_ui::headers::{self, SESSION_COOKIE};
use shared_ui::trace::TRACEPARENT;
use tokio::sync::OnceCell;

use crate::body::{read_capped, BodyError};
use crate::forwarded::Forwarded;
use crate::metrics::{Cache, ShellMetrics};
use crate::registry::{Registry, Service};

/// How long a session lookup is reused.
pub const SESSION_CACHE_TTL: Duration = Duration::from_secs(2);
/// Time a session lookup gets.
const SESSION_TIMEOUT: Duration = Duration::from_millis(500);
/// Sessions whose lookup is kept at once.
pub const MAX_SESSIONS: u64 = 16_384;
/// Largest session answer read, in bytes.
const MAX_SESSION_BYTES: usize = 64 * 1024;

/// A signed-in user, as the services are told: its id and its signed context.
#[derive(Debug, Clone)]
struct SignedUser {
    id: i64,
    /// The `x-mf-user-context` value, signed when the lookup was made.
    context: HeaderValue,
}

/// What a lookup found.
#[derive(Debug, Clone)]
enum Lookup {
    /// The session service answered: a user, or signed out.
    Known(Option<SignedUser>),
    /// It did not (logged where it happened); reads as signed out, and is not kept.
    Failed,
}

/// One session's lookup: made by the first request that needs it, awaited by the others.
type SharedLookup = Arc<OnceCell<Lookup>>;

/// Why a lookup failed.
#[derive(Debug, thiserror::Error)]
enum LookupError {
    #[error("no answer: {0}")]
    Transport(#[source] reqwest::Error),
    #[error("answered {0}")]
    Status(StatusCode),
    #[error("{0}")]
    Body(#[source] BodyError),
}

impl LookupError {
    fn reason(&self) -> &'static str {
        match self {
            LookupError::Transport(e) if e.is_timeout() => "timeout",
            LookupError::Transport(_) => "transport",
            LookupError::Status(_) => "status",
            LookupError::Body(_) => "body",
        }
    }
}

/// The session lookups of one shell.
#[derive(Debug)]
pub struct Sessions {
    registry: Arc<Registry>,
    key: ContextKey,
    lookups: moka::sync::Cache<[u8; 32], SharedLookup>,
    metrics: Arc<ShellMetrics>,
}

impl Sessions {
    /// No lookup made yet.
    pub fn new(registry: Arc<Registry>, key: ContextKey, metrics: Arc<ShellMetrics>) -> Self {
        Self {
            registry,
            key,
            lookups: moka::sync::Cache::builder()
                .max_capacity(MAX_SESSIONS)
                .time_to_live(SESSION_CACHE_TTL)
                .build(),
            metrics,
        }
    }

    /// Adds the signed-in user, resolved and signed, to forwarded headers.
    pub async fn with_user(&self, mut fwd: Forwarded) -> Forwarded {
        if let Some(user) = self.user(&fwd).await {
            fwd.set_user(user.context, user.id);
        }
        fwd
    }

    /// A copy of `fwd` with the signed-in user, or `None` when nobody is signed in (no
    /// session token, no session, a failed lookup): then `fwd` serves as it is, and no copy
    /// of it is made (a composed page's case when signed out).
    pub async fn signed_in(&self, fwd: &Forwarded) -> Option<Forwarded> {
        let user = self.user(fwd).await?;
        let mut fwd = fwd.clone();
        fwd.set_user(user.context, user.id);
        Some(fwd)
    }

    /// Forgets the lookup of the session in a `Cookie` header (after the session service
    /// changed the session: sign-in, sign-out), so the next request asks again.
    pub fn forget(&self, cookie: Option<&str>) {
        if let Some(token) = cookie.and_then(session_token) {
            self.lookups.invalidate(&digest(token));
        }
    }

    /// The signed-in user of the request's session token. No token, no session service or
    /// any failure reads as signed out.
    async fn user(&self, fwd: &Forwarded) -> Option<SignedUser> {
        let token = fwd.cookie.as_deref().and_then(session_token)?;
        let service = self.registry.session_service()?;
        let key = digest(token);
        let lookup = self.lookups.get_with(key, SharedLookup::default);
        let mut asked = false;
        let found = lookup
            .get_or_init(|| {
                asked = true;
                self.ask(service, token, fwd)
            })
            .await;
        self.metrics.cache(Cache::Session, !asked);
        match found {
            Lookup::Known(user) => user.clone(),
            Lookup::Failed => {
                self.lookups.invalidate(&key);
                None
            }
        }
    }

    /// `GET /internal/session` with the session cookie alone.
    async fn ask(&self, service: &Service, token: &str, fwd: &Forwarded) -> Lookup {
        let mut builder = crate::client::http()
            .get(service.upstream("/internal/session"))
            .timeout(SESSION_TIMEOUT)
            .header(reqwest::header::COOKIE, format!("{SESSION_COOKIE}={token}"));
        for name in [headers::REQUEST_ID, TRACEPARENT] {
            if let Some(v) = fwd.common_header(name) {
                builder = builder.header(name, v.clone());
            }
        }
        let answer = async {
            let res = builder.send().await.map_err(LookupError::Transport)?;
            match res.status() {
                s if s.is_success() => {
                    let body = read_capped(res, MAX_SESSION_BYTES)
                        .await
                        .map_err(LookupError::Body)?;
                    let user = serde_json::from_slice::<UserContext>(&body).ok();
                    Ok(user.and_then(|user| self.signed(&user)))
                }
                StatusCode::UNAUTHORIZED => Ok(None),
                s => Err(LookupError::Status(s)),
            }
        };
        match answer.await {
            Ok(user) => Lookup::Known(user),
            Err(error) => {
                tracing::warn!(reason = error.reason(), %error, "session lookup failed");
                Lookup::Failed
            }
        }
    }

    /// `user` with its context signed for [`DEFAULT_TTL`] from now. `None` only if the
    /// signed value were not a valid header value, which base64 and `.` always are.
    fn signed(&self, user: &UserContext) -> Option<SignedUser> {
        let context = HeaderValue::from_str(&self.key.sign(user, DEFAULT_TTL)).ok()?;
        Some(SignedUser {
            id: user.id,
            context,
        })
    }
}

/// The session token of a `Cookie` header: the first `mf_session` cookie's value, as the
/// session service reads it; `None` when there is none or it is empty.
pub fn session_token(cookie: &str) -> Option<&str> {
    cookie
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim().trim_matches('"'))
        .filter(|token| !token.is_empty())
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_token_is_read_whatever_other_cookies_ride_along() {
        assert_eq!(session_token("mf_session=abc"), Some("abc"));
        assert_eq!(
            session_token("theme=dark; mf_session=abc; lang=en"),
            Some("abc")
        );
        assert_eq!(session_token("mf_session=\"abc\""), Some("abc"));
        assert_eq!(session_token("mf_session=abc; mf_session=def"), Some("abc"));
        for none in [
            "",
            "theme=dark",
            "mf_session=",
            "xmf_session=abc",
            "mf_session",
        ] {
            assert_eq!(session_token(none), None, "{none}");
        }
    }
}
