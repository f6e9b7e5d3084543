//! The errors of starting the shell. Request handlers never fail: a bad request is a 4xx
//! built where it is found (the proxy's refusals, the 404 page) and a failing service is a
//! fallback in its slot.

use std::net::SocketAddr;

use shared_ui::service::SettingError;

/// Why the shell could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A setting cannot be used (exit code 2).
    #[error(transparent)]
    Setting(#[from] SettingError),
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Where.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}
