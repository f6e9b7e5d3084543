//! The page handlers: `/`, the section paths and the 404 page. Thin: the page is
//! [`crate::compose`]'s work.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::state::Shell;

/// `GET /` and every section path.
pub async fn section(req: HttpRequest, shell: web::Data<Shell>) -> HttpResponse {
    match shell.registry.section_at(req.path()) {
        Some(section) => shell.page(&req, Some(section), StatusCode::OK, None),
        None => not_found(req, shell).await,
    }
}

/// Any unknown path: the 404 page inside the chrome.
pub async fn not_found(req: HttpRequest, shell: web::Data<Shell>) -> HttpResponse {
    shell.page(&req, None, StatusCode::NOT_FOUND, None)
}
