//! `GET /fragments/overview` and `GET /fragments/stats`.
//!
//! `overview` is the signed-in user's own (`private, no-store`); `stats` holds live figures
//! nobody should cache (`no-store`). The overview no longer shows the figures (they are the
//! team's, on the preview), so it needs no URL of them.

use actix_web::{web, HttpRequest};
use serde::Deserialize;
use shared_ui::context::current_user;
use shared_ui::kit::{Fragment, HttpError};

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
