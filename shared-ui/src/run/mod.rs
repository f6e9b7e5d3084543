//! How a service runs; the modules are named at the crate root (see the crate doc).

pub mod admin;
pub mod compress;
pub mod context;
pub mod contract;
pub mod cors;
pub mod guard;
pub mod headers;
pub mod health;
pub mod kit;
pub mod logging;
pub mod metrics;
pub mod otlp;
pub mod proxies;
pub mod request_id;
pub mod respond;
pub mod security;
pub mod server;
pub mod settings;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod trace;
