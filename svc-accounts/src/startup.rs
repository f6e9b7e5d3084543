//! Builds the application from a checked [`Config`]: opens the database (failing with a
//! message that names the path), derives keys, declares the service to the kit
//! ([`service`]) and binds it (port 0 works) as an [`Application`] to run.

use actix_web::dev::ServerHandle;
use actix_web::web;
use shared_ui::kit::{self, Service};
pub use shared_ui::server::StartError;

use crate::metrics::AccountsMetrics;
use crate::routes::{self, AppState};
use crate::security::csrf::CsrfKey;
use crate::security::device::DeviceKey;
use crate::security::password::{HashCost, Hasher};
use crate::security::rate_limit::Limiter;
use crate::security::session::CookiePolicy;
use crate::settings::{Config, Settings, DEFAULT_PORT};
use crate::storage::Storage;

const ACCOUNTS_CSS: &[u8] = include_bytes!("../assets/accounts.css");
const FLASH_ONCE_JS: &[u8] = include_bytes!("../assets/flash-once.js");

/// A built, bound, not yet running server.
pub struct Application {
    app: kit::Application,
    storage: Storage,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port())
            .finish()
    }
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
        let common = settings.common.resolve(DEFAULT_PORT)?;
        common.warn_if_dev_secret();
        let config = settings.own.resolve(common)?;
        Self::build_with(config).await
    }

    /// Like [`Application::build`], from an already checked config.
    pub async fn build_with(config: Config) -> Result<Self, StartError> {
        let (service, storage) = service(&config).await?;
        let app = kit::Application::start(service, &config.common)?;
        Ok(Self { app, storage })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.app.port()
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> ServerHandle {
        self.app.handle()
    }

    /// The database (tests count rows through it).
    pub fn storage(&self) -> Storage {
        self.storage.clone()
    }

    /// Runs until stopped (SIGTERM, Ctrl-C or the handle).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.app.run_until_stopped().await
    }
}

/// Opens the database, derives the keys and declares svc-accounts to the kit: its
/// fragments, actions and routes ([`routes::declare`]), its stylesheet, its state, its
/// readiness (the database answers) and its workers. The version hashes the stylesheet and
/// the plan ids.
pub async fn service(config: &Config) -> Result<(Service, Storage), StartError> {
    let database = config.database.clone();
    let storage = web::block(move || Storage::open(&database))
        .await
        .map_err(|_| StartError::service("start-up was interrupted"))?
        .map_err(StartError::service)?;
    let kind = match &storage {
        Storage::Sqlite(_) => "SQLite (WAL, synchronous=FULL)",
        Storage::Postgres(_) => "PostgreSQL (shared by every replica)",
    };
    tracing::info!(database = %storage.describe(), kind, "database open");

    let cost = config.hash_cost;
    let hasher = web::block(move || Hasher::new(cost))
        .await
        .map_err(|_| StartError::service("start-up was interrupted"))?;
    if cost == HashCost::PRODUCTION {
        tracing::info!(cost = %cost.describe(), "password hashing");
    } else {
        tracing::warn!(
            cost = %cost.describe(),
            production = %HashCost::PRODUCTION.describe(),
            "password hashing is NOT at the production cost (test setting)"
        );
    }

    if config.mailer.is_development() {
        tracing::warn!(
            mailer = %config.mailer.describe(),
            "no ACCOUNTS_SMTP_URL: confirmation and reset links are written to the log"
        );
    } else {
        tracing::info!(mailer = %config.mailer.describe(), links = %config.public_url, "mail");
    }

    let plan_ids: String = config
        .plans
        .all()
        .iter()
        .map(|p| format!("{},", p.id))
        .collect();
    let metrics = AccountsMetrics::new();
    let registered = metrics.clone();
    let service = Service::new("accounts", env!("CARGO_PKG_VERSION"))
        .css("accounts.css", ACCOUNTS_CSS)
        .controller("flash-once", "flash-once.js", FLASH_ONCE_JS)
        .version_input(plan_ids)
        .metrics(move |registry| registered.register(registry));
    let state = AppState {
        storage: storage.clone(),
        hasher,
        hash_slots: tokio::sync::Semaphore::new(hash_slots()),
        csrf: CsrfKey::derive(&config.common.context_secret),
        devices: DeviceKey::derive(&config.common.context_secret),
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
        version: service.version_string(),
        metrics: metrics.clone(),
        mailer: config.mailer.clone(),
        public_url: config.public_url.clone(),
    };
    let ready_storage = storage.clone();
    let service = routes::declare(service)
        .state(state)
        .readiness(move || ready_storage.ping())
        .workers(config.workers);
    Ok((service, storage))
}
