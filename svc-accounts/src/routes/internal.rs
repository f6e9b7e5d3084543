//! `GET /internal/session`: the shell resolves the browser's `mf_session` cookie into the
//! user here, then signs that context for every fragment request. Not in the manifest, so
//! the shell's proxy never exposes it to browsers.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::{signed_in, AppState};
use crate::error::AppError;

/// 200 `{"id":1,"name":"Ada","plan":"pro"}` or 401 `{"error":"signed out"}`.
pub async fn session(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let signed = signed_in(&state, &req).await?;
    let mut res = match signed {
        Some(s) => HttpResponse::Ok().json(s.account.context()),
        None => HttpResponse::Unauthorized().json(serde_json::json!({ "error": "signed out" })),
    };
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("private, no-store"),
    );
    Ok(res)
}
