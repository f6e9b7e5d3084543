//! Building and running the shell: [`Application::build`] checks the settings, reads the
//! manifests it can (a service that is down does not stop the start), binds the listener
//! (port 0 picks a free one, as the tests do) and the admin listener (`GET /metrics`,
//! [`crate::admin`]) and mounts [`crate::routes::configure`].
//! [`Application::run_until_stopped`] also runs the periodic manifest refresh.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::{web, App, HttpServer};
use shared_ui::context::ContextKey;
use shared_ui::service::{self, Stopping};

use shared_ui::metrics::Metrics;

use crate::admin::AdminPort;
use crate::error::StartError;
use crate::registry::{Registry, MANIFEST_TIMEOUT};
use crate::routes;
use crate::settings::Settings;
use crate::state::Shell as Upstream;

/// A bound, not yet running, shell.
pub struct Application {
    port: u16,
    admin_port: u16,
    server: Server,
    upstream: web::Data<Upstream>,
    stopping: Stopping,
    grace: Duration,
}

impl Application {
    /// Checks the settings, reads the manifests that answer within a couple of seconds and
    /// binds the listener.
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        let config = settings.resolve()?;
        config.common.warn_if_dev_secret();
        let addr = config.common.addr;
        let workers = config.workers;
        let key = ContextKey::new(config.common.context_secret.clone());
        let registry = Arc::new(Registry::new(config));
        let upstream = web::Data::new(Upstream::new(Arc::clone(&registry), key));
        // Start-up never waits on a dead service for long: what is not read now is read
        // when traffic or the periodic refresh asks.
        let _ = tokio::time::timeout(
            MANIFEST_TIMEOUT + Duration::from_millis(500),
            registry.refresh_all(&upstream.client()),
        )
        .await;
        let mut metrics = Metrics::new();
        upstream
            .metrics
            .register(metrics.registry(), Arc::clone(&registry));
        let metrics = web::Data::new(metrics);
        let sections: Vec<String> = registry
            .config
            .sections
            .iter()
            .map(|s| s.path.clone())
            .collect();

        let listener =
            TcpListener::bind(addr).map_err(|source| StartError::Bind { addr, source })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?
            .port();
        let admin_addr = registry.config.admin_addr;
        let admin_listener = TcpListener::bind(admin_addr).map_err(|source| StartError::Bind {
            addr: admin_addr,
            source,
        })?;
        let admin_port = admin_listener
            .local_addr()
            .map_err(|source| StartError::Bind {
                addr: admin_addr,
                source,
            })?
            .port();
        let admin = web::Data::new(AdminPort(admin_port));
        let data = upstream.clone();
        let limits = registry.config.common.limits;
        let limits_data = web::Data::new(limits);
        let stopping = Stopping::default();
        let stopping_data = web::Data::new(stopping.clone());
        let grace = registry.config.common.shutdown_grace;
        let server = shared_ui::with_limits!(
            HttpServer::new(move || {
                let sections = sections.clone();
                App::new()
                    .app_data(limits_data.clone())
                    .app_data(stopping_data.clone())
                    .wrap(
                        DefaultHeaders::new()
                            .add(("x-content-type-options", "nosniff"))
                            .add(("referrer-policy", "strict-origin-when-cross-origin"))
                            .add(("x-frame-options", "DENY")),
                    )
                    .wrap(from_fn(shared_ui::compress::compress))
                    .wrap(from_fn(crate::admin::split))
                    .wrap(from_fn(shared_ui::guard::guard))
                    .wrap(from_fn(shared_ui::metrics::record))
                    .wrap(from_fn(service::request_id))
                    .app_data(data.clone())
                    .app_data(metrics.clone())
                    .app_data(admin.clone())
                    .configure(move |cfg| routes::configure(cfg, &sections))
                    .default_service(web::to(routes::pages::not_found))
            }),
            limits,
            workers
        )
        .shutdown_timeout(grace.as_secs())
        .disable_signals()
        .on_connect(service::tcp_nodelay)
        .listen(listener)
        .map_err(|source| StartError::Bind { addr, source })?
        .listen(admin_listener)
        .map_err(|source| StartError::Bind {
            addr: admin_addr,
            source,
        })?
        .run();
        let ready: Vec<_> = registry
            .services()
            .iter()
            .map(|s| {
                format!(
                    "{}={}",
                    s.name(),
                    if s.manifest().is_some() { "up" } else { "down" }
                )
            })
            .collect();
        tracing::info!(port, admin_port, services = %ready.join(","), "shell listening");
        Ok(Self {
            port,
            admin_port,
            server,
            upstream,
            stopping,
            grace,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The admin listener's port (`GET /metrics`).
    pub fn admin_port(&self) -> u16 {
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

    /// Serves until stopped (SIGTERM or Ctrl-C: gracefully, see [`service::serve`]; or
    /// [`Self::handle`]), refreshing the manifests every `manifest_refresh` and reading the
    /// ones not known yet with a short backoff ([`crate::registry::Service::read_until_known`]).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let upstream = self.upstream.clone();
        let refresher = tokio::spawn(async move {
            let every = upstream.registry.config.manifest_refresh;
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                upstream.registry.refresh_all(&upstream.client()).await;
            }
        });
        let unknown: Vec<_> = self
            .upstream
            .registry
            .services()
            .iter()
            .filter(|s| s.manifest().is_none())
            .map(|s| {
                let service = std::sync::Arc::clone(s);
                let client = self.upstream.client();
                tokio::spawn(async move { service.read_until_known(&client).await })
            })
            .collect();
        let result = service::serve(self.server, self.stopping, self.grace).await;
        refresher.abort();
        for task in unknown {
            task.abort();
        }
        result
    }
}
