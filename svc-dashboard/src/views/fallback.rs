//! The static HTML the manifest offers as each fragment's `fallback`: what the shell shows
//! when this service cannot answer in time. Only shared-ui classes (this service's CSS may
//! be unreachable too).

use maud::{html, Markup};

/// The `overview` fallback: where to go meanwhile.
pub fn overview() -> Markup {
    html! {
        section class="card" data-fragment="dashboard/overview" {
            h2 class="card__title" { "Your dashboard" }
            p { "The dashboard cannot be shown right now; your account and our plans still work." }
            p { a href="/accounts" { "Your account" } " · " a href="/pricing" { "Plans" } " · " a href="/dashboard" { "Try again" } }
        }
    }
}

/// The `stats` fallback.
pub fn stats() -> Markup {
    html! {
        div class="stats" data-fragment="dashboard/stats" {
            p class="muted" { "Live figures are unavailable right now." }
        }
    }
}
