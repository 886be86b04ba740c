//! Errors of the TechDocs utility API.

/// A TechDocs request that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TechDocsApiError {
    /// The request could not be sent or its body not read.
    #[error("techdocs request to {url} failed")]
    Transport {
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The request took longer than the reader waits (the site is probably being built).
    #[error("techdocs request to {url} timed out")]
    Timeout {
        /// The URL.
        url: String,
    },
    /// The backend answered with an error status (404 for missing docs or a failed build).
    #[error("techdocs request to {url} returned {status}: {message}")]
    Response {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The error message from the body.
        message: String,
    },
}

impl TechDocsApiError {
    /// The backend's message for error responses, else the error itself.
    pub fn user_message(&self) -> String {
        match self {
            Self::Response { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
}
