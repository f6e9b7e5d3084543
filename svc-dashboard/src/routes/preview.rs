//! `GET /`: the standalone preview's content, the overview; the kit puts it in a shared-ui
//! page with the service's CSS and controller, so the live figures refresh with no shell.

use actix_web::{web, HttpRequest};
use shared_ui::context::current_user;
use shared_ui::kit::{HttpError, Preview};

use super::fragments::FragmentQuery;
use super::STATS_PATH;
use crate::domain::Metrics;
use crate::views;

/// The preview; `?refresh=` sets the refresh interval as on the fragment.
pub async fn preview(
    req: HttpRequest,
    query: web::Query<FragmentQuery>,
    metrics: web::Data<Metrics>,
) -> Result<Preview, HttpError> {
    let refresh = query.refresh()?;
    let user = current_user(&req);
    // The preview is served at the service's own root, so the live figures' path is
    // service-relative, with no base path.
    Ok(Preview(views::overview::preview(
        user.as_ref(),
        &metrics.snapshot(),
        STATS_PATH,
        refresh,
    )))
}
