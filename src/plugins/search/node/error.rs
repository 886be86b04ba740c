use crate::backend::BoxError;

/// Errors of the search plugin and its engines.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SearchError {
    /// The query is not acceptable (answered with 400 InputError).
    #[error("invalid search query: {message}")]
    InvalidQuery {
        /// What is wrong.
        message: String,
    },
    /// A config key has a bad value.
    #[error("invalid config at '{key}': {message}")]
    Config {
        /// The config key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The engine failed.
    #[error("search engine '{engine}' failed: {message}")]
    Engine {
        /// The engine's name (`embedded`, `pg`, ...).
        engine: &'static str,
        /// What failed.
        message: String,
        /// The cause.
        #[source]
        source: Option<BoxError>,
    },
    /// A collator failed; the type's previous documents stay in the index.
    #[error("collator for document type '{doc_type}' failed")]
    Collator {
        /// The document type.
        doc_type: String,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// A decorator failed; the type's previous documents stay in the index.
    #[error("decorator for document type '{doc_type}' failed")]
    Decorator {
        /// The document type.
        doc_type: String,
        /// The cause.
        #[source]
        source: BoxError,
    },
}

impl SearchError {
    /// An [`InvalidQuery`](Self::InvalidQuery) error.
    pub fn invalid_query(message: impl Into<String>) -> Self {
        Self::InvalidQuery {
            message: message.into(),
        }
    }

    /// An [`Engine`](Self::Engine) error with a cause.
    pub fn engine(
        engine: &'static str,
        message: impl Into<String>,
        source: impl Into<BoxError>,
    ) -> Self {
        Self::Engine {
            engine,
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

impl From<SearchError> for crate::backend::ApiError {
    fn from(err: SearchError) -> Self {
        match err {
            SearchError::InvalidQuery { message } => Self::input(message),
            other => Self::internal(other),
        }
    }
}
