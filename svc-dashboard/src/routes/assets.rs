//! `GET /assets/{file}`: the service's own CSS and Stimulus controller, with an ETag and
//! 304 answers.

use actix_web::{web, HttpRequest, HttpResponse};

use super::AppState;

/// One embedded asset, or a 404.
pub async fn asset(
    req: HttpRequest,
    file: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    state.assets.respond(&req, &file)
}
