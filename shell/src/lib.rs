//! The shell (port 8000): turns independent fragment servers into one site.
//!
//! It owns the page: the chrome (header, nav, footer) and, per section, the teams' fragments
//! composed on the server and streamed (the head first, then each fragment in page order as
//! it is ready, each bounded by a timeout and replaced by a fallback when its service is
//! slow, dead or broken). The browser side (the `fragment-loader` Stimulus controller in
//! `assets/`) takes over navigation once the page is up; it reads `GET /registry.json`.
//!
//! Where things live:
//! - [`settings`]: `SHELL_SERVICES`, `--config shell.toml` (see `shell.example.toml`),
//!   timeouts; a bad registry entry is refused at start with a message naming it.
//! - [`registry`]: the services and the last good manifest of each; refreshes.
//! - [`upstream`]: the one pooled HTTP client, the signed user context, fragment fetches
//!   with timeouts, the fragment cache and the fallbacks.
//! - [`routes`]: every route, listed in [`routes::configure`]: pages, the proxy
//!   `/svc/{service}/…`, `/registry.json`, assets.
//! - [`views`]: the page template and the slot markup (maud).
//! - [`check`]: `shell check URL`, the contract checker.
//! - [`startup`]: [`startup::Application`] builds the shell on the shared server of
//!   `shared_ui::server` (which also brings the admin listener, `--admin-port`, `GET
//!   /metrics` only, and the start-up errors, `shared_ui::server::StartError`) and runs it.
//! - [`metrics`]: the shell's Prometheus metrics (fragments, proxy, caches, manifests).

pub mod check;
pub mod metrics;
pub mod registry;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod upstream;
pub mod views;
