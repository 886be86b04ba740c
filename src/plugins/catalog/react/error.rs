//! Errors of the catalog utility API.

use crate::frontend::PageError;

/// A catalog API call that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogApiError {
    /// The request could not be sent or its answer not read.
    #[error("catalog request to {url} failed")]
    Transport {
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The catalog answered with an error status (Backstage's error JSON where it sent one).
    #[error("catalog request to {url} answered {status} {name}: {message}")]
    Response {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// Backstage's error name, e.g. `NotFoundError`, `InputError`.
        name: String,
        /// The error message.
        message: String,
    },
    /// The answer was not the JSON expected.
    #[error("catalog request to {url} answered unreadable JSON")]
    Decode {
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// Any other failure of an implementation.
    #[error("catalog api failed: {0}")]
    Other(String),
}

impl CatalogApiError {
    /// The HTTP status of a [`Response`](Self::Response) error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Response { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl From<CatalogApiError> for PageError {
    /// A 400 from the catalog (a bad filter or cursor) is the visitor's bad request; anything
    /// else is an internal error (logged, not shown).
    fn from(error: CatalogApiError) -> Self {
        match &error {
            CatalogApiError::Response {
                status: 400,
                message,
                ..
            } => PageError::bad_request(message.clone()),
            _ => PageError::internal(std::error::Error::source(&error).map_or_else(
                || error.to_string(),
                |source| format!("{error}: {source}"),
            )),
        }
    }
}
