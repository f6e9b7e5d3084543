//! Building and running the server: [`Application::build`] checks the settings, binds the
//! listener (port 0 picks a free one, as the tests do) and mounts [`crate::routes::configure`]
//! behind the request-id, CORS (direct mode: `--cors-origins`) and security-header
//! middleware.

use std::net::TcpListener;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use shared_ui::context::ContextKey;
use shared_ui::service::{self, SHUTDOWN_TIMEOUT_SECS};

use crate::error::Error;
use crate::routes::{self, AppState};
use crate::settings::Settings;

/// A bound, not yet running, server.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Checks the settings and binds the listener.
    pub async fn build(settings: Settings) -> Result<Self, Error> {
        let config = settings.resolve()?;
        config.common.warn_if_dev_secret();
        let state = web::Data::new(AppState::new(config.catalog, &config.catalog_source));
        let key = web::Data::new(ContextKey::new(config.common.context_secret.clone()));
        let cors = web::Data::new(config.common.cors.clone());
        let version = state.version.clone();
        let addr = config.common.addr;
        let listener = TcpListener::bind(addr).map_err(|source| Error::Bind { addr, source })?;
        let port = listener
            .local_addr()
            .map_err(|source| Error::Bind { addr, source })?
            .port();
        let limits = config.common.limits;
        let limits_data = web::Data::new(limits);
        let server = shared_ui::with_limits!(
            HttpServer::new(move || {
                App::new()
                    .app_data(limits_data.clone())
                    .wrap(service::security_headers())
                    .wrap(from_fn(service::cors))
                    .wrap(from_fn(shared_ui::guard::guard))
                    .wrap(from_fn(service::request_id))
                    .app_data(state.clone())
                    .app_data(key.clone())
                    .app_data(cors.clone())
                    .app_data(service::query_config())
                    .configure(routes::configure)
                    .default_service(web::to(service::not_found))
            }),
            limits,
            2
        )
        .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
        .on_connect(service::tcp_nodelay)
        .listen(listener)
        .map_err(|source| Error::Bind { addr, source })?
        .run();
        tracing::info!(port, %version, "svc-pricing listening");
        Ok(Self { port, server })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (SIGTERM, Ctrl-C or [`Self::handle`]).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
