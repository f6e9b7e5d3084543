//! svc-dashboard: the dashboard team's HTML-fragment server (port 3000).
//!
//! It serves two fragments of the contract in `DESIGN.md`: `overview` (greets the user of
//! the verified context, or says clearly that nobody is signed in, and embeds the live
//! figures) and `stats` (the live figures alone, which the `auto-refresh` Stimulus
//! controller polls). The figures are real: the [`middleware::record_metrics`] middleware
//! counts every request and records its duration into a bounded window, from which the
//! `stats` fragment computes p50/p95/p99.
//!
//! Where things live:
//! - [`settings`]: the command line and environment.
//! - [`startup`]: [`startup::Application`] binds the listener and mounts the routes.
//! - [`middleware`]: the metrics middleware.
//! - [`routes`]: every route, listed in [`routes::configure`]; handlers are thin.
//! - [`views`]: maud functions for the fragments, the preview page and the error pages.
//! - [`domain`]: [`domain::Metrics`] and its window, [`domain::RefreshInterval`].
//! - [`error`]: the crate's one error type and its HTTP mapping.
//! - `assets/` (CSS and the controller), embedded at compile time.

pub mod domain;
pub mod error;
pub mod middleware;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod views;

/// The service name in the manifest and in the shell's URLs (`/svc/dashboard`).
pub const SERVICE_NAME: &str = "dashboard";
/// The port of `DESIGN.md`.
pub const DEFAULT_PORT: u16 = 3000;
