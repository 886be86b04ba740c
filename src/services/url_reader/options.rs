//! Options for the three reader operations.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use globset::{Glob, GlobMatcher};

use super::UrlReaderError;

/// Options for [`read_url`](super::UrlReader::read_url) (Backstage `ReadUrlOptions`).
///
/// ```
/// use backlot::services::url_reader::ReadUrlOptions;
///
/// let opts = ReadUrlOptions::new().etag("\"abc\"").token("secret");
/// assert_eq!(opts.etag.as_deref(), Some("\"abc\""));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadUrlOptions {
    /// The etag of a previous response; when the target still has it the read fails with
    /// [`UrlReaderError::NotModified`].
    pub etag: Option<String>,
    /// A previous `last_modified_at`; when the target is not newer the read fails with
    /// [`UrlReaderError::NotModified`].
    pub last_modified_after: Option<DateTime<Utc>>,
    /// A bearer token sent as `Authorization: Bearer <token>` (HTTP readers only).
    pub token: Option<String>,
}

impl ReadUrlOptions {
    /// Options with nothing set: an unconditional, anonymous read.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the etag of a previous response.
    #[must_use]
    pub fn etag(mut self, etag: impl Into<String>) -> Self {
        self.etag = Some(etag.into());
        self
    }

    /// Sets the last modification time of a previous response.
    #[must_use]
    pub fn last_modified_after(mut self, at: DateTime<Utc>) -> Self {
        self.last_modified_after = Some(at);
        self
    }

    /// Sets a bearer token.
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }
}

/// A file filter for [`ReadTreeOptions`]: receives the file's path relative to the tree root
/// (`/`-separated, no leading `/`) and its size in bytes.
pub type TreeFilter = Arc<dyn Fn(&str, u64) -> bool + Send + Sync>;

/// Options for [`read_tree`](super::UrlReader::read_tree) (Backstage `ReadTreeOptions`).
///
/// ```
/// use backlot::services::url_reader::ReadTreeOptions;
///
/// let opts = ReadTreeOptions::new().glob("**/*.md")?;
/// assert!(opts.accepts("docs/index.md", 10));
/// assert!(!opts.accepts("mkdocs.yml", 10));
///
/// let small = ReadTreeOptions::new().filter(|_path, size| size < 1024);
/// assert!(!small.accepts("big.bin", 4096));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct ReadTreeOptions {
    /// The etag of a previous response; when the tree still has it the read fails with
    /// [`UrlReaderError::NotModified`].
    pub etag: Option<String>,
    /// Selects which files are included; all files when `None`.
    pub filter: Option<TreeFilter>,
}

impl ReadTreeOptions {
    /// Options with nothing set: the whole tree, unconditionally.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the etag of a previous response.
    #[must_use]
    pub fn etag(mut self, etag: impl Into<String>) -> Self {
        self.etag = Some(etag.into());
        self
    }

    /// Keeps only files for which `filter(relative_path, size)` is true.
    #[must_use]
    pub fn filter(mut self, filter: impl Fn(&str, u64) -> bool + Send + Sync + 'static) -> Self {
        self.filter = Some(Arc::new(filter));
        self
    }

    /// Keeps only files whose relative path matches the glob (`*` stays within one path
    /// segment, `**` crosses segments).
    ///
    /// # Errors
    ///
    /// [`UrlReaderError::InvalidPattern`] when the glob does not parse.
    pub fn glob(self, pattern: &str) -> Result<Self, UrlReaderError> {
        let matcher = compile_glob(pattern)?;
        Ok(self.filter(move |path, _| matcher.is_match(path)))
    }

    /// Whether the filter (if any) accepts a file.
    pub fn accepts(&self, path: &str, size: u64) -> bool {
        self.filter.as_ref().is_none_or(|f| f(path, size))
    }
}

impl fmt::Debug for ReadTreeOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadTreeOptions")
            .field("etag", &self.etag)
            .field("filter", &self.filter.as_ref().map(|_| "<fn>"))
            .finish()
    }
}

/// Options for [`search`](super::UrlReader::search) (Backstage `SearchOptions`).
///
/// ```
/// use backlot::services::url_reader::SearchOptions;
///
/// let opts = SearchOptions::new().etag("sha256:00");
/// assert_eq!(opts.etag.as_deref(), Some("sha256:00"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SearchOptions {
    /// The etag of a previous response; when the result is unchanged the search fails with
    /// [`UrlReaderError::NotModified`].
    pub etag: Option<String>,
    /// A bearer token sent as `Authorization: Bearer <token>` (HTTP readers only).
    pub token: Option<String>,
}

impl SearchOptions {
    /// Options with nothing set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the etag of a previous response.
    #[must_use]
    pub fn etag(mut self, etag: impl Into<String>) -> Self {
        self.etag = Some(etag.into());
        self
    }

    /// Sets a bearer token.
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }
}

/// Compiles a glob with `/` as a literal separator (`*` does not cross directories).
pub(crate) fn compile_glob(pattern: &str) -> Result<GlobMatcher, UrlReaderError> {
    globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map(|g: Glob| g.compile_matcher())
        .map_err(|source| UrlReaderError::InvalidPattern {
            pattern: pattern.to_owned(),
            source,
        })
}
