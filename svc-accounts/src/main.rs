//! svc-accounts binary: read settings, then build and run the application.

use std::process::ExitCode;

use clap::Parser;
use svc_accounts::settings::{Command, Settings, DEFAULT_PORT};
use svc_accounts::startup::Application;

#[actix_web::main]
async fn main() -> ExitCode {
    let settings = Settings::parse();
    if let Some(Command::Healthcheck) = settings.command {
        let port = settings.common.port.unwrap_or(DEFAULT_PORT);
        return shared_ui::service::healthcheck(port);
    }
    shared_ui::service::init_tracing();
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %e, "svc-accounts cannot start");
            eprintln!("svc-accounts: {e}");
            return ExitCode::from(2);
        }
    };
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("svc-accounts: server error: {e}");
            ExitCode::FAILURE
        }
    }
}
