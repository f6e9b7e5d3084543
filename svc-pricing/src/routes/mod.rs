//! What svc-pricing declares to the kit, in [`service`]: its fragments and their handlers,
//! its assets, its preview and its state (the [`Catalog`]). The kit mounts them beside
//! `GET /manifest.json`, `/healthz`, `/readyz` and `/assets/…`.
//!
//! | route | handler |
//! | --- | --- |
//! | `GET /` | [`preview::preview`]: the standalone preview page's content |
//! | `GET /fragments/plans` | [`fragments::plans`] |
//! | `GET /fragments/teaser` | [`fragments::teaser`] |
//! | `GET /assets/{file}` | the kit: `pricing.css`, `pricing-toggle.js` |

pub mod fragments;
pub mod preview;

use shared_ui::kit::Service;

use crate::domain::Catalog;
use crate::views;

const PRICING_CSS: &[u8] = include_bytes!("../../assets/pricing.css");
const PRICING_TOGGLE_JS: &[u8] = include_bytes!("../../assets/pricing-toggle.js");

/// The controller's identifier.
pub const TOGGLE_IDENTIFIER: &str = "pricing-toggle";

/// The service for a catalogue (and its text, which the version hashes after the assets:
/// `<crate version>+<12 hex of sha256(assets, catalogue)>`).
pub fn service(catalog: Catalog, catalog_source: &str) -> Service {
    Service::new(crate::SERVICE_NAME, env!("CARGO_PKG_VERSION"))
        .fragment("plans", "Plans", fragments::plans)
        .fallback(views::fallback::plans(&catalog).into_string())
        .fragment("teaser", "Upgrade", fragments::teaser)
        .fallback(views::fallback::teaser().into_string())
        .css("pricing.css", PRICING_CSS)
        .controller(TOGGLE_IDENTIFIER, "pricing-toggle.js", PRICING_TOGGLE_JS)
        .version_input(catalog_source)
        .preview(
            "Pricing",
            "svc-pricing on its own. In the product the shell composes these fragments into its pages.",
        )
        .preview_with(preview::preview)
        .state(catalog)
}
