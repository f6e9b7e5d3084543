//! `GET /`: the standalone preview, both fragments inside a shared-ui page with the
//! service's CSS and controller, so the team can work with no shell running.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use shared_ui::context::current_user;

use super::fragments::FragmentQuery;
use super::AppState;
use crate::error::Error;
use crate::views;

/// The preview page; `?billing=` picks the initial prices as on the fragment.
pub async fn preview(
    req: HttpRequest,
    query: web::Query<FragmentQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Error> {
    let billing = query.billing()?;
    let user = current_user(&req);
    let page = views::preview::page(&state.catalog, billing, user.as_ref());
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page.into_string()))
}
