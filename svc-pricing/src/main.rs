//! `svc-pricing`: read the settings, answer `healthcheck`, or build and run the server.
//! A bad setting (including a bad catalogue) exits with code 2 and a message naming it.

use std::process::ExitCode;

use clap::Parser;
use svc_pricing::error::Error;
use svc_pricing::settings::{Command, Settings};
use svc_pricing::startup::Application;

fn main() -> ExitCode {
    let settings = Settings::parse();
    if let Some(Command::Healthcheck) = settings.command {
        return shared_ui::service::healthcheck(settings.port());
    }
    shared_ui::service::init_tracing();
    actix_web::rt::System::new().block_on(async move {
        let app = match Application::build(settings).await {
            Ok(app) => app,
            Err(Error::Setting(e)) => {
                eprintln!("svc-pricing: {e}");
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("svc-pricing: {e}");
                return ExitCode::FAILURE;
            }
        };
        match app.run_until_stopped().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "server stopped with an error");
                ExitCode::FAILURE
            }
        }
    })
}
