//! `shell check [--strict] URL`: checks any fragment server, in any language, against the
//! contract of `docs/CONTRACT.md` and reports one line per check; `--strict` checks everything
//! visible from outside, and passing it is the definition of joining.
//!
//! The checks live in `shared_ui::contract::check`, so that a team's contract test
//! (`shared_ui::testkit::assert_contract`) runs the very same code as this subcommand.

use std::io::Write;
use std::process::ExitCode;

pub use shared_ui::contract::check::{check, check_with, Check, Options, Report};

/// The subcommand: checks the server at `url`, prints the report and exits 1 when a check
/// failed.
pub fn run(url: &str, options: &Options) -> ExitCode {
    let report = actix_web::rt::System::new().block_on(check_with(url, options));
    // The report is the command's output, meant for a person at a terminal.
    #[allow(clippy::print_stdout)]
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{report}");
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
