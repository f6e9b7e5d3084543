//! The `plans` fragment: one card per plan, and a billing toggle.
//!
//! The server renders both prices of every plan; the `pricing-toggle` controller only
//! switches which set is shown (the other carries `hidden`). Each set names the other
//! price too ("or $120 billed yearly"), so with JavaScript off both stay readable, and the
//! toggle is a radio group in a GET form: without JavaScript, "Show prices" reloads the
//! page with `?billing=yearly`.

use maud::{html, Markup};
use shared_ui::components::{badge, link_button, ButtonKind, Tone};

use crate::domain::{Billing, Catalog, Plan};

/// The fragment. `current` is the signed-in user's plan id, if any.
pub fn plans(catalog: &Catalog, billing: Billing, current: Option<&str>) -> Markup {
    html! {
        section class="pricing" data-fragment="pricing/plans" aria-labelledby="pricing-plans-title"
            data-controller="pricing-toggle" data-pricing-toggle-billing-value=(billing.as_str()) {
            div class="pricing__intro" {
                h2 id="pricing-plans-title" { "Plans that grow with you" }
                p class="pricing__lead" { "Start free, upgrade when your team needs more, switch or cancel any time." }
            }
            (toggle(billing, catalog.best_yearly_savings_percent()))
            p class="visually-hidden" aria-live="polite" data-pricing-toggle-target="status" {}
            ul class="pricing__plans" {
                @for plan in catalog.plans() {
                    li { (card(plan, billing, current)) }
                }
            }
            p class="pricing__footnote" {
                "Prices in " (catalog.currency().code()) ", before tax. Yearly plans are billed once a year."
            }
        }
    }
}

/// The monthly/yearly radio group, in a form that also works without JavaScript.
fn toggle(billing: Billing, best_savings: Option<u64>) -> Markup {
    html! {
        form class="billing-toggle" method="get"
            data-action="change->pricing-toggle#change submit->pricing-toggle#submit" {
            fieldset class="segmented" {
                legend class="visually-hidden" { "Billing period" }
                div class="segmented__track" {
                    @for option in [Billing::Monthly, Billing::Yearly] {
                        @let id = format!("pricing-billing-{}", option.as_str());
                        input class="segmented__input" type="radio" name="billing" id=(id)
                            value=(option.as_str()) checked[option == billing]
                            data-pricing-toggle-target="option";
                        label class="segmented__option" for=(id) {
                            @match option {
                                Billing::Monthly => "Monthly",
                                Billing::Yearly => {
                                    "Yearly"
                                    @if let Some(p) = best_savings {
                                        " " span class="segmented__save" { "save up to " (p) "%" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            button class="btn btn--secondary billing-toggle__apply" type="submit"
                data-pricing-toggle-target="apply" { "Show prices" }
        }
    }
}

/// One plan's card.
fn card(plan: &Plan, billing: Billing, current: Option<&str>) -> Markup {
    let is_current = current == Some(plan.id().as_str());
    let name_id = format!("pricing-plan-{}", plan.id());
    html! {
        article class={ "plan" @if plan.is_recommended() && !is_current { " plan--recommended" } @if is_current { " plan--current" } }
            aria-labelledby=(name_id) aria-current=[is_current.then_some("true")] data-plan=(plan.id()) {
            div class="plan__head" {
                h3 class="plan__name" id=(name_id) { (plan.name()) }
                @if is_current {
                    (badge("Current plan", Tone::Success))
                } @else if plan.is_recommended() {
                    (badge("Most popular", Tone::Info))
                }
            }
            @if !plan.tagline().is_empty() { p class="plan__tagline" { (plan.tagline()) } }
            (price(plan, Billing::Monthly, billing))
            (price(plan, Billing::Yearly, billing))
            div class="plan__cta" {
                @if is_current {
                    span class="btn plan__yours" { "Your plan" }
                } @else {
                    @let kind = if plan.is_recommended() { ButtonKind::Primary } else { ButtonKind::Secondary };
                    @let label = if plan.is_free() && current.is_none() { format!("Start with {}", plan.name()) } else { format!("Choose {}", plan.name()) };
                    (link_button(&format!("/accounts?plan={}", plan.id()), &label, kind))
                }
            }
            ul class="plan__features" aria-label={ (plan.name()) " includes" } {
                @for feature in plan.features() { li { (feature) } }
            }
        }
    }
}

/// One billing period's price block; hidden unless it is the shown period.
fn price(plan: &Plan, period: Billing, shown: Billing) -> Markup {
    html! {
        div class="plan__price" data-pricing-toggle-target="price" data-billing=(period.as_str()) hidden[period != shown] {
            @if plan.is_free() {
                p class="plan__amount" { span class="plan__figure" { "Free" } }
                p class="plan__note" { "Free forever, no card needed." }
            } @else {
                @match period {
                    Billing::Monthly => {
                        p class="plan__amount" {
                            span class="plan__figure" { (plan.monthly()) }
                            " " span class="plan__period" { "per month" }
                        }
                        p class="plan__note" {
                            "or " (plan.yearly()) " billed yearly"
                            @if let Some(p) = plan.yearly_savings_percent() { " (save " (p) "%)" }
                        }
                    }
                    Billing::Yearly => {
                        p class="plan__amount" {
                            span class="plan__figure" { (plan.yearly()) }
                            " " span class="plan__period" { "per year" }
                        }
                        p class="plan__note" {
                            (plan.yearly().per_month()) "/mo billed yearly, or " (plan.monthly()) " billed monthly"
                        }
                    }
                }
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
    fn both_prices_are_rendered_and_only_the_chosen_one_is_shown() {
        let html = plans(&catalog(), Billing::Yearly, None).into_string();
        assert!(html.contains(r#"data-billing="monthly" hidden"#), "{html}");
        assert!(!html.contains(r#"data-billing="yearly" hidden"#));
        assert!(html.contains("$120"));
        assert!(html.contains("$12"));
        assert!(html.contains("or $120 billed yearly (save 17%)"));
        assert!(html.contains(r#"value="yearly" checked"#));
    }

    #[test]
    fn the_current_plan_is_marked_and_not_offered() {
        let html = plans(&catalog(), Billing::Monthly, Some("pro")).into_string();
        assert!(
            html.contains(r#"aria-current="true" data-plan="pro""#),
            "{html}"
        );
        assert!(html.contains("Current plan"));
        assert!(html.contains("Your plan"));
        assert!(!html.contains("/accounts?plan=pro"));
        assert!(html.contains(r#"href="/accounts?plan=team""#));
    }
}
