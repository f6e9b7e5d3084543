//! Types that hold only valid values.
//!
//! - [`metrics`]: the service's own figures ([`Metrics`]): requests and fragments served,
//!   errors, uptime, and a bounded window of request durations with percentiles.
//! - [`refresh`]: [`RefreshInterval`], the `?refresh=` seconds between live updates.

pub mod metrics;
pub mod refresh;

pub use metrics::{LatencyWindow, Metrics, Percentiles, Snapshot};
pub use refresh::RefreshInterval;
