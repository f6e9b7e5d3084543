//! What svc-dashboard declares to the kit, in [`service`]: its fragments and their handlers,
//! its assets, its preview, its state ([`Metrics`]) and the observer that fills it. The kit
//! mounts them beside `GET /manifest.json`, `/healthz`, `/readyz` and `/assets/…`.
//!
//! | route | handler |
//! | --- | --- |
//! | `GET /` | [`preview::preview`]: the standalone preview page's content |
//! | `GET /fragments/overview` | [`fragments::overview`] |
//! | `GET /fragments/stats` | [`fragments::stats`] |
//! | `GET /assets/{file}` | the kit: `dashboard.css`, `auto-refresh.js` |

pub mod fragments;
pub mod preview;

use actix_web::http::Method;
use actix_web::web;
use shared_ui::kit::Service;

use crate::domain::metrics::Outcome;
use crate::domain::Metrics;
use crate::views;

const DASHBOARD_CSS: &[u8] = include_bytes!("../../assets/dashboard.css");
const AUTO_REFRESH_JS: &[u8] = include_bytes!("../../assets/auto-refresh.js");

/// The controller's identifier.
pub const AUTO_REFRESH_IDENTIFIER: &str = "auto-refresh";
/// The live figures' path (service-relative); fragments prefix it with the base path.
pub const STATS_PATH: &str = "/fragments/stats";

/// The service; its version is `<crate version>+<12 hex of sha256(assets)>`.
pub fn service() -> Service {
    let metrics = web::Data::new(Metrics::new());
    let recorded = metrics.clone();
    Service::new(crate::SERVICE_NAME, env!("CARGO_PKG_VERSION"))
        .fragment("overview", "Overview", fragments::overview)
        .fallback(views::fallback::overview().into_string())
        .fragment_at("stats", STATS_PATH, "Live figures", fragments::stats)
        .fallback(views::fallback::stats().into_string())
        .css("dashboard.css", DASHBOARD_CSS)
        .controller(AUTO_REFRESH_IDENTIFIER, "auto-refresh.js", AUTO_REFRESH_JS)
        .preview(
            "Dashboard",
            "svc-dashboard on its own. In the product the shell composes this overview into its pages.",
        )
        .preview_with(preview::preview)
        .app_data(metrics)
        // Every answered request counts, and its duration (from the request reaching the
        // service to the answer's head leaving it) goes into the window.
        .observe(move |o| {
            let fragment = o.method == Method::GET && o.path.starts_with("/fragments/");
            let status = o.status.as_u16();
            recorded.record(
                Outcome {
                    status,
                    fragment: fragment && status == 200,
                },
                o.elapsed,
            );
        })
}
