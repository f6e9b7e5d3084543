//! The pieces of a handler's answer every service shares: [`read`] (a GET and HEAD route),
//! the 404 and 400 pages ([`not_found`], [`bad_request`], [`error_page`]), extractor
//! configs whose errors are such pages ([`query_config`], [`form_config`]), and the
//! fragment half of the contract ([`fragment_response`], [`base_path`]).

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

use crate::components;
use crate::headers;

/// A route for reading: GET, and HEAD (the same answer without its body, which actix-web
/// drops), so monitors and `curl -I` get the real status rather than a 404.
pub fn read() -> actix_web::Route {
    use actix_web::guard;
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

/// A service's own HTML page for an error (`no-store`), with a link back to its start page.
pub fn error_page(status: actix_web::http::StatusCode, title: &str, body: Markup) -> HttpResponse {
    error_page_with(&components::PageOptions::new(title), status, body)
}

/// [`error_page`] with the page's own options (its title, stylesheets and scripts): for a
/// binary whose small pages use its own stylesheet, such as the shell's override pages.
pub fn error_page_with(
    options: &components::PageOptions,
    status: actix_web::http::StatusCode,
    body: Markup,
) -> HttpResponse {
    let page = components::page(
        options,
        html! {
            main class="container" id="main" {
                h1 { (options.title) }
                (body)
                p { a href="/" { "Back to the start page" } }
            }
        },
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page.into_string())
}

/// The 404 page (use as `default_service`).
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    error_page(
        actix_web::http::StatusCode::NOT_FOUND,
        "Page not found",
        html! { p { "Nothing lives at " code { (req.path()) } " on this service." } },
    )
}

/// A 400 page with a message (escaped).
pub fn bad_request(message: &str) -> HttpResponse {
    error_page(
        actix_web::http::StatusCode::BAD_REQUEST,
        "Bad request",
        html! { p { (message) } },
    )
}

/// Query-string extractor config whose errors are a 400 page naming the problem.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        let message = format!("The query string is not valid: {err}.");
        actix_web::error::InternalError::from_response(err, bad_request(&message)).into()
    })
}

/// Form extractor config whose errors are a 400 page (body limit 16 KiB).
pub fn form_config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(16 * 1024)
        .error_handler(|err, _req| {
            let message = format!("The form could not be read: {err}.");
            let res = match &err {
                actix_web::error::UrlencodedError::Overflow { .. } => {
                    let mut r = bad_request(&message);
                    *r.status_mut() = actix_web::http::StatusCode::PAYLOAD_TOO_LARGE;
                    r
                }
                _ => bad_request(&message),
            };
            actix_web::error::InternalError::from_response(err, res).into()
        })
}

/// A fragment answer: `text/html; charset=utf-8`, the given `Cache-Control`, the manifest
/// version header, and `Vary` on what changes the output.
pub fn fragment_response(version: &str, cache_control: &str, body: Markup) -> HttpResponse {
    let mut res = HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((
            header::VARY,
            "x-mf-user, x-mf-base-path, accept-language, cookie",
        ))
        .body(body.into_string());
    if let Ok(v) = HeaderValue::from_str(version) {
        res.headers_mut().insert(
            header::HeaderName::from_static(headers::FRAGMENT_VERSION),
            v,
        );
    }
    res
}

/// The public base path the shell serves this service under (from the
/// [`headers::BASE_PATH`] header), or `""` when absent or not a safe path. Prefix the
/// fragment's own links, form actions and asset URLs with it.
pub fn base_path(req: &HttpRequest) -> String {
    req.headers()
        .get(headers::BASE_PATH)
        .and_then(|v| v.to_str().ok())
        .filter(|p| crate::contract::is_safe_path(p) && *p != "/")
        .map(str::to_owned)
        .unwrap_or_default()
}
