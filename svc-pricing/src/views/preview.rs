//! The standalone preview's content: both fragments. The kit wraps it in a shared-ui page
//! with the service's CSS and the `pricing-toggle` controller (`shared_ui::kit::Preview`).

use maud::{html, Markup};

use crate::domain::{Billing, Catalog};

/// The content under the preview's heading.
pub fn content(catalog: &Catalog, billing: Billing, current: Option<&str>) -> Markup {
    html! {
        (super::plans::plans(catalog, billing, current))
        div class="pricing-preview__teaser" {
            (super::teaser::teaser(catalog, billing, current))
        }
    }
}
