//! Step 4: the service's answer as the browser gets it. A service's answer is relayed, its
//! reach is not.
//!
//! A `Location` passes only when it is a path on this site ([`is_site_path`]; else 502); of
//! the other headers only [`RELAYED_ANSWER_HEADERS`]; `Set-Cookie` only from the session
//! service ([`finish`]), which also adds `Server-Timing`.

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use shared_ui::headers;

use super::check::Checked;
use super::error::ProxyError;
use super::send::Answer;
use crate::state::Shell;

/// Answer headers relayed from a service to the browser (besides `Location`, checked, and
/// the session service's `Set-Cookie`). Anything else a service says (`Refresh`,
/// `Clear-Site-Data`, `Content-Security-Policy`, `Service-Worker-Allowed`, CORS…) stays
/// behind: it would speak for the shell's whole origin.
pub const RELAYED_ANSWER_HEADERS: &[&str] = &[
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

/// Sent by the loader with a form post (beside `x-mf-loader`): answer a re-rendered form
/// (a 4xx with HTML, e.g. 422) as 200 and put the real status in [`FORM_STATUS`], because
/// Chromium logs every 4xx fetch as a console error though the page handles it.
pub const FORM_REQUEST: &str = "x-mf-form";
/// The service's real status of a form answer relayed as 200 (see [`FORM_REQUEST`]).
pub const FORM_STATUS: &str = "x-mf-form-status";

/// Whether the loader asked for a form answer in a 200 and this answer is a re-rendered
/// form: a 4xx with an HTML body.
fn form_answer_in_200(req: &HttpRequest, answer: &Answer) -> bool {
    let asks = [headers::LOADER, FORM_REQUEST]
        .iter()
        .all(|name| req.headers().contains_key(*name));
    let html = answer
        .headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    asks && html && answer.status.is_client_error()
}

/// An asset answer's `Cache-Control` made safe for its URL's content hash: `no-cache` in
/// place of the service's own unless the bytes are the ones the request's `?v=` names
/// ([`crate::asset_cache::vouched_cache_control`]). Fragments and actions pass untouched.
pub fn vouch(up: &Shell, checked: &Checked, answer: &mut Answer) {
    let service = &checked.service;
    if checked.is_post() || !crate::asset_cache::is_declared_asset(service, &checked.path) {
        return;
    }
    let copy = up.assets.last_good(service.name(), &checked.path);
    let with_body = checked.method == actix_web::http::Method::GET && answer.status.as_u16() == 200;
    let etag = answer
        .headers
        .get(reqwest::header::ETAG)
        .and_then(|v| v.to_str().ok());
    if let Some(value) = crate::asset_cache::vouched_cache_control(
        checked.query.as_deref(),
        with_body.then_some(&answer.body[..]),
        etag,
        copy.as_deref(),
    ) {
        answer.headers.insert(
            reqwest::header::CACHE_CONTROL,
            reqwest::header::HeaderValue::from_static(value),
        );
    }
}

/// The answer relayed: its status and body, a checked `Location`, the allowed headers.
pub fn relay(
    req: &HttpRequest,
    up: &Shell,
    checked: &Checked,
    answer: Answer,
    ms: f64,
) -> Result<HttpResponse, ProxyError> {
    let in_200 = form_answer_in_200(req, &answer);
    let Answer {
        status,
        headers,
        body,
    } = answer;
    let service = checked.service.name();
    let location = headers.get(reqwest::header::LOCATION);
    if let Some(location) = location.filter(|l| !is_site_path(l.as_bytes())) {
        tracing::warn!(
            %service,
            location = %String::from_utf8_lossy(location.as_bytes()).escape_default(),
            "refused a redirect off the site"
        );
        return Err(ProxyError::OffSite {
            service: service.to_owned(),
        });
    }
    let mut res = if in_200 {
        let mut res = HttpResponse::Ok().body(body);
        res.headers_mut().insert(
            HeaderName::from_static(FORM_STATUS),
            HeaderValue::from(status.as_u16()),
        );
        res
    } else {
        HttpResponse::build(status).body(body)
    };
    let relayed = location.map(|l| (reqwest::header::LOCATION.as_str(), l));
    let allowed = RELAYED_ANSWER_HEADERS
        .iter()
        .flat_map(|name| headers.get_all(*name).iter().map(move |v| (*name, v)));
    for (name, value) in relayed.into_iter().chain(allowed) {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            res.headers_mut().append(n, v);
        }
    }
    finish(&mut res, req, up, checked, &headers, ms);
    Ok(res)
}

/// What every relayed answer gets, a JS-off form page included: the session service's
/// `Set-Cookie` headers and `Server-Timing` (the service and how long it took).
pub fn finish(
    res: &mut HttpResponse,
    req: &HttpRequest,
    up: &Shell,
    checked: &Checked,
    upstream_headers: &reqwest::header::HeaderMap,
    ms: f64,
) {
    relay_cookies(up, req, checked, upstream_headers, res);
    // A browser's override answers for that browser alone: no cache may keep it.
    if checked.service.is_override() {
        res.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
    }
    let timing = format!("upstream;desc=\"{}\";dur={ms:.1}", checked.service.name());
    if let Ok(v) = HeaderValue::from_str(&timing) {
        res.headers_mut()
            .insert(HeaderName::from_static("server-timing"), v);
    }
}

/// The session service's `Set-Cookie` headers, passed on to the browser (every other
/// service's are dropped, and logged). A session change also drops this shell's cached
/// lookup of the old cookie, so a signed-out session stops working at once here.
fn relay_cookies(
    up: &Shell,
    req: &HttpRequest,
    checked: &Checked,
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
    if !up.is_session_service(&checked.service) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
