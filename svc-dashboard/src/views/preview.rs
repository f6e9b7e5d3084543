//! The standalone preview's content: the overview. The kit wraps it in a shared-ui page
//! with the service's CSS and the `auto-refresh` controller (`shared_ui::kit::Preview`).

use maud::Markup;
use shared_ui::context::UserContext;

use crate::domain::{RefreshInterval, Snapshot};
use crate::routes::STATS_PATH;

/// The content under the preview's heading.
pub fn content(
    user: Option<&UserContext>,
    snapshot: &Snapshot,
    refresh: RefreshInterval,
) -> Markup {
    super::overview::overview(user, snapshot, STATS_PATH, refresh)
}
