//! The shell's HTTP clients, one per worker thread: reqwest for manifests, session lookups,
//! the proxy and `https://` fragments; for `http://` fragments, the shell's own pool of
//! hyper HTTP/1 connections ([`pool`]), with no layer above it.
//!
//! One per thread, not one per process: an actix worker is one thread with its own runtime,
//! and a connection's I/O task runs on the runtime that opened it, so with one shared pool a
//! worker's request could ride a connection driven by another thread, and every answer would
//! cost two cross-thread wake-ups (an eventfd write and an `epoll_wait` on each side).

pub mod pool;

use std::time::Duration;

/// Time to open a connection to a service.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// Who the shell says it is, upstream.
pub const USER_AGENT: &str = concat!("mf-shell/", env!("CARGO_PKG_VERSION"));
/// How long the shell keeps an idle pooled connection: a second less than the services keep
/// theirs ([`shared_ui::guard::KEEP_ALIVE_SECS`]), so that the shell lets go first. With the
/// longer timeout (30 s) a request now and then went out on a connection the service was
/// closing at that moment and failed (`error sending request`): 2 healthy fragments in the
/// first 180 s of the 10-minute soak (`bench/soak`), and a proxied stylesheet in a browser test.
/// The fragment pool ([`pool`]) also sends such a request once more on a new connection;
/// reqwest's pool does not.
pub const POOL_IDLE_TIMEOUT: Duration =
    Duration::from_secs(shared_ui::guard::KEEP_ALIVE_SECS.saturating_sub(1));

/// Pooled keep-alive connections, a connect timeout, no redirects followed (a 303 passes
/// through to the browser).
fn build_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        // Below the services' keep-alive (5 s in every binary of ours), so the shell lets go
        // of an idle connection before the service closes it under a request being sent.
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .pool_max_idle_per_host(64)
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(USER_AGENT)
        .build()
        .expect("the HTTP client builds with rustls")
}

thread_local! {
    /// This thread's client: see [`http`].
    static CLIENT: reqwest::Client = build_client();
}

/// The pooled reqwest client of the calling thread. Cloning it is a reference count.
pub fn http() -> reqwest::Client {
    CLIENT.with(reqwest::Client::clone)
}
