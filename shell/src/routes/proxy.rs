//! `/svc/{service}/{path…}`: the same-origin proxy to a registered service.
//!
//! It is never an open proxy. The upstream URL is built only from the registry's base URL
//! and a path that (1) is read from the RAW request URI, (2) passes
//! [`shared_ui::contract::is_safe_path`] (no `%`, `..`, `//`, `@`, `:`, backslash or control
//! character, so no encoded traversal or host can slip through) and (3) equals a path the
//! service's manifest declares: fragments and assets for `GET`/`HEAD`, actions for `POST`.
//! Everything else is a 4xx with a message saying why.
//!
//! Trust between teams (`docs/SECURITY.md`): a service's answer is relayed, its reach is not.
//! The browser's cookies go to the session service only, and only the session service's
//! `Set-Cookie` comes back; a `Location` passes only when it is a path on this site (else
//! 502); of the other answer headers only an allowlist ([`RELAYED_ANSWER_HEADERS`]) passes.
//! Of the request, only [`FORWARDED_REQUEST_HEADERS`] pass, and no client-supplied `x-mf-*`
//! header (the loader flag is re-set by the shell as `x-mf-loader: 1`). A service-worker
//! script fetch is refused, so no service can install a worker on the shell's origin.
//! The request body is capped at [`MAX_BODY_BYTES`], the answer at 4 MiB (read as a
//! stream), and the whole exchange at the proxy timeout. With JavaScript off, a browser that posts a
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

use crate::body::read_capped;
use crate::compose::Prefilled;
use crate::fragments::contains_document;
use crate::routes::pages;
use crate::settings::valid_name;
use crate::slot::{Filled, Status};
use crate::state::Shell as Upstream;

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
];

/// Answer headers relayed from a service to the browser (besides `Location`, checked, and
/// the session service's `Set-Cookie`). Anything else a service says (`Refresh`,
/// `Clear-Site-Data`, `Content-Security-Policy`, `Service-Worker-Allowed`, CORS…) stays
/// behind: it would speak for the shell's whole origin.
const RELAYED_ANSWER_HEADERS: &[&str] = &[
    "content-type",
    "content-language",
    "cache-control",
    "etag",
    "last-modified",
    "expires",
    "vary",
    "retry-after",
    "x-fragment-version",
    "x-request-id",
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

/// The proxy handler, for every method (anything but GET, HEAD and POST is a 405). Counts
/// the answers to requests for a registered service (`shell_proxy_requests_total`).
pub async fn proxy(
    req: HttpRequest,
    payload: web::Payload,
    up: web::Data<Upstream>,
) -> HttpResponse {
    let res = forward(req.clone(), payload, up.clone()).await;
    if let Ok(target) = parse_target(req.uri().path()) {
        if up.registry.service(target.service).is_some() {
            up.metrics.proxied(target.service, res.status().as_u16());
        }
    }
    res
}

async fn forward(req: HttpRequest, payload: web::Payload, up: web::Data<Upstream>) -> HttpResponse {
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
        service.refresh(&up.client()).await;
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

    // A service-worker script fetch: no service may install a worker on the shell's origin.
    if req.headers().contains_key("service-worker") {
        return refuse(
            StatusCode::FORBIDDEN,
            "service workers cannot be installed through the proxy",
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
    let mut builder = up.client().request(reqwest_method, &url);
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
    let session_service = up.is_session_service(&service);
    builder = fwd.apply(builder, &service, session_service);
    if method == Method::POST {
        builder = builder.body(body);
    }
    let timeout = up.registry.config.proxy_timeout;
    // A GET may be sent again once when it failed before any answer came: a pooled
    // keep-alive connection that the service closed just as it was reused. A POST never is.
    let retry = (method != Method::POST)
        .then(|| builder.try_clone())
        .flatten();
    let answer = tokio::time::timeout(timeout, async {
        let res = match (builder.send().await, retry) {
            (Ok(res), _) => res,
            (Err(e), Some(again)) if e.is_request() && !e.is_timeout() => {
                tracing::debug!(service = %service.name(), error = %e, "proxied GET sent again");
                again.send().await.map_err(|e| e.to_string())?
            }
            (Err(e), _) => return Err(e.to_string()),
        };
        let status = res.status();
        let headers = res.headers().clone();
        let body = read_capped(res, MAX_ANSWER_BYTES)
            .await
            .map_err(|e| format!("{e} (limit {MAX_ANSWER_BYTES})"))?;
        Ok::<_, String>((status, headers, body))
    })
    .await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let failure = match answer {
        Ok(Ok(a)) => Ok(a),
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
        let mut res = pages::compose(
            &req,
            up.clone(),
            section.as_ref(),
            page_status,
            Some(prefilled),
        );
        relay_cookies(&up, &req, session_service, &upstream_headers, &mut res);
        if let Ok(v) = HeaderValue::from_str(&server_timing) {
            res.headers_mut()
                .insert(HeaderName::from_static("server-timing"), v);
        }
        return res;
    }

    let location = upstream_headers.get(reqwest::header::LOCATION);
    if let Some(location) = location {
        if !is_site_path(location.as_bytes()) {
            tracing::warn!(
                service = %service.name(),
                location = %String::from_utf8_lossy(location.as_bytes()).escape_default(),
                "refused a redirect off the site"
            );
            return refuse(
                StatusCode::BAD_GATEWAY,
                &format!(
                    "`{}` tried to redirect off this site; only paths on this site are passed on",
                    service.name()
                ),
            );
        }
    }
    let mut res = HttpResponse::build(status).body(body);
    let relayed = location.map(|l| (reqwest::header::LOCATION.as_str(), l));
    let allowed = RELAYED_ANSWER_HEADERS.iter().flat_map(|name| {
        upstream_headers
            .get_all(*name)
            .iter()
            .map(move |v| (*name, v))
    });
    for (name, value) in relayed.into_iter().chain(allowed) {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            res.headers_mut().append(n, v);
        }
    }
    relay_cookies(&up, &req, session_service, &upstream_headers, &mut res);
    if let Ok(v) = HeaderValue::from_str(&server_timing) {
        res.headers_mut()
            .insert(HeaderName::from_static("server-timing"), v);
    }
    res
}

/// The session service's `Set-Cookie` headers, passed on to the browser (every other
/// service's are dropped, and logged). A session change also drops this shell's cached
/// lookup of the old cookie, so a signed-out session stops working at once here.
fn relay_cookies(
    up: &Upstream,
    req: &HttpRequest,
    session_service: bool,
    upstream_headers: &reqwest::header::HeaderMap,
    res: &mut HttpResponse,
) {
    let mut cookies = upstream_headers
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .peekable();
    if cookies.peek().is_none() {
        return;
    }
    if !session_service {
        tracing::warn!("dropped Set-Cookie from a service that is not the session service");
        return;
    }
    up.forget_session(
        req.headers()
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok()),
    );
    for cookie in cookies {
        if let Ok(v) = HeaderValue::from_bytes(cookie.as_bytes()) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
}

/// Whether a `Location` is a path on this site: `/` then printable ASCII, never `//` or a
/// backslash (which browsers read as another host), never a scheme.
pub fn is_site_path(location: &[u8]) -> bool {
    location.first() == Some(&b'/')
        && !matches!(location.get(1), Some(b'/' | b'\\'))
        && location.iter().all(|b| b.is_ascii_graphic() && *b != b'\\')
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
    fn only_paths_on_this_site_pass_as_a_location() {
        for ok in [
            "/",
            "/dashboard",
            "/accounts?saved=1",
            "/svc/accounts/x#top",
        ] {
            assert!(is_site_path(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example/",
            "\\\\evil.example",
            "javascript:alert(1)",
            "/a b",
            "/caf\u{e9}",
            "",
            "dashboard",
        ] {
            assert!(!is_site_path(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn the_fragment_id_is_read_from_the_answer() {
        let html = r#"<section class="x" data-fragment="accounts/account">…"#;
        assert_eq!(fragment_id_in(html, "accounts").as_deref(), Some("account"));
        assert_eq!(fragment_id_in(html, "pricing"), None);
    }
}
