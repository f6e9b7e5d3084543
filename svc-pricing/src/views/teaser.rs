//! The `teaser` fragment: a compact upgrade box other pages embed (the dashboard shows it
//! beside the overview). Visitors see the recommended plan; a signed-in user what their
//! plan includes and the plan one tier above theirs, or a thank-you on the top plan.

use maud::{html, Markup};
use shared_ui::components::{link_button, ButtonKind};

use super::short_price;
use crate::domain::{Billing, Catalog, Plan};

/// The fragment. `current` is the signed-in user's plan id, if any.
pub fn teaser(catalog: &Catalog, billing: Billing, current: Option<&str>) -> Markup {
    let current_plan = current.and_then(|id| catalog.find(id)).map(|(_, p)| p);
    match current_plan {
        Some(mine) => match catalog.next_after(mine.id().as_str()) {
            Some(next) => upgrade(next, billing, Some(mine)),
            None => top_plan(mine),
        },
        None => upgrade(catalog.suggested(), billing, None),
    }
}

/// What the signed-in user's plan includes.
fn includes(mine: &Plan) -> Markup {
    html! {
        div class="teaser__mine" {
            p class="teaser__mine-title" { "Your " (mine.name()) " plan includes" }
            ul class="teaser__features" {
                @for feature in mine.features() { li { (feature) } }
            }
        }
    }
}

fn upgrade(plan: &Plan, billing: Billing, mine: Option<&Plan>) -> Markup {
    let heading = if plan.is_free() {
        format!("Get started with {}", plan.name())
    } else {
        format!(
            "Upgrade to {} — {}",
            plan.name(),
            short_price(plan, billing)
        )
    };
    html! {
        aside class="teaser" data-fragment="pricing/teaser" aria-labelledby="pricing-teaser-title" {
            div class="teaser__body" {
                p class="teaser__eyebrow" { "Upgrade" }
                h2 class="teaser__title" id="pricing-teaser-title" { (heading) }
                p class="teaser__text" {
                    @if let Some(mine) = mine { "You are on " (mine.name()) ". " }
                    (plan.tagline())
                }
                @if let Some(first) = plan.features().first() {
                    p class="teaser__highlight" { (first) @if plan.features().len() > 1 { ", and more." } }
                }
                @if let Some(mine) = mine { (includes(mine)) }
            }
            div class="teaser__actions" {
                (link_button("/pricing", "Compare plans", ButtonKind::Primary))
            }
        }
    }
}

fn top_plan(mine: &Plan) -> Markup {
    html! {
        aside class="teaser teaser--top" data-fragment="pricing/teaser" aria-labelledby="pricing-teaser-title" {
            div class="teaser__body" {
                p class="teaser__eyebrow" { "Your plan" }
                h2 class="teaser__title" id="pricing-teaser-title" { "You are on " (mine.name()) ", our top plan" }
                p class="teaser__text" { "Thank you. Everything we make is included." }
                (includes(mine))
            }
            div class="teaser__actions" {
                (link_button("/pricing", "See what is included", ButtonKind::Secondary))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::parse(crate::BUILT_IN_CATALOG).unwrap()
    }

    #[test]
    fn visitors_see_the_recommended_plan_and_users_the_next_one_up() {
        let c = catalog();
        let anon = teaser(&c, Billing::Monthly, None).into_string();
        assert!(anon.contains("Upgrade to Pro — $12/mo"), "{anon}");
        let starter = teaser(&c, Billing::Monthly, Some("starter")).into_string();
        assert!(starter.contains("Upgrade to Pro — $12/mo"));
        assert!(starter.contains("You are on Starter."));
        assert!(starter.contains("Your Starter plan includes"), "{starter}");
        assert!(starter.contains("<li>1 project</li>"), "{starter}");
        let pro = teaser(&c, Billing::Yearly, Some("pro")).into_string();
        assert!(pro.contains("Upgrade to Team — $290/yr"), "{pro}");
        let team = teaser(&c, Billing::Monthly, Some("team")).into_string();
        assert!(team.contains("our top plan"));
    }
}
