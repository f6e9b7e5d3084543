//! The security headers of every answer: `nosniff`, a referrer policy, no framing, and on a
//! service's own pages the Content-Security-Policy [`service_csp`]. The shell sends its own
//! CSP per page (a hash of each page's import map), so [`headers`] takes the CSP as an option.

use actix_web::http::header;

/// The Content-Security-Policy of a service's own pages (its standalone preview and error
/// pages): scripts from the service's origin plus the one inline import map, by its hash;
/// no inline styles, no plugins, no framing.
pub fn service_csp() -> String {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(crate::assets::import_map_json().as_bytes());
    let hash = base64::engine::general_purpose::STANDARD.encode(digest);
    format!(
        "default-src 'self'; script-src 'self' 'sha256-{hash}'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; \
         base-uri 'self'; form-action 'self'"
    )
}

/// Headers every answer carries: `nosniff`, a referrer policy, no framing and, when given,
/// a Content-Security-Policy (a service passes [`service_csp`]).
pub fn headers(csp: Option<&str>) -> actix_web::middleware::DefaultHeaders {
    let headers = actix_web::middleware::DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "strict-origin-when-cross-origin"))
        .add((header::X_FRAME_OPTIONS, "DENY"));
    match csp {
        Some(csp) => headers.add((header::CONTENT_SECURITY_POLICY, csp)),
        None => headers,
    }
}
