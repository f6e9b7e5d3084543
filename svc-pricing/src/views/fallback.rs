//! The static HTML the manifest offers as each fragment's `fallback`: what the shell shows
//! when this service cannot answer in time. It uses only shared-ui classes (this service's
//! CSS may be unreachable too) and is built once from the catalogue.

use maud::{html, Markup};

use super::short_price;
use crate::domain::{Billing, Catalog};

/// The `plans` fallback: the plan names and starting prices, and a way to retry.
pub fn plans(catalog: &Catalog) -> Markup {
    html! {
        section class="card" data-fragment="pricing/plans" {
            h2 class="card__title" { "See our plans" }
            p {
                "Our plans cannot be shown in full right now. "
                @for (i, plan) in catalog.plans().iter().enumerate() {
                    @if i > 0 { ", " }
                    strong { (plan.name()) } " " (short_price(plan, Billing::Monthly))
                }
                "."
            }
            p { a href="/pricing" { "Try the pricing page again" } }
        }
    }
}

/// The `teaser` fallback: a plain link to the plans.
pub fn teaser() -> Markup {
    html! {
        aside class="card" data-fragment="pricing/teaser" {
            h2 class="card__title" { "Upgrade" }
            p { "More projects, more teammates, faster support." }
            a class="btn btn--secondary" href="/pricing" { "See our plans" }
        }
    }
}
