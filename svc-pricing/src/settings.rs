//! The service's settings: the shared ones of `DESIGN.md` plus the catalogue, from flags
//! over environment over defaults. [`Settings::resolve`] checks them all and names the bad
//! one.

use std::path::PathBuf;

use shared_ui::service::{Common, CommonSettings, SettingError};

use crate::domain::Catalog;
use crate::{BUILT_IN_CATALOG, DEFAULT_PORT};

/// The command line of `svc-pricing`.
#[derive(Debug, clap::Parser)]
#[command(
    name = "svc-pricing",
    version,
    about = "The pricing team's fragment server: plans, a monthly/yearly toggle, an upgrade teaser."
)]
pub struct Settings {
    /// Settings every service shares.
    #[command(flatten)]
    pub common: CommonSettings,
    /// A plans catalogue (TOML) to serve instead of the built-in one
    #[arg(long, env = "PRICING_CATALOG", value_name = "PATH")]
    pub catalog: Option<PathBuf>,
    /// What to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Clone, Copy, clap::Subcommand)]
pub enum Command {
    /// Exit 0 when a service on --port (default 1313) answers /healthz with 200, else 1
    Healthcheck,
}

/// The checked settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address, context secret.
    pub common: Common,
    /// The plans on offer.
    pub catalog: Catalog,
    /// The catalogue's text, which goes into the manifest version.
    pub catalog_source: String,
}

const CATALOG_SETTING: &str = "--catalog / PRICING_CATALOG";

impl Settings {
    /// The port `healthcheck` probes.
    pub fn port(&self) -> u16 {
        self.common.port.unwrap_or(DEFAULT_PORT)
    }

    /// Checks every setting; a bad catalogue is refused with the field it got wrong.
    pub fn resolve(&self) -> Result<Config, SettingError> {
        let common = self.common.resolve(DEFAULT_PORT)?;
        let catalog_source = match &self.catalog {
            None => BUILT_IN_CATALOG.to_owned(),
            Some(path) => std::fs::read_to_string(path).map_err(|e| {
                SettingError::new(
                    CATALOG_SETTING,
                    format!("cannot read {}: {e}", path.display()),
                )
            })?,
        };
        let catalog = Catalog::parse(&catalog_source)
            .map_err(|e| SettingError::new(CATALOG_SETTING, e.to_string()))?;
        Ok(Config {
            common,
            catalog,
            catalog_source,
        })
    }
}
