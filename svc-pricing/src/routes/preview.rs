//! `GET /`: the standalone preview's content, both fragments; the kit puts it in a shared-ui
//! page with the service's CSS and controller, so the toggle works with no shell running.

use actix_web::{web, HttpRequest};
use shared_ui::context::current_user;
use shared_ui::kit::{HttpError, Preview};

use super::fragments::FragmentQuery;
use crate::domain::Catalog;
use crate::views;

/// The preview; `?billing=` picks the initial prices as on the fragment.
pub async fn preview(
    req: HttpRequest,
    query: web::Query<FragmentQuery>,
    catalog: web::Data<Catalog>,
) -> Result<Preview, HttpError> {
    let billing = query.billing()?;
    let user = current_user(&req);
    let current = user.as_ref().map(|u| u.plan.as_str());
    Ok(Preview(views::preview::content(&catalog, billing, current)))
}
