//! svc-accounts: the accounts micro-frontend (port 4000).
//!
//! It owns the users: sign up, sign in, sign out and a profile (name, plan), stored in SQLite
//! or PostgreSQL, with sessions in an `HttpOnly` cookie and the `GET /internal/session`
//! endpoint that the shell calls to learn who is signed in (it then signs that context for
//! the other teams).
//! It serves two fragments, `account` and `user-menu`, per the contract in `docs/DESIGN.md`.
//!
//! Where things live:
//! - [`settings`]: flags and environment, checked into a [`settings::Config`].
//! - [`startup`]: [`startup::service`] opens the database and declares the service to the
//!   kit (`shared_ui::kit`), which provides the manifest, the contract routes, the middleware
//!   and `main`; [`startup::Application`] binds and runs it.
//! - [`routes`]: every route in [`routes::declare`]; handlers per area (fragments,
//!   actions, recovery by mailed links, internal).
//! - [`views`]: maud views of the fragments and the preview page.
//! - [`domain`]: parsed input (name, email, password, plan) that cannot hold bad values.
//! - [`security`]: argon2id hashing, session tokens and cookie, CSRF tokens and the origin
//!   check, the failed sign-in limiter.
//! - [`storage`]: the only module that talks SQL: one interface over SQLite (WAL,
//!   `synchronous=FULL`) and PostgreSQL (a pool, for replicas), one set of migrations.
//! - [`mail`]: the mailer of confirmation and password-reset links (SMTP, or the log).
//! - [`error`]: the crate's one error type and its HTTP mapping.
//! - [`metrics`]: sign-ups, sign-ins, failures, rate limits and hash time, on `GET /metrics`.

pub mod domain;
pub mod error;
pub mod mail;
pub mod metrics;
pub mod routes;
pub mod security;
pub mod settings;
pub mod startup;
pub mod storage;
pub mod views;

use shared_ui::kit::{Service, Team};
use shared_ui::server::StartError;
use shared_ui::settings::Common;

/// The `svc-accounts` binary.
#[derive(Debug)]
pub struct Accounts;

impl Team for Accounts {
    const BINARY: &'static str = "svc-accounts";
    const ABOUT: &'static str =
        "Accounts micro-frontend: sign up, sign in, profile and sessions on SQLite or PostgreSQL";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const PORT: u16 = settings::DEFAULT_PORT;
    type Settings = settings::AccountsSettings;

    async fn service(own: Self::Settings, common: &Common) -> Result<Service, StartError> {
        let config = own.resolve(common.clone())?;
        Ok(startup::service(&config).await?.0)
    }
}
