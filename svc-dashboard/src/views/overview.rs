//! The `overview` fragment: the user's greeting from the verified context (or a clear
//! signed-out state) and the live figures, which the `auto-refresh` controller polls from
//! `{base_path}/fragments/stats` (see `routes::fragments::stats_url`).

use maud::{html, Markup};
use shared_ui::components::{badge, link_button, ButtonKind, Tone};
use shared_ui::context::UserContext;

use super::stats::stats;
use crate::domain::{RefreshInterval, Snapshot};

/// The fragment. `stats_url` is where the browser fetches the live figures from.
pub fn overview(
    user: Option<&UserContext>,
    snapshot: &Snapshot,
    stats_url: &str,
    refresh: RefreshInterval,
) -> Markup {
    html! {
        section class="overview" data-fragment="dashboard/overview" aria-labelledby="dashboard-overview-title" {
            (hello(user))
            div class="overview__live" data-controller="auto-refresh"
                data-auto-refresh-url-value=(stats_url)
                data-auto-refresh-interval-value=(refresh.secs()) {
                p class="overview__refresh" {
                    "Live figures of the dashboard service, refreshed every " (refresh.secs()) " seconds while this tab is visible."
                }
                p class="overview__status" aria-live="polite" data-auto-refresh-target="status" {}
                div class="overview__stats" data-auto-refresh-target="content" {
                    (stats(snapshot))
                }
            }
        }
    }
}

fn hello(user: Option<&UserContext>) -> Markup {
    match user {
        Some(u) => html! {
            div class="overview__hello" {
                div class="overview__greeting" {
                    div class="overview__title-row" {
                        h2 id="dashboard-overview-title" class="overview__title" { "Welcome back, " (u.name) }
                        (badge(&plan_label(&u.plan), Tone::Info))
                    }
                    p class="overview__lead" { "Here is how things are running right now." }
                }
                div class="overview__actions" {
                    (link_button("/accounts", "Manage account", ButtonKind::Secondary))
                    (link_button("/pricing", "Compare plans", ButtonKind::Ghost))
                }
            }
        },
        None => html! {
            div class="overview__hello overview__hello--signed-out" {
                div class="overview__greeting" {
                    h2 id="dashboard-overview-title" class="overview__title" { "You are signed out" }
                    p class="overview__lead" { "Sign in to see your plan and pick up where you left off." }
                }
                div class="overview__actions" {
                    (link_button("/accounts", "Sign in or create an account", ButtonKind::Primary))
                    (link_button("/pricing", "See plans", ButtonKind::Ghost))
                }
            }
        },
    }
}

/// `pro` -> `Pro plan`. The plan id comes from the signed context; maud escapes it anyway.
pub fn plan_label(plan: &str) -> String {
    let mut chars = plan.chars();
    match chars.next() {
        Some(first) => format!("{}{} plan", first.to_uppercase(), chars.as_str()),
        None => "No plan".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Metrics;

    #[test]
    fn greets_the_user_or_says_they_are_signed_out() {
        let snap = Metrics::new().snapshot();
        let ada = UserContext {
            id: 1,
            name: "Ada <b>".into(),
            plan: "pro".into(),
        };
        let html = overview(
            Some(&ada),
            &snap,
            "/svc/dashboard/fragments/stats",
            RefreshInterval::default(),
        )
        .into_string();
        assert!(html.contains("Welcome back, Ada &lt;b&gt;"), "{html}");
        assert!(html.contains("Pro plan"));
        assert!(html.contains(r#"data-auto-refresh-url-value="/svc/dashboard/fragments/stats""#));
        let out =
            overview(None, &snap, "/fragments/stats", RefreshInterval::default()).into_string();
        assert!(out.contains("You are signed out"));
        assert!(out.contains(r#"href="/accounts""#));
        assert!(out.contains(r#"data-auto-refresh-url-value="/fragments/stats""#));
    }

    #[test]
    fn plan_labels_are_capitalised() {
        assert_eq!(plan_label("team"), "Team plan");
        assert_eq!(plan_label(""), "No plan");
    }
}
