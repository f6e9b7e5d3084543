//! `GET /`: the standalone preview, the overview inside a shared-ui page with the
//! service's CSS and controller, so the live figures refresh with no shell running.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use shared_ui::context::current_user;

use super::fragments::FragmentQuery;
use crate::domain::Metrics;
use crate::error::Error;
use crate::views;

/// The preview page; `?refresh=` sets the refresh interval as on the fragment.
pub async fn preview(
    req: HttpRequest,
    query: web::Query<FragmentQuery>,
    metrics: web::Data<Metrics>,
) -> Result<HttpResponse, Error> {
    let refresh = query.refresh()?;
    let user = current_user(&req);
    let page = views::preview::page(user.as_ref(), &metrics.snapshot(), refresh);
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page.into_string()))
}
