//! Why an override was refused, and the one place that turns it into an answer: a 4xx page
//! that says why ([`super::views::refused`]). Nothing is stored when one is returned.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use shared_ui::contract::ServiceUrlError;

/// A refused override (the request's fault).
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// A form or link without a field it needs.
    #[error("{0}")]
    Missing(&'static str),
    /// No registered service has that name.
    #[error("no service called `{0}` is registered here")]
    UnknownService(String),
    /// The session service keeps the browser's session: it is never overridden.
    #[error(
        "`{0}` is the session service: it keeps the browser's session and receives its \
         cookies, so it cannot be overridden"
    )]
    SessionService(String),
    /// Not an http(s) URL with a host, or one with a user name, password, query or fragment.
    #[error("{0}")]
    Url(#[from] ServiceUrlError),
    /// A URL longer than an origin needs.
    #[error("the URL is longer than {0} bytes")]
    TooLong(usize),
    /// A URL with a path: an override names where the service is, its origin.
    #[error(
        "`{0}` has a path: give the service's origin only, like http://localhost:1314 (the \
         shell asks it for /manifest.json and the paths that manifest declares)"
    )]
    Path(String),
    /// A host that `--allow-overrides` does not list.
    #[error(
        "`{0}` is not a host this site allows overrides to point at (--allow-overrides / \
         ALLOW_OVERRIDES; --dev allows loopback)"
    )]
    HostNotAllowed(String),
    /// A form posted from another site, or with no `Origin` header.
    #[error("the form must be sent from this site (its Origin header must name this host)")]
    Origin,
}

impl ResponseError for Refusal {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SessionService(_) | Self::HostNotAllowed(_) | Self::Origin => {
                StatusCode::FORBIDDEN
            }
            Self::Missing(_)
            | Self::UnknownService(_)
            | Self::Url(_)
            | Self::TooLong(_)
            | Self::Path(_) => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        tracing::info!(status = status.as_u16(), message = %self, "override refused");
        super::views::refused(status, &self.to_string())
    }
}
