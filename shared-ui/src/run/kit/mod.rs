//! The service kit: what every fragment service does the same way, written once.
//!
//! A service declares only what is its own, in a [`Service`]: its name and version, its
//! fragments (id, path, title, fallback) with their handlers, its assets (CSS, Stimulus
//! controllers), its actions, its state, its extra routes, its readiness check and its
//! preview. Its binary implements [`Team`] (name, port, its own clap settings flattened next
//! to [`CommonSettings`]) and its `main` is `shared_ui::kit::main::<MyTeam>()`.
//!
//! The kit provides the rest: the manifest (built from the declarations and validated),
//! `GET /manifest.json`, `/healthz`, `/readyz`, `GET /metrics` (Prometheus: the request
//! metrics and the service's own, [`Service::metrics`]), `/assets/…` (with ETags), the 404
//! page of an unknown fragment, the standalone preview at `/` (the fragments inside a
//! shared-ui page with Stimulus), security headers, CORS for direct mode, request ids and
//! W3C trace context, the guard's limits, compression ([`crate::compress`]), tracing, the
//! `healthcheck` subcommand, exit code 2 on a bad setting naming it, a graceful stop on
//! SIGTERM (`/readyz` 503, no new connections, the requests in flight finish within
//! `SHUTDOWN_GRACE`): all of it the shared [`crate::server::Server`], which the shell runs
//! on too. [`Application`] (build, port, handle, run until stopped) is what tests bind on
//! port 0.
//!
//! ```no_run
//! use shared_ui::kit::{self, Fragment, NoSettings, Service, Team};
//! use shared_ui::maud::html;
//! use shared_ui::server::StartError;
//! use shared_ui::settings::Common;
//!
//! struct Hello;
//!
//! impl Team for Hello {
//!     const BINARY: &'static str = "svc-hello";
//!     const ABOUT: &'static str = "Says hello.";
//!     const VERSION: &'static str = env!("CARGO_PKG_VERSION");
//!     const PORT: u16 = 5000;
//!     type Settings = NoSettings;
//!     async fn service(_: NoSettings, _: &Common) -> Result<Service, StartError> {
//!         Ok(Service::new("hello", Self::VERSION).fragment("greeting", "Greeting", || async {
//!             Fragment::new("public, max-age=60", html! {
//!                 p data-fragment="hello/greeting" { "Hello" }
//!             })
//!         }))
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     kit::main::<Hello>()
//! }
//! ```
//!
//! In the source: this file holds the command line ([`Team`], [`Cli`], [`main`]);
//! `service.rs` what a service declares ([`Service`]); `answers.rs` what the kit answers
//! with ([`Info`], [`Fragment`], [`Preview`], [`HttpError`]); `app.rs` the running service
//! ([`Application`]). Every item is named `shared_ui::kit::…`.

mod answers;
mod app;
mod service;

use std::ffi::OsString;
use std::future::Future;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use crate::health;
use crate::server::{self, StartError};
use crate::settings::{Common, CommonSettings};
pub use answers::{Fragment, HttpError, Info, Preview};
pub use app::Application;
pub use service::{Outcome, Service};

/// A team's binary: its name, its port, its own settings and how it builds its [`Service`].
pub trait Team {
    /// The binary's name (`svc-pricing`): in `--help` and before every start-up error.
    const BINARY: &'static str;
    /// One line for `--help`.
    const ABOUT: &'static str;
    /// The crate version (`env!("CARGO_PKG_VERSION")`), for `--version` and the manifest.
    const VERSION: &'static str;
    /// The default port (`docs/DESIGN.md#ports-and-settings`).
    const PORT: u16;
    /// The service's own settings, a `clap::Args` struct flattened beside
    /// [`CommonSettings`]; [`NoSettings`] when it has none.
    type Settings: clap::Args + Send + 'static;

    /// Checks the service's own settings and declares the service. A
    /// [`SettingError`](crate::settings::SettingError) (wrapped with `?`) stops the start
    /// with exit code 2 and its message.
    fn service(
        settings: Self::Settings,
        common: &Common,
    ) -> impl Future<Output = Result<Service, StartError>>;

    /// Adjusts the command line (e.g. `args_override_self`); unchanged by default.
    fn command(command: clap::Command) -> clap::Command {
        command
    }
}

/// A service without settings of its own.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct NoSettings {}

/// The command line of a team's binary: the shared settings, the team's own, and the
/// `healthcheck` subcommand. A flag given twice keeps its last value (so tests and scripts
/// can override one).
#[derive(Debug, clap::Parser)]
#[command(args_override_self = true)]
pub struct Cli<S: clap::Args> {
    /// Settings every service shares.
    #[command(flatten)]
    pub common: CommonSettings,
    /// The service's own settings.
    #[command(flatten)]
    pub own: S,
    /// What to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands every service has.
#[derive(Debug, Clone, Copy, clap::Subcommand)]
pub enum Command {
    /// Exit 0 when a service on --bind and --port answers /healthz with 200, else 1
    Healthcheck,
}

/// The `clap::Command` of a team's binary.
pub fn command<T: Team>() -> clap::Command {
    let healthcheck = format!(
        "Exit 0 when a service on --bind (0.0.0.0: 127.0.0.1, :: : ::1) and --port (default {}) \
         answers /healthz with 200, else 1",
        T::PORT
    );
    T::command(
        Cli::<T::Settings>::command()
            .name(T::BINARY)
            .bin_name(T::BINARY)
            .about(T::ABOUT)
            .version(T::VERSION)
            .mut_subcommand("healthcheck", |c| c.about(healthcheck)),
    )
}

/// Parses a team's command line (`args` starts with the program name).
pub fn parse<T: Team, I, A>(args: I) -> Result<Cli<T::Settings>, clap::Error>
where
    I: IntoIterator<Item = A>,
    A: Into<OsString> + Clone,
{
    let matches = command::<T>().try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

/// The whole `main` of a team's binary: read the settings, answer `healthcheck`, or build
/// and run the server ([`server::main`]). A bad setting exits with code 2 and a message
/// naming it.
pub fn main<T: Team>() -> ExitCode {
    let cli = match parse::<T, _, _>(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if let Some(Command::Healthcheck) = cli.command {
        return health::healthcheck(cli.common.bind, cli.common.port.unwrap_or(T::PORT));
    }
    server::main(T::BINARY, async move {
        Ok(Application::build::<T>(cli).await?.run_until_stopped())
    })
}
