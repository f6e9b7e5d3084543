//! `cargo` run by a test as from a terminal.
//!
//! cargo and nextest set variables for a test process (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*`,
//! ...) that a terminal does not have. A cargo run by the test inherits them, and a build
//! script that reads one (ring's reads `CARGO_MANIFEST_DIR`) then sees a change: its crate
//! and every crate above it (rustls, reqwest, shared-ui, the services, this crate) rebuild
//! in the shared build folder, and the next plain `cargo build` or `cargo nextest run`
//! rebuilds them back (two minutes in CI's container stage). [`as_from_a_terminal`]
//! removes them from a command.
//!
//! cargo also judges a source file by its modification time: every crate built through
//! clippy-driver (scripts/test's linted build) depends on the workspace's Cargo.toml by its
//! time. A test that rewrites or copies a file puts its time back with [`set_modified`], so
//! the next cargo run does not rebuild the workspace.

use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

/// Whether `name` is one of the variables cargo sets for this test process (not a setting
/// of the user's).
pub fn set_by_cargo_for_the_test(name: &str) -> bool {
    const PREFIXES: [&str; 2] = ["CARGO_PKG_", "CARGO_BIN_EXE_"];
    const NAMES: [&str; 6] = [
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_CRATE_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "CARGO_RUSTC_CURRENT_DIR",
    ];
    NAMES.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Removes from `command` every variable cargo set for this test process.
pub fn as_from_a_terminal(command: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(set_by_cargo_for_the_test) {
            command.env_remove(name);
        }
    }
    command
}

/// Sets `path`'s modification time to `time` (cargo compares files by it).
pub fn set_modified(path: &Path, time: SystemTime) -> std::io::Result<()> {
    std::fs::File::options()
        .write(true)
        .open(path)?
        .set_modified(time)
}
