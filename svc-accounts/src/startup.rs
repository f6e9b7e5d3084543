//! Builds the application from a checked [`Config`]: opens the database (failing with a
//! message that names the path), derives keys, binds the listener (port 0 works) and returns
//! an [`Application`] to run.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{middleware, web, App, HttpServer};
use sha2::{Digest, Sha256};
use shared_ui::assets::{Asset, AssetSet};
use shared_ui::context::ContextKey;
use shared_ui::contract::{FragmentSpec, Manifest, ManifestAssets};
use shared_ui::service::{self, Readiness, SettingError, SHUTDOWN_TIMEOUT_SECS};

use crate::routes::{self, AppState, ACTIONS, STYLESHEET};
use crate::security::csrf::CsrfKey;
use crate::security::password::{HashCost, Hasher};
use crate::security::rate_limit::Limiter;
use crate::security::session::CookiePolicy;
use crate::settings::{Config, Settings};
use crate::storage::{Storage, StorageError};

const ACCOUNTS_CSS: &[u8] = include_bytes!("../assets/accounts.css");

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A setting is wrong.
    #[error(transparent)]
    Setting(#[from] SettingError),
    /// The database cannot be opened.
    #[error(transparent)]
    Database(#[from] StorageError),
    /// Start-up work on the blocking pool was cancelled (the runtime is stopping).
    #[error("start-up was interrupted")]
    Interrupted,
    /// The address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A built, bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    storage: Storage,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish()
    }
}

/// `"<crate version>+<12 hex of sha256(assets, plans)>"`: changes when the assets or the
/// plan list change.
fn manifest_version(config: &Config) -> String {
    let mut digest = Sha256::new();
    digest.update(ACCOUNTS_CSS);
    for plan in config.plans.all() {
        digest.update(plan.id.as_bytes());
        digest.update(b",");
    }
    let hex = hex::encode(digest.finalize());
    format!("{}+{}", env!("CARGO_PKG_VERSION"), &hex[..12])
}

fn manifest(version: &str) -> String {
    let manifest = Manifest {
        name: "accounts".to_owned(),
        version: version.to_owned(),
        fragments: vec![
            FragmentSpec {
                id: "account".to_owned(),
                path: "/fragments/account".to_owned(),
                title: "Account".to_owned(),
                fallback: None,
            },
            FragmentSpec {
                id: "user-menu".to_owned(),
                path: "/fragments/user-menu".to_owned(),
                title: "Account menu".to_owned(),
                fallback: Some(
                    r#"<div class="user-menu" data-fragment="accounts/user-menu"><a class="btn btn--secondary" href="/accounts">Account</a></div>"#
                        .to_owned(),
                ),
            },
        ],
        assets: ManifestAssets {
            css: vec![STYLESHEET.to_owned()],
            controllers: vec![],
        },
        actions: ACTIONS.iter().map(|a| (*a).to_owned()).collect(),
    };
    manifest
        .validate()
        .expect("the accounts manifest follows the contract");
    serde_json::to_string_pretty(&manifest).expect("a manifest serialises")
}

/// Concurrent argon2 computations: twice the CPUs (at least 2), so the CPUs stay busy while
/// memory stays bounded (19 MiB each at the production cost).
fn hash_slots() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get() * 2)
        .max(2)
}

impl Application {
    /// Checks the settings, opens the database, binds the listener.
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        let config = settings.resolve()?;
        Self::build_with(config).await
    }

    /// Like [`Application::build`], from an already checked config.
    pub async fn build_with(config: Config) -> Result<Self, StartError> {
        config.common.warn_if_dev_secret();
        let database = config.database.clone();
        let storage = web::block(move || Storage::open(&database))
            .await
            .map_err(|_| StartError::Interrupted)??;
        let kind = match &storage {
            Storage::Sqlite(_) => "SQLite (WAL, synchronous=FULL)",
            Storage::Postgres(_) => "PostgreSQL (shared by every replica)",
        };
        tracing::info!(database = %storage.describe(), kind, "database open");

        let cost = config.hash_cost;
        let hasher = web::block(move || Hasher::new(cost))
            .await
            .map_err(|_| StartError::Interrupted)?;
        if cost == HashCost::PRODUCTION {
            tracing::info!(cost = %cost.describe(), "password hashing");
        } else {
            tracing::warn!(
                cost = %cost.describe(),
                production = %HashCost::PRODUCTION.describe(),
                "password hashing is NOT at the production cost (test setting)"
            );
        }

        let version = manifest_version(&config);
        let state = web::Data::new(AppState {
            storage: storage.clone(),
            hasher,
            hash_slots: tokio::sync::Semaphore::new(hash_slots()),
            csrf: CsrfKey::derive(&config.common.context_secret),
            // With PostgreSQL the counters are shared by every replica.
            limiter: match &storage {
                Storage::Postgres(pg) => Limiter::shared(config.limits, pg.clone()),
                Storage::Sqlite(_) => Limiter::new(config.limits),
            },
            trusted_proxies: config.common.trusted_proxies.clone(),
            plans: config.plans.clone(),
            cookies: CookiePolicy {
                secure: config.secure_cookies,
                ttl: config.session_ttl,
            },
            trusted_origins: config.trusted_origins.clone(),
            manifest: manifest(&version),
            version,
            assets: AssetSet::new(&[Asset::revalidated("accounts.css", ACCOUNTS_CSS)]),
        });
        let context_key = web::Data::new(ContextKey::new(config.common.context_secret.clone()));
        let ready_storage = storage.clone();
        let readiness = web::Data::new(Readiness(Arc::new(move || ready_storage.ping())));
        let cors = web::Data::new(config.common.cors.clone());

        let addr = config.common.addr;
        let listener =
            TcpListener::bind(addr).map_err(|source| StartError::Bind { addr, source })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?
            .port();
        let limits = config.common.limits;
        let limits_data = web::Data::new(limits);
        let server = shared_ui::with_limits!(
            HttpServer::new(move || {
                App::new()
                    .app_data(limits_data.clone())
                    .wrap(service::security_headers())
                    .wrap(middleware::from_fn(service::cors))
                    .wrap(middleware::from_fn(shared_ui::guard::guard))
                    .wrap(middleware::from_fn(service::request_id))
                    .app_data(state.clone())
                    .app_data(context_key.clone())
                    .app_data(readiness.clone())
                    .app_data(cors.clone())
                    .configure(routes::configure)
                    .default_service(web::to(service::not_found))
            }),
            limits,
            config.workers
        )
        .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
        .on_connect(service::tcp_nodelay)
        .listen(listener)
        .map_err(|source| StartError::Bind { addr, source })?
        .run();
        tracing::info!(%addr, port, "svc-accounts listening");
        Ok(Self {
            port,
            server,
            storage,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// The database (tests count rows through it).
    pub fn storage(&self) -> Storage {
        self.storage.clone()
    }

    /// Runs until stopped (SIGTERM, Ctrl-C or the handle).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
