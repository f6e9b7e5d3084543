//! Why a fragment fetch failed: one variant per kind, so that logs (the `reason` field),
//! metrics (`shell_fragment_failures_total{reason}`) and tests can tell a timeout from a
//! 500 from a whole document.

use std::time::Duration;

use crate::body::BodyError;

/// A failed fragment fetch.
#[derive(Debug, thiserror::Error)]
pub enum FragmentError {
    /// No answer within the fragment's budget.
    #[error("no answer within {} ms", .0.as_millis())]
    Timeout(Duration),
    /// An answer that is not a success.
    #[error("answered {0}")]
    Status(http::StatusCode),
    /// An answer whose content type is not `text/html` (lower-cased).
    #[error("content type `{0}` is not text/html")]
    NotHtml(String),
    /// A body over the fragment cap.
    #[error("the answer is larger than {max} bytes")]
    TooLarge {
        /// The cap, in bytes.
        max: usize,
    },
    /// A body that is not UTF-8.
    #[error("the body is not UTF-8")]
    NotUtf8,
    /// A whole document (`<html`), not a fragment.
    #[error("the answer is a whole document (<html), not a fragment")]
    WholeDocument,
    /// No connection, a reset, a broken body, a URL that does not parse.
    #[error("request failed: {0}")]
    Transport(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl FragmentError {
    /// A transport failure (no connection, a reset, a URL that does not parse).
    pub fn transport(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        FragmentError::Transport(Box::new(error))
    }

    /// The kind, as a metric label and log field: one of seven fixed words.
    pub fn reason(&self) -> &'static str {
        match self {
            FragmentError::Timeout(_) => "timeout",
            FragmentError::Status(_) => "status",
            FragmentError::NotHtml(_) => "not_html",
            FragmentError::TooLarge { .. } => "too_large",
            FragmentError::NotUtf8 => "not_utf8",
            FragmentError::WholeDocument => "whole_document",
            FragmentError::Transport(_) => "transport",
        }
    }
}

impl From<BodyError> for FragmentError {
    fn from(error: BodyError) -> Self {
        match error {
            BodyError::TooLarge { max } => FragmentError::TooLarge { max },
            BodyError::Read(source) => FragmentError::Transport(source),
        }
    }
}
