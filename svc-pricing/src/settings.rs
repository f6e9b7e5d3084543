//! The service's own setting, the catalogue, flattened by the kit beside the shared ones of
//! `docs/DESIGN.md` (`shared_ui::kit::Cli`). [`PricingSettings::catalog`] checks it and names it.

use std::path::PathBuf;

use shared_ui::kit::Cli;
use shared_ui::settings::SettingError;

use crate::domain::Catalog;
use crate::BUILT_IN_CATALOG;

/// The command line of `svc-pricing`: the shared settings, the catalogue, `healthcheck`.
pub type Settings = Cli<PricingSettings>;

/// The settings of svc-pricing alone.
#[derive(Debug, Clone, clap::Args)]
pub struct PricingSettings {
    /// A plans catalogue (TOML) to serve instead of the built-in one
    #[arg(long, env = "PRICING_CATALOG", value_name = "PATH")]
    pub catalog: Option<PathBuf>,
}

const CATALOG_SETTING: &str = "--catalog / PRICING_CATALOG";

impl PricingSettings {
    /// The catalogue and its text (which goes into the manifest version); a bad catalogue
    /// is refused with the field it got wrong.
    pub fn catalog(&self) -> Result<(Catalog, String), SettingError> {
        let source = match &self.catalog {
            None => BUILT_IN_CATALOG.to_owned(),
            Some(path) => std::fs::read_to_string(path).map_err(|e| {
                SettingError::new(
                    CATALOG_SETTING,
                    format!("cannot read {}: {e}", path.display()),
                )
            })?,
        };
        let catalog = Catalog::parse(&source)
            .map_err(|e| SettingError::new(CATALOG_SETTING, e.to_string()))?;
        Ok((catalog, source))
    }
}
