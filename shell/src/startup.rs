//! Building and running the shell: [`Application::build`] checks the settings, reads the
//! manifests it can (a service that is down does not stop the start), and starts
//! [`crate::routes::configure`] on the shared server ([`shared_ui::server::Server`]: the
//! listener, port 0 picking a free one as the tests do, and the admin listener, `GET
//! /metrics` only). [`Application::run_until_stopped`] also runs the periodic manifest
//! refresh and the warming of the asset cache ([`crate::asset_cache::warm`]).

use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, App};
use shared_ui::admin::AdminPaths;
use shared_ui::context::ContextKey;
use shared_ui::metrics::Metrics;
use shared_ui::server::{Running, Server, StartError};

use crate::asset_cache;
use crate::dev::DevEvents;
use crate::registry::{Registry, MANIFEST_TIMEOUT};
use crate::routes;
use crate::settings::Settings;
use crate::state::Shell;

/// What the admin port serves besides `/metrics`: the status page and its assets.
const ADMIN_PATHS: &[&str] = &["/", "/assets/"];
/// The same, and in `--dev` the launcher's restart notice ([`crate::dev`]).
const ADMIN_PATHS_DEV: &[&str] = &["/", "/assets/", crate::dev::RESTARTED_PATH];

/// A started, not yet serving, shell: the [`Running`] server (its port, handle and stopping
/// flag, through `Deref`) and the upstream side that the manifest refresh uses.
pub struct Application {
    running: Running,
    upstream: web::Data<Shell>,
}

impl std::ops::Deref for Application {
    type Target = Running;

    fn deref(&self) -> &Running {
        &self.running
    }
}

impl Application {
    /// Checks the settings, reads the manifests that answer within a couple of seconds and
    /// binds the listeners.
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        let config = settings.resolve()?;
        config.common.warn_if_dev_secret();
        let key = ContextKey::new(config.common.context_secret.clone());
        let registry = Arc::new(Registry::new(config));
        let upstream = web::Data::new(Shell::new(Arc::clone(&registry), key));
        // Start-up never waits on a dead service for long: what is not read now is read
        // when traffic or the periodic refresh asks.
        let _ = tokio::time::timeout(
            MANIFEST_TIMEOUT + Duration::from_millis(500),
            registry.refresh_all(&upstream.client()),
        )
        .await;
        // The content hashes of the shared and the shell's own assets (sha256 of Stimulus,
        // the styles and the loader, for their URLs and ETags) are computed now rather than
        // by the first page: about 14 million instructions, a few milliseconds that the
        // first visitor would otherwise wait for.
        shared_ui::assets::import_map_json();
        crate::assets::shell_assets();
        let mut metrics = Metrics::new();
        upstream
            .metrics
            .register(metrics.registry(), Arc::clone(&registry));
        let config = &registry.config;
        let sections: Vec<String> = config.sections.iter().map(|s| s.path.clone()).collect();
        let overrides = upstream.overrides.is_enabled();
        let server = Server::bind(&config.common)?
            .admin(config.admin_addr)?
            .workers(config.workers);
        let data = upstream.clone();
        let dev = config.dev.then(|| web::Data::new(DevEvents::default()));
        let running = server.start(metrics, move || {
            let sections = sections.clone();
            let dev_on = dev.is_some();
            // The admin port: `/metrics`, the status page and its assets (and in `--dev`
            // the launcher's restart notice).
            let admin_paths = match dev_on {
                true => ADMIN_PATHS_DEV,
                false => ADMIN_PATHS,
            };
            let app = App::new()
                .app_data(data.clone())
                .app_data(web::Data::new(AdminPaths(admin_paths)));
            let app = match &dev {
                Some(events) => app.app_data(events.clone()),
                None => app,
            };
            app.configure(move |cfg| routes::configure(cfg, &sections, overrides, dev_on))
                .default_service(web::to(routes::pages::not_found))
        })?;
        let ready: Vec<_> = registry
            .services()
            .iter()
            .map(|s| {
                let state = if s.manifest().is_some() { "up" } else { "down" };
                format!("{}={state}", s.name())
            })
            .collect();
        let (port, admin_port) = (running.port(), running.admin_port());
        tracing::info!(port, admin_port, services = %ready.join(","), "shell listening");
        Ok(Self { running, upstream })
    }

    /// The admin listener's port (`GET /metrics`); the shell always binds one.
    pub fn admin_port(&self) -> u16 {
        self.running.admin_port().unwrap_or_default()
    }

    /// Serves until stopped (SIGTERM or Ctrl-C: gracefully, see [`shared_ui::server`]; or
    /// [`Running::handle`]), refreshing the manifests every `manifest_refresh` and reading
    /// the ones not known yet with a short backoff
    /// ([`crate::registry::Service::read_until_known`]).
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
        let warming = tokio::spawn(asset_cache::warm::run(
            Arc::clone(&self.upstream.registry),
            Arc::clone(&self.upstream.assets),
        ));
        let unknown: Vec<_> = self
            .upstream
            .registry
            .services()
            .iter()
            .filter(|s| s.manifest().is_none())
            .map(|s| {
                let service = Arc::clone(s);
                let client = self.upstream.client();
                tokio::spawn(async move { service.read_until_known(&client).await })
            })
            .collect();
        let result = self.running.run_until_stopped().await;
        refresher.abort();
        warming.abort();
        for task in unknown {
            task.abort();
        }
        result
    }
}
