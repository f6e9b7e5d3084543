//! The service's settings: the shared ones of `DESIGN.md`, from flags over environment
//! over defaults. [`Settings::resolve`] checks them and names the bad one.

use shared_ui::service::{Common, CommonSettings, SettingError};

use crate::DEFAULT_PORT;

/// The command line of `svc-dashboard`.
#[derive(Debug, clap::Parser)]
#[command(
    name = "svc-dashboard",
    version,
    about = "The dashboard team's fragment server: the signed-in user's home with live figures of the service."
)]
pub struct Settings {
    /// Settings every service shares.
    #[command(flatten)]
    pub common: CommonSettings,
    /// What to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Clone, Copy, clap::Subcommand)]
pub enum Command {
    /// Exit 0 when a service on --port (default 3000) answers /healthz with 200, else 1
    Healthcheck,
}

/// The checked settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address, context secret.
    pub common: Common,
}

impl Settings {
    /// The port `healthcheck` probes.
    pub fn port(&self) -> u16 {
        self.common.port.unwrap_or(DEFAULT_PORT)
    }

    /// Checks every setting.
    pub fn resolve(&self) -> Result<Config, SettingError> {
        Ok(Config {
            common: self.common.resolve(DEFAULT_PORT)?,
        })
    }
}
