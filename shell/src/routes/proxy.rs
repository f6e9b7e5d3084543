//! `/svc/{service}/{path…}`: the same-origin proxy to a registered service.
//!
//! It is never an open proxy. The upstream URL is built only from the registry's base URL
//! and a path that (1) is read from the RAW request URI, (2) passes
//! [`shared_ui::contract::is_safe_path`] (no `%`, `..`, `//`, `@`, `:`, backslash or control
//! character, so no encoded traversal or host can slip through) and (3) equals a path the
//! service's manifest declares: fragments and assets for `GET`/`HEAD`, actions for `POST`.
//! Everything else is a 4xx with a message saying why.
//!
//! Cookies and `Set-Cookie` pass through; hop-by-hop headers (and any the `Connection`
//! header names) are dropped both ways; the request body is capped at [`MAX_BODY_BYTES`]
//! and the whole exchange at the proxy timeout. With JavaScript off, a browser that posts a
//! form here gets the answer inside the full page of its section (status kept), and a
//! browser that navigates to a fragment URL is sent to its section.

use std::collections::HashSet;
use std::time::Instant;

use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use shared_ui::contract::is_safe_path;
use shared_ui::headers;

use crate::routes::pages::{self, Prefilled};
use crate::settings::valid_name;
use crate::upstream::{contains_document, Filled, Status, Upstream};

/// Largest request body forwarded, in bytes (larger: 413).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Largest upstream answer relayed, in bytes.
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// Request headers a browser may send on to a service (besides the ones the shell sets:
/// cookie, request id, language, base path, user context, forwarded-*).
const FORWARDED_REQUEST_HEADERS: &[&str] = &[
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
    "x-mf-loader",
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

fn hop_by_hop_reqwest(headers: &reqwest::header::HeaderMap) -> HashSet<String> {
    let mut set: HashSet<String> = HOP_BY_HOP.iter().map(|h| (*h).to_owned()).collect();
    for value in headers.get_all(reqwest::header::CONNECTION) {
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

/// A refusal: a status and a plain message saying why.
fn refuse(status: StatusCode, message: &str) -> HttpResponse {
    tracing::info!(status = status.as_u16(), %message, "proxy refused");
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(format!("{message}\n"))
}

/// What a proxied request asks for, once checked.
#[derive(Debug, PartialEq, Eq)]
pub struct Target<'a> {
    /// The service name.
    pub service: &'a str,
    /// The service-relative path.
    pub path: &'a str,
}

/// Splits and checks a raw request path `/svc/{service}/{path…}`; the error is a status
/// and a message. Only syntax is checked here: the manifest check comes after.
pub fn parse_target(raw_path: &str) -> Result<Target<'_>, (StatusCode, String)> {
    let Some(rest) = raw_path.strip_prefix("/svc/") else {
        return Err((StatusCode::NOT_FOUND, "not a proxied path".to_owned()));
    };
    let (service, tail) = rest.split_once('/').unwrap_or((rest, ""));
    if !valid_name(service) {
        return Err((
            StatusCode::BAD_REQUEST,
            format!(
                "`{}` is not a service name (a-z, 0-9 and `-`)",
                service.escape_default()
            ),
        ));
    }
    let path = &raw_path["/svc/".len() + service.len()..];
    if path.is_empty() || path == "/" {
        return Err((
            StatusCode::NOT_FOUND,
            format!("name a path of `{service}`, like /svc/{service}/fragments/…"),
        ));
    }
    if !is_safe_path(path) || tail.is_empty() {
        return Err((
            StatusCode::BAD_REQUEST,
            "refused: the path must be a plain service path (no percent-encoding, `..`, `.`, \
             `//`, `@`, `:`, backslash or control characters)"
                .to_owned(),
        ));
    }
    Ok(Target { service, path })
}

/// Whether a browser navigated here itself (JavaScript off, a reload, a typed URL) rather
/// than the loader fetching: no loader header, and `Sec-Fetch-Mode: navigate` or an
/// `Accept` that asks for HTML.
pub fn is_navigation(req: &HttpRequest) -> bool {
    if req.headers().contains_key(headers::LOADER) {
        return false;
    }
    let text = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    text("sec-fetch-mode") == "navigate" || text("accept").contains("text/html")
}

/// The proxy handler, for every method (anything but GET, HEAD and POST is a 405).
pub async fn proxy(
    req: HttpRequest,
    payload: web::Payload,
    up: web::Data<Upstream>,
) -> HttpResponse {
    let started = Instant::now();
    let method = req.method().clone();
    if !matches!(method, Method::GET | Method::HEAD | Method::POST) {
        let mut res = refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "the proxy forwards GET, HEAD and POST only",
        );
        res.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, POST"));
        return res;
    }
    // The raw path, exactly as the client sent it: percent-escapes are not decoded, so
    // `%2e%2e` or `%2f` cannot turn into something the checks did not see.
    let raw_path = req.uri().path().to_owned();
    let target = match parse_target(&raw_path) {
        Ok(t) => t,
        Err((status, message)) => return refuse(status, &message),
    };
    let Some(service) = up.registry.service(target.service).cloned() else {
        return refuse(
            StatusCode::NOT_FOUND,
            &format!("no service called `{}` is registered", target.service),
        );
    };
    let path = target.path.to_owned();
    let query = match req.uri().query() {
        None | Some("") => None,
        Some(q) if q.len() <= 2048 && q.bytes().all(|b| b.is_ascii_graphic() && b != b'#') => {
            Some(q.to_owned())
        }
        Some(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "the query string is not plain ASCII",
            )
        }
    };

    // The shared assets are the shell's own, whichever service's base path asks.
    if method != Method::POST {
        if let Some(file) = path.strip_prefix("/assets/shared/") {
            return shared_ui::assets::shared().respond(&req, file);
        }
    }

    if service.manifest().is_none() && service.may_refresh() {
        service.refresh(&up.client).await;
    }
    if service.manifest().is_none() {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "`{}` is unavailable right now (its manifest cannot be read)",
                service.name()
            ),
        );
    }
    // A browser that reloads the URL of a form it posted with JavaScript off (a GET of an
    // action) goes back to the section holding the service's fragment.
    if method != Method::POST && service.declares_action(&path) && is_navigation(&req) {
        let section = up
            .registry
            .section_of(service.name(), None)
            .map_or_else(|| "/".to_owned(), |s| s.path.clone());
        return HttpResponse::SeeOther()
            .insert_header((header::LOCATION, section))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish();
    }
    let declared = if method == Method::POST {
        service.declares_action(&path)
    } else {
        service.declares_get(&path)
    };
    if !declared {
        let what = if method == Method::POST {
            "a form action"
        } else {
            "a fragment or asset"
        };
        return refuse(
            StatusCode::NOT_FOUND,
            &format!(
                "`{}` is not {what} that `{}` declares in its manifest",
                path.escape_default(),
                service.name()
            ),
        );
    }

    let navigation = is_navigation(&req);
    // A browser that navigates to a bare fragment (a reload of an odd URL) goes to the
    // section that shows it.
    if navigation && method == Method::GET {
        if let Some(fragment) = service.fragment_at(&path) {
            let section = up
                .registry
                .section_of(service.name(), Some(&fragment))
                .map_or_else(|| "/".to_owned(), |s| s.path.clone());
            let location = match &query {
                Some(q) => format!("{section}?{q}"),
                None => section,
            };
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish();
        }
    }

    let body = match read_body(&req, payload).await {
        Ok(b) => b,
        Err(res) => return res,
    };

    let url = match &query {
        Some(q) => format!("{}?{q}", service.upstream(&path)),
        None => service.upstream(&path),
    };
    // Fragments and actions get the signed-in user; assets need no session lookup.
    let fwd = up.forwarded_without_user(&req);
    let fwd = if service.fragment_at(&path).is_some() || method == Method::POST {
        up.with_user(fwd).await
    } else {
        fwd
    };
    // HEAD goes upstream as GET (services route GET only); the body is not sent back.
    let reqwest_method = match method {
        Method::POST => reqwest::Method::POST,
        _ => reqwest::Method::GET,
    };
    let mut builder = up.client.request(reqwest_method, &url);
    let skip = hop_by_hop(req.headers());
    for name in FORWARDED_REQUEST_HEADERS {
        if skip.contains(*name) {
            continue;
        }
        for value in req.headers().get_all(*name) {
            builder = builder.header(*name, value.as_bytes());
        }
    }
    builder = fwd.apply(builder, &service);
    if method == Method::POST {
        builder = builder.body(body);
    }
    let timeout = up.registry.config.proxy_timeout;
    let answer = tokio::time::timeout(timeout, async {
        let res = builder.send().await?;
        let status = res.status();
        let headers = res.headers().clone();
        let mut body = BytesMut::new();
        let mut stream = res.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Ok(None);
            }
            body.extend_from_slice(&chunk);
        }
        Ok::<_, reqwest::Error>(Some((status, headers, body.freeze())))
    })
    .await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let failure = match answer {
        Ok(Ok(Some(a))) => Ok(a),
        Ok(Ok(None)) => Err((
            StatusCode::BAD_GATEWAY,
            format!("`{}` answered too much", service.name()),
        )),
        Ok(Err(e)) => {
            tracing::warn!(service = %service.name(), error = %e, "proxied request failed");
            Err((
                StatusCode::BAD_GATEWAY,
                format!("`{}` is unavailable right now", service.name()),
            ))
        }
        Err(_) => Err((
            StatusCode::GATEWAY_TIMEOUT,
            format!(
                "`{}` did not answer within {} ms",
                service.name(),
                timeout.as_millis()
            ),
        )),
    };
    let (status, upstream_headers, body) = match failure {
        Ok(a) => a,
        // With JavaScript off, even a failed form post comes back as the page, with the
        // "unavailable" box in the form's slot.
        Err((status, _)) if navigation && method == Method::POST => {
            let section = up
                .registry
                .section_of(service.name(), None)
                .or_else(|| up.registry.default_section())
                .cloned();
            let fragment = section
                .as_ref()
                .and_then(|s| s.slots.iter().find(|sl| sl.service == service.name()))
                .map(|sl| sl.fragment.clone())
                .unwrap_or_default();
            let prefilled = Prefilled {
                service: service.name().to_owned(),
                fragment,
                filled: Filled {
                    html: None,
                    status: Status::Unavailable,
                    ms: ms as u64,
                },
            };
            return pages::compose(&req, up, section.as_ref(), status, Some(prefilled));
        }
        Err((status, message)) => return refuse(status, &message),
    };
    tracing::info!(service = %service.name(), path = %path, status = status.as_u16(), ms, "proxied");
    if let Some(v) = upstream_headers
        .get(headers::FRAGMENT_VERSION)
        .and_then(|v| v.to_str().ok())
    {
        up.notice_version(&service, Some(v));
    }
    let status = StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let server_timing = format!("upstream;desc=\"{}\";dur={ms:.1}", service.name());

    // JavaScript off: a form answer comes back inside the full page of its section.
    let is_html = upstream_headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("text/html"));
    if navigation && method == Method::POST && !status.is_redirection() {
        let html = String::from_utf8_lossy(&body).into_owned();
        let fragment = fragment_id_in(&html, service.name());
        let usable = is_html && !status.is_server_error() && !contains_document(&html);
        let section = up
            .registry
            .section_of(service.name(), fragment.as_deref())
            .or_else(|| up.registry.default_section())
            .cloned();
        let slot_fragment = fragment.unwrap_or_else(|| {
            section
                .as_ref()
                .and_then(|s| s.slots.iter().find(|sl| sl.service == service.name()))
                .map(|sl| sl.fragment.clone())
                .unwrap_or_default()
        });
        let prefilled = Prefilled {
            service: service.name().to_owned(),
            fragment: slot_fragment,
            filled: Filled {
                html: usable.then(|| html.into()),
                status: if usable {
                    Status::Ok
                } else {
                    Status::Unavailable
                },
                ms: ms as u64,
            },
        };
        let page_status = if usable {
            status
        } else {
            StatusCode::BAD_GATEWAY
        };
        let mut res = pages::compose(&req, up, section.as_ref(), page_status, Some(prefilled));
        for cookie in upstream_headers.get_all(reqwest::header::SET_COOKIE) {
            if let Ok(v) = HeaderValue::from_bytes(cookie.as_bytes()) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        if let Ok(v) = HeaderValue::from_str(&server_timing) {
            res.headers_mut()
                .insert(HeaderName::from_static("server-timing"), v);
        }
        return res;
    }

    let mut res = HttpResponse::build(status).body(body);
    let skip = hop_by_hop_reqwest(&upstream_headers);
    for (name, value) in &upstream_headers {
        let lower = name.as_str();
        if skip.contains(lower) || lower == "content-length" || lower == "server" || lower == "date"
        {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            res.headers_mut().append(n, v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&server_timing) {
        res.headers_mut()
            .insert(HeaderName::from_static("server-timing"), v);
    }
    res
}

/// Reads a request body up to [`MAX_BODY_BYTES`] (413 past it).
async fn read_body(req: &HttpRequest, mut payload: web::Payload) -> Result<Bytes, HttpResponse> {
    let too_large = || {
        refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|l| l > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            refuse(
                StatusCode::BAD_REQUEST,
                &format!("the body could not be read: {e}"),
            )
        })?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The fragment id an answer says it is (`data-fragment="accounts/account"`).
fn fragment_id_in(html: &str, service: &str) -> Option<String> {
    let needle = format!("data-fragment=\"{service}/");
    let start = html.find(&needle)? + needle.len();
    let id: String = html[start..]
        .chars()
        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
        .collect();
    valid_name(&id).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_service_paths_pass() {
        assert_eq!(
            parse_target("/svc/pricing/fragments/plans").unwrap(),
            Target {
                service: "pricing",
                path: "/fragments/plans"
            }
        );
        for bad in [
            "/svc/pricing/%2e%2e/internal/session",
            "/svc/pricing/%252e%252e/x",
            "/svc/pricing/a%2fb",
            "/svc/pricing/http://evil.example/",
            "/svc/pricing/user@evil.example/x",
            "/svc/pricing/a\\b",
            "/svc/pricing/a%00",
            "/svc/pricing/../accounts/internal/session",
            "/svc/pricing//evil.example",
            "/svc/Pricing/fragments/plans",
            "/svc/pricing",
        ] {
            assert!(parse_target(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn the_fragment_id_is_read_from_the_answer() {
        let html = r#"<section class="x" data-fragment="accounts/account">…"#;
        assert_eq!(fragment_id_in(html, "accounts").as_deref(), Some("account"));
        assert_eq!(fragment_id_in(html, "pricing"), None);
    }
}
