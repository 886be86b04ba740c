//! The catalog backend's errors and their HTTP mapping.

use crate::backend::ApiError;
use crate::plugins::catalog::common::ValidationErrors;
use crate::services::database::DatabaseError;
use crate::services::permissions::PermissionError;

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
    /// The caller may not do this (a permission policy said no).
    #[error("{permission} is not allowed")]
    NotAllowed {
        /// The permission name, such as `catalog.location.create`.
        permission: String,
    },
    /// The operation needs a user or service caller, and there was none.
    #[error("{operation} needs a user or service token")]
    Unauthenticated {
        /// What was refused.
        operation: &'static str,
    },
    /// The permission service could not answer.
    #[error("permission check failed: {source}")]
    Permission {
        /// The cause.
        #[source]
        source: PermissionError,
    },
    /// A policy answered with conditions the catalog cannot apply: an unknown rule, a rule
    /// of another resource type, bad parameters or too deep a tree.
    #[error("invalid permission conditions: {message}")]
    Conditions {
        /// What is wrong.
        message: String,
    },
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

    pub(crate) fn not_allowed(permission: &str) -> Self {
        Self::NotAllowed {
            permission: permission.to_owned(),
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
            CatalogError::ReadOnly { .. } | CatalogError::NotAllowed { .. } => {
                ApiError::not_allowed(err.to_string())
            }
            CatalogError::Unauthenticated { .. } => ApiError::authentication(err.to_string()),
            CatalogError::Permission { source } => match source {
                PermissionError::Input(_) => ApiError::input(err.to_string()),
                PermissionError::Authentication(_) => ApiError::authentication(err.to_string()),
                _ => ApiError::internal(err.to_string()),
            },
            CatalogError::Config { .. }
            | CatalogError::Conditions { .. }
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
