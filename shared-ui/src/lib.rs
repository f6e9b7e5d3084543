//! What every team shares, written once. Two concerns, two folders:
//!
//! How a page looks, [`page`]:
//! - [`components`]: small maud components (page layout, nav, card, table, button, form field,
//!   alert, badge) that every service renders its fragments with.
//! - [`assets`]: the shared stylesheet with the design tokens, the vendored Stimulus runtime,
//!   the boot module, and the embedded-asset server (ETag, `Cache-Control`, 304).
//!
//! How a service runs, [`run`]:
//! - [`kit`]: the service kit. A service declares its name, fragments, assets, actions,
//!   state, routes, readiness and settings; the kit provides the manifest, the contract
//!   routes, the preview page, the middleware, `main` and an [`kit::Application`].
//! - [`contract`]: the fragment contract of `DESIGN.md` as serde types, with validation, and
//!   (feature `check`) `contract::check`, the checks behind `shell check`.
//! - [`context`]: the signed user context (HMAC-SHA256 with an expiry) that the shell sends and
//!   every service reads through [`context::UserContext::from_request`].
//! - [`compress`]: brotli, zstd or gzip as `Accept-Encoding` asks, streamed (flushed
//!   whenever the body waits), with `Vary` and weak ETags.
//! - [`headers`]: the names of the headers of the contract.
//! - [`guard`]: deadlines for headers and bodies, the connection cap, `Upgrade` refused.
//! - [`metrics`]: the per-app Prometheus registry, the request metrics middleware and
//!   `GET /metrics`.
//! - [`trace`]: W3C Trace Context (`traceparent`): accepted or started per request.
//! - [`otlp`]: optional OTLP trace export (`OTEL_EXPORTER_OTLP_ENDPOINT`).
//! - [`proxies`]: the real client address behind trusted proxies (`TRUSTED_PROXIES`).
//! - [`service`]: the bootstrap pieces the kit is made of: settings, tracing, request ids,
//!   health routes, 404 and 400 pages, CORS, security headers, the `healthcheck` subcommand.
//! - `testkit` (feature `testkit`, for dev-dependencies): spawn a service on port 0 and
//!   assert the contract in one line.
//!
//! Every module is also at the crate root (`shared_ui::service`, `shared_ui::assets`, …).

pub mod page;
pub mod run;

pub use page::{assets, components};
#[cfg(feature = "testkit")]
pub use run::testkit;
pub use run::{
    compress, context, contract, guard, headers, kit, metrics, otlp, proxies, service, trace,
};

pub use maud;
