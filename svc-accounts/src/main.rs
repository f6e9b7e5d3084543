//! svc-accounts binary: the kit's `main` (settings, `healthcheck`, tracing, exit code 2 on a
//! bad setting or a database that cannot be opened, naming it) for
//! [`svc_accounts::Accounts`].

fn main() -> std::process::ExitCode {
    shared_ui::kit::main::<svc_accounts::Accounts>()
}
