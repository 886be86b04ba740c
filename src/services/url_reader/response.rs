//! Responses of `read_url` and `search`.

use bytes::Bytes;
use chrono::{DateTime, Utc};

/// The content of one URL (Backstage `ReadUrlResponse`).
///
/// ```
/// use backlot::services::url_reader::ReadUrlResponse;
///
/// let res = ReadUrlResponse::new("kind: Component").with_etag("\"v1\"");
/// assert_eq!(res.text()?, "kind: Component");
/// assert_eq!(res.etag.as_deref(), Some("\"v1\""));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadUrlResponse {
    /// The content.
    pub bytes: Bytes,
    /// The etag of the content, to pass as [`ReadUrlOptions::etag`] on the next read.
    ///
    /// [`ReadUrlOptions::etag`]: super::ReadUrlOptions::etag
    pub etag: Option<String>,
    /// When the content last changed, when the source knows.
    pub last_modified_at: Option<DateTime<Utc>>,
}

impl ReadUrlResponse {
    /// A response with the given content and no etag or date.
    pub fn new(bytes: impl Into<Bytes>) -> Self {
        Self {
            bytes: bytes.into(),
            etag: None,
            last_modified_at: None,
        }
    }

    /// Sets the etag.
    #[must_use]
    pub fn with_etag(mut self, etag: impl Into<String>) -> Self {
        self.etag = Some(etag.into());
        self
    }

    /// Sets the last modification time.
    #[must_use]
    pub fn with_last_modified_at(mut self, at: DateTime<Utc>) -> Self {
        self.last_modified_at = Some(at);
        self
    }

    /// The content as UTF-8 text.
    ///
    /// # Errors
    ///
    /// When the content is not valid UTF-8.
    pub fn text(&self) -> Result<&str, std::str::Utf8Error> {
        std::str::from_utf8(&self.bytes)
    }
}

/// One file found by a search (Backstage `SearchResponseFile`).
///
/// ```
/// use backlot::services::url_reader::SearchFile;
///
/// let file = SearchFile::new("file:///repo/catalog-info.yaml", "kind: Component");
/// assert_eq!(file.url, "file:///repo/catalog-info.yaml");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SearchFile {
    /// The full URL of the file (a plain path when the search was given a plain path).
    pub url: String,
    /// The content.
    pub content: Bytes,
    /// When the file last changed, when the source knows.
    pub last_modified_at: Option<DateTime<Utc>>,
}

impl SearchFile {
    /// A file with the given URL and content.
    pub fn new(url: impl Into<String>, content: impl Into<Bytes>) -> Self {
        Self {
            url: url.into(),
            content: content.into(),
            last_modified_at: None,
        }
    }

    /// Sets the last modification time.
    #[must_use]
    pub fn with_last_modified_at(mut self, at: DateTime<Utc>) -> Self {
        self.last_modified_at = Some(at);
        self
    }
}

/// The files matching a search pattern (Backstage `SearchResponse`).
///
/// ```
/// use backlot::services::url_reader::{SearchFile, SearchResponse};
///
/// let res = SearchResponse::new(vec![SearchFile::new("file:///a.yaml", "a")], "sha256:ab");
/// assert_eq!(res.files.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SearchResponse {
    /// The matching files, sorted by URL for file searches.
    pub files: Vec<SearchFile>,
    /// Identifies this result, to pass as [`SearchOptions::etag`] on the next search; empty
    /// when the source gives none.
    ///
    /// [`SearchOptions::etag`]: super::SearchOptions::etag
    pub etag: String,
}

impl SearchResponse {
    /// A response with the given files and etag.
    pub fn new(files: Vec<SearchFile>, etag: impl Into<String>) -> Self {
        Self {
            files,
            etag: etag.into(),
        }
    }
}
