//! maud views: small functions returning `Markup`, composed from shared-ui components.
//!
//! - [`plans`]: the `plans` fragment (cards, the billing toggle, prices).
//! - [`teaser`]: the `teaser` fragment (a compact upgrade box).
//! - [`fallback`]: the static HTML the manifest offers when the service cannot answer.
//! - [`preview`]: the standalone preview's content (the kit draws the page around it).
//!
//! Element ids carry a `pricing-` prefix so they stay unique on a page composed of several
//! teams' fragments; headings start at `h2` because the page around a fragment owns the
//! `h1`.

pub mod fallback;
pub mod plans;
pub mod preview;
pub mod teaser;

use crate::domain::{Billing, Plan};

/// A plan's price in short form: `Free`, `$12/mo`, `$120/yr`.
pub fn short_price(plan: &Plan, billing: Billing) -> String {
    if plan.is_free() {
        return "Free".to_owned();
    }
    match billing {
        Billing::Monthly => format!("{}/mo", plan.monthly()),
        Billing::Yearly => format!("{}/yr", plan.yearly()),
    }
}
