//! The standalone preview page: the overview in a shared-ui page with the service's CSS
//! and the `auto-refresh` controller, so the live figures refresh with no shell.

use maud::{html, Markup};
use shared_ui::components::{self, badge, site_header, NavItem, PageOptions, Tone};
use shared_ui::context::UserContext;

use crate::domain::{RefreshInterval, Snapshot};
use crate::routes::{controllers, CSS_URL, STATS_PATH};

/// The page.
pub fn page(user: Option<&UserContext>, snapshot: &Snapshot, refresh: RefreshInterval) -> Markup {
    let mut opts = PageOptions::new("Dashboard · svc-dashboard preview");
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
    components::page(
        &opts,
        html! {
            (site_header("Mosaic dashboard", "/", &nav, aside))
            main id="main" class="container dashboard-preview" {
                div class="dashboard-preview__intro" {
                    h1 { "Dashboard" }
                    p class="muted" {
                        "svc-dashboard on its own. In the product the shell composes this overview into its pages."
                    }
                }
                (super::overview::overview(user, snapshot, STATS_PATH, refresh))
            }
        },
    )
}
