//! svc-dashboard: the dashboard team's HTML-fragment server (port 3000).
//!
//! It serves two fragments of the contract in `docs/DESIGN.md`: `overview` (about the user
//! of the verified context: greeting, plan, recent account activity; or says clearly that
//! nobody is signed in) and `stats` (the service's live figures, which the preview shows and
//! the `auto-refresh` Stimulus controller polls). The figures are real: the kit calls the service's observer after every
//! answer, which counts the request and records its duration into a bounded window, from
//! which the `stats` fragment computes p50/p95/p99.
//!
//! Built on the service kit (`shared_ui::kit`): [`Dashboard`] names the binary and its port,
//! and [`routes::service`] declares what is the service's own; the kit provides the
//! manifest, `/healthz`, `/readyz`, `/assets/…`, the preview page's chrome, the middleware,
//! `main` and the [`startup::Application`].
//!
//! Where things live:
//! - [`settings`]: the command line (only the shared settings).
//! - [`startup`]: [`startup::Application::build`] from the command line.
//! - [`routes`]: the declarations in [`routes::service`]; handlers are thin.
//! - [`views`]: maud functions for the fragments, their fallbacks and the preview's content.
//! - [`domain`]: [`domain::Metrics`] and its window, [`domain::RefreshInterval`].
//! - `assets/` (CSS and the controller), embedded at compile time.

pub mod domain;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod views;

use shared_ui::kit::{NoSettings, Service, Team};
use shared_ui::server::StartError;
use shared_ui::settings::Common;

/// The service name in the manifest and in the shell's URLs (`/svc/dashboard`).
pub const SERVICE_NAME: &str = "dashboard";
/// The port of `docs/DESIGN.md#ports-and-settings`.
pub const DEFAULT_PORT: u16 = 3000;

/// The `svc-dashboard` binary.
#[derive(Debug)]
pub struct Dashboard;

impl Team for Dashboard {
    const BINARY: &'static str = "svc-dashboard";
    const ABOUT: &'static str =
        "The dashboard team's fragment server: the signed-in user's home with live figures of the service.";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const PORT: u16 = DEFAULT_PORT;
    type Settings = NoSettings;

    async fn service(_: NoSettings, _: &Common) -> Result<Service, StartError> {
        Ok(routes::service())
    }
}
