//! `GET /fragments/plans` and `GET /fragments/teaser`.
//!
//! Both read the signed user (`shared_ui::context::current_user`) and `?billing=`. A
//! signed-in render is the user's own (`private, no-store`); an anonymous one is the same
//! for everybody and may be cached briefly (`public, max-age=30`, with the `Vary` that the
//! kit's `Fragment` sets).

use actix_web::{web, HttpRequest};
use maud::Markup;
use serde::Deserialize;
use shared_ui::context::current_user;
use shared_ui::kit::{Fragment, HttpError};

use crate::domain::{Billing, Catalog};
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
    pub fn billing(&self) -> Result<Billing, HttpError> {
        Billing::from_query(self.billing.as_deref()).map_err(HttpError::BadRequest)
    }
}

/// The `plans` fragment.
#[tracing::instrument(name = "fragment", skip_all, fields(fragment = "plans"))]
pub async fn plans(
    req: HttpRequest,
    query: web::Query<FragmentQuery>,
    catalog: web::Data<Catalog>,
) -> Result<Fragment, HttpError> {
    render(&req, &query, |billing, current| {
        views::plans::plans(&catalog, billing, current)
    })
}

/// The `teaser` fragment.
#[tracing::instrument(name = "fragment", skip_all, fields(fragment = "teaser"))]
pub async fn teaser(
    req: HttpRequest,
    query: web::Query<FragmentQuery>,
    catalog: web::Data<Catalog>,
) -> Result<Fragment, HttpError> {
    render(&req, &query, |billing, current| {
        views::teaser::teaser(&catalog, billing, current)
    })
}

fn render(
    req: &HttpRequest,
    query: &FragmentQuery,
    view: impl FnOnce(Billing, Option<&str>) -> Markup,
) -> Result<Fragment, HttpError> {
    let billing = query.billing()?;
    let user = current_user(req);
    let markup = view(billing, user.as_ref().map(|u| u.plan.as_str()));
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
    Ok(Fragment::new(cache_control, markup))
}
