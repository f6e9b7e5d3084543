//! The shell's own pool of keep-alive connections for `http://` fragments, one per worker
//! thread, over hyper's HTTP/1 connections ([`hyper::client::conn::http1`]).
//!
//! It replaced hyper-util's pooled client, whose checkout machinery and SipHash of a
//! `(scheme, authority)` key per lookup cost about 94,000 instructions a page of three
//! fragments (README, issue 26). Here a thread's idle connections sit in a small `Vec` per
//! authority, found by comparing a few bytes; the newest idle one is used first.
//!
//! What it keeps of the client it replaced:
//! - a connect timeout ([`CONNECT_TIMEOUT`]) and `TCP_NODELAY`;
//! - at most [`MAX_IDLE_PER_SERVICE`] idle connections per service, and none used after
//!   [`POOL_IDLE_TIMEOUT`] idle: the shell lets go before the service closes its end;
//! - a request that fails on a reused connection before any answer byte (the service closed
//!   it while it was idle) is sent once more on a new connection; a new connection's failure
//!   is an error at once. Fragment requests are `GET`s without a body, safe to send again;
//! - a connection goes back to the pool only once its answer's body was read to the end and
//!   the connection is ready for the next request: never after a body cut at the fragment
//!   cap, a broken body or an answer left unread (its connection is closed instead);
//! - the request goes out as hyper-util sent it: its target in origin form (`/path?query`),
//!   `Host` from the URL's authority, and the shell's `User-Agent`.
//!
//! Idle connections past the timeout are dropped (and so closed) whenever a connection goes
//! back into the thread's pool, whichever its service: those of a service never asked again
//! too. A timer task was measured instead and left out: with a timer always armed, every
//! park of the worker's runtime cost more (2,500 instructions a page). A thread with no
//! traffic at all keeps its idle connections until the services close them (5 s in ours).

use std::cell::RefCell;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::header::{HOST, USER_AGENT};
use http::uri::{Authority, PathAndQuery};
use http::{HeaderMap, HeaderValue, Request, Response, Uri};
use http_body::{Body, Frame, SizeHint};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::{CONNECT_TIMEOUT, POOL_IDLE_TIMEOUT};

/// Idle connections kept per service (per authority) and thread.
pub const MAX_IDLE_PER_SERVICE: usize = 64;
/// Authorities a thread keeps idle connections for: the registry's services and, for a
/// while, browsers' overrides. Past it, authorities without idle connections are forgotten.
const MAX_AUTHORITIES: usize = 64;

/// The sending half of one connection.
type Sender = SendRequest<Empty<Bytes>>;

/// Why a fragment request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// A URL without a host (`http:///x`), or one whose host is not a header value.
    #[error("the URL `{0}` names no host")]
    NoHost(Uri),
    /// No connection within [`CONNECT_TIMEOUT`].
    #[error("no connection to {0} within {ms} ms", ms = CONNECT_TIMEOUT.as_millis())]
    ConnectTimeout(Authority),
    /// The connection was refused, or could not be opened.
    #[error("connecting to {authority}: {source}")]
    Connect {
        /// Where to.
        authority: Authority,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
    /// The request failed: written to a closed connection, reset, or an answer that is not
    /// HTTP.
    #[error("error sending request: {0}")]
    Send(#[source] hyper::Error),
}

/// One idle connection and when it stops being used ([`POOL_IDLE_TIMEOUT`] after it went
/// idle: compared, not subtracted, on every checkout).
struct Idle {
    sender: Sender,
    until: Instant,
}

/// The idle connections to one authority (a service), oldest first.
struct PerAuthority {
    authority: Authority,
    idle: Vec<Idle>,
}

thread_local! {
    /// This thread's idle connections, by authority.
    static POOL: RefCell<Vec<PerAuthority>> = const { RefCell::new(Vec::new()) };
}

/// Where a request goes and what it carries besides the forwarded headers.
#[derive(Debug)]
pub struct Target {
    authority: Authority,
    path: Uri,
    host: HeaderValue,
}

/// The `Host` of requests to `authority`: without a default port or user info, as
/// hyper-util wrote it.
fn host_header(authority: &Authority) -> Option<HeaderValue> {
    let host = match authority.port_u16() {
        Some(80) | None => HeaderValue::from_str(authority.host()),
        Some(_) if !authority.as_str().contains('@') => HeaderValue::from_str(authority.as_str()),
        Some(port) => HeaderValue::from_str(&format!("{}:{port}", authority.host())),
    };
    host.ok()
}

/// Where the requests under one service's base URL (`http://authority[/path]`) go, parsed
/// once per service ([`crate::registry::Service`]): its authority and `Host`, and where a
/// URL under the base has its request target. Before, every fragment parsed its whole URL
/// and built its `Host` again (about 1,000 instructions a fragment: issue 26).
#[derive(Debug, Clone)]
pub struct Origin {
    authority: Authority,
    host: HeaderValue,
    /// The length of `http://authority`: where a URL under the base has its target.
    target_at: usize,
}

impl Origin {
    /// The origin of a service's base URL: `None` unless it is `http://` with a host and
    /// without a query (such a base is sent through [`send`], parsed per request).
    pub fn of_base(base: &str) -> Option<Self> {
        const SCHEME: &str = "http://";
        if !base.starts_with(SCHEME) {
            return None;
        }
        let uri = Uri::try_from(base).ok()?;
        if uri.query().is_some() {
            return None;
        }
        let authority = uri.authority()?.clone();
        let host = host_header(&authority)?;
        let target_at = SCHEME.len() + authority.as_str().len();
        (base.get(SCHEME.len()..target_at) == Some(authority.as_str())).then_some(Self {
            authority,
            host,
            target_at,
        })
    }

    /// Where `url`, a URL under this origin's base, goes, when its rest is an origin-form
    /// target (else `None`: the URL is to be parsed whole, [`send`]).
    pub fn target(&self, url: &str) -> Option<Target> {
        let rest = url.get(self.target_at..)?;
        let path = match rest {
            "" => PathAndQuery::from_static("/"),
            _ if rest.starts_with('/') => PathAndQuery::try_from(rest).ok()?,
            _ => return None,
        };
        Some(Target {
            authority: self.authority.clone(),
            path: Uri::from(path),
            host: self.host.clone(),
        })
    }
}

impl Target {
    /// Cuts an absolute `http://` URI into its authority, its origin-form target and its
    /// `Host` (without a default port or user info, as hyper-util wrote it).
    fn of(uri: Uri) -> Result<Self, PoolError> {
        let Some(authority) = uri.authority().cloned() else {
            return Err(PoolError::NoHost(uri));
        };
        let Some(host) = host_header(&authority) else {
            return Err(PoolError::NoHost(uri));
        };
        let path = uri
            .into_parts()
            .path_and_query
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        Ok(Self {
            authority,
            path: Uri::from(path),
            host,
        })
    }

    /// The `GET` request with `headers`, `Host` and the shell's `User-Agent`.
    fn request(&self, mut headers: HeaderMap) -> Request<Empty<Bytes>> {
        headers.insert(HOST, self.host.clone());
        headers.insert(USER_AGENT, HeaderValue::from_static(super::USER_AGENT));
        let mut request = Request::new(Empty::new());
        *request.uri_mut() = self.path.clone();
        *request.headers_mut() = headers;
        request
    }
}

/// `GET uri` with the headers `headers()` builds (called again for a second try), on an
/// idle connection of this thread when there is one, else on a new one. The answer's body
/// gives the connection back when read to its end ([`PooledBody`]).
pub async fn send(
    uri: Uri,
    headers: impl Fn() -> HeaderMap,
) -> Result<Response<PooledBody>, PoolError> {
    send_to(Target::of(uri)?, headers).await
}

/// [`send`] to a target already cut ([`Origin::target`]).
pub async fn send_to(
    target: Target,
    headers: impl Fn() -> HeaderMap,
) -> Result<Response<PooledBody>, PoolError> {
    if let Some(sender) = checkout(&target.authority) {
        match send_on(sender, target.request(headers())).await {
            Ok((res, sender)) => return Ok(pooled(res, sender, target.authority)),
            Err(error) if closed_before_answer(&error) => {
                tracing::debug!(%error, authority = %target.authority, "a reused connection was closed; sending again");
            }
            Err(error) => return Err(PoolError::Send(error)),
        }
    }
    let sender = connect(&target.authority).await?;
    let (res, sender) = send_on(sender, target.request(headers()))
        .await
        .map_err(PoolError::Send)?;
    Ok(pooled(res, sender, target.authority))
}

/// Sends `request` on `sender` and gives `sender` back with the answer's head.
async fn send_on(
    mut sender: Sender,
    request: Request<Empty<Bytes>>,
) -> Result<(Response<Incoming>, Sender), hyper::Error> {
    let res = sender.send_request(request).await?;
    Ok((res, sender))
}

/// Whether a request failed before any byte of an answer came: the connection was closed
/// (before or after the request was written) or reset. Not for an answer that broke off
/// or was not HTTP.
fn closed_before_answer(error: &hyper::Error) -> bool {
    error.is_canceled()
        || error.is_incomplete_message()
        || error.is_closed()
        || std::error::Error::source(error).is_some_and(|s| s.is::<std::io::Error>())
}

/// Opens a connection to `authority` within [`CONNECT_TIMEOUT`], `TCP_NODELAY`, and drives
/// it on a task of the current runtime (an actix worker's own thread).
async fn connect(authority: &Authority) -> Result<Sender, PoolError> {
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = authority.port_u16().unwrap_or(80);
    let failed = |source| PoolError::Connect {
        authority: authority.clone(),
        source,
    };
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host, port)))
        .await
        .map_err(|_| PoolError::ConnectTimeout(authority.clone()))?
        .map_err(failed)?;
    stream.set_nodelay(true).map_err(failed)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(PoolError::Send)?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "a fragment connection ended");
        }
    });
    Ok(sender)
}

/// Whether two authorities are the same bytes. `Authority`'s own `==` ignores ASCII case,
/// comparing byte by byte (a few hundred instructions a fragment with three services whose
/// authorities differ only in their last digits: issue 26); a service's requests always
/// carry its authority in the same bytes, and two spellings of one would only keep two
/// lists of idle connections.
fn same(a: &Authority, b: &Authority) -> bool {
    a.as_str().as_bytes() == b.as_str().as_bytes()
}

/// The newest idle connection to `authority` that is ready and idle for less than
/// [`POOL_IDLE_TIMEOUT`]; closed ones are dropped on the way, and all of them when the
/// newest is past the timeout.
fn checkout(authority: &Authority) -> Option<Sender> {
    POOL.with_borrow_mut(|services| {
        let service = services
            .iter_mut()
            .find(|s| same(&s.authority, authority))?;
        let now = Instant::now();
        while let Some(idle) = service.idle.pop() {
            if now >= idle.until {
                service.idle.clear();
                return None;
            }
            if idle.sender.is_ready() {
                return Some(idle.sender);
            }
        }
        None
    })
}

/// Puts a connection whose answer was read to its end back into this thread's pool, if it
/// is ready for another request and the service has room; drops every idle connection of
/// the thread past [`POOL_IDLE_TIMEOUT`] on the way.
fn checkin(authority: Authority, sender: Sender) {
    if !sender.is_ready() {
        return;
    }
    POOL.with_borrow_mut(|services| {
        let now = Instant::now();
        let index = match services.iter().position(|s| same(&s.authority, &authority)) {
            Some(index) => index,
            None => {
                if services.len() >= MAX_AUTHORITIES {
                    services.retain(|s| !s.idle.is_empty());
                }
                if services.len() >= MAX_AUTHORITIES {
                    return;
                }
                services.push(PerAuthority {
                    authority,
                    idle: Vec::new(),
                });
                services.len() - 1
            }
        };
        for service in services.iter_mut() {
            // Oldest first: those past the timeout are at the front.
            let stale = service.idle.iter().take_while(|i| now >= i.until).count();
            service.idle.drain(..stale);
        }
        let idle = &mut services[index].idle;
        if idle.len() < MAX_IDLE_PER_SERVICE {
            idle.push(Idle {
                sender,
                until: now + POOL_IDLE_TIMEOUT,
            });
        }
    });
}

/// An answer's head with its body, whose connection is given back on its end.
fn pooled(res: Response<Incoming>, sender: Sender, authority: Authority) -> Response<PooledBody> {
    res.map(|body| PooledBody {
        body,
        connection: Some((authority, sender)),
    })
}

/// An answer's body that gives its connection back to the pool when read to its end. Dropped
/// before (a body cut at the cap, an error, a body never read), it takes the connection
/// with it: hyper closes a connection whose answer was not read.
pub struct PooledBody {
    body: Incoming,
    connection: Option<(Authority, Sender)>,
}

impl std::fmt::Debug for PooledBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledBody").finish_non_exhaustive()
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            if let Some((authority, sender)) = this.connection.take() {
                checkin(authority, sender);
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> Target {
        Target::of(Uri::try_from(url).unwrap()).unwrap()
    }

    #[test]
    fn the_request_goes_out_in_origin_form_with_the_host_of_its_url() {
        let t = target("http://127.0.0.1:8081/fragments/plans?period=year");
        let request = t.request(HeaderMap::new());
        assert_eq!(request.uri().to_string(), "/fragments/plans?period=year");
        assert_eq!(request.headers()[HOST], "127.0.0.1:8081");
        assert_eq!(request.headers()[USER_AGENT], super::super::USER_AGENT);
        assert_eq!(t.authority.as_str(), "127.0.0.1:8081");
        // As hyper-util wrote it: no default port, no user info.
        assert_eq!(target("http://pricing:80/x").host, "pricing");
        assert_eq!(target("http://pricing/x").host, "pricing");
        assert_eq!(target("http://u:p@pricing:81/x").host, "pricing:81");
        assert_eq!(target("http://pricing:81").path.to_string(), "/");
    }

    #[test]
    fn a_url_under_a_service_base_goes_where_the_url_parsed_whole_goes() {
        for (base, path) in [
            ("http://127.0.0.1:8081", "/fragments/plans?period=year"),
            ("http://pricing:80", "/x"),
            ("http://pricing", "/x?a=b&c"),
            ("http://u:p@pricing:81/prefix", "/x"),
            ("http://pricing:81", ""),
        ] {
            let url = format!("{base}{path}");
            let origin = Origin::of_base(base).unwrap();
            let cut = origin.target(&url).unwrap();
            let whole = target(&url);
            assert_eq!(cut.authority, whole.authority, "{url}");
            assert_eq!(cut.host, whole.host, "{url}");
            assert_eq!(cut.path, whole.path, "{url}");
        }
        for base in [
            "https://pricing",
            "http:///x",
            "http://pricing/?q=1",
            "pricing:80",
        ] {
            assert!(Origin::of_base(base).is_none(), "{base}");
        }
        // A rest that is not an origin-form target is parsed whole instead.
        let origin = Origin::of_base("http://pricing").unwrap();
        assert!(origin.target("http://pricingx/y").is_none());
    }

    #[test]
    fn a_url_without_a_host_is_an_error_not_a_panic() {
        let uri = Uri::from_static("/fragments/plans");
        assert!(matches!(Target::of(uri), Err(PoolError::NoHost(_))));
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_error_at_once() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let uri = Uri::try_from(format!("http://127.0.0.1:{port}/x")).unwrap();
        let error = send(uri, HeaderMap::new).await.unwrap_err();
        assert!(matches!(error, PoolError::Connect { .. }), "{error}");
    }
}
