//! Storing published sites and reading their files back.

mod local;
#[cfg(feature = "s3")]
mod s3;

pub use local::LocalPublisher;
#[cfg(feature = "s3")]
pub use s3::{AwsS3Publisher, AwsS3PublisherConfig};

use std::fmt::Debug;
use std::path::Path;

use bytes::Bytes;

use super::PublisherError;
use crate::plugins::techdocs::common::{DocsEntity, TechDocsMetadata};

/// What a publish stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PublishResponse {
    /// The stored paths (files or object keys).
    pub objects: Vec<String>,
}

impl PublishResponse {
    /// A response listing the stored paths.
    pub fn new(objects: Vec<String>) -> Self {
        Self { objects }
    }
}

/// One file of a published site.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StaticFile {
    /// The path actually served, relative to the site root (`index.html` for directories).
    pub path: String,
    /// The content.
    pub content: Bytes,
    /// The content type, from the file extension.
    pub content_type: &'static str,
}

impl StaticFile {
    /// A file; the content type comes from the path's extension.
    ///
    /// ```
    /// use backlot::plugins::techdocs::node::StaticFile;
    ///
    /// let file = StaticFile::new("guide/index.html", "<h1>Guide</h1>");
    /// assert_eq!(file.content_type, "text/html; charset=utf-8");
    /// ```
    pub fn new(path: impl Into<String>, content: impl Into<Bytes>) -> Self {
        let path = path.into();
        Self {
            content_type: content_type_for(&path),
            path,
            content: content.into(),
        }
    }
}

/// Stores generated sites and serves their files (Backstage's `PublisherBase`).
///
/// ```
/// use std::path::Path;
/// use backlot::plugins::techdocs::common::{DocsEntity, TechDocsMetadata};
/// use backlot::plugins::techdocs::node::{PublishResponse, Publisher, PublisherError, StaticFile};
///
/// /// Stores nothing.
/// #[derive(Debug)]
/// struct Nowhere;
///
/// #[async_trait::async_trait]
/// impl Publisher for Nowhere {
///     async fn publish(&self, _: &DocsEntity, _: &Path) -> Result<PublishResponse, PublisherError> {
///         Ok(PublishResponse::default())
///     }
///     async fn fetch_metadata(&self, e: &DocsEntity) -> Result<TechDocsMetadata, PublisherError> {
///         Err(PublisherError::NotFound { path: e.storage_path(false) })
///     }
///     async fn read_file(&self, e: &DocsEntity, path: &str) -> Result<StaticFile, PublisherError> {
///         Err(PublisherError::NotFound { path: format!("{}/{path}", e.storage_path(false)) })
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let entity: DocsEntity = "default/Component/x".parse()?;
/// assert!(!Nowhere.has_docs(&entity).await?);
/// # Ok(())
/// # }
/// ```
#[async_trait::async_trait]
pub trait Publisher: Send + Sync + Debug {
    /// Stores the site in `directory` (which holds `techdocs_metadata.json`) for `entity`,
    /// replacing what was stored before.
    async fn publish(
        &self,
        entity: &DocsEntity,
        directory: &Path,
    ) -> Result<PublishResponse, PublisherError>;

    /// The stored `techdocs_metadata.json`; [`PublisherError::NotFound`] when nothing is
    /// published.
    async fn fetch_metadata(&self, entity: &DocsEntity)
    -> Result<TechDocsMetadata, PublisherError>;

    /// A file of the stored site; `path` is checked with [`safe_file_path`] semantics and a
    /// directory (`""`, `guide/`) serves its `index.html`.
    async fn read_file(
        &self,
        entity: &DocsEntity,
        path: &str,
    ) -> Result<StaticFile, PublisherError>;

    /// Whether a site is stored for `entity`.
    async fn has_docs(&self, entity: &DocsEntity) -> Result<bool, PublisherError> {
        match self.fetch_metadata(entity).await {
            Ok(_) => Ok(true),
            Err(PublisherError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Normalizes a requested file path: `/`-separated, no empty or `.` segments; a directory
/// path (empty or ending in `/`) gets `index.html`.
///
/// ```
/// use backlot::plugins::techdocs::node::safe_file_path;
///
/// assert_eq!(safe_file_path("")?, "index.html");
/// assert_eq!(safe_file_path("guide/")?, "guide/index.html");
/// assert_eq!(safe_file_path("./a//b.css")?, "a/b.css");
/// for bad in ["../x", "a/../../x", "/etc/passwd", "a\\b", "C:x"] {
///     assert!(safe_file_path(bad).is_err(), "{bad}");
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`PublisherError::UnsafePath`] for absolute paths, `..` segments, backslashes, NUL or
/// drive prefixes.
pub fn safe_file_path(path: &str) -> Result<String, PublisherError> {
    let unsafe_path = || PublisherError::UnsafePath {
        path: path.to_owned(),
    };
    if path.starts_with('/') || path.contains(['\\', '\0']) {
        return Err(unsafe_path());
    }
    let mut parts = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => return Err(unsafe_path()),
            s if s.contains(':') => return Err(unsafe_path()),
            s => parts.push(s),
        }
    }
    let mut out = parts.join("/");
    if path.is_empty() || path.ends_with('/') || out.is_empty() {
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str("index.html");
    }
    Ok(out)
}

/// The content type of a site file, by extension (`application/octet-stream` when unknown).
///
/// ```
/// use backlot::plugins::techdocs::node::content_type_for;
///
/// assert_eq!(content_type_for("a/index.html"), "text/html; charset=utf-8");
/// assert_eq!(content_type_for("logo.PNG"), "image/png");
/// assert_eq!(content_type_for("blob"), "application/octet-stream");
/// ```
pub fn content_type_for(path: &str) -> &'static str {
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json; charset=utf-8",
        "xml" => "application/xml; charset=utf-8",
        "txt" | "md" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "avif" => "image/avif",
        "pdf" => "application/pdf",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "eot" => "application/vnd.ms-fontobject",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        _ => "application/octet-stream",
    }
}

/// Lists the files below `dir` as `/`-separated relative paths (symlinks skipped).
pub(crate) fn list_files(dir: &Path) -> Result<Vec<String>, PublisherError> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) -> Result<(), PublisherError> {
        let io = |source| PublisherError::Io {
            path: dir.to_path_buf(),
            source,
        };
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let kind = entry.file_type().map_err(io)?;
            let rel = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if kind.is_dir() {
                walk(&entry.path(), &format!("{rel}/"), out)?;
            } else if kind.is_file() {
                out.push(rel);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, "", &mut out)?;
    out.sort();
    Ok(out)
}

/// The metadata file name.
pub(crate) const METADATA_FILE: &str = "techdocs_metadata.json";
