//! `launcher new-team NAME`: a new Rust team from `examples/minimal-rust`.

use std::path::Path;

/// The arguments of `new-team`.
#[derive(Debug, clap::Args)]
pub struct NewTeam {
    /// The team's service name (a-z, 0-9, '-'; the crate is `svc-NAME`)
    pub name: String,
}

/// Creates the team; the report lists what changed.
pub fn run(_root: &Path, _team: &NewTeam) -> Result<String, String> {
    Err("not built yet".to_owned())
}
