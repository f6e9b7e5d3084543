//! Every route of svc-pricing, listed in [`configure`] so the binary and the tests mount the
//! same ones, and the state they share ([`AppState`]).
//!
//! | route | handler |
//! | --- | --- |
//! | `GET /` | [`preview::preview`]: the standalone preview page |
//! | `GET /manifest.json` | [`manifest::manifest`] |
//! | `GET /fragments/{id}` | [`fragments::fragment`]: `plans`, `teaser` |
//! | `GET /assets/{file}` | [`assets::asset`]: `pricing.css`, `pricing-toggle.js` |
//! | `GET /healthz`, `/readyz`, `/assets/shared/{file}` | `shared_ui::service::configure` |

pub mod assets;
pub mod fragments;
pub mod manifest;
pub mod preview;

use actix_web::web;
use sha2::{Digest, Sha256};
use shared_ui::assets::{Asset, AssetSet};
use shared_ui::contract::{ControllerAsset, FragmentSpec, Manifest, ManifestAssets};

use crate::domain::Catalog;
use crate::views;

const PRICING_CSS: &[u8] = include_bytes!("../../assets/pricing.css");
const PRICING_TOGGLE_JS: &[u8] = include_bytes!("../../assets/pricing-toggle.js");

/// The stylesheet's URL (service-relative).
pub const CSS_URL: &str = "/assets/pricing.css";
/// The controller's identifier.
pub const TOGGLE_IDENTIFIER: &str = "pricing-toggle";
/// The controller module's URL (service-relative).
pub const TOGGLE_URL: &str = "/assets/pricing-toggle.js";

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

/// What the handlers share: the catalogue, the manifest and the embedded assets.
#[derive(Debug)]
pub struct AppState {
    /// The plans on offer.
    pub catalog: Catalog,
    /// `<crate version>+<12 hex of sha256(assets, catalogue)>`: changes on every redeploy
    /// that changes what the fragments look like.
    pub version: String,
    /// The manifest, built once.
    pub manifest: Manifest,
    /// The CSS and the controller.
    pub assets: AssetSet,
}

/// The manifest version for a catalogue text and the embedded assets.
pub fn version_of(catalog_source: &str) -> String {
    let mut hash = Sha256::new();
    for part in [PRICING_CSS, PRICING_TOGGLE_JS, catalog_source.as_bytes()] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    let digest = hex::encode(hash.finalize());
    format!("{}+{}", env!("CARGO_PKG_VERSION"), &digest[..12])
}

/// The controllers a page with these fragments needs, with URLs under `prefix`.
pub fn controllers(prefix: &str) -> Vec<ControllerAsset> {
    vec![ControllerAsset {
        identifier: TOGGLE_IDENTIFIER.to_owned(),
        module: format!("{prefix}{TOGGLE_URL}"),
    }]
}

impl AppState {
    /// The state for a catalogue (and its text, for the version).
    pub fn new(catalog: Catalog, catalog_source: &str) -> Self {
        let version = version_of(catalog_source);
        let manifest = Manifest {
            name: crate::SERVICE_NAME.to_owned(),
            version: version.clone(),
            fragments: vec![
                FragmentSpec {
                    id: "plans".to_owned(),
                    path: "/fragments/plans".to_owned(),
                    title: "Plans".to_owned(),
                    fallback: Some(views::fallback::plans(&catalog).into_string()),
                },
                FragmentSpec {
                    id: "teaser".to_owned(),
                    path: "/fragments/teaser".to_owned(),
                    title: "Upgrade".to_owned(),
                    fallback: Some(views::fallback::teaser().into_string()),
                },
            ],
            assets: ManifestAssets {
                css: vec![CSS_URL.to_owned()],
                controllers: controllers(""),
            },
            actions: vec![],
        };
        let assets = AssetSet::new(&[
            Asset::revalidated("pricing.css", PRICING_CSS),
            Asset::revalidated("pricing-toggle.js", PRICING_TOGGLE_JS),
        ]);
        Self {
            catalog,
            version,
            manifest,
            assets,
        }
    }
}
