//! The shell's HTTP clients, one per worker thread: reqwest for manifests, session lookups,
//! the proxy and `https://` fragments; hyper's pooled client, with no layer above it, for
//! `http://` fragments.
//!
//! One per thread, not one per process: an actix worker is one thread with its own runtime,
//! and a connection's I/O task runs on the runtime that opened it, so with one shared pool a
//! worker's request could ride a connection driven by another thread, and every answer would
//! cost two cross-thread wake-ups (an eventfd write and an `epoll_wait` on each side).

use std::time::Duration;

use bytes::Bytes;

/// Time to open a connection to a service.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// Who the shell says it is, upstream.
pub const USER_AGENT: &str = concat!("mf-shell/", env!("CARGO_PKG_VERSION"));
/// How long the shell keeps an idle pooled connection: a second less than the services keep
/// theirs ([`shared_ui::guard::KEEP_ALIVE_SECS`]), so that the shell lets go first. With the
/// longer timeout (30 s) a request now and then went out on a connection the service was
/// closing at that moment and failed (`error sending request`): 2 healthy fragments in the
/// first 180 s of the 10-minute soak (`bench/soak`), and a proxied stylesheet in a browser test.
pub const POOL_IDLE_TIMEOUT: Duration =
    Duration::from_secs(shared_ui::guard::KEEP_ALIVE_SECS.saturating_sub(1));

/// The client of fragment requests to `http://` services: hyper's pooled client with no
/// layers above it (reqwest's redirect and retry layers parse every request's URL again).
pub type FragmentClient = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Empty<Bytes>,
>;

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

fn build_fragment_client() -> FragmentClient {
    let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
    connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
    connector.set_nodelay(true);
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .pool_max_idle_per_host(64)
        .pool_timer(hyper_util::rt::TokioTimer::new())
        .build(connector)
}

thread_local! {
    /// This thread's client: see [`http`].
    static CLIENT: reqwest::Client = build_client();
    /// This thread's client for fragments, likewise one per worker.
    static FRAGMENT_CLIENT: FragmentClient = build_fragment_client();
}

/// The pooled reqwest client of the calling thread. Cloning it is a reference count.
pub fn http() -> reqwest::Client {
    CLIENT.with(reqwest::Client::clone)
}

/// Sends a fragment request on the calling thread's hyper client.
pub fn send_fragment(
    request: http::Request<http_body_util::Empty<Bytes>>,
) -> hyper_util::client::legacy::ResponseFuture {
    FRAGMENT_CLIENT.with(|client| client.request(request))
}
