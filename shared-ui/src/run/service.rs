//! The bootstrap every service repeats, written once.
//!
//! - [`CommonSettings`]: the settings of `DESIGN.md` that every binary shares (`--port/PORT`,
//!   `--bind/BIND`, `--context-secret/CONTEXT_SECRET`), flattened into each binary's clap
//!   struct and checked by [`CommonSettings::resolve`].
//! - [`init_tracing`]: `RUST_LOG` (default `info`) to stderr.
//! - [`request_id`]: middleware that accepts or makes a request id and a W3C trace context,
//!   opens the request's tracing span with both and echoes the id on the response.
//! - [`configure`]: `/healthz`, `/readyz` (asks the [`Readiness`] in app data) and the shared
//!   assets under `/assets/shared/`.
//! - [`not_found`], [`bad_request`], [`query_config`]: the 404 and 400 pages.
//! - [`fragment_response`], [`base_path`]: the fragment half of the contract.
//! - [`healthcheck`]: the `healthcheck` subcommand used by container health checks.
//!
//! - [`serve`]: runs a server until SIGTERM or Ctrl-C, then stops gracefully: [`Stopping`] is
//!   set (so `/readyz` answers 503), the listener is closed (new connections are refused),
//!   idle keep-alive connections are closed, and the requests in flight get
//!   `--shutdown-grace` / `SHUTDOWN_GRACE` seconds to finish (a streamed page included),
//!   each connection closing after its answer; then the process exits 0.

use std::fmt;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use maud::{html, Markup};
use tracing::Instrument;

use crate::components;
use crate::guard::{self, Limits};
use crate::headers;
use crate::proxies::TrustedProxies;
use crate::trace::TraceContext;

/// Seconds a stopping server gives the requests in flight, unless `SHUTDOWN_GRACE` says
/// otherwise.
pub const DEFAULT_SHUTDOWN_GRACE_SECS: u64 = 10;

/// The development context secret, used (with a loud warning) when none is configured.
pub const DEV_CONTEXT_SECRET: &str = "dev-only-context-secret-change-me";

/// A secret string that never prints.
#[derive(Clone)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: String) -> Self {
        Self(value.into())
    }
    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s.to_owned()))
    }
}

/// Settings every binary shares (`DESIGN.md`). Flatten into a binary's clap struct.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonSettings {
    /// TCP port to listen on (0 picks a free one) [default: the service's port]
    #[arg(long, env = "PORT")]
    pub port: Option<u16>,
    /// Address to bind
    #[arg(long, env = "BIND", default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Secret that signs the user context (HMAC-SHA256), the same in the shell and every
    /// service; at least 16 bytes [default: a development value, with a warning]
    #[arg(long, env = "CONTEXT_SECRET", hide_env_values = true)]
    pub context_secret: Option<Secret>,
    /// Direct mode: the shell origins (comma separated, e.g. `http://127.0.0.1:8000`) whose
    /// pages may fetch this service's fragments straight from the browser (CORS). Empty: none
    #[arg(long, env = "CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// A file holding the context secret (used when --context-secret is not given). If the
    /// file does not exist, a random secret is written to it first, so that every binary
    /// pointed at the same file shares one secret generated per installation
    #[arg(long, env = "CONTEXT_SECRET_FILE")]
    pub context_secret_file: Option<PathBuf>,
    /// Proxies whose X-Forwarded-For (and X-Forwarded-Proto) is believed: IP addresses and
    /// CIDR networks, comma separated (e.g. `127.0.0.1,10.0.0.0/8`). Empty: none, the client
    /// is the TCP peer
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,
    /// Development mode: allows the development context secret on a non-loopback address
    #[arg(long, env = "MOSAIC_DEV")]
    pub dev: bool,
    /// Seconds a client gets to send a request body after its headers (408 past it)
    #[arg(long, env = "REQUEST_TIMEOUT", default_value_t = guard::DEFAULT_BODY_TIMEOUT_SECS)]
    pub request_timeout: u64,
    /// Open connections accepted at once (over all workers); more wait in the backlog
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = guard::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Seconds a stopping binary (SIGTERM, Ctrl-C) gives the requests in flight before it
    /// closes their connections; it accepts no new ones meanwhile
    #[arg(long, env = "SHUTDOWN_GRACE", default_value_t = DEFAULT_SHUTDOWN_GRACE_SECS)]
    pub shutdown_grace: u64,
}

/// The shared settings, checked.
#[derive(Debug, Clone)]
pub struct Common {
    /// Where to listen.
    pub addr: SocketAddr,
    /// The context secret (the development default if none was given).
    pub context_secret: Secret,
    /// Whether the development default secret is in use.
    pub dev_secret: bool,
    /// The origins allowed to read fragments cross-origin (direct mode).
    pub cors: CorsPolicy,
    /// The proxies whose forwarding headers are believed.
    pub trusted_proxies: TrustedProxies,
    /// Deadlines and the connection cap.
    pub limits: Limits,
    /// Time the requests in flight get once the binary is stopping.
    pub shutdown_grace: Duration,
}

/// A setting that cannot be used; the message names it.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {name}: {problem}")]
pub struct SettingError {
    /// The flag and variable, e.g. `--context-secret / CONTEXT_SECRET`.
    pub name: &'static str,
    /// What is wrong.
    pub problem: String,
}

impl SettingError {
    /// A setting error.
    pub fn new(name: &'static str, problem: impl Into<String>) -> Self {
        Self {
            name,
            problem: problem.into(),
        }
    }
}

impl CommonSettings {
    /// Checks the settings, filling in the service's default port.
    ///
    /// The development secret (no secret given, or that very value given) is refused on a
    /// non-loopback address unless `--dev` is given: anyone who knows it can forge a user.
    pub fn resolve(&self, default_port: u16) -> Result<Common, SettingError> {
        const SECRET: &str = "--context-secret / CONTEXT_SECRET";
        let context_secret = match (&self.context_secret, &self.context_secret_file) {
            (Some(s), _) => s.clone(),
            (None, Some(path)) => read_or_create_secret(path)?,
            (None, None) => Secret::new(DEV_CONTEXT_SECRET.to_owned()),
        };
        if context_secret.expose().len() < 16 {
            return Err(SettingError::new(SECRET, "must be at least 16 bytes"));
        }
        let dev_secret = context_secret.expose() == DEV_CONTEXT_SECRET;
        if dev_secret && !self.bind.is_loopback() && !self.dev {
            return Err(SettingError::new(
                SECRET,
                format!(
                    "the development secret cannot be used on {} (not a loopback address): \
                     anyone who knows it can forge a signed-in user. Set CONTEXT_SECRET or \
                     CONTEXT_SECRET_FILE (the same secret in the shell and every service), \
                     or pass --dev on a development machine",
                    self.bind
                ),
            ));
        }
        if !(1..=600).contains(&self.request_timeout) {
            return Err(SettingError::new(
                "--request-timeout / REQUEST_TIMEOUT",
                "must be between 1 and 600 seconds",
            ));
        }
        if !(1..=1_000_000).contains(&self.max_connections) {
            return Err(SettingError::new(
                "--max-connections / MAX_CONNECTIONS",
                "must be between 1 and 1000000",
            ));
        }
        if self.shutdown_grace > 3600 {
            return Err(SettingError::new(
                "--shutdown-grace / SHUTDOWN_GRACE",
                "must be between 0 and 3600 seconds",
            ));
        }
        Ok(Common {
            shutdown_grace: Duration::from_secs(self.shutdown_grace),
            addr: SocketAddr::new(self.bind, self.port.unwrap_or(default_port)),
            context_secret,
            dev_secret,
            cors: CorsPolicy::parse(&self.cors_origins)?,
            trusted_proxies: TrustedProxies::parse(&self.trusted_proxies)?,
            limits: Limits {
                body_timeout: Duration::from_secs(self.request_timeout),
                max_connections: self.max_connections,
                ..Limits::default()
            },
        })
    }
}

/// Reads the secret in `path`, or, when there is no such file, writes a new random one
/// there first. Several binaries may start at once on one file: the secret is written to a
/// temporary file and hard-linked into place, which fails if another got there first, and
/// then everyone reads the one that won.
fn read_or_create_secret(path: &Path) -> Result<Secret, SettingError> {
    const NAME: &str = "--context-secret-file / CONTEXT_SECRET_FILE";
    let fail = |what: &str, e: std::io::Error| {
        SettingError::new(NAME, format!("{what} {}: {e}", path.display()))
    };
    if !path.exists() {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = dir.join(format!(".context-secret-{}", new_request_id()));
        let secret = hex::encode(rand::random::<[u8; 32]>());
        let write = || -> std::io::Result<()> {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&tmp)?;
            file.write_all(secret.as_bytes())?;
            file.sync_all()
        };
        write().map_err(|e| fail("cannot write a new secret beside", e))?;
        let linked = std::fs::hard_link(&tmp, path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => tracing::info!(path = %path.display(), "generated a new context secret"),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(fail("cannot create", e)),
        }
    }
    let text = std::fs::read_to_string(path).map_err(|e| fail("cannot read", e))?;
    let secret = text.trim();
    if secret.len() < 16 {
        return Err(SettingError::new(
            NAME,
            format!("{} holds fewer than 16 bytes", path.display()),
        ));
    }
    Ok(Secret::new(secret.to_owned()))
}

impl Common {
    /// Logs the loud warning when the development secret is in use.
    pub fn warn_if_dev_secret(&self) {
        if self.dev_secret {
            tracing::warn!(
                "the development context secret is in use (no CONTEXT_SECRET or \
                 CONTEXT_SECRET_FILE, or that very value): anyone who knows it can forge a \
                 signed-in user. Set CONTEXT_SECRET (the same value in the shell and every \
                 service) before this serves real users."
            );
        }
    }
}

/// Sets up tracing to stderr with `RUST_LOG` (default `info`), coloured only when stderr is
/// a terminal (so files, pipes and the launcher get plain text), and, when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is set, OTLP export of the spans ([`crate::otlp`]). Safe
/// to call twice.
pub fn init_tracing() {
    use std::io::IsTerminal;

    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;

    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let log = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_filter(filter);
    let export =
        crate::otlp::layer().map(|l| l.with_filter(tracing_subscriber::filter::LevelFilter::INFO));
    let _ = tracing_subscriber::registry()
        .with(log)
        .with(export)
        .try_init();
}

/// The request id of a request, in its extensions (set by [`request_id`]).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl RequestId {
    /// The id of this request (empty if the middleware is not mounted).
    pub fn of(req: &HttpRequest) -> String {
        req.extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default()
    }
}

fn valid_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// A fresh random request id (32 hex digits).
pub fn new_request_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// Middleware (`actix_web::middleware::from_fn(request_id)`): takes a well-formed incoming
/// `x-request-id` or makes one, accepts a valid incoming W3C `traceparent` or starts a new
/// trace ([`crate::trace::TraceContext`], in the request's extensions), runs the request
/// inside a `request` span carrying both ids (`request_id`, `trace_id`), logs the outcome
/// once, and echoes the request id on the response.
pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(headers::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| valid_request_id(v))
        .map(str::to_owned)
        .unwrap_or_else(new_request_id);
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut trace = TraceContext::accept_or_start(
        req.headers()
            .get(crate::trace::TRACEPARENT)
            .and_then(|v| v.to_str().ok()),
    );
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        trace_id = tracing::field::Empty,
        method = %req.method(),
        path = %req.path(),
    );
    // With OTLP export on, the exported span's ids become the request's.
    crate::otlp::join(&span, &mut trace);
    span.record("trace_id", tracing::field::display(trace.trace_id));
    req.extensions_mut().insert(trace);
    let started = Instant::now();
    let mut res = next.call(req).instrument(span.clone()).await?;
    let status = res.status().as_u16();
    span.in_scope(|| {
        tracing::info!(
            status,
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "answered"
        )
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(header::HeaderName::from_static(headers::REQUEST_ID), v);
    }
    Ok(res)
}

/// Readiness check registered as app data; `/readyz` is 200 when it returns `Ok`.
#[derive(Clone)]
pub struct Readiness(pub Arc<dyn Fn() -> Result<(), String> + Send + Sync>);

impl Readiness {
    /// Always ready.
    pub fn always() -> Self {
        Self(Arc::new(|| Ok(())))
    }
}

/// Whether this binary is stopping (SIGTERM or Ctrl-C came): `/readyz` answers 503 from
/// then on. Register it as app data (`web::Data<Stopping>`) and run the server with
/// [`serve`].
#[derive(Debug, Clone, Default)]
pub struct Stopping(Arc<AtomicBool>);

impl Stopping {
    /// Whether the binary is stopping.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    /// Marks the binary as stopping.
    pub fn set(&self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Waits for SIGTERM or Ctrl-C (SIGINT).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("Ctrl-C received"),
                }
                return;
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for SIGTERM; Ctrl-C only"),
        }
    }
    if tokio::signal::ctrl_c().await.is_ok() {
        tracing::info!("Ctrl-C received");
    }
}

/// Runs `server` until it stops. The server must be built with `.disable_signals()` and
/// `.shutdown_timeout(grace)`: on SIGTERM or Ctrl-C this sets `stopping` (so `/readyz`
/// answers 503) and stops the server gracefully. actix-web then closes the listener (new
/// connections are refused) and idle keep-alive connections, lets every request in flight
/// finish within the grace period (a streamed page too), closing its connection after the
/// answer, and returns: the process exits 0.
pub async fn serve(
    server: actix_web::dev::Server,
    stopping: Stopping,
    grace: Duration,
) -> std::io::Result<()> {
    let handle = server.handle();
    let watcher = tokio::spawn(async move {
        stop_signal().await;
        stopping.set();
        tracing::info!(
            grace_secs = grace.as_secs(),
            "stopping: no new connections; the requests in flight may finish"
        );
        handle.stop(true).await;
    });
    let result = server.await;
    watcher.abort();
    tracing::info!("stopped");
    result
}

/// A route for reading: GET, and HEAD (the same answer without its body, which actix-web
/// drops), so monitors and `curl -I` get the real status rather than a 404.
pub fn read() -> actix_web::Route {
    use actix_web::guard;
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

/// Mounts `/healthz`, `/readyz` and the shared assets (`/assets/shared/…`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", read().to(healthz))
        .route("/readyz", read().to(readyz))
        .route(
            "/assets/shared/{file}",
            read().to(crate::assets::serve_shared),
        );
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/plain; charset=utf-8")
        .body("ok\n")
}

async fn readyz(
    readiness: Option<web::Data<Readiness>>,
    stopping: Option<web::Data<Stopping>>,
) -> HttpResponse {
    let result = if stopping.is_some_and(|s| s.is_set()) {
        Err("stopping".to_owned())
    } else {
        readiness.map_or(Ok(()), |r| (r.0)())
    };
    let builder = match result {
        Ok(()) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("ready\n"),
        Err(why) => {
            tracing::warn!(%why, "not ready");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=utf-8")
                .body(format!("not ready: {why}\n"))
        }
    };
    let mut res = builder;
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// A service's own HTML page for an error (`no-store`), with a link back to its start page.
pub fn error_page(status: actix_web::http::StatusCode, title: &str, body: Markup) -> HttpResponse {
    let page = components::page(
        &components::PageOptions::new(title),
        html! {
            main class="container" id="main" {
                h1 { (title) }
                (body)
                p { a href="/" { "Back to the start page" } }
            }
        },
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page.into_string())
}

/// The 404 page (use as `default_service`).
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    error_page(
        actix_web::http::StatusCode::NOT_FOUND,
        "Page not found",
        html! { p { "Nothing lives at " code { (req.path()) } " on this service." } },
    )
}

/// A 400 page with a message (escaped).
pub fn bad_request(message: &str) -> HttpResponse {
    error_page(
        actix_web::http::StatusCode::BAD_REQUEST,
        "Bad request",
        html! { p { (message) } },
    )
}

/// Query-string extractor config whose errors are a 400 page naming the problem.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        let message = format!("The query string is not valid: {err}.");
        actix_web::error::InternalError::from_response(err, bad_request(&message)).into()
    })
}

/// Form extractor config whose errors are a 400 page (body limit 16 KiB).
pub fn form_config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(16 * 1024)
        .error_handler(|err, _req| {
            let message = format!("The form could not be read: {err}.");
            let res = match &err {
                actix_web::error::UrlencodedError::Overflow { .. } => {
                    let mut r = bad_request(&message);
                    *r.status_mut() = actix_web::http::StatusCode::PAYLOAD_TOO_LARGE;
                    r
                }
                _ => bad_request(&message),
            };
            actix_web::error::InternalError::from_response(err, res).into()
        })
}

/// A fragment answer: `text/html; charset=utf-8`, the given `Cache-Control`, the manifest
/// version header, and `Vary` on what changes the output.
pub fn fragment_response(version: &str, cache_control: &str, body: Markup) -> HttpResponse {
    let mut res = HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((
            header::VARY,
            "x-mf-user, x-mf-base-path, accept-language, cookie",
        ))
        .body(body.into_string());
    if let Ok(v) = HeaderValue::from_str(version) {
        res.headers_mut().insert(
            header::HeaderName::from_static(headers::FRAGMENT_VERSION),
            v,
        );
    }
    res
}

/// The public base path the shell serves this service under (from the
/// [`headers::BASE_PATH`] header), or `""` when absent or not a safe path. Prefix the
/// fragment's own links, form actions and asset URLs with it.
pub fn base_path(req: &HttpRequest) -> String {
    req.headers()
        .get(headers::BASE_PATH)
        .and_then(|v| v.to_str().ok())
        .filter(|p| crate::contract::is_safe_path(p) && *p != "/")
        .map(str::to_owned)
        .unwrap_or_default()
}

/// The `healthcheck` subcommand: `GET /healthz` on 127.0.0.1:`port` with a 2 s budget.
/// Needs no shell or curl, so it works in a `scratch` image. Returns the process exit code
/// (success, or failure with the reason on stderr).
pub fn healthcheck(port: u16) -> std::process::ExitCode {
    fn probe(port: u16) -> std::io::Result<bool> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head)?;
        Ok(head.starts_with(b"HTTP/1.1 200") || head.starts_with(b"HTTP/1.0 200"))
    }
    match probe(port) {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("healthcheck: /healthz on port {port} did not answer 200");
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("healthcheck: port {port}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The Content-Security-Policy of a service's own pages (its standalone preview and error
/// pages): scripts from the service's origin plus the one inline import map, by its hash;
/// no inline styles, no plugins, no framing.
pub fn service_csp() -> String {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(crate::assets::import_map_json("").as_bytes());
    let hash = base64::engine::general_purpose::STANDARD.encode(digest);
    format!(
        "default-src 'self'; script-src 'self' 'sha256-{hash}'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; \
         base-uri 'self'; form-action 'self'"
    )
}

/// Headers every answer of a service carries: `nosniff`, a referrer policy, no framing and
/// [`service_csp`].
pub fn security_headers() -> actix_web::middleware::DefaultHeaders {
    actix_web::middleware::DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "strict-origin-when-cross-origin"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::CONTENT_SECURITY_POLICY, service_csp()))
}

/// Which origins may read this service's answers from the browser (direct mode, `DESIGN.md`):
/// only the configured shell origins. Register as app data and mount [`cors`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsPolicy {
    origins: Vec<String>,
}

impl CorsPolicy {
    /// Parses origins such as `http://127.0.0.1:8000` (scheme, host, optional port; no path).
    pub fn parse(origins: &[String]) -> Result<Self, SettingError> {
        let mut parsed = Vec::new();
        for raw in origins.iter().map(|o| o.trim()).filter(|o| !o.is_empty()) {
            let origin = raw.trim_end_matches('/');
            let rest = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"));
            let ok = rest.is_some_and(|host| {
                !host.is_empty()
                    && host.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
                    })
            });
            if !ok {
                return Err(SettingError::new(
                    "--cors-origins / CORS_ORIGINS",
                    format!(
                        "`{}` is not an origin such as http://127.0.0.1:8000",
                        raw.escape_default()
                    ),
                ));
            }
            parsed.push(origin.to_ascii_lowercase());
        }
        Ok(Self { origins: parsed })
    }

    /// Whether `origin` may read answers.
    pub fn allows(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }
}

/// CORS middleware (`from_fn(cors)`), driven by the [`CorsPolicy`] in app data: an allowed
/// `Origin` gets `Access-Control-Allow-Origin` (and `Vary: Origin`); a preflight from an
/// allowed origin gets 204 with the methods and headers the loader uses; a preflight from
/// any other origin gets 403 with no CORS headers, and other requests from it get none, so
/// the browser refuses them. Without a policy, nothing changes.
pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let allowed = match (&origin, req.app_data::<web::Data<CorsPolicy>>()) {
        (Some(o), Some(policy)) => policy.allows(o),
        _ => false,
    };
    let preflight = req.method() == actix_web::http::Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight && origin.is_some() {
        let res = if allowed {
            let origin = origin.unwrap_or_default();
            HttpResponse::NoContent()
                .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin))
                .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST"))
                .insert_header((
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    "x-mf-loader, x-request-id, content-type",
                ))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
                .insert_header((header::VARY, "Origin"))
                .finish()
        } else {
            HttpResponse::Forbidden()
                .content_type("text/plain; charset=utf-8")
                .insert_header((header::VARY, "Origin"))
                .body("This origin may not read this service's fragments (CORS_ORIGINS).\n")
        };
        return Ok(req.into_response(res));
    }
    let mut res = next.call(req).await?.map_into_boxed_body();
    if allowed {
        if let Some(Ok(v)) = origin.map(|o| HeaderValue::from_str(&o)) {
            res.headers_mut()
                .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
            res.headers_mut()
                .append(header::VARY, HeaderValue::from_static("Origin"));
            res.headers_mut().insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("x-fragment-version, x-request-id"),
            );
        }
    }
    Ok(res)
}

/// `HttpServer::on_connect` hook that turns off Nagle's algorithm on every connection.
/// A streamed page is written in several small chunks; with Nagle on, each chunk after the
/// first waits for the client's delayed ACK (about 40 ms on Linux).
pub fn tcp_nodelay(conn: &dyn std::any::Any, _: &mut actix_web::dev::Extensions) {
    if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cors_origins_parse_and_refuse_paths_and_schemes() {
        let ok = CorsPolicy::parse(&[
            "http://127.0.0.1:8000/".into(),
            " https://Shop.example ".into(),
        ])
        .unwrap();
        assert!(ok.allows("http://127.0.0.1:8000"));
        assert!(ok.allows("https://shop.example"));
        assert!(!ok.allows("http://evil.example"));
        for bad in ["ftp://x", "http://x/path", "127.0.0.1:8000", "http://"] {
            let err = CorsPolicy::parse(&[bad.into()]).unwrap_err();
            assert_eq!(err.name, "--cors-origins / CORS_ORIGINS", "{bad}");
        }
    }

    fn common(args: &[&str]) -> Result<Common, SettingError> {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct S {
            #[command(flatten)]
            common: CommonSettings,
        }
        let mut all = vec!["x"];
        all.extend(args);
        S::try_parse_from(all).unwrap().common.resolve(1)
    }

    #[test]
    fn the_dev_secret_is_refused_beyond_loopback_unless_dev() {
        const NAME: &str = "--context-secret / CONTEXT_SECRET";
        // None given, on every interface: refused.
        assert_eq!(common(&["--bind", "0.0.0.0"]).unwrap_err().name, NAME);
        // The development value given explicitly is no better.
        let dev = ["--bind", "0.0.0.0", "--context-secret", DEV_CONTEXT_SECRET];
        assert_eq!(common(&dev).unwrap_err().name, NAME);
        let v6 = ["--bind", "::", "--context-secret", DEV_CONTEXT_SECRET];
        assert_eq!(common(&v6).unwrap_err().name, NAME);
        // --dev allows it (with the warning); loopback allows it.
        let with_dev = [
            "--bind",
            "0.0.0.0",
            "--context-secret",
            DEV_CONTEXT_SECRET,
            "--dev",
        ];
        assert!(common(&with_dev).unwrap().dev_secret);
        assert!(common(&[]).unwrap().dev_secret);
        assert!(common(&["--bind", "::1"]).unwrap().dev_secret);
        // A real secret anywhere is fine.
        let real = [
            "--bind",
            "0.0.0.0",
            "--context-secret",
            "a-real-secret-of-32-bytes-000000",
        ];
        assert!(!common(&real).unwrap().dev_secret);
    }

    #[test]
    fn a_secret_file_is_generated_once_and_shared_by_binaries_starting_together() {
        // A fresh folder of our own (shared-ui has no temporary-folder dependency).
        let dir = std::env::temp_dir().join(format!("mf-secret-test-{}", new_request_id()));
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("context-secret");
        let path_s = path.display().to_string();
        let secrets: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        common(&["--bind", "0.0.0.0", "--context-secret-file", &path_s])
                            .unwrap()
                            .context_secret
                            .expose()
                            .to_owned()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(
            secrets.iter().all(|s| s == &secrets[0]),
            "one secret for all"
        );
        assert_eq!(secrets[0].len(), 64);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), secrets[0]);
        // Only the secret is left in the folder (no temporary files).
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "readable by its owner only");
        }
        // A file with too short a secret is refused by name.
        std::fs::write(&path, "short").unwrap();
        let err = common(&["--context-secret-file", &path_s]).unwrap_err();
        assert_eq!(err.name, "--context-secret-file / CONTEXT_SECRET_FILE");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_short_context_secret_is_refused_by_name() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct S {
            #[command(flatten)]
            common: CommonSettings,
        }
        let s = S::try_parse_from(["x", "--context-secret", "short"]).unwrap();
        assert_eq!(
            s.common.resolve(1).unwrap_err().name,
            "--context-secret / CONTEXT_SECRET"
        );
        let s = S::try_parse_from(["x", "--port", "0"]).unwrap();
        let common = s.common.resolve(1).unwrap();
        assert!(common.dev_secret);
        assert_eq!(common.addr.port(), 0);
    }
}
