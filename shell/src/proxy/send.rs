//! Step 3: the request as the service gets it, sent once (a `GET` maybe twice), and its
//! answer read, all within the proxy timeout.
//!
//! The body is read first, up to [`MAX_BODY_BYTES`]. Of the browser's headers only
//! [`FORWARDED_REQUEST_HEADERS`] pass (never a hop-by-hop one), and the loader flag is set
//! again by the shell; the shell's own headers (request id, language, base path, the
//! signed user for fragments and actions, cookies for the session service only) come from
//! [`crate::forwarded::Forwarded`]. An interim (1xx) answer is refused here, before its body
//! is read: the proxy asks no service to switch protocols, so no `101` is relayed.

use std::collections::HashSet;

use actix_web::http::header::{self, HeaderMap};
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpRequest};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use shared_ui::headers;

use super::check::Checked;
use super::error::{Failure, ProxyError, Refusal};
use crate::body::read_capped;
use crate::state::Shell;

/// Largest request body forwarded, in bytes (larger: 413).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Largest upstream answer relayed, in bytes.
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// Request headers a browser may send on to a service (besides the ones the shell sets:
/// cookie, request id, language, base path, user context, forwarded-*).
pub const FORWARDED_REQUEST_HEADERS: &[&str] = &[
    "accept",
    "content-type",
    "origin",
    "referer",
    "if-none-match",
    "if-modified-since",
    "user-agent",
    "sec-fetch-site",
    "sec-fetch-mode",
    "sec-fetch-dest",
    "sec-fetch-user",
];

/// Hop-by-hop headers (RFC 9110 §7.6.1), never forwarded in either direction.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The hop-by-hop headers of a message: the fixed list plus any its `Connection` names.
fn hop_by_hop(headers: &HeaderMap) -> HashSet<String> {
    let mut set: HashSet<String> = HOP_BY_HOP.iter().map(|h| (*h).to_owned()).collect();
    for value in headers.get_all(header::CONNECTION) {
        if let Ok(v) = value.to_str() {
            set.extend(
                v.split(',')
                    .map(|t| t.trim().to_ascii_lowercase())
                    .filter(|t| !t.is_empty()),
            );
        }
    }
    set
}

/// Reads a request body up to [`MAX_BODY_BYTES`] (413 past it).
pub async fn read_body(req: &HttpRequest, mut payload: web::Payload) -> Result<Bytes, Refusal> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|l| l > MAX_BODY_BYTES) {
        return Err(Refusal::BodyTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(Refusal::BodyUnreadable)?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(Refusal::BodyTooLarge {
                limit: MAX_BODY_BYTES,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// A service's final answer, read whole.
#[derive(Debug)]
pub struct Answer {
    /// Its status (never 1xx).
    pub status: StatusCode,
    /// Its headers, all of them: [`super::relay`] picks what passes.
    pub headers: reqwest::header::HeaderMap,
    /// Its body, at most 4 MiB.
    pub body: Bytes,
}

/// Sends the checked request with `body` (for a `POST`) and reads the answer, within the
/// proxy timeout. A `GET` is sent again once when it failed before any answer came: a
/// pooled keep-alive connection that the service closed just as it was reused. A `POST`
/// never is.
pub async fn send(
    req: &HttpRequest,
    up: &Shell,
    checked: &Checked,
    body: Bytes,
) -> Result<Answer, ProxyError> {
    let builder = request(req, up, checked, body).await;
    let retry = (!checked.is_post()).then(|| builder.try_clone()).flatten();
    let service = checked.service.name();
    let unavailable = |cause: Failure| {
        tracing::warn!(%service, error = %cause, "proxied request failed");
        ProxyError::Unavailable {
            service: service.to_owned(),
            cause,
        }
    };
    let limit = time_limit(up, checked);
    let exchange = async {
        let res = match (builder.send().await, retry) {
            (Ok(res), _) => res,
            (Err(e), Some(again)) if e.is_request() && !e.is_timeout() => {
                tracing::debug!(%service, error = %e, "proxied GET sent again");
                again.send().await.map_err(|e| unavailable(e.into()))?
            }
            (Err(e), _) => return Err(unavailable(e.into())),
        };
        let status = final_status(res.status().as_u16(), service)
            .inspect_err(|e| tracing::warn!(%service, error = %e, "refused an interim answer"))?;
        let headers = res.headers().clone();
        let body = read_capped(res, MAX_ANSWER_BYTES)
            .await
            .map_err(|e| unavailable(Failure::Read(e.into())))?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    };
    tokio::time::timeout(limit, exchange)
        .await
        .unwrap_or_else(|_| {
            Err(ProxyError::Timeout {
                service: service.to_owned(),
                limit,
            })
        })
}

/// The time the exchange gets: the proxy timeout; for a fragment `GET` at most the page
/// budget, the time a full page would give it, so a swap of a slow service gets its
/// stand-in ([`super::stand_in`]) as a full load would, before the loader gives up.
fn time_limit(up: &Shell, checked: &Checked) -> std::time::Duration {
    let config = &up.registry.config;
    match checked.service.fragment_at(&checked.path) {
        Some(_) if !checked.is_post() => config.proxy_timeout.min(config.page_budget),
        _ => config.proxy_timeout,
    }
}

/// The status of a final answer; an interim one (1xx: `101 Switching Protocols` and the
/// like, which the client never asked for) is the service's fault.
fn final_status(status: u16, service: &str) -> Result<StatusCode, ProxyError> {
    match StatusCode::from_u16(status) {
        Ok(s) if s.is_informational() => Err(ProxyError::Interim {
            service: service.to_owned(),
            status,
        }),
        Ok(s) => Ok(s),
        Err(_) => Ok(StatusCode::BAD_GATEWAY),
    }
}

/// The request as the service gets it. `HEAD` goes as `GET` (services route `GET` only;
/// the body is not sent back); fragments and actions carry the signed-in user, assets
/// need no session lookup.
async fn request(
    req: &HttpRequest,
    up: &Shell,
    checked: &Checked,
    body: Bytes,
) -> reqwest::RequestBuilder {
    let service = &checked.service;
    let fwd = up.forwarded_without_user(req);
    let fwd = if service.fragment_at(&checked.path).is_some() || checked.is_post() {
        up.with_user(fwd).await
    } else {
        fwd
    };
    let method = match checked.method {
        Method::POST => reqwest::Method::POST,
        _ => reqwest::Method::GET,
    };
    let mut builder = up.client().request(method, checked.upstream_url());
    let skip = hop_by_hop(req.headers());
    for name in FORWARDED_REQUEST_HEADERS {
        if skip.contains(*name) {
            continue;
        }
        for value in req.headers().get_all(*name) {
            builder = builder.header(*name, value.as_bytes());
        }
    }
    if req.headers().contains_key(headers::LOADER) {
        builder = builder.header(headers::LOADER, "1");
    }
    builder = fwd.apply(builder, service, up.is_session_service(service));
    if checked.is_post() {
        builder = builder.body(body);
    }
    builder
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_interim_status_is_a_final_answer() {
        for interim in [100, 101, 102, 103, 199] {
            assert!(matches!(
                final_status(interim, "x"),
                Err(ProxyError::Interim { status, .. }) if status == interim
            ));
        }
        for status in [200, 204, 303, 404, 500] {
            assert_eq!(final_status(status, "x").unwrap().as_u16(), status);
        }
    }
}
