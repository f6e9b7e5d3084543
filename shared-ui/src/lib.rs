//! What every team shares, written once. Every module is named at the crate root
//! (`shared_ui::kit`, `shared_ui::components`, …), and only there; in the source they sit
//! in two folders by concern.
//!
//! How a page looks (`src/page/`):
//! - [`components`]: small maud components (page layout, nav, card, table, button, form field,
//!   alert, badge) that every service renders its fragments with.
//! - [`assets`]: the shared stylesheet with the design tokens, the vendored Stimulus runtime,
//!   the boot module, and the embedded-asset server (ETag, `Cache-Control`, 304).
//!
//! How a service runs (`src/run/`), read in this order:
//! - [`kit`]: the service kit. A service declares its name, fragments, assets, actions,
//!   state, routes, readiness and settings; the kit provides the manifest, the contract
//!   routes, the preview page, `main` and an [`kit::Application`].
//! - [`server`]: the one server builder the kit and the shell run on (bind, limits, the
//!   shared middleware, graceful stop), its [`server::StartError`] and [`server::main`].
//! - [`settings`]: the settings every binary shares ([`settings::CommonSettings`]) and
//!   [`settings::SettingError`].
//! - [`contract`]: the fragment contract of `docs/DESIGN.md`: the manifest as serde types with
//!   validation, [`contract::ServiceName`] and [`contract::ServiceUrl`], and (feature
//!   `check`) `contract::check`, the checks behind `shell check`.
//! - [`context`]: the signed user context (HMAC-SHA256 with an expiry) that the shell sends and
//!   every service reads through [`context::current_user`].
//! - [`headers`]: the names of the headers of the contract.
//! - The middleware of [`server`], outermost first: [`request_id`] (request ids and
//!   W3C trace context, [`trace`]), [`metrics`] (the per-app Prometheus registry and
//!   `GET /metrics`), [`guard`] (deadlines for headers and bodies, the connection cap,
//!   `Upgrade` refused), [`admin`] (the admin listener, `/metrics` only), [`cors`] (direct
//!   mode), [`security`] (security headers, the service CSP), [`compress`] (brotli, zstd or
//!   gzip as `Accept-Encoding` asks, streamed, with `Vary` and weak ETags).
//! - [`health`]: `/healthz`, `/readyz` and the `healthcheck` subcommand.
//! - [`respond`]: a handler's building blocks: GET-and-HEAD routes, the 404 and 400 pages,
//!   the fragment answer and the base path.
//! - [`logging`]: `RUST_LOG` to stderr; [`otlp`]: OTLP trace export (feature `otlp`)
//!   (`OTEL_EXPORTER_OTLP_ENDPOINT`).
//! - [`proxies`]: the real client address behind trusted proxies (`TRUSTED_PROXIES`).
//! - `testkit` (feature `testkit`, for dev-dependencies): spawn a service on port 0 and
//!   assert the contract in one line.

mod page;
mod run;

pub use page::{assets, components};
#[cfg(feature = "testkit")]
pub use run::testkit;
pub use run::{
    admin, compress, context, contract, cors, guard, headers, health, kit, logging, metrics, otlp,
    proxies, request_id, respond, security, server, settings, trace,
};

pub use maud;
