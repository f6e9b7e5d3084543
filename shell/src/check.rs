//! `shell check URL`: checks any fragment server, in any language, against the contract of
//! `DESIGN.md` and reports one line per check.
//!
//! The checks live in `shared_ui::contract::check`, so that a team's contract test
//! (`shared_ui::testkit::assert_contract`) runs the very same code as this subcommand.

pub use shared_ui::contract::check::{check, Check, Report};
