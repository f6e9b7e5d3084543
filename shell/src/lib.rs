//! The shell (port 8000): turns independent fragment servers into one site.
//!
//! It owns the page: the chrome (header, nav, footer) and, per section, the teams' fragments
//! composed on the server and streamed (the head first, then each fragment in page order as
//! it is ready, each bounded by a timeout and replaced by a fallback when its service is
//! slow, dead or broken). The browser side (the `fragment-loader` Stimulus controller in
//! `assets/`) takes over navigation once the page is up; it reads `GET /registry.json`.
//!
//! One page, from request to stream: [`routes::pages::section`] finds the section and asks
//! [`state::Shell::page`]; [`compose::Composer::page`] takes the section's template from
//! [`compose::cache`] (rendered by [`compose::template`] with [`views`]) and sends its head;
//! [`compose::stream`] resolves the user ([`session`]), fills every slot at once
//! ([`fragments`], each request carrying [`forwarded`]'s headers) and writes the slots in
//! page order as they are ready; async and lazy slots leave a placeholder there
//! ([`compose::deferred`]).
//!
//! The modules, bottom up. Layers run one way: a module uses only modules listed before it
//! (routes -> compose / proxy -> fragments, asset_cache, session, forwarded, views ->
//! metrics -> registry -> settings), so each can be read knowing only what came before.
//! - [`hosts`]: the hosts a per-browser override may point at (`--allow-overrides`).
//! - [`settings`]: `SHELL_SERVICES`, `--config shell.toml` (see `shell.example.toml`),
//!   timeouts; a bad registry entry is refused at start with a message naming it.
//! - [`slot`]: what a slot is and how it was filled ([`slot::Status`], [`slot::Filled`]).
//! - [`body`]: reading an answer's body with a cap.
//! - [`client`]: the HTTP clients, one per worker thread, and the shell's own pool of
//!   `http://` fragment connections ([`client::pool`]).
//! - [`registry`]: the services and the last good manifest of each; refreshes.
//! - [`recent`]: the last five minutes of fragment outcomes and errors (bounded, in memory).
//! - [`metrics`]: the shell's Prometheus metrics (fragments, proxy, caches, manifests),
//!   feeding [`recent`] too.
//! - [`forwarded`]: what every upstream request of one incoming request carries.
//! - [`session`]: the signed-in user, looked up once per session token and cached.
//! - [`asset_cache`]: the last good copy of each service's declared CSS and controllers,
//!   warmed in the background, for the proxy to serve while the service is down.
//! - [`fragments`]: filling one slot: fetch, checks, cache, fallbacks, `FragmentError`.
//! - [`views`]: the page template and the slot markup (maud).
//! - [`overrides`]: per-browser overrides: the signed cookie, the services a request uses
//!   instead of registered ones ([`overrides::Overrides::for_request`]), their pages.
//! - [`compose`]: the composition engine: templates, their cache, the streaming of a page.
//! - [`state`]: [`state::Shell`], what app data holds.
//! - [`status`]: the admin port's status page, from [`recent`], the registry and the caches.
//! - [`proxy`]: the same-origin proxy `/svc/{service}/…`, in four steps (check, navigate,
//!   send, relay); with JavaScript off a form's answer comes back inside its page
//!   ([`compose`]).
//! - [`routes`]: every route, listed in [`routes::configure`]: pages, the proxy
//!   `/svc/{service}/…`, `/registry.json`, assets.
//! - [`startup`]: [`startup::Application`] builds the shell on the shared server of
//!   `shared_ui::server` (which also brings the admin listener, `--admin-port`: `GET
//!   /metrics` and the status page, and the start-up errors,
//!   `shared_ui::server::StartError`) and runs it.
//! - [`dev`]: the dev loop (`--dev` only): the launcher's restart notices, and the event
//!   stream that tells open pages to fetch a restarted team's fragments again.
//! - [`check`]: `shell check URL`, the contract checker.

pub mod asset_cache;
pub mod assets;
pub mod body;
pub mod check;
pub mod client;
pub mod compose;
pub mod dev;
pub mod forwarded;
pub mod fragments;
pub mod hosts;
pub mod metrics;
pub mod overrides;
pub mod proxy;
pub mod recent;
pub mod registry;
pub mod routes;
pub mod session;
pub mod settings;
pub mod slot;
pub mod startup;
pub mod state;
pub mod status;
pub mod views;
