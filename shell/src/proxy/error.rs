//! Why the proxy answered with an error, and the one place that turns it into HTTP.
//!
//! A [`Refusal`] is the request's fault (a 4xx): a method, a path, a query or a body the
//! proxy does not pass on. A [`ProxyError`] is the service's fault (a 5xx): no manifest, no
//! answer, no answer in time, or an answer the proxy will not relay. Each says why in its
//! message (its `Display`), which is the body of the answer; [`Stop`] holds either, and its
//! [`ResponseError`] implementation is the only code that builds an error answer.

use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

/// A path under `/svc/` that is not a plain path of a service: found from the path alone,
/// before the registry is asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathRefusal {
    /// Not under `/svc/`.
    #[error("not a proxied path")]
    NotProxied,
    /// The first segment is not a service name (kept escaped, as the message shows it).
    #[error("`{escaped}` is not a service name (a-z, 0-9 and `-`)")]
    ServiceName {
        /// The segment, with `escape_default` applied.
        escaped: String,
    },
    /// `/svc/{service}` or `/svc/{service}/` with nothing after it.
    #[error("name a path of `{service}`, like /svc/{service}/fragments/…")]
    NoPath {
        /// The service named.
        service: String,
    },
    /// Percent-encoding, `..`, `//`, `@`, `:`, a backslash or a control character.
    #[error(
        "refused: the path must be a plain service path (no percent-encoding, `..`, `.`, \
         `//`, `@`, `:`, backslash or control characters)"
    )]
    Unsafe,
}

/// The request's fault: a 4xx with a message saying why.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// Anything but `GET`, `HEAD` and `POST` (405, with `Allow`).
    #[error("the proxy forwards GET, HEAD and POST only")]
    Method,
    /// The path itself.
    #[error(transparent)]
    Path(#[from] PathRefusal),
    /// A well-formed name that the registry does not hold.
    #[error("no service called `{service}` is registered")]
    UnknownService {
        /// The name asked for.
        service: String,
    },
    /// A query string that is too long or not printable ASCII.
    #[error("the query string is not plain ASCII")]
    Query,
    /// A path the service's manifest does not declare for this method.
    #[error(
        "`{escaped_path}` is not {} that `{service}` declares in its manifest",
        if *.action { "a form action" } else { "a fragment or asset" }
    )]
    Undeclared {
        /// The path, with `escape_default` applied.
        escaped_path: String,
        /// The service.
        service: String,
        /// Whether a form action was asked for (a `POST`), else a fragment or asset.
        action: bool,
    },
    /// A service-worker script fetch: no service may install a worker on the shell's origin.
    #[error("service workers cannot be installed through the proxy")]
    ServiceWorker,
    /// A body over the limit (`send::MAX_BODY_BYTES`), declared or sent.
    #[error("the request body is larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The body stopped or broke while it was read.
    #[error("the body could not be read: {0}")]
    BodyUnreadable(#[source] actix_web::error::PayloadError),
}

impl Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Self::Method => StatusCode::METHOD_NOT_ALLOWED,
            Self::Path(PathRefusal::NotProxied | PathRefusal::NoPath { .. })
            | Self::UnknownService { .. }
            | Self::Undeclared { .. } => StatusCode::NOT_FOUND,
            Self::Path(PathRefusal::ServiceName { .. } | PathRefusal::Unsafe)
            | Self::Query
            | Self::BodyUnreadable(_) => StatusCode::BAD_REQUEST,
            Self::ServiceWorker => StatusCode::FORBIDDEN,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }
}

/// Why a service's answer could not be had (the detail is logged, never shown).
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// No connection, or the request or answer head broke.
    #[error(transparent)]
    Send(#[from] reqwest::Error),
    /// The answer body broke or passed its cap.
    #[error("the answer could not be read: {0}")]
    Read(Box<dyn std::error::Error + Send + Sync>),
}

/// The service's fault: a 5xx with a message naming the service.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The service's manifest is not known, so nothing of it can be checked (503).
    #[error("`{service}` is unavailable right now (its manifest cannot be read)")]
    NoManifest {
        /// The service.
        service: String,
    },
    /// No usable answer came (502).
    #[error("`{service}` is unavailable right now")]
    Unavailable {
        /// The service.
        service: String,
        /// What went wrong, for the log.
        #[source]
        cause: Failure,
    },
    /// No answer within the proxy timeout (504).
    #[error("`{service}` did not answer within {} ms", .limit.as_millis())]
    Timeout {
        /// The service.
        service: String,
        /// The proxy timeout.
        limit: Duration,
    },
    /// An interim (1xx) answer, such as `101 Switching Protocols`: the proxy never asks a
    /// service for an upgrade, so it relays none (502).
    #[error(
        "`{service}` answered {status}, an interim (1xx) status the proxy does not relay \
         (it asks no service to switch protocols)"
    )]
    Interim {
        /// The service.
        service: String,
        /// The status it sent.
        status: u16,
    },
    /// A `Location` that is not a path on this site (502).
    #[error("`{service}` tried to redirect off this site; only paths on this site are passed on")]
    OffSite {
        /// The service.
        service: String,
    },
}

impl ProxyError {
    /// The status of the answer (also the status of the JS-off page that shows it).
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NoManifest { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            Self::Unavailable { .. } | Self::Interim { .. } | Self::OffSite { .. } => {
                StatusCode::BAD_GATEWAY
            }
        }
    }
}

/// Where the proxy stopped: the request's fault or the service's.
#[derive(Debug, thiserror::Error)]
pub enum Stop {
    /// The request's fault.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The service's fault.
    #[error(transparent)]
    Failed(#[from] ProxyError),
}

impl From<PathRefusal> for Stop {
    fn from(refusal: PathRefusal) -> Self {
        Self::Refused(refusal.into())
    }
}

impl ResponseError for Stop {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Refused(refusal) => refusal.status(),
            Self::Failed(error) => error.status(),
        }
    }

    /// A plain-text answer with the message, never cached; a 405 says what is allowed.
    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        tracing::info!(status = status.as_u16(), message = %self, "proxy refused");
        let mut res = HttpResponse::build(status);
        res.content_type("text/plain; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"));
        if let Self::Refused(Refusal::Method) = self {
            res.insert_header((header::ALLOW, HeaderValue::from_static("GET, HEAD, POST")));
        }
        res.body(format!("{self}\n"))
    }
}
