//! Every request's identity: [`request_id`] is the outermost middleware of every binary.
//! It accepts or makes a request id ([`RequestId`]) and a W3C trace context
//! ([`crate::trace::TraceContext`]), opens the request's tracing span with both, logs the
//! outcome once and echoes the id on the response.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest};
use tracing::Instrument;

use crate::headers;
use crate::trace::TraceContext;

/// The request id of a request, in its extensions (set by [`request_id`]).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl RequestId {
    /// The id of this request (empty if the middleware is not mounted).
    pub fn of(req: &HttpRequest) -> String {
        req.extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default()
    }
}

fn valid_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// A fresh random request id (32 hex digits): one random `u128`, written straight into its
/// string (16 random bytes drawn one by one and `hex::encode`'s chars cost a page about
/// 1,500 instructions more: issue 26).
pub fn new_request_id() -> String {
    let mut id = String::with_capacity(32);
    crate::trace::push_hex(&mut id, &rand::random::<u128>().to_be_bytes());
    id
}

/// Middleware (`actix_web::middleware::from_fn(request_id)`): takes a well-formed incoming
/// `x-request-id` or makes one, accepts a valid incoming W3C `traceparent` or starts a new
/// trace ([`crate::trace::TraceContext`], in the request's extensions), runs the request
/// inside a `request` span carrying both ids (`request_id`, `trace_id`), logs the outcome
/// once, and echoes the request id on the response.
pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(headers::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| valid_request_id(v))
        .map(str::to_owned)
        .unwrap_or_else(new_request_id);
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut trace = TraceContext::accept_or_start(
        req.headers()
            .get(crate::trace::TRACEPARENT)
            .and_then(|v| v.to_str().ok()),
    );
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        trace_id = tracing::field::Empty,
        method = %req.method(),
        path = %req.path(),
    );
    // With OTLP export on, the exported span's ids become the request's.
    crate::otlp::join(&span, &mut trace);
    span.record("trace_id", tracing::field::display(trace.trace_id));
    req.extensions_mut().insert(trace);
    let started = Instant::now();
    let mut res = next.call(req).instrument(span.clone()).await?;
    let status = res.status().as_u16();
    span.in_scope(|| {
        tracing::info!(
            status,
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "answered"
        )
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(header::HeaderName::from_static(headers::REQUEST_ID), v);
    }
    Ok(res)
}
