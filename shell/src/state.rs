//! What the shell keeps in app data, one [`Shell`] shared by the workers: the registry,
//! the session lookups, the composer (with the fragment and template caches), the asset
//! cache and the metrics. Built once by [`crate::startup`]; the handlers of
//! [`crate::routes`] and the proxy reach everything through it.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use shared_ui::context::ContextKey;

use crate::asset_cache::AssetCache;
use crate::compose::{Composer, Prefilled};
use crate::forwarded::Forwarded;
use crate::metrics::ShellMetrics;
use crate::overrides::{Lineup, Overrides};
use crate::registry::{Registry, Service};
use crate::session::Sessions;
use crate::settings::SectionConfig;

/// The shell's shared state.
#[derive(Debug)]
pub struct Shell {
    /// The services.
    pub registry: Arc<Registry>,
    /// The session lookups.
    pub sessions: Arc<Sessions>,
    /// The composition engine.
    pub composer: Arc<Composer>,
    /// The shell's own metrics (registered by [`crate::startup`]).
    pub metrics: Arc<ShellMetrics>,
    /// Per-browser overrides (off unless `--allow-overrides` or `--dev`).
    pub overrides: Arc<Overrides>,
    /// The last good copies of the services' assets.
    pub assets: Arc<AssetCache>,
}

impl Shell {
    /// The state of a shell over `registry`, signing user contexts with `key`.
    pub fn new(registry: Arc<Registry>, key: ContextKey) -> Self {
        let metrics = Arc::new(ShellMetrics::new());
        let sessions = Arc::new(Sessions::new(
            Arc::clone(&registry),
            key,
            Arc::clone(&metrics),
        ));
        let composer = Arc::new(Composer::new(
            Arc::clone(&registry),
            Arc::clone(&sessions),
            Arc::clone(&metrics),
        ));
        let overrides = Arc::new(Overrides::new(
            Arc::clone(&registry),
            registry.config.common.context_secret.clone(),
        ));
        let assets = Arc::new(AssetCache::new(
            registry.config.asset_cache_bytes,
            Arc::clone(&metrics),
        ));
        Self {
            registry,
            sessions,
            composer,
            metrics,
            overrides,
            assets,
        }
    }

    /// The pooled HTTP client of the calling thread ([`crate::client::http`]).
    pub fn client(&self) -> reqwest::Client {
        crate::client::http()
    }

    /// Whether `service` is the session service.
    pub fn is_session_service(&self, service: &Service) -> bool {
        self.registry.is_session_service(service)
    }

    /// The forwarded headers of `req`, the user not yet resolved (see [`Self::with_user`]).
    pub fn forwarded_without_user(&self, req: &HttpRequest) -> Forwarded {
        Forwarded::from_request(req, &self.registry.config.common.trusted_proxies)
    }

    /// Adds the signed-in user, resolved and signed, to forwarded headers.
    pub async fn with_user(&self, fwd: Forwarded) -> Forwarded {
        self.sessions.with_user(fwd).await
    }

    /// Forgets the session lookup of a `Cookie` header's session token.
    pub fn forget_session(&self, cookie: Option<&str>) {
        self.sessions.forget(cookie);
    }

    /// Starts a manifest refresh in the background when an answer's version calls for one.
    pub fn notice_version(&self, service: &Arc<Service>, version: Option<&str>) {
        service.notice_version(version);
    }

    /// The services this request's browser uses instead of registered ones
    /// ([`Overrides::for_request`]); empty for most.
    pub async fn lineup(&self, req: &HttpRequest) -> Lineup {
        self.overrides.for_request(req).await
    }

    /// Composes and streams a page ([`Composer::page`]) with the browser's `lineup`.
    pub fn page(
        &self,
        req: &HttpRequest,
        section: Option<&SectionConfig>,
        status: StatusCode,
        prefilled: Option<Prefilled>,
        lineup: Lineup,
    ) -> HttpResponse {
        self.composer.page(req, section, status, prefilled, lineup)
    }
}
