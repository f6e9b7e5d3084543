//! The service's settings: the shared ones of `docs/DESIGN.md#ports-and-settings` (from the kit,
//! `shared_ui::kit::Cli`) plus its own, [`AccountsSettings`]: the database path, the plan ids,
//! the cookie flag and the argon2id cost. [`AccountsSettings::resolve`] turns them into a
//! checked [`Config`] or a [`SettingError`] that names the bad setting.

use std::time::Duration;

use shared_ui::kit::Cli;
pub use shared_ui::kit::Command;
use shared_ui::settings::{Common, SettingError};

use crate::domain::PlanList;
use crate::mail::Mailer;
use crate::security::password::HashCost;
use crate::security::rate_limit::{self, Limits, Rule};
use crate::storage::Database;

/// The port svc-accounts listens on unless told otherwise (`docs/DESIGN.md#ports-and-settings`).
pub const DEFAULT_PORT: u16 = 4000;

/// The command line of `svc-accounts`: the shared settings, [`AccountsSettings`] and
/// `healthcheck`.
pub type Settings = Cli<AccountsSettings>;

/// Command-line flags and environment variables of svc-accounts alone.
#[derive(Debug, Clone, clap::Args)]
pub struct AccountsSettings {
    /// The database: a SQLite file path or sqlite://PATH (its folder is created if missing),
    /// or postgres://USER:PASSWORD@HOST:PORT/DB (postgresql:// too) for replicas
    #[arg(
        long,
        env = "ACCOUNTS_DATABASE",
        default_value = "./data/accounts.db",
        hide_env_values = true
    )]
    pub database: String,
    /// Plan ids a user may pick, comma-separated, first is the default (the pricing
    /// catalogue's ids)
    #[arg(long, env = "ACCOUNTS_PLANS", default_value = "starter,pro,team")]
    pub plans: String,
    /// Mark the session cookie `Secure` (set this when the site is served over HTTPS)
    #[arg(long, env = "ACCOUNTS_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Days a session lasts
    #[arg(long, env = "ACCOUNTS_SESSION_DAYS", default_value_t = 14)]
    pub session_days: u32,
    /// Extra origins allowed to post forms (e.g. the shell's public origin in direct mode),
    /// comma-separated, like `https://example.com`
    #[arg(long, env = "ACCOUNTS_TRUSTED_ORIGINS", default_value = "")]
    pub trusted_origins: String,
    /// HTTP worker threads
    #[arg(long, env = "ACCOUNTS_WORKERS", default_value_t = 2)]
    pub workers: usize,
    /// Sign-in attempts per email in 15 minutes (a success clears them)
    #[arg(long, env = "ACCOUNTS_SIGN_IN_LIMIT_PER_EMAIL", default_value_t = rate_limit::PER_EMAIL)]
    pub sign_in_limit_per_email: usize,
    /// Failed sign-ins per client address in 15 minutes
    #[arg(long, env = "ACCOUNTS_SIGN_IN_LIMIT_PER_CLIENT", default_value_t = rate_limit::PER_CLIENT)]
    pub sign_in_limit_per_client: usize,
    /// Sign-ups per client address in an hour
    #[arg(long, env = "ACCOUNTS_SIGN_UP_LIMIT_PER_CLIENT", default_value_t = rate_limit::SIGN_UPS_PER_CLIENT)]
    pub sign_up_limit_per_client: usize,
    /// Sign-ups over the whole service in an hour
    #[arg(long, env = "ACCOUNTS_SIGN_UP_LIMIT_GLOBAL", default_value_t = rate_limit::SIGN_UPS_GLOBAL)]
    pub sign_up_limit_global: usize,
    /// SMTP server for the mailed links: smtp://HOST:PORT (a relay on the same network),
    /// smtp://USER:PASSWORD@HOST:PORT?tls=required (STARTTLS) or smtps://… (TLS); unset, a
    /// development mailer writes messages to the log
    #[arg(long, env = "ACCOUNTS_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of mailed links
    #[arg(
        long,
        env = "ACCOUNTS_MAIL_FROM",
        default_value = "Mosaic <accounts@localhost>"
    )]
    pub mail_from: String,
    /// The account page as users reach it (mailed links point there)
    #[arg(
        long,
        env = "ACCOUNTS_PUBLIC_URL",
        default_value = "http://127.0.0.1:8000/accounts"
    )]
    pub public_url: String,
    /// IPv6 clients are counted per network of this many bits (a /64 is one subscriber)
    #[arg(long, env = "ACCOUNTS_IPV6_PREFIX", default_value_t = rate_limit::IPV6_PREFIX)]
    pub ipv6_prefix: u8,
    /// argon2id memory cost in KiB (tests lower it; production keeps the default)
    #[arg(long, env = "ACCOUNTS_ARGON2_MEMORY_KIB", default_value_t = HashCost::PRODUCTION.memory_kib, hide = true)]
    pub argon2_memory_kib: u32,
    /// argon2id iterations (tests lower it; production keeps the default)
    #[arg(long, env = "ACCOUNTS_ARGON2_ITERATIONS", default_value_t = HashCost::PRODUCTION.iterations, hide = true)]
    pub argon2_iterations: u32,
}

/// The checked settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address, context secret.
    pub common: Common,
    /// The database: a SQLite file or a PostgreSQL URL.
    pub database: Database,
    /// The plans a user may pick.
    pub plans: PlanList,
    /// Whether the session cookie carries `Secure`.
    pub secure_cookies: bool,
    /// How long a session lasts.
    pub session_ttl: Duration,
    /// Origins (`scheme://host[:port]`) allowed to post besides the request's own host.
    pub trusted_origins: Vec<String>,
    /// HTTP worker threads.
    pub workers: usize,
    /// The argon2id cost.
    pub hash_cost: HashCost,
    /// Sign-in and sign-up limits.
    pub limits: Limits,
    /// Sends mailed links.
    pub mailer: Mailer,
    /// Where mailed links point (no trailing `?`).
    pub public_url: String,
}

impl AccountsSettings {
    /// Checks every setting, with the shared ones already checked; the error names the
    /// first bad one.
    pub fn resolve(&self, common: Common) -> Result<Config, SettingError> {
        let database = Database::parse(&self.database)
            .map_err(|problem| SettingError::new("--database / ACCOUNTS_DATABASE", problem))?;
        let plans = PlanList::parse(&self.plans)
            .map_err(|problem| SettingError::new("--plans / ACCOUNTS_PLANS", problem))?;
        in_range(
            self.session_days,
            1..=365,
            "--session-days / ACCOUNTS_SESSION_DAYS",
        )?;
        let trusted_origins = self.trusted_origins()?;
        in_range(self.workers, 1..=64, "--workers / ACCOUNTS_WORKERS")?;
        let hash_cost =
            HashCost::new(self.argon2_memory_kib, self.argon2_iterations).map_err(|problem| {
                SettingError::new("--argon2-memory-kib / --argon2-iterations", problem)
            })?;
        let limits = self.limits()?;
        let mailer = self.mailer()?;
        let public_url = self.public_url()?;
        Ok(Config {
            mailer,
            public_url,
            limits,
            common,
            database,
            plans,
            secure_cookies: self.secure_cookies,
            session_ttl: Duration::from_secs(u64::from(self.session_days) * 24 * 60 * 60),
            trusted_origins,
            workers: self.workers,
            hash_cost,
        })
    }

    /// `--trusted-origins`: comma-separated origins like `https://example.com`, lowercased.
    fn trusted_origins(&self) -> Result<Vec<String>, SettingError> {
        let mut trusted_origins = Vec::new();
        for origin in self.trusted_origins.split(',').map(str::trim) {
            if origin.is_empty() {
                continue;
            }
            let ok = (origin.starts_with("http://") || origin.starts_with("https://"))
                && !origin.ends_with('/')
                && origin.split("://").nth(1).is_some_and(|h| {
                    !h.is_empty() && !h.contains('/') && h.bytes().all(|b| b.is_ascii_graphic())
                });
            if !ok {
                return Err(SettingError::new(
                    "--trusted-origins / ACCOUNTS_TRUSTED_ORIGINS",
                    format!(
                        "`{}` is not an origin like https://example.com",
                        origin.escape_default()
                    ),
                ));
            }
            trusted_origins.push(origin.to_ascii_lowercase());
        }
        Ok(trusted_origins)
    }

    /// The rate limits: each 1 to 1,000,000 per window; the IPv6 prefix 32 to 128.
    fn limits(&self) -> Result<Limits, SettingError> {
        let rule = |value: usize, name: &'static str, window| {
            in_range(value, 1..=1_000_000, name).map(|_| Rule {
                limit: value,
                window,
            })
        };
        in_range(
            self.ipv6_prefix,
            32..=128,
            "--ipv6-prefix / ACCOUNTS_IPV6_PREFIX",
        )?;
        Ok(Limits {
            sign_in_per_email: rule(
                self.sign_in_limit_per_email,
                "--sign-in-limit-per-email / ACCOUNTS_SIGN_IN_LIMIT_PER_EMAIL",
                rate_limit::WINDOW,
            )?,
            sign_in_per_client: rule(
                self.sign_in_limit_per_client,
                "--sign-in-limit-per-client / ACCOUNTS_SIGN_IN_LIMIT_PER_CLIENT",
                rate_limit::WINDOW,
            )?,
            sign_up_per_client: rule(
                self.sign_up_limit_per_client,
                "--sign-up-limit-per-client / ACCOUNTS_SIGN_UP_LIMIT_PER_CLIENT",
                rate_limit::SIGN_UP_WINDOW,
            )?,
            sign_up_global: rule(
                self.sign_up_limit_global,
                "--sign-up-limit-global / ACCOUNTS_SIGN_UP_LIMIT_GLOBAL",
                rate_limit::SIGN_UP_WINDOW,
            )?,
            ipv6_prefix: self.ipv6_prefix,
        })
    }

    /// The mailer of `--smtp-url` and `--mail-from` (the development mailer without a URL).
    fn mailer(&self) -> Result<Mailer, SettingError> {
        Mailer::new(self.smtp_url.as_deref(), &self.mail_from).map_err(|problem| {
            let name = if problem.contains("SMTP") {
                "--smtp-url / ACCOUNTS_SMTP_URL"
            } else {
                "--mail-from / ACCOUNTS_MAIL_FROM"
            };
            SettingError::new(name, problem)
        })
    }

    /// `--public-url`: an http(s) URL without query or fragment, for the mailed links.
    fn public_url(&self) -> Result<String, SettingError> {
        let public_url = self.public_url.trim().to_owned();
        let plain = url::Url::parse(&public_url).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https") && u.query().is_none() && u.fragment().is_none()
        });
        if !plain {
            return Err(SettingError::new(
                "--public-url / ACCOUNTS_PUBLIC_URL",
                "must be an http(s) URL without query, like https://example.com/accounts",
            ));
        }
        Ok(public_url)
    }
}

/// `value` within `range`, else an error naming the setting and the range.
fn in_range<T>(
    value: T,
    range: std::ops::RangeInclusive<T>,
    name: &'static str,
) -> Result<(), SettingError>
where
    T: PartialOrd + std::fmt::Display,
{
    if range.contains(&value) {
        return Ok(());
    }
    Err(SettingError::new(
        name,
        format!("must be between {} and {}", range.start(), range.end()),
    ))
}
