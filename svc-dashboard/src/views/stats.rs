//! The `stats` fragment: the service's live figures in two shared-ui cards, a figure list
//! and a latency table. It has no element ids and uses `h2` card titles, so it can stand
//! alone in a slot or sit inside the overview, refreshed by `auto-refresh`.

use maud::{html, Markup};
use shared_ui::components::{card, table};

use super::format;
use crate::domain::{LatencyWindow, Snapshot};

/// The fragment. The root carries the request count (`data-requests`) for scripts and
/// tests.
pub fn stats(s: &Snapshot) -> Markup {
    let (updated_iso, updated) = format::clock(s.taken_at);
    let (_, started) = format::clock(s.started_at);
    html! {
        div class="stats" data-fragment="dashboard/stats" data-requests=(s.requests) {
            div class="stats__cards" {
                (card(Some("Service figures"), html! {
                    dl class="stats__figures" {
                        (figure("Requests served", "requests", &format::count(s.requests), "since start"))
                        (figure("Fragments served", "fragments", &format::count(s.fragments), "overview and live figures"))
                        (figure("Uptime", "uptime", &format::uptime(s.uptime), &format!("since {started}")))
                        (figure("Server errors", "errors", &format::count(s.server_errors), "answers with a 5xx status"))
                    }
                }))
                (card(Some("Latency"), latency_table(s)))
            }
            p class="stats__updated" {
                "Updated " time datetime=(updated_iso) { (updated) }
            }
        }
    }
}

fn figure(label: &str, key: &str, value: &str, hint: &str) -> Markup {
    html! {
        div class="stat" {
            dt class="stat__label" { (label) }
            dd class="stat__value" data-stat=(key) { (value) }
            dd class="stat__hint" { (hint) }
        }
    }
}

fn latency_table(s: &Snapshot) -> Markup {
    let window_min = LatencyWindow::MAX_AGE.as_secs() / 60;
    match &s.latency {
        Some(p) => {
            let requests = match p.count {
                1 => "request".to_owned(),
                n => format!("{} requests", format::count(n as u64)),
            };
            let caption = format!(
                "Time spent in this service over the last {requests} (at most {} within {window_min} minutes)",
                format::count(LatencyWindow::CAPACITY as u64),
            );
            let row = |name: &str, what: &str, d| {
                vec![
                    html! { span class="stat__pct" data-percentile=(name) { (name) } },
                    html! { (what) },
                    html! { (format::latency(d)) },
                ]
            };
            table(
                &caption,
                &["Percentile", "Meaning", "Time"],
                &[
                    row("p50", "half of the requests were faster", p.p50),
                    row("p95", "all but 1 in 20 were faster", p.p95),
                    row("p99", "all but 1 in 100 were faster", p.p99),
                    row("max", "the slowest request", p.max),
                ],
            )
        }
        None => html! {
            p class="muted" { "No requests in the last " (window_min) " minutes yet." }
        },
    }
}
