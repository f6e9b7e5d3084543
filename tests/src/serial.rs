//! One heavy test at a time, whatever runs the tests.
//!
//! The tests that drive Chromium or start whole stacks of processes under load (the
//! browser tests, the Python team, the replicas, the faults and hostile clients, the
//! Prometheus alerts, the metrics-and-traces test) overload a 2-core machine when they
//! run together. nextest keeps them apart (`heavy` in `.config/nextest.toml`); a plain
//! `cargo test --workspace` runs a binary's tests on parallel threads, so each of those
//! tests also holds [`heavy`]: an exclusive lock on a file in the build folder, which
//! serialises them across threads and test processes alike (one lock per build folder,
//! so separate checkouts do not wait for each other). The lock goes with the process.

use std::fs::{File, OpenOptions};
use std::path::PathBuf;

/// Held for the whole of a heavy test; dropping it lets the next one start.
#[must_use = "the lock is released when this is dropped: bind it to `_heavy`"]
pub struct Heavy {
    _file: File,
}

/// Where a lock lives: beside the test binary (`target/debug/deps/`), so every test
/// binary of one build folder shares it.
fn lock_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.parent()
        .map_or_else(std::env::temp_dir, PathBuf::from)
        .join(format!("mf-tests-{name}.lock"))
}

/// Waits until no other heavy test runs, then holds the lock until the guard is dropped.
pub fn heavy() -> Heavy {
    lock("heavy")
}

/// Held while a test changes the checkout's workspace (the scaffold test adds a crate for a
/// while) or runs cargo on it and must not see such a change (`lean_build`): those tests
/// wait for each other, and for nothing else, so a long cargo build need not hold
/// [`heavy`] and stop the heavy tests behind it.
pub fn checkout() -> Heavy {
    lock("checkout")
}

/// An exclusive lock on `mf-tests-NAME.lock`, held until the guard is dropped.
fn lock(name: &str) -> Heavy {
    let path = lock_path(name);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("cannot open the heavy-test lock {}: {e}", path.display()));
    file.lock()
        .unwrap_or_else(|e| panic!("cannot lock {}: {e}", path.display()));
    Heavy { _file: file }
}
