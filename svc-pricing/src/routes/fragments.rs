//! `GET /fragments/{id}`: the `plans` and `teaser` fragments.
//!
//! Both read the signed user (`shared_ui::context::current_user`) and `?billing=`. A
//! signed-in render is the user's own (`private, no-store`); an anonymous one is the same
//! for everybody and may be cached briefly (`public, max-age=30`, with the `Vary` that
//! `fragment_response` sets).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use shared_ui::context::current_user;
use shared_ui::service::fragment_response;

use super::AppState;
use crate::domain::Billing;
use crate::error::Error;
use crate::views;

/// The query a fragment accepts; other parameters (the shell passes a section's query to
/// every fragment of it) are ignored.
#[derive(Debug, Deserialize)]
pub struct FragmentQuery {
    /// `monthly` (default) or `yearly`.
    pub billing: Option<String>,
}

impl FragmentQuery {
    /// The billing period asked for, or a 400 that quotes the bad value.
    pub fn billing(&self) -> Result<Billing, Error> {
        Billing::from_query(self.billing.as_deref()).map_err(Error::BadQuery)
    }
}

/// One fragment, or the 404 page for an unknown id.
#[tracing::instrument(name = "fragment", skip_all, fields(fragment = %id))]
pub async fn fragment(
    req: HttpRequest,
    id: web::Path<String>,
    query: web::Query<FragmentQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Error> {
    let billing = query.billing()?;
    let user = current_user(&req);
    let current = user.as_ref().map(|u| u.plan.as_str());
    let markup = match id.as_str() {
        "plans" => views::plans::plans(&state.catalog, billing, current),
        "teaser" => views::teaser::teaser(&state.catalog, billing, current),
        other => return Err(Error::UnknownFragment(other.to_owned())),
    };
    let cache_control = if user.is_some() {
        "private, no-store"
    } else {
        "public, max-age=30"
    };
    tracing::debug!(
        signed_in = user.is_some(),
        billing = billing.as_str(),
        "rendered"
    );
    Ok(fragment_response(&state.version, cache_control, markup))
}
