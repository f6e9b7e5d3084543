//! What keeps slow and greedy clients from holding a server's resources, the same in every
//! binary (`docs/SECURITY.md`, "Deadlines and limits").
//!
//! - [`Limits`]: the header deadline, the body deadline, idle keep-alive and the connection
//!   cap, from [`crate::settings::CommonSettings`]; [`crate::server::Server`] applies them
//!   to the `HttpServer`.
//! - [`guard`]: middleware that refuses request heads past nginx's default sizes
//!   ([`head_too_large`]: 414, 431), refuses `Upgrade: websocket` (nothing here upgrades, and
//!   actix-web would otherwise treat the rest of the connection as the request body) and
//!   gives every request body a deadline: a body that has not fully arrived
//!   [`Limits::body_timeout`] after its headers ends the request with a 408 and closes the
//!   connection, whatever the handler was doing with it.
//! - [`raise_open_files_limit`]: lifts the soft limit on open files to the hard one at start,
//!   so the connection cap, not the file-descriptor table, is what a flood runs into.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse};
use bytes::Bytes;
use futures_util::Stream;

/// Seconds a client gets to send a request's headers (actix-web's head timer).
pub const DEFAULT_HEADER_TIMEOUT_SECS: u64 = 5;
/// Seconds a client gets to send a request's body, counted from its headers.
pub const DEFAULT_BODY_TIMEOUT_SECS: u64 = 10;
/// Open connections a binary accepts at once, over all its workers.
pub const DEFAULT_MAX_CONNECTIONS: usize = 2048;
/// Seconds an idle keep-alive connection is kept.
pub const KEEP_ALIVE_SECS: u64 = 5;

/// The deadlines and limits of one binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time to send the request line and headers (408 past it).
    pub header_timeout: Duration,
    /// Time to send the body once the headers are in (408 past it).
    pub body_timeout: Duration,
    /// Idle time before a keep-alive connection is closed.
    pub keep_alive: Duration,
    /// Connections accepted at once over all workers; further ones wait in the backlog.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(DEFAULT_HEADER_TIMEOUT_SECS),
            body_timeout: Duration::from_secs(DEFAULT_BODY_TIMEOUT_SECS),
            keep_alive: Duration::from_secs(KEEP_ALIVE_SECS),
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl Limits {
    /// The connection cap of each of `workers` workers (actix-web counts per worker).
    pub fn per_worker(&self, workers: usize) -> usize {
        (self.max_connections / workers.max(1)).max(1)
    }
}

/// Lifts the soft limit on open files to the hard limit (capped at 65,536), so that the
/// connection cap is reached before the process runs out of file descriptors.
pub fn raise_open_files_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let want = limit.maximum.map_or(65_536, |max| max.min(65_536));
    if limit.current.is_some_and(|cur| cur >= want) {
        return;
    }
    let raised = Rlimit {
        current: Some(want),
        maximum: limit.maximum,
    };
    if let Err(e) = setrlimit(Resource::Nofile, raised) {
        tracing::debug!(error = %e, "could not raise the open-files limit");
    }
}

/// A request body with a deadline: past it, the stream ends with a timed-out error and the
/// flag is set so that [`guard`] answers 408.
struct Deadline {
    inner: Payload,
    sleep: Pin<Box<tokio::time::Sleep>>,
    fired: Arc<AtomicBool>,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.fired.load(Ordering::Relaxed) {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            self.fired.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(PayloadError::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                "the request body did not arrive in time",
            )))));
        }
        Poll::Pending
    }
}

fn refusal(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::CONNECTION, "close"))
        .body(format!("{message}\n"))
}

/// Whether a request asks to become a WebSocket (`Upgrade: websocket`).
fn wants_websocket(req: &ServiceRequest) -> bool {
    req.headers().get_all(header::UPGRADE).any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|p| p.trim().eq_ignore_ascii_case("websocket"))
        })
    })
}

/// Longest request target (path and query) accepted, in bytes (414 past it): nginx's
/// default header line buffer.
pub const MAX_TARGET_BYTES: usize = 8 * 1024;
/// Longest header line accepted, name and value, in bytes (431 past it).
pub const MAX_HEADER_LINE_BYTES: usize = 8 * 1024;
/// Most header bytes accepted in all, in bytes (431 past it): nginx's default of four 8 KiB
/// buffers.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;

/// Why a request head is too large to serve, if it is: actix-web itself reads heads of up to
/// 128 KiB, so a 64 KiB header or URL would otherwise reach the handlers.
pub fn head_too_large(
    target_len: usize,
    headers: &header::HeaderMap,
) -> Option<(StatusCode, &'static str)> {
    if target_len > MAX_TARGET_BYTES {
        return Some((
            StatusCode::URI_TOO_LONG,
            "The request URL is longer than this server accepts (8 KiB).",
        ));
    }
    let mut total = 0;
    for (name, value) in headers {
        let line = name.as_str().len() + value.len() + 4;
        if line > MAX_HEADER_LINE_BYTES {
            return Some((
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "A request header is longer than this server accepts (8 KiB).",
            ));
        }
        total += line;
    }
    (total > MAX_HEAD_BYTES).then_some((
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "The request headers are larger than this server accepts (32 KiB in all).",
    ))
}

/// Middleware (`from_fn(guard)`), driven by the [`Limits`] in app data (defaults without):
/// refuses a request head past [`head_too_large`]'s limits (414 or 431, `Connection: close`),
/// refuses `Upgrade: websocket` with 400, and ends a request whose body is still arriving
/// [`Limits::body_timeout`] after its headers with 408 (`Connection: close`).
pub async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let target_len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if let Some((status, message)) = head_too_large(target_len, req.headers()) {
        tracing::info!(
            status = status.as_u16(),
            "refused an oversized request head"
        );
        let mut res = refusal(status, message);
        res.head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
        return Ok(req.into_response(res).map_into_right_body());
    }
    if wants_websocket(&req) {
        tracing::info!("refused an Upgrade: websocket request");
        let res = refusal(
            StatusCode::BAD_REQUEST,
            "This server does not upgrade connections (no WebSocket here).",
        );
        return Ok(req.into_response(res).map_into_right_body());
    }
    let limits = req
        .app_data::<web::Data<Limits>>()
        .map_or_else(Limits::default, |l| *l.get_ref());
    let fired = Arc::new(AtomicBool::new(false));
    let inner = req.take_payload();
    let deadline = Deadline {
        inner,
        sleep: Box::pin(tokio::time::sleep(limits.body_timeout)),
        fired: Arc::clone(&fired),
    };
    req.set_payload(Payload::Stream {
        payload: Box::pin(deadline),
    });
    let res = next.call(req).await?;
    if fired.load(Ordering::Relaxed) {
        tracing::info!(
            timeout_s = limits.body_timeout.as_secs_f64(),
            "request body too slow: 408"
        );
        let (req, _) = res.into_parts();
        let mut res = refusal(
            StatusCode::REQUEST_TIMEOUT,
            "The request body did not arrive in time.",
        );
        res.head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
        return Ok(ServiceResponse::new(req, res).map_into_right_body());
    }
    Ok(res.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

    use super::*;

    fn headers(lines: &[(&'static str, String)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in lines {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn heads_past_nginx_default_sizes_are_refused_with_414_or_431() {
        let normal = headers(&[("host", "example.com".into()), ("cookie", "a".repeat(4000))]);
        assert_eq!(head_too_large(100, &normal), None);
        assert_eq!(
            head_too_large(MAX_TARGET_BYTES + 1, &normal).map(|(s, _)| s),
            Some(StatusCode::URI_TOO_LONG)
        );
        let one_big = headers(&[("x-big", "b".repeat(64 * 1024))]);
        assert_eq!(
            head_too_large(10, &one_big).map(|(s, _)| s),
            Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
        let many: Vec<(&'static str, String)> =
            (0..5).map(|_| ("x-many", "c".repeat(7 * 1024))).collect();
        assert_eq!(
            head_too_large(10, &headers(&many)).map(|(s, _)| s),
            Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
    }
}
