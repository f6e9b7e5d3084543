//! `svc-pricing`: the kit's `main` (settings, `healthcheck`, tracing, exit code 2 on a bad
//! setting, including a bad catalogue) for [`svc_pricing::Pricing`].

fn main() -> std::process::ExitCode {
    shared_ui::kit::main::<svc_pricing::Pricing>()
}
