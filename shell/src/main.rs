//! `shell`: read the settings, answer `healthcheck` or `check URL`, or build and run the
//! server ([`shared_ui::server::main`]). A bad setting (including a bad registry entry)
//! exits with code 2 and a message naming it.

use std::process::ExitCode;

use clap::Parser;
use shell::settings::{Command, Settings};
use shell::startup::Application;

fn main() -> ExitCode {
    let settings = Settings::parse();
    match &settings.command {
        Some(Command::Healthcheck) => {
            shared_ui::health::healthcheck(settings.common.bind, settings.port())
        }
        Some(Command::Check {
            url,
            strict,
            context_secret,
        }) => shell::check::run(
            url,
            &shell::check::Options {
                strict: *strict,
                context_secret: context_secret.clone(),
            },
        ),
        None => shared_ui::server::main("shell", async move {
            Ok(Application::build(settings).await?.run_until_stopped())
        }),
    }
}
