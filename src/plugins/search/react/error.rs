//! Errors of the search utility API.

/// A search request that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SearchApiError {
    /// The request could not be sent or its body not read.
    #[error("search request to {url} failed")]
    Transport {
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The search backend answered with an error status.
    #[error("search request to {url} returned {status}: {message}")]
    Response {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The error message from the body.
        message: String,
    },
    /// The body was not a result set.
    #[error("search response from {url} is not a result set")]
    Decode {
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}
