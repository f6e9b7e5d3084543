//! Every route of svc-dashboard, listed in [`configure`] so the binary and the tests mount
//! the same ones, and the state they share ([`AppState`]).
//!
//! | route | handler |
//! | --- | --- |
//! | `GET /` | [`preview::preview`]: the standalone preview page |
//! | `GET /manifest.json` | [`manifest::manifest`] |
//! | `GET /fragments/{id}` | [`fragments::fragment`]: `overview`, `stats` |
//! | `GET /assets/{file}` | [`assets::asset`]: `dashboard.css`, `auto-refresh.js` |
//! | `GET /healthz`, `/readyz`, `/assets/shared/{file}` | `shared_ui::service::configure` |

pub mod assets;
pub mod fragments;
pub mod manifest;
pub mod preview;

use actix_web::web;
use sha2::{Digest, Sha256};
use shared_ui::assets::{Asset, AssetSet};
use shared_ui::contract::{ControllerAsset, FragmentSpec, Manifest, ManifestAssets};

use crate::views;

const DASHBOARD_CSS: &[u8] = include_bytes!("../../assets/dashboard.css");
const AUTO_REFRESH_JS: &[u8] = include_bytes!("../../assets/auto-refresh.js");

/// The stylesheet's URL (service-relative).
pub const CSS_URL: &str = "/assets/dashboard.css";
/// The controller's identifier.
pub const AUTO_REFRESH_IDENTIFIER: &str = "auto-refresh";
/// The controller module's URL (service-relative).
pub const AUTO_REFRESH_URL: &str = "/assets/auto-refresh.js";
/// The live figures' path (service-relative); fragments prefix it with the base path.
pub const STATS_PATH: &str = "/fragments/stats";

/// Mounts every route of the service.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", shared_ui::service::read().to(preview::preview))
        .route(
            "/manifest.json",
            shared_ui::service::read().to(manifest::manifest),
        )
        .route(
            "/fragments/{id}",
            shared_ui::service::read().to(fragments::fragment),
        )
        .route(
            "/assets/{file}",
            shared_ui::service::read().to(assets::asset),
        )
        .configure(shared_ui::service::configure);
}

/// What the handlers share: the manifest and the embedded assets. (The figures live in
/// their own app data, [`crate::domain::Metrics`], which the middleware writes.)
#[derive(Debug)]
pub struct AppState {
    /// `<crate version>+<12 hex of sha256(assets)>`: changes when the assets change.
    pub version: String,
    /// The manifest, built once.
    pub manifest: Manifest,
    /// The CSS and the controller.
    pub assets: AssetSet,
}

impl Default for AppState {
    fn default() -> Self {
        Self::new()
    }
}

/// The manifest version for the embedded assets.
pub fn version() -> String {
    let mut hash = Sha256::new();
    for part in [DASHBOARD_CSS, AUTO_REFRESH_JS] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    let digest = hex::encode(hash.finalize());
    format!("{}+{}", env!("CARGO_PKG_VERSION"), &digest[..12])
}

/// The controllers a page with these fragments needs, with URLs under `prefix`.
pub fn controllers(prefix: &str) -> Vec<ControllerAsset> {
    vec![ControllerAsset {
        identifier: AUTO_REFRESH_IDENTIFIER.to_owned(),
        module: format!("{prefix}{AUTO_REFRESH_URL}"),
    }]
}

impl AppState {
    /// The state: version, manifest, assets.
    pub fn new() -> Self {
        let version = version();
        let manifest = Manifest {
            name: crate::SERVICE_NAME.to_owned(),
            version: version.clone(),
            fragments: vec![
                FragmentSpec {
                    id: "overview".to_owned(),
                    path: "/fragments/overview".to_owned(),
                    title: "Overview".to_owned(),
                    fallback: Some(views::fallback::overview().into_string()),
                },
                FragmentSpec {
                    id: "stats".to_owned(),
                    path: STATS_PATH.to_owned(),
                    title: "Live figures".to_owned(),
                    fallback: Some(views::fallback::stats().into_string()),
                },
            ],
            assets: ManifestAssets {
                css: vec![CSS_URL.to_owned()],
                controllers: controllers(""),
            },
            actions: vec![],
        };
        let assets = AssetSet::new(&[
            Asset::revalidated("dashboard.css", DASHBOARD_CSS),
            Asset::revalidated("auto-refresh.js", AUTO_REFRESH_JS),
        ]);
        Self {
            version,
            manifest,
            assets,
        }
    }
}
