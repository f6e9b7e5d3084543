//! `GET /fragments/overview` and `GET /fragments/stats`.
//!
//! `overview` is the signed-in user's own (`private, no-store`); `stats` holds live figures
//! nobody should cache (`no-store`).
//!
//! The overview tells the `auto-refresh` controller where to fetch the figures, spelled as
//! the browser must: under the shell's base path (`/svc/dashboard/fragments/stats`); in
//! direct mode, where the browser fetched the overview cross-origin from an allowed shell
//! origin, at this service's own origin as the browser reached it; else service-relative.

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use serde::Deserialize;
use shared_ui::context::current_user;
use shared_ui::cors::CorsPolicy;
use shared_ui::kit::{Fragment, HttpError};
use shared_ui::respond::base_path;

use super::STATS_PATH;
use crate::domain::{Metrics, RefreshInterval};
use crate::views;

/// The query a fragment accepts; other parameters (the shell passes a section's query to
/// every fragment of it) are ignored.
#[derive(Debug, Deserialize)]
pub struct FragmentQuery {
    /// Seconds between refreshes of the live figures (2 to 300, default 5).
    pub refresh: Option<String>,
}

impl FragmentQuery {
    /// The refresh interval asked for, or a 400 that quotes the bad value.
    pub fn refresh(&self) -> Result<RefreshInterval, HttpError> {
        RefreshInterval::from_query(self.refresh.as_deref()).map_err(HttpError::BadRequest)
    }
}

/// The `overview` fragment: the signed-in user's own.
#[tracing::instrument(name = "fragment", skip_all, fields(fragment = "overview"))]
pub async fn overview(
    req: HttpRequest,
    query: web::Query<FragmentQuery>,
) -> Result<Fragment, HttpError> {
    query.refresh()?;
    let user = current_user(&req);
    tracing::debug!(signed_in = user.is_some(), "rendered");
    let markup = views::overview::overview(user.as_ref());
    Ok(Fragment::new("private, no-store", markup))
}

/// The `stats` fragment: live figures nobody should cache.
#[tracing::instrument(name = "fragment", skip_all, fields(fragment = "stats"))]
pub async fn stats(
    query: web::Query<FragmentQuery>,
    metrics: web::Data<Metrics>,
) -> Result<Fragment, HttpError> {
    query.refresh()?;
    Ok(Fragment::new(
        "no-store",
        views::stats::stats(&metrics.snapshot()),
    ))
}

/// The URL the browser fetches the live figures from (see the module doc).
pub fn stats_url(req: &HttpRequest) -> String {
    let base = base_path(req);
    if !base.is_empty() {
        return format!("{base}{STATS_PATH}");
    }
    match direct_mode_origin(req) {
        Some(own) => format!("{own}{STATS_PATH}"),
        None => STATS_PATH.to_owned(),
    }
}

/// This service's origin as the browser reached it, when the request came cross-origin from
/// an origin the CORS policy allows (direct mode); `None` otherwise.
fn direct_mode_origin(req: &HttpRequest) -> Option<String> {
    let origin = req.headers().get(header::ORIGIN)?.to_str().ok()?;
    let policy = req.app_data::<web::Data<CorsPolicy>>()?;
    if !policy.allows(origin) {
        return None;
    }
    let info = req.connection_info();
    let (scheme, host) = (info.scheme(), info.host());
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    if !matches!(scheme, "http" | "https") || !host_ok {
        return None;
    }
    let own = format!("{scheme}://{host}");
    (!own.eq_ignore_ascii_case(origin)).then_some(own)
}
