//! The catalog backend's errors and their HTTP mapping.

use crate::backend::ApiError;
use crate::plugins::catalog::common::ValidationErrors;
use crate::services::database::DatabaseError;

/// An error of the catalog backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// A request parameter or body is malformed.
    #[error("invalid {param}: {message}")]
    Input {
        /// The parameter or body field.
        param: String,
        /// What is wrong.
        message: String,
    },
    /// An entity failed validation; every broken rule names its field.
    #[error("invalid entity {entity}: {}", .source.errors().iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Validation {
        /// The entity reference.
        entity: String,
        /// The broken rules.
        #[source]
        source: ValidationErrors,
    },
    /// No such entity or location.
    #[error("{what} {id} not found")]
    NotFound {
        /// `entity`, `location`, ...
        what: &'static str,
        /// The id, uid or reference asked for.
        id: String,
    },
    /// The thing exists already.
    #[error("{what} {id} already exists")]
    Conflict {
        /// `location`, ...
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// `catalog.readonly` is set.
    #[error("catalog is in read-only mode; {operation} is not allowed")]
    ReadOnly {
        /// What was refused.
        operation: &'static str,
    },
    /// A location could not be read.
    #[error("cannot read location {location}: {message}")]
    Read {
        /// The location ref.
        location: String,
        /// Why.
        message: String,
    },
    /// A config value is invalid.
    #[error("invalid config key {key}: {message}")]
    Config {
        /// The key.
        key: String,
        /// Why.
        message: String,
    },
    /// The engine stopped (the backend is shutting down) before the work finished; what it
    /// committed is finished by the next processing pass.
    #[error("catalog processing was interrupted; it resumes with the next processing pass")]
    Interrupted,
    /// A database operation failed.
    #[error("catalog database operation {operation} failed")]
    Database {
        /// The operation.
        operation: &'static str,
        /// The cause.
        #[source]
        source: DatabaseError,
    },
}

impl CatalogError {
    pub(crate) fn input(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Input {
            param: param.into(),
            message: message.into(),
        }
    }

    pub(crate) fn not_found(what: &'static str, id: impl Into<String>) -> Self {
        Self::NotFound {
            what,
            id: id.into(),
        }
    }

    pub(crate) fn db(operation: &'static str) -> impl FnOnce(DatabaseError) -> Self {
        move |source| Self::Database { operation, source }
    }
}

impl From<CatalogError> for ApiError {
    fn from(err: CatalogError) -> Self {
        match &err {
            CatalogError::Input { .. }
            | CatalogError::Validation { .. }
            | CatalogError::Read { .. } => ApiError::input(err.to_string()),
            CatalogError::NotFound { .. } => ApiError::not_found(err.to_string()),
            CatalogError::Conflict { .. } => ApiError::conflict(err.to_string()),
            CatalogError::ReadOnly { .. } => ApiError::not_allowed(err.to_string()),
            CatalogError::Config { .. }
            | CatalogError::Database { .. }
            | CatalogError::Interrupted => ApiError::internal(chain(&err)),
        }
    }
}

/// The error and its sources, joined with `: `.
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
