//! svc-pricing: the pricing team's HTML-fragment server (port 1313).
//!
//! It serves the plans catalogue as two fragments of the contract in `docs/DESIGN.md`:
//! `plans` (the plans as cards with a monthly/yearly toggle, the `pricing-toggle`
//! Stimulus controller) and `teaser` (a compact upgrade box other pages embed). A signed-in
//! user (read with `shared_ui::context::current_user`) sees their plan highlighted and is
//! offered the next plan up.
//!
//! Built on the service kit (`shared_ui::kit`): [`Pricing`] names the binary and its port,
//! and [`routes::service`] declares what is the service's own; the kit provides the
//! manifest, `/healthz`, `/readyz`, `/assets/…`, the preview page's chrome, the middleware,
//! `main` and the [`startup::Application`].
//!
//! Where things live:
//! - [`settings`]: the service's own setting (`--catalog` / `PRICING_CATALOG`).
//! - [`startup`]: [`startup::Application::build`] from the command line.
//! - [`routes`]: the declarations in [`routes::service`]; handlers are thin.
//! - [`views`]: maud functions for the fragments, their fallbacks and the preview's content.
//! - [`domain`]: [`domain::Money`], [`domain::PlanId`], [`domain::Catalog`]: parsed, never
//!   plain strings.
//! - `catalog.toml` (built in) and `assets/` (CSS and the controller), embedded at compile
//!   time.

pub mod domain;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod views;

use shared_ui::kit::{Service, Team};
use shared_ui::server::StartError;
use shared_ui::settings::Common;

/// The service name in the manifest and in the shell's URLs (`/svc/pricing`).
pub const SERVICE_NAME: &str = "pricing";
/// The port of `docs/DESIGN.md#ports-and-settings`.
pub const DEFAULT_PORT: u16 = 1313;
/// The catalogue compiled into the binary (`svc-pricing/catalog.toml`).
pub const BUILT_IN_CATALOG: &str = include_str!("../catalog.toml");

/// The `svc-pricing` binary.
#[derive(Debug)]
pub struct Pricing;

impl Team for Pricing {
    const BINARY: &'static str = "svc-pricing";
    const ABOUT: &'static str =
        "The pricing team's fragment server: plans, a monthly/yearly toggle, an upgrade teaser.";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const PORT: u16 = DEFAULT_PORT;
    type Settings = settings::PricingSettings;

    async fn service(settings: Self::Settings, _: &Common) -> Result<Service, StartError> {
        let (catalog, source) = settings.catalog()?;
        Ok(routes::service(catalog, &source))
    }
}
