//! `shell`: read the settings, answer `healthcheck` or `check URL`, or build and run the
//! server. A bad setting (including a bad registry entry) exits with code 2 and a message
//! naming it.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use shell::error::StartError;
use shell::settings::{Command, Settings};
use shell::startup::Application;

fn main() -> ExitCode {
    let settings = Settings::parse();
    match &settings.command {
        Some(Command::Healthcheck) => {
            return shared_ui::service::healthcheck(settings.port());
        }
        Some(Command::Check { url }) => {
            let url = url.clone();
            let report = actix_web::rt::System::new().block_on(shell::check::check(&url));
            // The report is the command's output, meant for a person at a terminal.
            #[allow(clippy::print_stdout)]
            {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{report}");
            }
            return if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            };
        }
        None => {}
    }
    shared_ui::service::init_tracing();
    actix_web::rt::System::new().block_on(async move {
        let app = match Application::build(settings).await {
            Ok(app) => app,
            Err(StartError::Setting(e)) => {
                eprintln!("shell: {e}");
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("shell: {e}");
                return ExitCode::FAILURE;
            }
        };
        let stopped = app.run_until_stopped().await;
        shared_ui::otlp::flush();
        match stopped {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "server stopped with an error");
                ExitCode::FAILURE
            }
        }
    })
}
