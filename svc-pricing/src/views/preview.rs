//! The standalone preview page: both fragments in a shared-ui page with the service's CSS
//! and the `pricing-toggle` controller, so the toggle works in a browser with no shell.

use maud::{html, Markup};
use shared_ui::components::{self, badge, site_header, NavItem, PageOptions, Tone};
use shared_ui::context::UserContext;

use crate::domain::{Billing, Catalog};
use crate::routes::{controllers, CSS_URL};

/// The page.
pub fn page(catalog: &Catalog, billing: Billing, user: Option<&UserContext>) -> Markup {
    let mut opts = PageOptions::new("Pricing · svc-pricing preview");
    opts.stylesheets.push(CSS_URL.to_owned());
    opts.controllers = controllers("");
    let nav = [
        NavItem {
            href: "/".into(),
            label: "Preview".into(),
            current: true,
        },
        NavItem {
            href: "/manifest.json".into(),
            label: "Manifest".into(),
            current: false,
        },
    ];
    let aside = match user {
        Some(u) => html! { span class="muted" { "Signed in as " strong { (u.name) } } },
        None => badge("Signed out", Tone::Info),
    };
    let current = user.map(|u| u.plan.as_str());
    components::page(
        &opts,
        html! {
            (site_header("Mosaic pricing", "/", &nav, aside))
            main id="main" class="container pricing-preview" {
                div class="pricing-preview__intro" {
                    h1 { "Pricing" }
                    p class="muted" {
                        "svc-pricing on its own. In the product the shell composes these fragments into its pages."
                    }
                }
                (super::plans::plans(catalog, billing, current))
                div class="pricing-preview__teaser" {
                    (super::teaser::teaser(catalog, billing, current))
                }
            }
        },
    )
}
