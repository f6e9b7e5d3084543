//! One error type for the crate, [`AppError`], mapped to HTTP answers here and only here.
//!
//! Handlers return `Result<HttpResponse, AppError>`. Validation problems are not errors:
//! they are answered by the handler itself with a 422 and the re-rendered form. `AppError`
//! covers what stops a request outright: an unreadable body (400, 413, 415), a cross-site
//! POST (403) and a database that does not answer (503, logged once here).

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use maud::html;
use shared_ui::components::{self, PageOptions};

use crate::storage::StorageError;

/// Why a request could not be served.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request body is malformed (for example not UTF-8).
    #[error("{0}")]
    BadRequest(String),
    /// The body is larger than the limit.
    #[error("The form is larger than {limit} bytes.")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body is not a urlencoded form.
    #[error("Send the form as application/x-www-form-urlencoded.")]
    UnsupportedMediaType,
    /// A POST from another site.
    #[error("{0}")]
    CrossSite(&'static str),
    /// The database failed.
    #[error("The account database is not answering right now. Please try again in a moment.")]
    Storage(#[from] StorageError),
    /// A blocking task was cancelled (the server is stopping).
    #[error("The service is stopping. Please try again in a moment.")]
    Cancelled,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::CrossSite(_) => StatusCode::FORBIDDEN,
            AppError::Storage(_) | AppError::Cancelled => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let AppError::Storage(e) = self {
            tracing::error!(error = %e, "database failure");
        }
        let status = self.status_code();
        let title = match status {
            StatusCode::BAD_REQUEST => "Bad request",
            StatusCode::PAYLOAD_TOO_LARGE => "Form too large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "Unsupported form",
            StatusCode::FORBIDDEN => "Form refused",
            _ => "Accounts unavailable",
        };
        let page = components::page(
            &PageOptions::new(title),
            html! {
                main class="container" id="main" {
                    h1 { (title) }
                    p { (self.to_string()) }
                }
            },
        );
        HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(page.into_string())
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(_: actix_web::error::BlockingError) -> Self {
        AppError::Cancelled
    }
}
