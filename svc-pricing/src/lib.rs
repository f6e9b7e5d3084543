//! svc-pricing: the pricing team's HTML-fragment server (port 1313).
//!
//! It serves the plans catalogue as two fragments of the contract in `DESIGN.md`:
//! `plans` (the plans as cards with a monthly/yearly toggle, the `pricing-toggle`
//! Stimulus controller) and `teaser` (a compact upgrade box other pages embed). A signed-in
//! user (read with `shared_ui::context::current_user`) sees their plan highlighted and is
//! offered the next plan up.
//!
//! Where things live:
//! - [`settings`]: the command line and environment (`--catalog` / `PRICING_CATALOG`).
//! - [`startup`]: [`startup::Application`] binds the listener and mounts the routes.
//! - [`routes`]: every route, listed in [`routes::configure`]; handlers are thin.
//! - [`views`]: maud functions for the fragments, the preview page and the 404 page.
//! - [`domain`]: [`domain::Money`], [`domain::PlanId`], [`domain::Catalog`]: parsed, never
//!   plain strings.
//! - [`error`]: the crate's one error type and its HTTP mapping.
//! - `catalog.toml` (built in) and `assets/` (CSS and the controller), embedded at compile
//!   time.

pub mod domain;
pub mod error;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod views;

/// The service name in the manifest and in the shell's URLs (`/svc/pricing`).
pub const SERVICE_NAME: &str = "pricing";
/// The port of `DESIGN.md`.
pub const DEFAULT_PORT: u16 = 1313;
/// The catalogue compiled into the binary (`svc-pricing/catalog.toml`).
pub const BUILT_IN_CATALOG: &str = include_str!("../catalog.toml");
