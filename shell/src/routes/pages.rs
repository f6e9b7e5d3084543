//! The page handlers: `/`, the section paths and the 404 page. Thin: the page is
//! [`crate::compose`]'s work.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::metrics::Overridden;
use crate::settings::SectionConfig;
use crate::state::Shell;

/// `GET /` and every section path, with the browser's overrides.
pub async fn section(req: HttpRequest, shell: web::Data<Shell>) -> HttpResponse {
    let section = shell.registry.section_at(req.path());
    let status = match section {
        Some(_) => StatusCode::OK,
        None => StatusCode::NOT_FOUND,
    };
    page(&req, &shell, section, status).await
}

/// Any unknown path: the 404 page inside the chrome.
pub async fn not_found(req: HttpRequest, shell: web::Data<Shell>) -> HttpResponse {
    page(&req, &shell, None, StatusCode::NOT_FOUND).await
}

/// The page, composed with the browser's overrides: counted and logged as overridden when
/// it has any (the `overridden` span).
async fn page(
    req: &HttpRequest,
    shell: &Shell,
    section: Option<&SectionConfig>,
    status: StatusCode,
) -> HttpResponse {
    let lineup = shell.lineup(req).await;
    for service in lineup.names() {
        shell.metrics.overridden(service, Overridden::Page);
    }
    let span = lineup.span();
    let _in = span.enter();
    shell.page(req, section, status, None, lineup)
}
