//! The command line of `svc-dashboard`: the shared settings of `docs/DESIGN.md` and the
//! `healthcheck` subcommand, from the kit; the service has no settings of its own.

use shared_ui::kit::{Cli, NoSettings};

/// The command line of `svc-dashboard`.
pub type Settings = Cli<NoSettings>;
