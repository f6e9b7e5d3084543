//! How a service runs: response compression, the contract, the signed context, the
//! bootstrap pieces, the guard, metrics and trace context, the service kit built from them,
//! and the test kit.

pub mod compress;
pub mod context;
pub mod contract;
pub mod guard;
pub mod headers;
pub mod kit;
pub mod metrics;
pub mod otlp;
pub mod proxies;
pub mod service;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod trace;
