//! `GET /fragments/{id}`: the `overview` and `stats` fragments.
//!
//! `overview` is the signed-in user's own (`private, no-store`); `stats` holds live figures
//! nobody should cache (`no-store`).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use shared_ui::context::current_user;
use shared_ui::service::{base_path, fragment_response};

use super::AppState;
use crate::domain::{Metrics, RefreshInterval};
use crate::error::Error;
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
    pub fn refresh(&self) -> Result<RefreshInterval, Error> {
        RefreshInterval::from_query(self.refresh.as_deref()).map_err(Error::BadQuery)
    }
}

/// One fragment, or the 404 page for an unknown id.
#[tracing::instrument(name = "fragment", skip_all, fields(fragment = %id))]
pub async fn fragment(
    req: HttpRequest,
    id: web::Path<String>,
    query: web::Query<FragmentQuery>,
    state: web::Data<AppState>,
    metrics: web::Data<Metrics>,
) -> Result<HttpResponse, Error> {
    let refresh = query.refresh()?;
    let snapshot = metrics.snapshot();
    let (markup, cache_control) = match id.as_str() {
        "overview" => {
            let user = current_user(&req);
            tracing::debug!(signed_in = user.is_some(), "rendered");
            let markup =
                views::overview::overview(user.as_ref(), &snapshot, &base_path(&req), refresh);
            (markup, "private, no-store")
        }
        "stats" => (views::stats::stats(&snapshot), "no-store"),
        other => return Err(Error::UnknownFragment(other.to_owned())),
    };
    Ok(fragment_response(&state.version, cache_control, markup))
}
