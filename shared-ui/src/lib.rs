//! What every team shares, written once.
//!
//! - [`components`]: small maud components (page layout, nav, card, table, button, form field,
//!   alert, badge) that every service renders its fragments with.
//! - [`assets`]: the shared stylesheet with the design tokens, the vendored Stimulus runtime,
//!   the boot module, and the embedded-asset server (ETag, `Cache-Control`, 304).
//! - [`contract`]: the fragment contract of `DESIGN.md` as serde types, with validation.
//! - [`context`]: the signed user context (HMAC-SHA256 with an expiry) that the shell sends and
//!   every service reads through [`context::UserContext::from_request`].
//! - [`headers`]: the names of the headers of the contract.
//! - [`guard`]: deadlines for headers and bodies, the connection cap, `Upgrade` refused.
//! - [`proxies`]: the real client address behind trusted proxies (`TRUSTED_PROXIES`).
//! - [`service`]: the bootstrap every service repeats: settings, tracing, request ids, health
//!   routes, 404 and 400 pages, graceful shutdown, the `healthcheck` subcommand.

pub mod assets;
pub mod components;
pub mod context;
pub mod contract;
pub mod guard;
pub mod headers;
pub mod proxies;
pub mod service;

pub use maud;
