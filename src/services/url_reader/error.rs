//! The error type of the URL reader service.

use std::path::PathBuf;

/// An error from reading a URL, a file tree or a search pattern.
///
/// The variants mirror Backstage's error names where one exists: [`NotFound`] is
/// `NotFoundError`, [`NotModified`] is `NotModifiedError`, [`NotAllowed`] is `NotAllowedError`.
///
/// [`NotFound`]: UrlReaderError::NotFound
/// [`NotModified`]: UrlReaderError::NotModified
/// [`NotAllowed`]: UrlReaderError::NotAllowed
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UrlReaderError {
    /// The input is neither a valid URL nor a usable file path.
    #[error("invalid url '{url}': {reason}")]
    InvalidUrl {
        /// The input as given.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// No reader may read the URL: the host is not in `backend.reading.allow`, or the file is
    /// outside `backend.reading.fileAllow`.
    #[error(
        "reading from '{url}' is not allowed; configure an integration for the target host or \
         add it to 'backend.reading.allow' (files: 'backend.reading.fileAllow')"
    )]
    NotAllowed {
        /// The URL that was refused.
        url: String,
    },
    /// The target does not exist.
    #[error("could not read '{url}': not found")]
    NotFound {
        /// The URL that was not found.
        url: String,
    },
    /// The target still matches the etag (or is not newer than the date) given by the caller.
    #[error("'{url}' has not been modified")]
    NotModified {
        /// The URL that was not modified.
        url: String,
    },
    /// The response is larger than the configured maximum (`backend.reading.maxSize`).
    #[error("reading '{url}' exceeds the size limit of {limit} bytes")]
    TooLarge {
        /// The URL being read.
        url: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The server answered with an unexpected HTTP status.
    #[error("could not read '{url}': http status {status}")]
    Http {
        /// The URL being read.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The request did not complete within the configured timeout (`backend.reading.timeout`).
    #[error("reading '{url}' timed out")]
    Timeout {
        /// The URL being read.
        url: String,
    },
    /// The HTTP request failed (connection refused, TLS, invalid response, ...).
    #[error("request to '{url}' failed")]
    Request {
        /// The URL being read.
        url: String,
        /// The underlying client error.
        #[source]
        source: reqwest::Error,
    },
    /// A file system operation failed.
    #[error("could not read '{url}'")]
    Io {
        /// The URL or path being read.
        url: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Writing a tree out to a directory failed.
    #[error("could not write '{}'", path.display())]
    Write {
        /// The path that could not be written.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A tree file path would escape the target directory (absolute or containing `..`).
    #[error("tree file path '{path}' is not a safe relative path")]
    UnsafePath {
        /// The offending relative path.
        path: String,
    },
    /// The reader that handles the URL does not support the operation.
    #[error("{operation} is not supported for '{url}'")]
    Unsupported {
        /// The URL.
        url: String,
        /// The operation, e.g. `read_tree`.
        operation: &'static str,
    },
    /// A search pattern is not a valid glob.
    #[error("invalid search pattern '{pattern}'")]
    InvalidPattern {
        /// The pattern as given.
        pattern: String,
        /// The glob parser's error.
        #[source]
        source: globset::Error,
    },
    /// The `backend.reading` configuration is invalid.
    #[error("invalid config at '{key}': {reason}")]
    InvalidConfig {
        /// The config key, e.g. `backend.reading.allow[0].host`.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("could not build the http client for the url reader")]
    Client {
        /// The underlying client error.
        #[source]
        source: reqwest::Error,
    },
}

impl UrlReaderError {
    /// Whether this is [`UrlReaderError::NotModified`], the expected outcome of a conditional
    /// read whose target did not change.
    ///
    /// ```
    /// use backlot::services::url_reader::UrlReaderError;
    ///
    /// let err = UrlReaderError::NotModified { url: "https://example.com/a".into() };
    /// assert!(err.is_not_modified());
    /// ```
    pub fn is_not_modified(&self) -> bool {
        matches!(self, Self::NotModified { .. })
    }

    /// Whether this is [`UrlReaderError::NotFound`].
    ///
    /// ```
    /// use backlot::services::url_reader::UrlReaderError;
    ///
    /// let err = UrlReaderError::NotFound { url: "file:///nope".into() };
    /// assert!(err.is_not_found());
    /// ```
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }
}
