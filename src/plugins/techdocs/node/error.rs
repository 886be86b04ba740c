//! Errors of the three pipeline stages.

use std::path::PathBuf;

use crate::plugins::techdocs::common::DocsRefError;
use crate::services::url_reader::UrlReaderError;

/// An error from fetching an entity's docs source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PreparerError {
    /// The entity has no `backstage.io/techdocs-ref` annotation.
    #[error("entity '{entity}' has no 'backstage.io/techdocs-ref' annotation")]
    NoDocsRef {
        /// The entity ref.
        entity: String,
    },
    /// The annotation could not be resolved to a source location.
    #[error("cannot locate the docs of entity '{entity}'")]
    Location {
        /// The entity ref.
        entity: String,
        /// Why.
        #[source]
        source: DocsRefError,
    },
    /// The source is unchanged since the given etag.
    #[error("docs source '{target}' has not been modified")]
    NotModified {
        /// The source location.
        target: String,
    },
    /// Reading the source failed (including trees the reader cannot list, such as plain
    /// HTTP URLs).
    #[error("cannot read the docs source '{target}'")]
    Read {
        /// The source location.
        target: String,
        /// The reader's error.
        #[source]
        source: UrlReaderError,
    },
}

/// An error from building a site.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GeneratorError {
    /// The source directory holds neither `mkdocs.yml` nor `mkdocs.yaml`.
    #[error("no mkdocs.yml or mkdocs.yaml found in '{}'", dir.display())]
    MissingConfig {
        /// The source directory.
        dir: PathBuf,
    },
    /// `mkdocs.yml` is not valid YAML or has a value of the wrong type.
    #[error("invalid {}{}: {reason}", file.display(), line.map(|l| format!(" at line {l}")).unwrap_or_default())]
    InvalidConfig {
        /// The config file.
        file: PathBuf,
        /// The 1-based line, when known.
        line: Option<usize>,
        /// What is wrong.
        reason: String,
    },
    /// `docs_dir` does not exist.
    #[error("docs directory '{}' does not exist", dir.display())]
    MissingDocsDir {
        /// The expected directory.
        dir: PathBuf,
    },
    /// A file could not be read or written.
    #[error("i/o error at '{}'", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// An error from storing or reading published sites.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublisherError {
    /// Nothing is published for the entity, or the file does not exist.
    #[error("not found: '{path}'")]
    NotFound {
        /// The entity path and file.
        path: String,
    },
    /// A requested file path is absolute, holds `..`, a backslash or NUL.
    #[error("unsafe file path '{path}'")]
    UnsafePath {
        /// The path as requested.
        path: String,
    },
    /// The publisher configuration is invalid.
    #[error("invalid config at '{key}': {reason}")]
    InvalidConfig {
        /// The config key, e.g. `techdocs.publisher.awsS3.bucketName`.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// `techdocs_metadata.json` could not be parsed.
    #[error("invalid techdocs_metadata.json at '{path}'")]
    InvalidMetadata {
        /// Where it was read from.
        path: String,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A file system operation failed.
    #[error("i/o error at '{}'", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An object store request failed.
    #[error("object store request for '{key}' failed: {reason}")]
    Storage {
        /// The object key.
        key: String,
        /// What happened (status or transport error).
        reason: String,
    },
}
