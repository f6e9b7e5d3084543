//! [`Application::build`]: the kit's application for svc-pricing from its command line
//! (port 0 picks a free one, as the tests do).

use shared_ui::kit;
use shared_ui::server::StartError;

use crate::settings::Settings;
use crate::Pricing;

/// Builds svc-pricing's [`kit::Application`] (bound, not yet running).
#[derive(Debug)]
pub struct Application;

impl Application {
    /// Checks the settings, declares the service and binds the listener.
    pub async fn build(settings: Settings) -> Result<kit::Application, StartError> {
        kit::Application::build::<Pricing>(settings).await
    }
}
