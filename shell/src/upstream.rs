//! Talking to the services: the signed-in user (through the session service), fragments
//! with timeouts, caching and fallbacks, and the headers every upstream request carries.
//!
//! One [`Upstream`] lives in app data, shared by the workers: the registry and the caches.
//! The HTTP client is one per thread ([`Upstream::client`]): an actix worker is one thread
//! with its own runtime, so its pooled connections are driven by that runtime and a page's
//! upstream requests never wake another thread.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::HttpRequest;
use bytes::{Bytes, BytesMut};
use reqwest::header::HeaderMap;
use sha2::{Digest, Sha256};
use shared_ui::context::{ContextKey, UserContext, DEFAULT_TTL};
use shared_ui::headers;
use shared_ui::proxies::TrustedProxies;
use shared_ui::request_id::RequestId;
use shared_ui::trace::{TraceContext, TRACEPARENT};

use crate::metrics::{Cache, FragmentMetrics, ShellMetrics};
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

/// Time to open a connection to a service.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// Who the shell says it is, upstream.
const USER_AGENT: &str = concat!("mf-shell/", env!("CARGO_PKG_VERSION"));
/// How long the shell keeps an idle pooled connection: a second less than the services keep
/// theirs ([`shared_ui::guard::KEEP_ALIVE_SECS`]), so that the shell lets go first. With the
/// longer timeout (30 s) a request now and then went out on a connection the service was
/// closing at that moment and failed (`error sending request`): 2 healthy fragments in the
/// first 180 s of the 10-minute soak (`bench/soak`), and a proxied stylesheet in a browser test.
pub const POOL_IDLE_TIMEOUT: Duration =
    Duration::from_secs(shared_ui::guard::KEEP_ALIVE_SECS.saturating_sub(1));

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
    /// `Cookie`, as sent (forwarded to the session service only).
    pub cookie: Option<String>,
    /// The user's id, for cache keys.
    pub user_id: Option<i64>,
    /// The headers that go to every service, whichever it is: `X-Forwarded-Host` (the host
    /// the browser asked for), `-Proto` (`http`, or what a trusted proxy says), `-For` (the
    /// client address), the request id, `traceparent` (the request's trace, the shell's
    /// span), `Accept-Language` (its first language, [`primary_language`]) and, once the
    /// user is known, the signed context. Built once per incoming request and cloned per
    /// upstream request: the values are shared, not copied or checked again.
    common: HeaderMap,
}

impl Forwarded {
    /// Reads the headers to forward from a request (the user is added by
    /// [`Upstream::with_user`]). The client address and scheme are believed from forwarding
    /// headers only when the peer is a trusted proxy.
    fn from_request(req: &HttpRequest, trusted: &TrustedProxies) -> Self {
        use reqwest::header::HeaderName;
        let text = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
        let peer = req.peer_addr().map(|a| a.ip());
        let mut fwd = Self {
            cookie: text(header::COOKIE).map(str::to_owned),
            user_id: None,
            common: HeaderMap::with_capacity(12),
        };
        // The Host the browser sent (not a client-supplied X-Forwarded-Host).
        fwd.put(
            HeaderName::from_static("x-forwarded-host"),
            text(header::HOST).unwrap_or_default(),
        );
        let proto = trusted
            .forwarded_proto(peer, req.headers())
            .unwrap_or("http");
        fwd.put(HeaderName::from_static("x-forwarded-proto"), proto);
        let request_id = RequestId::of(req);
        if !request_id.is_empty() {
            fwd.put(HeaderName::from_static(headers::REQUEST_ID), &request_id);
        }
        if let Some(trace) = TraceContext::of(req) {
            fwd.put(HeaderName::from_static(TRACEPARENT), &trace.traceparent());
        }
        if let Some(language) = text(header::ACCEPT_LANGUAGE).and_then(primary_language) {
            fwd.put(reqwest::header::ACCEPT_LANGUAGE, &language);
        }
        if let Some(client) = peer.map(|p| trusted.client_ip(p, req.headers())) {
            fwd.put(
                HeaderName::from_static("x-forwarded-for"),
                &client.to_string(),
            );
        }
        fwd
    }

    /// Adds a header for every service; a value that is not a valid header value is left
    /// out.
    fn put(&mut self, name: reqwest::header::HeaderName, value: &str) {
        if let Ok(v) = reqwest::header::HeaderValue::from_str(value) {
            self.common.insert(name, v);
        }
    }

    /// The language forwarded (the first of `Accept-Language`), for cache keys.
    pub fn language(&self) -> Option<&str> {
        self.common
            .get(reqwest::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
    }

    /// One of the headers for every service (the request id, `traceparent`), to copy onto
    /// another upstream request.
    fn common_header(&self, name: &str) -> Option<&reqwest::header::HeaderValue> {
        self.common.get(name)
    }

    /// The signed user context, once the user is known.
    fn set_user(&mut self, user_header: &str, user_id: i64) {
        self.put(
            reqwest::header::HeaderName::from_static(headers::USER_CONTEXT),
            user_header,
        );
        self.user_id = Some(user_id);
    }

    /// The forwarded headers of an upstream request for `service`: those for every service
    /// and `service`'s base path. The browser's cookies go to the session service only
    /// (`with_cookies`); every other service knows the user from the signed context alone.
    pub fn headers(&self, service: &Service, with_cookies: bool) -> HeaderMap {
        let mut map = self.common.clone();
        map.insert(
            reqwest::header::HeaderName::from_static(headers::BASE_PATH),
            service.base_path_header().clone(),
        );
        if let (true, Some(v)) = (with_cookies, &self.cookie) {
            if let Ok(v) = reqwest::header::HeaderValue::from_str(v) {
                map.insert(reqwest::header::COOKIE, v);
            }
        }
        map
    }

    /// Adds the forwarded headers ([`Self::headers`]) to a reqwest request.
    pub fn apply(
        &self,
        builder: reqwest::RequestBuilder,
        service: &Service,
        with_cookies: bool,
    ) -> reqwest::RequestBuilder {
        builder.headers(self.headers(service, with_cookies))
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
    let length = res.content_length();
    read_body_capped(http::Response::from(res).into_body(), length, max).await
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
    /// The services.
    pub registry: Arc<Registry>,
    key: ContextKey,
    sessions: Mutex<HashMap<[u8; 32], SessionEntry>>,
    /// Cacheable fragments by URL, user and language: bounded by bytes, entries dropped
    /// [`STALE_FOR`] after they were stored.
    fragments: moka::sync::Cache<String, Arc<CachedFragment>>,
    /// The sections' pages, rendered once per registry generation.
    pub pages: crate::routes::pages::PageCache,
    /// The shell's own metrics (registered by [`crate::startup`]).
    pub metrics: ShellMetrics,
}

/// The shell's HTTP client: pooled keep-alive connections, a connect timeout, no redirects
/// followed (a 303 passes through to the browser).
fn build_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        // Below the services' keep-alive (5 s in every binary of ours), so the shell lets go
        // of an idle connection before the service closes it under a request being sent.
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .pool_max_idle_per_host(64)
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(USER_AGENT)
        .build()
        .expect("the HTTP client builds with rustls")
}

/// The client of fragment requests to `http://` services: hyper's pooled client with no
/// layers above it (reqwest's redirect and retry layers parse every request's URL again).
type FragmentClient = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Empty<Bytes>,
>;

fn build_fragment_client() -> FragmentClient {
    let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
    connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
    connector.set_nodelay(true);
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .pool_max_idle_per_host(64)
        .pool_timer(hyper_util::rt::TokioTimer::new())
        .build(connector)
}

thread_local! {
    /// This thread's client: see [`Upstream::client`].
    static CLIENT: reqwest::Client = build_client();
    /// This thread's client for fragments, likewise one per worker.
    static FRAGMENT_CLIENT: FragmentClient = build_fragment_client();
}

impl Upstream {
    /// The pooled HTTP client of the calling thread (keep-alive, connect timeout, no
    /// redirects followed). One per thread, not one per process: a connection's I/O task
    /// runs on the runtime that opened it, so with one shared pool a worker's request could
    /// ride a connection driven by another thread, and every answer would cost two
    /// cross-thread wake-ups (an eventfd write and an `epoll_wait` on each side). Cloning
    /// the client is a reference count.
    pub fn client(&self) -> reqwest::Client {
        CLIENT.with(reqwest::Client::clone)
    }

    /// Upstream access for a registry.
    pub fn new(registry: Arc<Registry>, key: ContextKey) -> Self {
        Self {
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
            metrics: ShellMetrics::new(),
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
            fwd.set_user(&self.key.sign(&user, DEFAULT_TTL), user.id);
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
                self.metrics.cache(Cache::Session, true);
                return user.clone();
            }
        }
        self.metrics.cache(Cache::Session, false);
        let mut builder = self
            .client()
            .get(service.upstream("/internal/session"))
            .timeout(SESSION_TIMEOUT)
            .header(header::COOKIE.as_str(), cookie);
        for name in [headers::REQUEST_ID, TRACEPARENT] {
            if let Some(v) = fwd.common_header(name) {
                builder = builder.header(name, v.clone());
            }
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
            let client = self.client();
            tokio::spawn(async move {
                service.refresh(&client).await;
            });
        }
    }

    /// Fills a slot with `service`'s `fragment`: from a fresh cache entry, else from the
    /// service within `min(fragment timeout, deadline)`, else the last good copy, the
    /// declared fallback or the "unavailable" box. Never fails. Counted in `metrics`.
    pub async fn fragment(
        &self,
        fwd: &Forwarded,
        service: &Arc<Service>,
        fragment: &str,
        query: Option<&str>,
        deadline: Instant,
        metrics: &FragmentMetrics,
    ) -> Filled {
        let started = Instant::now();
        let filled = self
            .fragment_inner(fwd, service, fragment, query, deadline)
            .await;
        let took = started.elapsed();
        metrics.record(filled.status, took);
        let filled = Filled {
            ms: took.as_millis() as u64,
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
            if service.manifest().is_none() {
                // Not known yet (down, or not started): no path is guessed; ask again.
                self.notice_version(service, None);
                tracing::info!(service = %service.name(), fragment, "the manifest is not known yet");
            } else {
                tracing::warn!(service = %service.name(), fragment, "the manifest does not declare this fragment");
            }
            return self.fallback(service, fragment, None);
        };
        let url = match query.filter(|q| !q.is_empty()) {
            Some(q) => format!("{}?{q}", service.upstream(&path)),
            None => service.upstream(&path),
        };
        let key = cache_key(&url, fwd.user_id, fwd.language());
        // Fresh: served. Stale with a refetch under way: the stale copy, so an expiry under
        // load costs the service one request. Stale otherwise: this request refetches.
        let mut _refresh = None;
        if let Some(entry) = self.fragments.get(&key) {
            if Instant::now() < entry.fresh_until || entry.refreshing.swap(true, Ordering::AcqRel) {
                self.metrics.cache(Cache::Fragment, true);
                return Filled {
                    html: Some(Arc::clone(&entry.html)),
                    status: Status::Ok,
                    ms: 0,
                };
            }
            _refresh = Some(RefreshGuard(entry));
        }
        self.metrics.cache(Cache::Fragment, false);
        let budget = self
            .registry
            .config
            .fragment_timeout
            .min(deadline.saturating_duration_since(Instant::now()));
        let headers = fwd.headers(service, self.is_session_service(service));
        let result = tokio::time::timeout(budget, self.fetch_fragment(url, headers))
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

    /// `GET url` with `headers`, read and checked as a fragment ([`read_fragment`]). An
    /// `http://` URL goes through hyper's client directly; anything else (`https://`)
    /// through reqwest, which speaks TLS.
    async fn fetch_fragment(
        &self,
        url: String,
        headers: HeaderMap,
    ) -> Result<FragmentAnswer, String> {
        if !url.starts_with("http://") {
            let res = self
                .client()
                .get(url)
                .headers(headers)
                .send()
                .await
                .map_err(|e| format!("request failed: {e}"))?;
            return read_fragment(http::Response::from(res)).await;
        }
        let uri = http::Uri::try_from(url).map_err(|e| format!("bad fragment URL: {e}"))?;
        let mut request = http::Request::new(http_body_util::Empty::new());
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        request.headers_mut().insert(
            reqwest::header::USER_AGENT,
            reqwest::header::HeaderValue::from_static(USER_AGENT),
        );
        let res = FRAGMENT_CLIENT
            .with(|client| client.request(request))
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        read_fragment(res).await
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
pub async fn read_fragment<B>(res: http::Response<B>) -> Result<FragmentAnswer, String>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let (parts, body) = res.into_parts();
    if !parts.status.is_success() {
        return Err(format!("answered {}", parts.status));
    }
    let text = |name| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let content_type = text(reqwest::header::CONTENT_TYPE).unwrap_or("");
    if !content_type
        .get(..9)
        .is_some_and(|t| t.eq_ignore_ascii_case("text/html"))
    {
        return Err(format!(
            "content type `{}` is not text/html",
            content_type.to_ascii_lowercase()
        ));
    }
    let version = text(reqwest::header::HeaderName::from_static(
        headers::FRAGMENT_VERSION,
    ))
    .map(str::to_owned);
    let fresh_for = text(reqwest::header::CACHE_CONTROL).and_then(cacheable_for);
    let length = text(reqwest::header::CONTENT_LENGTH).and_then(|l| l.parse::<u64>().ok());
    let body = read_body_capped(body, length, MAX_FRAGMENT_BYTES).await?;
    let text = simdutf8::basic::from_utf8(&body).map_err(|_| "the body is not UTF-8".to_owned())?;
    if contains_document(text) {
        return Err("the answer is a whole document (<html), not a fragment".to_owned());
    }
    Ok(FragmentAnswer {
        body: text.into(),
        version,
        fresh_for,
    })
}

/// Reads at most `max` bytes of a body, frame by frame: a longer body is dropped as soon as
/// it passes `max`, whatever `length` (its `Content-Length`) says. A body of one frame is
/// kept as it came, with no copy.
pub async fn read_body_capped<B>(
    mut body: B,
    length: Option<u64>,
    max: usize,
) -> Result<Bytes, String>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    use http_body_util::BodyExt;
    if length.is_some_and(|l| l > max as u64) {
        return Err(format!("the answer is larger than {max} bytes"));
    }
    let mut first: Option<Bytes> = None;
    let mut rest = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("reading the body: {e}"))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let so_far = first.as_ref().map_or(0, Bytes::len) + rest.len();
        if so_far + data.len() > max {
            return Err(format!("the answer is larger than {max} bytes"));
        }
        match &first {
            None => first = Some(data),
            Some(head) => {
                if rest.is_empty() {
                    rest.extend_from_slice(head);
                }
                rest.extend_from_slice(&data);
            }
        }
    }
    Ok(if rest.is_empty() {
        first.unwrap_or_default()
    } else {
        rest.freeze()
    })
}

/// The fragment cache's key: URL, user (or `anonymous`) and language.
fn cache_key(url: &str, user_id: Option<i64>, language: Option<&str>) -> String {
    use std::fmt::Write;
    let language = language.unwrap_or("");
    let mut key = String::with_capacity(url.len() + language.len() + 24);
    key.push_str(url);
    key.push('\n');
    match user_id {
        Some(id) => {
            let _ = write!(key, "{id}");
        }
        None => key.push_str("anonymous"),
    }
    key.push('\n');
    key.push_str(language);
    key
}

/// Whether HTML holds `<html` (any case): a whole document, not a fragment. Looks only
/// where a tag name starts with `h` or `H` (two vectorised substring searches, `<h` and
/// `<H`): jumping from every `<` to the next cost a call per tag.
pub fn contains_document(body: &str) -> bool {
    use memchr::memmem::Finder;
    use std::sync::LazyLock;
    static LOWER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"<h"));
    static UPPER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"<H"));
    let bytes = body.as_bytes();
    let html_at = |at: usize| {
        bytes
            .get(at + 2..at + 5)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"tml"))
    };
    LOWER.find_iter(bytes).any(html_at) || UPPER.find_iter(bytes).any(html_at)
}

/// How long a shared cache may reuse an answer with this `Cache-Control`: `max-age` (or
/// `s-maxage`) above zero and none of `private`, `no-store`, `no-cache`.
pub fn cacheable_for(cache_control: &str) -> Option<Duration> {
    let mut max_age = None;
    let mut s_maxage = None;
    let seconds = |v: &str| v.trim().trim_matches('"').parse::<u64>().ok();
    for directive in cache_control.split(',') {
        let directive = directive.trim();
        match directive.split_once('=') {
            Some((name, v)) if name.trim().eq_ignore_ascii_case("max-age") => max_age = seconds(v),
            Some((name, v)) if name.trim().eq_ignore_ascii_case("s-maxage") => {
                s_maxage = seconds(v)
            }
            Some(_) => {}
            None if ["private", "no-store", "no-cache"]
                .iter()
                .any(|d| directive.eq_ignore_ascii_case(d)) =>
            {
                return None
            }
            None => {}
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
        // Directive names in any case, spaces around `=`.
        assert_eq!(
            cacheable_for("Public, Max-Age = 30"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(cacheable_for("max-age=30, NO-CACHE"), None);
        assert_eq!(
            cacheable_for("max-age=\"20\""),
            Some(Duration::from_secs(20))
        );
        assert_eq!(cacheable_for("max-age=soon"), None);
    }

    #[test]
    fn only_the_first_plausible_language_tag_is_kept() {
        assert_eq!(
            primary_language("en-GB,en;q=0.9,fr;q=0.8").as_deref(),
            Some("en-gb")
        );
        assert_eq!(primary_language(" de ;q=1").as_deref(), Some("de"));
        assert_eq!(
            primary_language("zh-Hant-TW").as_deref(),
            Some("zh-hant-tw")
        );
        // Unbounded or odd values never become cache keys.
        let long = format!("en-{}", "abcdefgh-".repeat(8));
        for bad in [
            "",
            "*",
            "1en",
            "en_GB",
            "en--gb",
            "toolongtag",
            long.as_str(),
            "é",
        ] {
            assert_eq!(primary_language(bad), None, "{bad}");
        }
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
