//! Talking to the services: the signed-in user (through the session service), fragments
//! with timeouts, caching and fallbacks, and the headers every upstream request carries.
//!
//! One [`Upstream`] lives in app data; it holds the one pooled `reqwest::Client`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::HttpRequest;
use bytes::{Bytes, BytesMut};
use sha2::{Digest, Sha256};
use shared_ui::context::{ContextKey, UserContext, DEFAULT_TTL};
use shared_ui::headers;
use shared_ui::proxies::TrustedProxies;
use shared_ui::service::RequestId;

use crate::registry::{Registry, Service};

/// How long a session lookup is reused.
const SESSION_CACHE_TTL: Duration = Duration::from_secs(2);
/// Time a session lookup gets.
const SESSION_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a cacheable fragment may stand in after it went stale, when its service fails.
const STALE_FOR: Duration = Duration::from_secs(600);
/// Entries kept in the session cache before old ones are dropped.
const MAX_CACHE_ENTRIES: usize = 4096;
/// Bytes of fragments (HTML and keys) the fragment cache holds; the least used go first.
pub const MAX_FRAGMENT_CACHE_BYTES: u64 = 16 * 1024 * 1024;
/// Largest fragment accepted, in bytes.
pub const MAX_FRAGMENT_BYTES: usize = 1024 * 1024;

/// How a slot was filled; written as `data-fragment-status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// A fresh answer from the service (or a fresh cached copy of one).
    Ok,
    /// The last good copy stood in for a failing service.
    Cached,
    /// The service's declared fallback.
    Fallback,
    /// The shell's "unavailable" box.
    Unavailable,
}

impl Status {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Cached => "cached",
            Status::Fallback => "fallback",
            Status::Unavailable => "unavailable",
        }
    }
}

/// A filled slot: its HTML (from a service we registered, so trusted markup) and how.
#[derive(Debug, Clone)]
pub struct Filled {
    /// The HTML to put in the slot, or `None` for the "unavailable" box.
    pub html: Option<Arc<str>>,
    /// How it was filled.
    pub status: Status,
    /// Milliseconds it took.
    pub ms: u64,
}

/// What every upstream request of one incoming request carries.
#[derive(Debug, Clone, Default)]
pub struct Forwarded {
    /// The request id.
    pub request_id: String,
    /// The first language of `Accept-Language` ([`primary_language`]).
    pub accept_language: Option<String>,
    /// `Cookie`, as sent (forwarded to the session service only).
    pub cookie: Option<String>,
    /// The host the browser asked for (`X-Forwarded-Host`).
    pub host: String,
    /// `X-Forwarded-For`: the client address (the peer, or what trusted proxies say).
    pub forwarded_for: Option<String>,
    /// `http`, or what a trusted proxy's `X-Forwarded-Proto` says (`http` or `https`).
    pub proto: String,
    /// The signed user context header, when signed in.
    pub user_header: Option<String>,
    /// The user's id, for cache keys.
    pub user_id: Option<i64>,
}

impl Forwarded {
    /// Reads the headers to forward from a request (the user is added by
    /// [`Upstream::with_user`]). The client address and scheme are believed from forwarding
    /// headers only when the peer is a trusted proxy.
    fn from_request(req: &HttpRequest, trusted: &TrustedProxies) -> Self {
        let text = |name: header::HeaderName| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let peer = req.peer_addr().map(|a| a.ip());
        let client = peer.map(|p| trusted.client_ip(p, req.headers()));
        Self {
            request_id: RequestId::of(req),
            accept_language: req
                .headers()
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(primary_language),
            cookie: text(header::COOKIE),
            // The Host the browser sent (not a client-supplied X-Forwarded-Host).
            host: req
                .headers()
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            forwarded_for: client.map(|c| c.to_string()),
            proto: trusted
                .forwarded_proto(peer, req.headers())
                .unwrap_or("http")
                .to_owned(),
            user_header: None,
            user_id: None,
        }
    }

    /// Adds the forwarded headers to an upstream request for `service`. The browser's
    /// cookies go to the session service only (`with_cookies`); every other service knows
    /// the user from the signed context alone.
    pub fn apply(
        &self,
        builder: reqwest::RequestBuilder,
        service: &Service,
        with_cookies: bool,
    ) -> reqwest::RequestBuilder {
        let mut b = builder
            .header(headers::BASE_PATH, service.proxy_base())
            .header("x-forwarded-host", &self.host)
            .header("x-forwarded-proto", &self.proto);
        if !self.request_id.is_empty() {
            b = b.header(headers::REQUEST_ID, &self.request_id);
        }
        if let Some(v) = &self.accept_language {
            b = b.header(header::ACCEPT_LANGUAGE.as_str(), v);
        }
        if let (true, Some(v)) = (with_cookies, &self.cookie) {
            b = b.header(header::COOKIE.as_str(), v);
        }
        if let Some(v) = &self.forwarded_for {
            b = b.header("x-forwarded-for", v);
        }
        if let Some(v) = &self.user_header {
            b = b.header(headers::USER_CONTEXT, v);
        }
        b
    }
}

/// The first language of an `Accept-Language` header, lower case (`en-gb`), if it is a
/// plausible BCP 47 tag of at most 35 bytes. What the shell forwards and keys its cache on:
/// the whole header, with its weights and endless variants, would let a client mint
/// unbounded cache keys.
pub fn primary_language(header: &str) -> Option<String> {
    let tag = header.split(',').next()?.split(';').next()?.trim();
    let ok = !tag.is_empty()
        && tag.len() <= 35
        && tag.split('-').all(|part| {
            (1..=8).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_alphanumeric())
        })
        && tag.bytes().next().is_some_and(|b| b.is_ascii_alphabetic());
    ok.then(|| tag.to_ascii_lowercase())
}

/// Reads at most `max` bytes of an answer's body, chunk by chunk: a longer body is dropped
/// as soon as it passes `max` (whatever its `Content-Length` says, chunked or not), so a
/// service can never make the shell hold more than `max` for one answer.
pub async fn read_capped(res: reqwest::Response, max: usize) -> Result<Bytes, String> {
    if res.content_length().is_some_and(|l| l > max as u64) {
        return Err(format!("the answer is larger than {max} bytes"));
    }
    let mut res = res;
    let mut body = BytesMut::new();
    while let Some(chunk) = res
        .chunk()
        .await
        .map_err(|e| format!("reading the body: {e}"))?
    {
        if body.len() + chunk.len() > max {
            return Err(format!("the answer is larger than {max} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// A session lookup: when, and who (or signed out).
type SessionEntry = (Instant, Option<UserContext>);

/// A cached fragment. Past `fresh_until`, the first request to see it refetches it
/// (`refreshing`) while the others keep serving this copy: one refetch per expiry, however
/// many requests arrive meanwhile.
#[derive(Debug)]
struct CachedFragment {
    html: Arc<str>,
    fresh_until: Instant,
    refreshing: AtomicBool,
}

/// Lets go of a cached fragment's refresh when the refetch ends without storing a new copy
/// (failed, or cancelled with its request), so that the next request tries again.
struct RefreshGuard(Arc<CachedFragment>);

impl Drop for RefreshGuard {
    fn drop(&mut self) {
        self.0.refreshing.store(false, Ordering::Release);
    }
}

/// Upstream access: the client, the registry, the context key and the caches.
#[derive(Debug)]
pub struct Upstream {
    /// The one pooled HTTP client (keep-alive, connect timeout, no redirects followed).
    pub client: reqwest::Client,
    /// The services.
    pub registry: Arc<Registry>,
    key: ContextKey,
    sessions: Mutex<HashMap<[u8; 32], SessionEntry>>,
    /// Cacheable fragments by URL, user and language: bounded by bytes, entries dropped
    /// [`STALE_FOR`] after they were stored.
    fragments: moka::sync::Cache<String, Arc<CachedFragment>>,
    /// The sections' pages, rendered once per registry generation.
    pub pages: crate::routes::pages::PageCache,
}

/// How long the shell keeps an idle pooled connection: a second less than the services keep
/// theirs ([`shared_ui::guard::KEEP_ALIVE_SECS`]), so that the shell lets go first. With the
/// longer timeout (30 s) a request now and then went out on a connection the service was
/// closing at that moment and failed (`error sending request`): 2 healthy fragments in the
/// first 180 s of the 10-minute soak (`bench/soak`).
pub const POOL_IDLE_TIMEOUT: Duration =
    Duration::from_secs(shared_ui::guard::KEEP_ALIVE_SECS.saturating_sub(1));

/// The shell's HTTP client: pooled keep-alive connections (let go before the services close
/// them), a connect timeout, no redirects followed (a 303 passes through to the browser).
pub fn build_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_millis(500))
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .pool_max_idle_per_host(64)
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("mf-shell/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the HTTP client builds with rustls")
}

impl Upstream {
    /// Upstream access for a registry.
    pub fn new(client: reqwest::Client, registry: Arc<Registry>, key: ContextKey) -> Self {
        Self {
            client,
            registry,
            key,
            sessions: Mutex::new(HashMap::new()),
            fragments: moka::sync::Cache::builder()
                .max_capacity(MAX_FRAGMENT_CACHE_BYTES)
                .weigher(|key: &String, entry: &Arc<CachedFragment>| {
                    u32::try_from(key.len() + entry.html.len()).unwrap_or(u32::MAX)
                })
                .time_to_live(STALE_FOR)
                .build(),
            pages: crate::routes::pages::PageCache::default(),
        }
    }

    /// The forwarded headers of `req`, the user not yet resolved (see [`Self::with_user`]).
    pub fn forwarded_without_user(&self, req: &HttpRequest) -> Forwarded {
        Forwarded::from_request(req, &self.registry.config.common.trusted_proxies)
    }

    /// Whether `service` is the session service: the only one that receives the browser's
    /// cookies and may set cookies through the shell.
    pub fn is_session_service(&self, service: &Service) -> bool {
        self.registry.config.session_service.as_deref() == Some(service.name())
    }

    /// Forgets the cached session lookup of a `Cookie` header (after the session service
    /// changed the session: sign-in, sign-out), so the next request asks again.
    pub fn forget_session(&self, cookie: Option<&str>) {
        if let (Some(cookie), Ok(mut sessions)) = (cookie, self.sessions.lock()) {
            let digest: [u8; 32] = Sha256::digest(cookie.as_bytes()).into();
            sessions.remove(&digest);
        }
    }

    /// Adds the signed-in user, resolved and signed, to forwarded headers.
    pub async fn with_user(&self, mut fwd: Forwarded) -> Forwarded {
        if let Some(user) = self.user(&fwd).await {
            fwd.user_header = Some(self.key.sign(&user, DEFAULT_TTL));
            fwd.user_id = Some(user.id);
        }
        fwd
    }

    /// The signed-in user for the request's cookies: `GET /internal/session` on the session
    /// service, reused for two seconds per cookie (keyed by its sha256). Any failure reads as
    /// signed out.
    async fn user(&self, fwd: &Forwarded) -> Option<UserContext> {
        let cookie = fwd.cookie.as_deref()?;
        let service = self
            .registry
            .config
            .session_service
            .as_deref()
            .and_then(|name| self.registry.service(name))?;
        let digest: [u8; 32] = Sha256::digest(cookie.as_bytes()).into();
        if let Some((at, user)) = self.sessions.lock().ok()?.get(&digest) {
            if at.elapsed() < SESSION_CACHE_TTL {
                return user.clone();
            }
        }
        let mut builder = self
            .client
            .get(service.upstream("/internal/session"))
            .timeout(SESSION_TIMEOUT)
            .header(header::COOKIE.as_str(), cookie);
        if !fwd.request_id.is_empty() {
            builder = builder.header(headers::REQUEST_ID, &fwd.request_id);
        }
        let user = match builder.send().await {
            Ok(res) if res.status().is_success() => match res.bytes().await {
                Ok(body) => serde_json::from_slice::<UserContext>(&body).ok(),
                Err(_) => return None,
            },
            Ok(res) if res.status() == reqwest::StatusCode::UNAUTHORIZED => None,
            Ok(res) => {
                tracing::warn!(status = res.status().as_u16(), "session lookup failed");
                return None;
            }
            Err(e) => {
                tracing::warn!(error = %e, "session lookup failed");
                return None;
            }
        };
        if let Ok(mut sessions) = self.sessions.lock() {
            if sessions.len() >= MAX_CACHE_ENTRIES {
                sessions.retain(|_, (at, _)| at.elapsed() < SESSION_CACHE_TTL);
                if sessions.len() >= MAX_CACHE_ENTRIES {
                    sessions.clear();
                }
            }
            sessions.insert(digest, (Instant::now(), user.clone()));
        }
        user
    }

    /// Starts a manifest refresh in the background when an answer's version calls for one.
    pub fn notice_version(&self, service: &Arc<Service>, version: Option<&str>) {
        if service.version_is_stale(version) && service.may_refresh() {
            let service = Arc::clone(service);
            let client = self.client.clone();
            tokio::spawn(async move {
                service.refresh(&client).await;
            });
        }
    }

    /// Fills a slot with `service`'s `fragment`: from a fresh cache entry, else from the
    /// service within `min(fragment timeout, deadline)`, else the last good copy, the
    /// declared fallback or the "unavailable" box. Never fails.
    pub async fn fragment(
        &self,
        fwd: &Forwarded,
        service: &Arc<Service>,
        fragment: &str,
        query: Option<&str>,
        deadline: Instant,
    ) -> Filled {
        let started = Instant::now();
        let filled = self
            .fragment_inner(fwd, service, fragment, query, deadline)
            .await;
        let filled = Filled {
            ms: started.elapsed().as_millis() as u64,
            ..filled
        };
        tracing::info!(
            service = %service.name(),
            fragment,
            ms = filled.ms,
            status = filled.status.as_str(),
            "fragment"
        );
        filled
    }

    async fn fragment_inner(
        &self,
        fwd: &Forwarded,
        service: &Arc<Service>,
        fragment: &str,
        query: Option<&str>,
        deadline: Instant,
    ) -> Filled {
        let Some(path) = service.fragment_path(fragment) else {
            tracing::warn!(service = %service.name(), fragment, "the manifest does not declare this fragment");
            return self.fallback(service, fragment, None);
        };
        // From the service's parsed base URL: no URL (and host) parsing per request.
        let url = service.upstream_url(&path, query.filter(|q| !q.is_empty()));
        let key = format!(
            "{}\n{}\n{}",
            url.as_str(),
            fwd.user_id
                .map_or("anonymous".to_owned(), |id| id.to_string()),
            fwd.accept_language.as_deref().unwrap_or("")
        );
        // Fresh: served. Stale with a refetch under way: the stale copy, so an expiry under
        // load costs the service one request. Stale otherwise: this request refetches.
        let mut _refresh = None;
        if let Some(entry) = self.fragments.get(&key) {
            if Instant::now() < entry.fresh_until || entry.refreshing.swap(true, Ordering::AcqRel) {
                return Filled {
                    html: Some(Arc::clone(&entry.html)),
                    status: Status::Ok,
                    ms: 0,
                };
            }
            _refresh = Some(RefreshGuard(entry));
        }
        let budget = self
            .registry
            .config
            .fragment_timeout
            .min(deadline.saturating_duration_since(Instant::now()));
        let request = fwd
            .apply(
                self.client.get(url),
                service,
                self.is_session_service(service),
            )
            .send();
        let result = tokio::time::timeout(budget, async {
            let res = request.await.map_err(|e| format!("request failed: {e}"))?;
            read_fragment(res).await
        })
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} ms", budget.as_millis())));
        match result {
            Ok(answer) => {
                self.notice_version(service, answer.version.as_deref());
                let html = answer.body;
                if let Some(ttl) = answer.fresh_for {
                    self.store(key, Arc::clone(&html), ttl);
                }
                Filled {
                    html: Some(html),
                    status: Status::Ok,
                    ms: 0,
                }
            }
            Err(why) => {
                tracing::warn!(service = %service.name(), fragment, %why, "fragment failed");
                self.fallback(service, fragment, Some(&key))
            }
        }
    }

    fn fallback(&self, service: &Service, fragment: &str, key: Option<&str>) -> Filled {
        if let Some(html) = key.and_then(|k| self.cached(k)) {
            return Filled {
                html: Some(html),
                status: Status::Cached,
                ms: 0,
            };
        }
        match service.fragment(fragment).and_then(|f| f.fallback) {
            Some(fallback) => Filled {
                html: Some(fallback.into()),
                status: Status::Fallback,
                ms: 0,
            },
            None => Filled {
                html: None,
                status: Status::Unavailable,
                ms: 0,
            },
        }
    }

    /// The last good copy of a fragment, fresh or not (entries leave after [`STALE_FOR`]).
    fn cached(&self, key: &str) -> Option<Arc<str>> {
        self.fragments.get(key).map(|e| Arc::clone(&e.html))
    }

    fn store(&self, key: String, html: Arc<str>, ttl: Duration) {
        let entry = CachedFragment {
            html,
            fresh_until: Instant::now() + ttl,
            refreshing: AtomicBool::new(false),
        };
        self.fragments.insert(key, Arc::new(entry));
    }
}

/// A fragment answer that passed the checks.
#[derive(Debug)]
pub struct FragmentAnswer {
    /// The HTML (copied once, from the read buffer).
    pub body: Arc<str>,
    /// `x-fragment-version`.
    pub version: Option<String>,
    /// How long it may be reused, when its `Cache-Control` allows it.
    pub fresh_for: Option<Duration>,
}

/// Checks a fragment answer: 2xx, `text/html`, at most [`MAX_FRAGMENT_BYTES`] (read as a
/// stream and cut there), UTF-8, not a whole document (`<html`).
pub async fn read_fragment(res: reqwest::Response) -> Result<FragmentAnswer, String> {
    if !res.status().is_success() {
        return Err(format!("answered {}", res.status()));
    }
    let content_type = res
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if !content_type.starts_with("text/html") {
        return Err(format!("content type `{content_type}` is not text/html"));
    }
    let version = res
        .headers()
        .get(headers::FRAGMENT_VERSION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let fresh_for = res
        .headers()
        .get(reqwest::header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .and_then(cacheable_for);
    let body = read_capped(res, MAX_FRAGMENT_BYTES).await?;
    let text = std::str::from_utf8(&body).map_err(|_| "the body is not UTF-8".to_owned())?;
    if contains_document(text) {
        return Err("the answer is a whole document (<html), not a fragment".to_owned());
    }
    Ok(FragmentAnswer {
        body: text.into(),
        version,
        fresh_for,
    })
}

/// Whether HTML holds `<html` (any case): a whole document, not a fragment. Jumps from
/// `<` to `<` with memchr (vectorised) rather than comparing at every byte.
pub fn contains_document(body: &str) -> bool {
    let bytes = body.as_bytes();
    memchr::memchr_iter(b'<', bytes).any(|at| {
        bytes
            .get(at + 1..at + 5)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"html"))
    })
}

/// How long a shared cache may reuse an answer with this `Cache-Control`: `max-age` (or
/// `s-maxage`) above zero and none of `private`, `no-store`, `no-cache`.
pub fn cacheable_for(cache_control: &str) -> Option<Duration> {
    let mut max_age = None;
    let mut s_maxage = None;
    for directive in cache_control.split(',') {
        let d = directive.trim().to_ascii_lowercase();
        match d.split_once('=') {
            Some(("max-age", v)) => max_age = v.trim_matches('"').parse::<u64>().ok(),
            Some(("s-maxage", v)) => s_maxage = v.trim_matches('"').parse::<u64>().ok(),
            _ if d == "private" || d == "no-store" || d == "no-cache" => return None,
            _ => {}
        }
    }
    s_maxage
        .or(max_age)
        .filter(|s| *s > 0)
        .map(|s| Duration::from_secs(s.min(3600)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_shared_cacheable_answers_are_reused() {
        assert_eq!(
            cacheable_for("public, max-age=30"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            cacheable_for("max-age=5, s-maxage=10"),
            Some(Duration::from_secs(10))
        );
        assert_eq!(cacheable_for("private, max-age=30"), None);
        assert_eq!(cacheable_for("no-store"), None);
        assert_eq!(cacheable_for("public, max-age=0"), None);
        assert_eq!(cacheable_for("public, no-cache, max-age=30"), None);
    }

    #[test]
    fn whole_documents_are_spotted_in_any_case() {
        assert!(contains_document("<!doctype html><HTML lang=en>"));
        assert!(contains_document("<p>a</p><html"));
        assert!(!contains_document("<p>a</p><htm"));
        assert!(!contains_document("<<<"));
        assert!(!contains_document(
            "<section data-fragment=\"a/b\">html</section>"
        ));
    }
}
