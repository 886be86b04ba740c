//! The URL reader service (Backstage `coreServices.urlReader`): read one URL, a file tree or
//! the files matching a glob, from local files or allowed HTTP hosts, with etags so that
//! unchanged content is reported as [`UrlReaderError::NotModified`].
//!
//! [`UrlReaders`] is the service; it asks its [`UrlReader`]s in order. Built-in readers:
//!
//! | reader | URLs | `read_url` | `read_tree` | `search` |
//! |---|---|---|---|---|
//! | [`FileUrlReader`] | `file:` URLs and plain paths below `backend.reading.fileAllow` | yes | yes | glob paths |
//! | [`FetchUrlReader`] | `http(s):` URLs allowed by `backend.reading.allow` | yes | unsupported | exact URLs |
//!
//! Integrations (GitHub, GitLab, ...) implement [`UrlReader`] and are added with
//! [`UrlReaders::with_reader`]; they are asked before the built-in readers.
//!
//! Configuration (`backend.reading`), see `docs/url-reader.md`:
//!
//! ```yaml
//! backend:
//!   reading:
//!     allow:
//!       - host: example.com
//!       - host: '*.internal.example.com'
//!         paths: ['/catalog/']
//!       - host: 127.0.0.1:7007
//!     fileAllow: ['.', '../shared/examples']   # default: the working directory
//!     maxSize: 32MiB                            # per call; default 32 MiB
//!     timeout: 60s                              # per HTTP request; default 60 s
//! ```
//!
//! ```
//! use backlot::services::url_reader::{ReadTreeOptions, SearchOptions, UrlReaders};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let crate_dir = env!("CARGO_MANIFEST_DIR");
//! let readers = UrlReaders::builder().base_dir(crate_dir).build()?;
//!
//! // Every Rust file of this module, relative to the crate directory.
//! let found = readers
//!     .search("src/services/url_reader/*.rs", &SearchOptions::new())
//!     .await?;
//! assert!(found.files.iter().any(|f| f.url.ends_with("url_reader/mod.rs")));
//!
//! let tree = readers
//!     .read_tree("file:src/services", &ReadTreeOptions::new().glob("url_reader/*.rs")?)
//!     .await?;
//! assert!(tree.files.iter().any(|f| f.path == "url_reader/mod.rs"));
//! # Ok(())
//! # }
//! ```

use std::fmt::Debug;

use url::Url;

mod allow;
mod error;
mod etag;
mod file;
mod file_open;
mod http;
mod limits;
mod options;
mod path;
mod readers;
mod response;
mod tree;

pub use allow::{AllowList, AllowRule};
pub use error::UrlReaderError;
pub use file::FileUrlReader;
pub use http::FetchUrlReader;
pub use limits::UrlReaderLimits;
pub(crate) use limits::parse_size;
pub use options::{ReadTreeOptions, ReadUrlOptions, SearchOptions, TreeFilter};
pub use readers::{UrlReaders, UrlReadersBuilder};
pub use response::{ReadUrlResponse, SearchFile, SearchResponse};
pub use tree::{ReadTreeResponse, TreeFile};

/// One source of content: files, a web server, a code host. [`UrlReaders`] asks each reader
/// whether it [`can_read`](UrlReader::can_read) a URL and hands the call to the first that
/// can; the URL it receives is already resolved (plain paths are absolute `file://` URLs).
///
/// An implementation reports an unchanged target (matching etag or date) as
/// [`UrlReaderError::NotModified`], a missing one as [`UrlReaderError::NotFound`], and an
/// operation it does not offer as [`UrlReaderError::Unsupported`].
///
/// ```
/// use std::collections::BTreeMap;
/// use backlot::services::url_reader::*;
/// use url::Url;
///
/// /// Serves `mem:` URLs from a map; the etag is the length.
/// #[derive(Debug)]
/// struct MemReader(BTreeMap<String, String>);
///
/// #[async_trait::async_trait]
/// impl UrlReader for MemReader {
///     fn can_read(&self, url: &Url) -> bool {
///         url.scheme() == "mem"
///     }
///     async fn read_url(&self, url: &Url, opts: &ReadUrlOptions) -> Result<ReadUrlResponse, UrlReaderError> {
///         let text = self.0.get(url.path()).ok_or_else(|| UrlReaderError::NotFound { url: url.to_string() })?;
///         let etag = text.len().to_string();
///         if opts.etag.as_deref() == Some(etag.as_str()) {
///             return Err(UrlReaderError::NotModified { url: url.to_string() });
///         }
///         Ok(ReadUrlResponse::new(text.clone()).with_etag(etag))
///     }
///     async fn read_tree(&self, url: &Url, _: &ReadTreeOptions) -> Result<ReadTreeResponse, UrlReaderError> {
///         Err(UrlReaderError::Unsupported { url: url.to_string(), operation: "read_tree" })
///     }
///     async fn search(&self, url: &Url, _: &SearchOptions) -> Result<SearchResponse, UrlReaderError> {
///         Err(UrlReaderError::Unsupported { url: url.to_string(), operation: "search" })
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let reader = MemReader(BTreeMap::from([("a".to_owned(), "hello".to_owned())]));
/// let url = Url::parse("mem:a")?;
/// assert!(reader.can_read(&url));
/// let res = reader.read_url(&url, &ReadUrlOptions::new()).await?;
/// let err = reader.read_url(&url, &ReadUrlOptions::new().etag(res.etag.unwrap_or_default())).await;
/// assert!(matches!(err, Err(UrlReaderError::NotModified { .. })));
/// # Ok(())
/// # }
/// ```
#[async_trait::async_trait]
pub trait UrlReader: Send + Sync + Debug {
    /// Whether this reader handles the URL (scheme, host and allow-list checks).
    fn can_read(&self, url: &Url) -> bool;

    /// Reads one file (Backstage `readUrl`).
    async fn read_url(
        &self,
        url: &Url,
        opts: &ReadUrlOptions,
    ) -> Result<ReadUrlResponse, UrlReaderError>;

    /// Reads a directory tree (Backstage `readTree`).
    async fn read_tree(
        &self,
        url: &Url,
        opts: &ReadTreeOptions,
    ) -> Result<ReadTreeResponse, UrlReaderError>;

    /// Finds files matching a glob URL (Backstage `search`).
    async fn search(
        &self,
        url: &Url,
        opts: &SearchOptions,
    ) -> Result<SearchResponse, UrlReaderError>;
}

/// The URL reader as plugins use it: string inputs (URLs, `file:` URLs, plain paths).
/// [`UrlReaders`] implements it; tests may substitute their own implementation.
///
/// ```
/// use backlot::services::url_reader::{ReadUrlOptions, UrlReaderError, UrlReaderService, UrlReaders};
///
/// async fn first_line(reader: &dyn UrlReaderService, url: &str) -> Result<String, UrlReaderError> {
///     let res = reader.read_url(url, &ReadUrlOptions::new()).await?;
///     Ok(String::from_utf8_lossy(&res.bytes).lines().next().unwrap_or_default().to_owned())
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let readers = UrlReaders::builder().base_dir(env!("CARGO_MANIFEST_DIR")).build()?;
/// assert_eq!(first_line(&readers, "Cargo.toml").await?, "[package]");
/// # Ok(())
/// # }
/// ```
#[async_trait::async_trait]
pub trait UrlReaderService: Send + Sync + Debug {
    /// Reads one URL or file; see [`UrlReaders::read_url`].
    async fn read_url(
        &self,
        url: &str,
        opts: &ReadUrlOptions,
    ) -> Result<ReadUrlResponse, UrlReaderError>;

    /// Reads a directory tree; see [`UrlReaders::read_tree`].
    async fn read_tree(
        &self,
        url: &str,
        opts: &ReadTreeOptions,
    ) -> Result<ReadTreeResponse, UrlReaderError>;

    /// Finds the files matching a glob; see [`UrlReaders::search`].
    async fn search(
        &self,
        url: &str,
        opts: &SearchOptions,
    ) -> Result<SearchResponse, UrlReaderError>;
}

/// Compiles the examples of the guide `docs/url-reader.md` as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/url-reader.md")]
pub struct UrlReaderGuide;
