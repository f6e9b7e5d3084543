//! The `overview` fragment: about the signed-in user, from the verified context (their
//! name, their plan, when the account was created and last changed), or a clear signed-out
//! state. A new account is welcomed as new, not "back". What the plan includes is the
//! pricing team's to say: its `teaser` sits beside this fragment on the dashboard. The
//! service's own figures are not the user's business: they live on the preview
//! ([`preview`]), refreshed by the `auto-refresh` controller.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use maud::{html, Markup};
use shared_ui::components::{badge, link_button, ButtonKind, Tone};
use shared_ui::context::UserContext;

use super::format;
use super::stats::stats;
use crate::domain::{RefreshInterval, Snapshot};

/// An account younger than this is greeted as new ("Welcome", not "Welcome back").
pub const NEW_FOR: Duration = Duration::from_secs(24 * 3600);

/// The fragment.
pub fn overview(user: Option<&UserContext>) -> Markup {
    html! {
        section class="overview" data-fragment="dashboard/overview" aria-labelledby="dashboard-overview-title" {
            @match user {
                Some(u) => (signed_in(u, SystemTime::now())),
                None => (signed_out()),
            }
        }
    }
}

/// The standalone preview's content: the overview, then the service's live figures, which
/// the `auto-refresh` controller polls from `stats_url`.
pub fn preview(
    user: Option<&UserContext>,
    snapshot: &Snapshot,
    stats_url: &str,
    refresh: RefreshInterval,
) -> Markup {
    html! {
        (overview(user))
        section class="overview__live" aria-labelledby="dashboard-live-title" data-controller="auto-refresh"
            data-auto-refresh-url-value=(stats_url)
            data-auto-refresh-interval-value=(refresh.secs()) {
            h2 id="dashboard-live-title" { "Service figures" }
            p class="overview__refresh" {
                "Live figures of the dashboard service, for its team, refreshed every " (refresh.secs()) " seconds while this tab is visible."
            }
            p class="overview__status" aria-live="polite" data-auto-refresh-target="status" {}
            div class="overview__stats" data-auto-refresh-target="content" {
                (stats(snapshot))
            }
        }
    }
}

/// Whether an account created at `since` (Unix seconds) is new at `now`.
pub fn is_new(since: Option<u64>, now: SystemTime) -> bool {
    let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    since.is_some_and(|s| now.saturating_sub(s) < NEW_FOR.as_secs())
}

fn signed_in(u: &UserContext, now: SystemTime) -> Markup {
    let new = is_new(u.since, now);
    html! {
        div class="overview__hello" {
            div class="overview__greeting" {
                div class="overview__title-row" {
                    h2 id="dashboard-overview-title" class="overview__title" {
                        @if new { "Welcome, " } @else { "Welcome back, " } (u.name)
                    }
                    (badge(&plan_label(&u.plan), Tone::Info))
                }
                p class="overview__lead" {
                    @if new { "Your account is ready. Your plan and what it includes are below." }
                    @else { "Your plan, what it includes and what changed on your account lately." }
                }
            }
            div class="overview__actions" {
                (link_button("/accounts", "Manage account", ButtonKind::Secondary))
                (link_button("/pricing", "Compare plans", ButtonKind::Ghost))
            }
        }
        (activity(u))
    }
}

/// The account's recent activity, newest first, from the context's times.
fn activity(u: &UserContext) -> Markup {
    let mut events: Vec<(u64, String)> = Vec::new();
    if let Some(changed) = u.changed {
        events.push((changed, "You changed your name or plan".to_owned()));
    }
    if let Some(since) = u.since {
        events.push((
            since,
            format!("You created your account on the {}", plan_label(&u.plan)),
        ));
    }
    html! {
        section class="card overview__activity" aria-labelledby="dashboard-activity-title" {
            h3 class="card__title" id="dashboard-activity-title" { "Recent account activity" }
            @if events.is_empty() {
                p class="muted" { "Nothing yet." }
            } @else {
                ol class="activity" {
                    @for (at, what) in &events {
                        @let (iso, shown) = format::date(UNIX_EPOCH + Duration::from_secs(*at));
                        li class="activity__item" {
                            span class="activity__what" { (what) }
                            time class="activity__when" datetime=(iso) { (shown) }
                        }
                    }
                }
            }
        }
    }
}

fn signed_out() -> Markup {
    html! {
        div class="overview__hello overview__hello--signed-out" {
            div class="overview__greeting" {
                h2 id="dashboard-overview-title" class="overview__title" { "You are signed out" }
                p class="overview__lead" { "Sign in to see your plan and your account's activity." }
            }
            div class="overview__actions" {
                (link_button("/accounts", "Sign in or create an account", ButtonKind::Primary))
                (link_button("/pricing", "See plans", ButtonKind::Ghost))
            }
        }
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
    fn greets_the_user_as_new_or_back_or_says_they_are_signed_out() {
        let now = SystemTime::now();
        let secs = now.duration_since(UNIX_EPOCH).unwrap().as_secs();
        let mut ada = UserContext {
            id: 1,
            name: "Ada <b>".into(),
            plan: "pro".into(),
            since: Some(secs - 60),
            changed: None,
        };
        let html = overview(Some(&ada)).into_string();
        assert!(html.contains("Welcome, Ada &lt;b&gt;"), "{html}");
        assert!(html.contains("Pro plan"));
        assert!(html.contains("Recent account activity"));
        assert!(!html.contains("auto-refresh"), "no service figures: {html}");
        ada.since = Some(secs - 3 * 86_400);
        ada.changed = Some(secs - 3600);
        let html = overview(Some(&ada)).into_string();
        assert!(html.contains("Welcome back, Ada &lt;b&gt;"), "{html}");
        assert!(html.contains("You changed your name or plan"));
        let out = overview(None).into_string();
        assert!(out.contains("You are signed out"));
        assert!(out.contains(r#"href="/accounts""#));
    }

    #[test]
    fn the_preview_adds_the_live_figures() {
        let snap = Metrics::new().snapshot();
        let html =
            preview(None, &snap, "/fragments/stats", RefreshInterval::default()).into_string();
        assert!(html.contains(r#"data-auto-refresh-url-value="/fragments/stats""#));
        assert!(html.contains("Service figures"));
    }

    #[test]
    fn plan_labels_are_capitalised() {
        assert_eq!(plan_label("team"), "Team plan");
        assert_eq!(plan_label(""), "No plan");
    }
}
