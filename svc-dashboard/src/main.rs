//! `svc-dashboard`: the kit's `main` (settings, `healthcheck`, tracing, exit code 2 on a bad
//! setting) for [`svc_dashboard::Dashboard`].

fn main() -> std::process::ExitCode {
    shared_ui::kit::main::<svc_dashboard::Dashboard>()
}
