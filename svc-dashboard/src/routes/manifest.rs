//! `GET /manifest.json`: who this service is and what its fragments need.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use super::AppState;

/// The manifest as JSON. `no-cache`: the shell may keep it but asks again, and notices a
/// redeploy from the `x-fragment-version` header anyway.
pub async fn manifest(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .json(&state.manifest)
}
