//! The crate's one error type and, in [`actix_web::ResponseError`], its one mapping to
//! HTTP: bad query values are a 400 page that quotes them escaped, unknown fragments a 404
//! page, anything else a 500 page that says nothing internal. Start-up uses the same type:
//! a bad setting makes `main` exit with code 2.

use std::net::SocketAddr;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use shared_ui::service::SettingError;

use crate::views;

/// Everything that can go wrong in svc-dashboard.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting cannot be used (exit code 2 at start).
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
    /// A query parameter has a value we do not accept; the message quotes it.
    #[error("{0}")]
    BadQuery(String),
    /// No fragment has this id.
    #[error("no fragment called `{0}`")]
    UnknownFragment(String),
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        match self {
            Error::BadQuery(_) => StatusCode::BAD_REQUEST,
            Error::UnknownFragment(_) => StatusCode::NOT_FOUND,
            Error::Setting(_) | Error::Bind { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Error::BadQuery(message) => {
                tracing::info!(%message, "bad query");
                shared_ui::service::bad_request(message)
            }
            Error::UnknownFragment(id) => views::errors::unknown_fragment(id),
            Error::Setting(_) | Error::Bind { .. } => {
                tracing::error!(error = %self, "internal error");
                views::errors::internal()
            }
        }
    }
}
