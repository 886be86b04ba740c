//! The plugin's error type and its HTTP mapping.

use std::error::Error as _;

use crate::backend::ApiError;
use crate::plugins::catalog::common::CatalogClientError;
use crate::plugins::techdocs::node::{GeneratorError, PreparerError, PublisherError};
use crate::services::url_reader::UrlReaderError;

/// An error of the TechDocs backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TechdocsError {
    /// A `techdocs.*` config value is invalid.
    #[error("invalid config at '{key}': {reason}")]
    Config {
        /// The key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The catalog does not know the entity.
    #[error("entity '{entity}' not found")]
    EntityNotFound {
        /// The entity ref.
        entity: String,
    },
    /// The catalog could not be asked about an entity.
    #[error("could not read entity '{entity}' from the catalog")]
    Catalog {
        /// The entity ref.
        entity: String,
        /// The catalog client's error.
        #[source]
        source: Box<CatalogClientError>,
    },
    /// Fetching the docs source failed.
    #[error("could not prepare the docs of '{entity}'")]
    Prepare {
        /// The entity ref.
        entity: String,
        /// The preparer's error.
        #[source]
        source: PreparerError,
    },
    /// Building the site failed.
    #[error("could not build the docs of '{entity}': {message}")]
    Build {
        /// The entity ref.
        entity: String,
        /// The generator's message, with paths relative to the docs source.
        message: String,
        /// The generator's error.
        #[source]
        source: GeneratorError,
    },
    /// A build shared with another request failed.
    #[error("{message}")]
    SharedBuild {
        /// The failed build's message.
        message: String,
    },
    /// The build lease (the plugin's database) could not be taken or read.
    #[error("could not coordinate the build of '{entity}' with other replicas")]
    Lease {
        /// The entity ref.
        entity: String,
        /// The database's error.
        #[source]
        source: crate::services::database::DatabaseError,
    },
    /// Storing or reading a site failed.
    #[error("techdocs storage error for '{entity}'")]
    Publisher {
        /// The entity ref.
        entity: String,
        /// The publisher's error.
        #[source]
        source: PublisherError,
    },
}

/// The error and its sources, joined by `: `.
pub(crate) fn message_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// The message clients see: the error with its sources, but a build error's message
/// already names the source file relative to the docs location.
pub(crate) fn public_message(err: &TechdocsError) -> String {
    match err {
        TechdocsError::Build { .. } => err.to_string(),
        _ => message_chain(err),
    }
}

impl From<TechdocsError> for ApiError {
    fn from(err: TechdocsError) -> Self {
        let message = public_message(&err);
        match &err {
            TechdocsError::EntityNotFound { .. } => ApiError::not_found(message),
            TechdocsError::Prepare { source, .. } => match source {
                PreparerError::Read {
                    source: UrlReaderError::NotAllowed { .. },
                    ..
                } => ApiError::not_allowed(message),
                PreparerError::Read { source: s, .. }
                    if !s.is_not_found() && !matches!(s, UrlReaderError::Unsupported { .. }) =>
                {
                    ApiError::internal(message)
                }
                _ => ApiError::not_found(message),
            },
            TechdocsError::Build { .. } | TechdocsError::SharedBuild { .. } => {
                ApiError::not_found(message)
            }
            TechdocsError::Publisher { source, .. } => match source {
                PublisherError::NotFound { .. } => ApiError::not_found(message),
                PublisherError::UnsafePath { .. } => ApiError::input(message),
                _ => ApiError::internal(message),
            },
            TechdocsError::Config { .. }
            | TechdocsError::Catalog { .. }
            | TechdocsError::Lease { .. } => {
                let _ = err.source();
                ApiError::internal(message)
            }
        }
    }
}
