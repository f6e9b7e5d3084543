//! svc-accounts over real HTTP: one test binary, one app and one database file per test.

mod bad_input;
mod concurrency;
mod contract;
mod cors;
mod csrf;
mod durability;
mod flows;
mod helpers;
mod rate_limit;
mod recovery;
