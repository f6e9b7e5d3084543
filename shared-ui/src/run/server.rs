//! One way to run an HTTP server, for the kit's services and the shell alike.
//!
//! [`Server`] binds the listener (port 0 picks a free one, as the tests do) and, when asked,
//! an admin listener ([`crate::admin`]), then [`Server::start`]s the binary's `App` inside
//! the middleware every binary has, outermost first: the request id and trace context
//! ([`crate::request_id`]), the request metrics ([`crate::metrics::record`]), the guard's
//! head and body limits ([`crate::guard`]), the admin split (when there is an admin
//! listener), CORS (when a policy is given, [`crate::cors`]), the security headers ([`crate::security`]) and compression
//! ([`crate::compress`]). The header deadline, keep-alive, the connection cap (shared out
//! over the workers) and `TCP_NODELAY` are set on the server itself.
//!
//! [`Running::run_until_stopped`] serves until SIGTERM or Ctrl-C, then stops gracefully:
//! [`Stopping`] is set (so `/readyz` answers 503), the listener is closed (new connections
//! are refused), idle keep-alive connections are closed, and the requests in flight get
//! `--shutdown-grace` / `SHUTDOWN_GRACE` seconds to finish (a streamed page included), each
//! connection closing after its answer; then the process exits 0. [`main`] is the end of
//! every binary's `main`: build, run, and the exit code of a [`StartError`].

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServerHandle, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};

use crate::admin::AdminPort;
use crate::contract::ContractError;
use crate::cors::CorsPolicy;
use crate::guard::Limits;
use crate::metrics::Metrics;
use crate::settings::{Common, SettingError};

/// Why a binary could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A setting cannot be used (exit code 2).
    #[error(transparent)]
    Setting(#[from] SettingError),
    /// The service's own start-up failed, e.g. its database cannot be opened (exit code 2).
    #[error(transparent)]
    Service(Box<dyn std::error::Error + Send + Sync>),
    /// The declarations make a manifest that breaks the contract (a bug; exit code 1).
    #[error("the manifest breaks the contract: {0}")]
    Manifest(#[from] ContractError),
    /// A listener could not be bound (exit code 1).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Where.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

impl StartError {
    /// A service's own start-up error (exit code 2).
    pub fn service(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Service(error.into())
    }

    /// The exit code: 2 for a bad setting or a failed start-up of the service, else 1.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::Setting(_) | Self::Service(_) => ExitCode::from(2),
            Self::Manifest(_) | Self::Bind { .. } => ExitCode::FAILURE,
        }
    }
}

/// The end of a binary's `main`, once its command line is read: sets up tracing, runs
/// `start` (which builds the server and returns the future that serves it) and serves until
/// stopped. A start-up error is logged and printed after the binary's name, and gives
/// [`StartError::exit_code`].
pub fn main<F, R>(binary: &str, start: F) -> ExitCode
where
    F: Future<Output = Result<R, StartError>>,
    R: Future<Output = std::io::Result<()>>,
{
    if let Err(e) = crate::logging::LogFormat::from_env() {
        eprintln!("{binary}: {e}");
        return StartError::Setting(e).exit_code();
    }
    crate::logging::init_tracing();
    actix_web::rt::System::new().block_on(async move {
        let serve = match start.await {
            Ok(serve) => serve,
            Err(e) => {
                tracing::error!(error = %e, "{binary} cannot start");
                eprintln!("{binary}: {e}");
                return e.exit_code();
            }
        };
        let stopped = serve.await;
        crate::otlp::flush();
        match stopped {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "server stopped with an error");
                ExitCode::FAILURE
            }
        }
    })
}

fn bind(addr: SocketAddr) -> Result<(SocketAddr, TcpListener, u16), StartError> {
    let fail = |source| StartError::Bind { addr, source };
    let listener = TcpListener::bind(addr).map_err(fail)?;
    let port = listener.local_addr().map_err(fail)?.port();
    Ok((addr, listener, port))
}

/// A bound server, not started yet: its listeners and how it runs.
#[derive(Debug)]
pub struct Server {
    /// The public listener first, then the admin listener if any.
    listeners: Vec<(SocketAddr, TcpListener, u16)>,
    admin_port: Option<u16>,
    limits: Limits,
    grace: Duration,
    workers: usize,
    csp: Option<String>,
    cors: Option<CorsPolicy>,
}

impl Server {
    /// Binds the address of the checked settings (port 0 picks a free one); deadlines, the
    /// connection cap and the shutdown grace come from them too. Two workers unless
    /// [`Server::workers`] says otherwise.
    pub fn bind(common: &Common) -> Result<Self, StartError> {
        Ok(Self {
            listeners: vec![bind(common.addr)?],
            admin_port: None,
            limits: common.limits,
            grace: common.shutdown_grace,
            workers: 2,
            csp: None,
            cors: None,
        })
    }

    /// Also binds the admin listener at `addr`: `GET /metrics` there and the paths the app
    /// lists in [`crate::admin::AdminPaths`], nothing else ([`crate::admin`]).
    pub fn admin(mut self, addr: SocketAddr) -> Result<Self, StartError> {
        let admin = bind(addr)?;
        self.admin_port = Some(admin.2);
        self.listeners.push(admin);
        Ok(self)
    }

    /// HTTP worker threads.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// The Content-Security-Policy every answer carries (unless the answer has its own).
    pub fn content_security_policy(mut self, csp: String) -> Self {
        self.csp = Some(csp);
        self
    }

    /// Answers browsers of other origins as `policy` says ([`crate::cors`]).
    pub fn cors(mut self, policy: CorsPolicy) -> Self {
        self.cors = Some(policy);
        self
    }

    /// The bound (public) port.
    pub fn port(&self) -> u16 {
        self.listeners.first().map_or(0, |l| l.2)
    }

    /// Starts serving: `app` makes the binary's `App` (its app data, routes and default
    /// service) for each worker, and the server wraps it in the shared middleware of the
    /// module doc (the last `wrap` is the outermost). `metrics` is the app's registry,
    /// filled by the request metrics.
    pub fn start<F, T, B>(self, metrics: Metrics, app: F) -> Result<Running, StartError>
    where
        F: Fn() -> App<T> + Send + Clone + 'static,
        T: ServiceFactory<
                ServiceRequest,
                Config = (),
                Response = ServiceResponse<B>,
                Error = actix_web::Error,
                InitError = (),
            > + 'static,
        B: MessageBody + 'static,
    {
        let stopping = Stopping::default();
        let (port, admin_port) = (self.port(), self.admin_port);
        let data = AppData::new(&self, &stopping, metrics);
        let (csp, limits, workers) = (self.csp, self.limits, self.workers);
        crate::guard::raise_open_files_limit();
        let mut server = HttpServer::new(move || {
            data.add(app())
                .wrap(from_fn(crate::compress::compress))
                .wrap(crate::security::headers(csp.as_deref()))
                .wrap(from_fn(crate::cors::cors))
                .wrap(from_fn(crate::admin::split))
                .wrap(from_fn(crate::guard::guard))
                .wrap(from_fn(crate::metrics::record))
                .wrap(from_fn(crate::request_id::request_id))
        })
        .workers(workers)
        .client_request_timeout(limits.header_timeout)
        .client_disconnect_timeout(Duration::from_secs(1))
        .keep_alive(limits.keep_alive)
        .max_connections(limits.per_worker(workers))
        .shutdown_timeout(self.grace.as_secs())
        .disable_signals()
        .on_connect(tcp_nodelay);
        for (addr, listener, _) in self.listeners {
            server = server
                .listen(listener)
                .map_err(|source| StartError::Bind { addr, source })?;
        }
        Ok(Running {
            port,
            admin_port,
            server: server.run(),
            stopping,
            grace: self.grace,
        })
    }
}

/// The app data of the shared middleware and `/readyz`, which every worker's app gets.
#[derive(Clone)]
struct AppData {
    limits: web::Data<Limits>,
    stopping: web::Data<Stopping>,
    metrics: web::Data<Metrics>,
    admin: Option<web::Data<AdminPort>>,
    cors: Option<web::Data<CorsPolicy>>,
}

impl AppData {
    fn new(server: &Server, stopping: &Stopping, metrics: Metrics) -> Self {
        Self {
            limits: web::Data::new(server.limits),
            stopping: web::Data::new(stopping.clone()),
            metrics: web::Data::new(metrics),
            admin: server
                .admin_port
                .map(|port| web::Data::new(AdminPort(port))),
            cors: server.cors.clone().map(web::Data::new),
        }
    }

    /// Registers the data with `app`.
    fn add<T>(&self, app: App<T>) -> App<T>
    where
        T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
    {
        let mut app = app
            .app_data(self.limits.clone())
            .app_data(self.stopping.clone())
            .app_data(self.metrics.clone());
        if let Some(admin) = &self.admin {
            app = app.app_data(admin.clone());
        }
        if let Some(cors) = &self.cors {
            app = app.app_data(cors.clone());
        }
        app
    }
}

/// A started server: it serves once [`Running::run_until_stopped`] is awaited.
pub struct Running {
    port: u16,
    admin_port: Option<u16>,
    server: actix_web::dev::Server,
    stopping: Stopping,
    grace: Duration,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("port", &self.port)
            .field("admin_port", &self.admin_port)
            .finish_non_exhaustive()
    }
}

impl Running {
    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The admin listener's port, if there is one.
    pub fn admin_port(&self) -> Option<u16> {
        self.admin_port
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Whether it is stopping (what `/readyz` reads).
    pub fn stopping(&self) -> Stopping {
        self.stopping.clone()
    }

    /// Serves until stopped: SIGTERM or Ctrl-C stop it gracefully (see the module doc),
    /// [`Running::handle`] as asked.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        serve(self.server, self.stopping, self.grace).await
    }
}

/// Whether this binary is stopping (SIGTERM or Ctrl-C came): `/readyz` answers 503 from
/// then on. [`Server::start`] registers it as app data (`web::Data<Stopping>`).
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
async fn serve(
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

/// `HttpServer::on_connect` hook that turns off Nagle's algorithm on every connection.
/// A streamed page is written in several small chunks; with Nagle on, each chunk after the
/// first waits for the client's delayed ACK (about 40 ms on Linux).
fn tcp_nodelay(conn: &dyn std::any::Any, _: &mut actix_web::dev::Extensions) {
    if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    }
}
