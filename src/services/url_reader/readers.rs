//! [`UrlReaders`]: the URL reader service, dispatching to the first reader that can read.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use url::Url;

use super::path::{Resolved, resolve_input};
use super::{
    AllowList, AllowRule, FetchUrlReader, FileUrlReader, ReadTreeOptions, ReadTreeResponse,
    ReadUrlOptions, ReadUrlResponse, SearchOptions, SearchResponse, UrlReader, UrlReaderError,
    UrlReaderLimits, UrlReaderService,
};

/// The URL reader service: a list of [`UrlReader`]s, asked in order; the first whose
/// [`can_read`](UrlReader::can_read) accepts a URL reads it, and a URL no reader accepts is
/// [`UrlReaderError::NotAllowed`].
///
/// Built from `backend.reading` it holds, in this order, the readers added with
/// [`with_reader`](Self::with_reader) (integrations such as GitHub), a [`FileUrlReader`] for
/// the directories in `backend.reading.fileAllow` (default: the working directory) and a
/// [`FetchUrlReader`] for the hosts in `backend.reading.allow`.
///
/// Inputs may be URLs, `file:` URLs (`file:///abs/path`, `file:relative/path`) or plain paths;
/// relative paths are resolved against the working directory (see
/// [`UrlReadersBuilder::base_dir`]). Search results for a plain-path search are plain paths.
///
/// ```
/// use backlot::services::url_reader::{ReadUrlOptions, UrlReaderError, UrlReaders};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let crate_dir = env!("CARGO_MANIFEST_DIR");
/// let readers = UrlReaders::from_config(Some(&serde_json::json!({
///     "allow": [{ "host": "*.example.com" }],
///     "fileAllow": [crate_dir],
///     "maxSize": "1MiB",
/// })))?;
///
/// let manifest = readers
///     .read_url(&format!("{crate_dir}/Cargo.toml"), &ReadUrlOptions::new())
///     .await?;
/// assert!(manifest.text()?.contains("[package]"));
///
/// let err = readers
///     .read_url("https://elsewhere.test/x", &ReadUrlOptions::new())
///     .await
///     .unwrap_err();
/// assert!(matches!(err, UrlReaderError::NotAllowed { ref url } if url == "https://elsewhere.test/x"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct UrlReaders {
    readers: Vec<Arc<dyn UrlReader>>,
    /// How many of `readers` were added with `with_reader` (they come first).
    added: usize,
    base_dir: PathBuf,
}

impl UrlReaders {
    /// A builder with nothing allowed yet.
    pub fn builder() -> UrlReadersBuilder {
        UrlReadersBuilder::default()
    }

    /// The service as configured by the `backend.reading` object (`None` when absent): `allow`,
    /// `fileAllow`, `maxSize` and `timeout`. See [`UrlReadersBuilder::config`].
    ///
    /// # Errors
    ///
    /// [`UrlReaderError::InvalidConfig`] naming the offending key, or
    /// [`UrlReaderError::Client`] when the HTTP client cannot be built.
    pub fn from_config(reading: Option<&Value>) -> Result<Self, UrlReaderError> {
        Self::builder().config(reading)?.build()
    }

    /// Adds a reader, asked after the readers added before it and before the built-in file
    /// and HTTP readers.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use backlot::services::url_reader::*;
    /// use url::Url;
    ///
    /// /// Serves `memo:` URLs from a fixed text.
    /// #[derive(Debug)]
    /// struct MemoReader;
    ///
    /// #[async_trait::async_trait]
    /// impl UrlReader for MemoReader {
    ///     fn can_read(&self, url: &Url) -> bool {
    ///         url.scheme() == "memo"
    ///     }
    ///     async fn read_url(&self, url: &Url, _: &ReadUrlOptions) -> Result<ReadUrlResponse, UrlReaderError> {
    ///         Ok(ReadUrlResponse::new(url.path().to_owned()))
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
    /// let readers = UrlReaders::from_config(None)?.with_reader(Arc::new(MemoReader));
    /// let res = readers.read_url("memo:hello", &ReadUrlOptions::new()).await?;
    /// assert_eq!(res.text()?, "hello");
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn with_reader(mut self, reader: Arc<dyn UrlReader>) -> Self {
        self.readers.insert(self.added, reader);
        self.added += 1;
        self
    }

    /// The directory relative paths are resolved against.
    pub fn base_dir(&self) -> &Path {
        &self.base_dir
    }

    /// Resolves an input to the URL the readers see: URLs as given, `file:` URLs and plain
    /// paths as absolute, normalized `file://` URLs.
    ///
    /// # Errors
    ///
    /// [`UrlReaderError::InvalidUrl`] when the input is neither a URL nor a path.
    pub fn resolve(&self, input: &str) -> Result<Url, UrlReaderError> {
        resolve_input(input, &self.base_dir).map(|r| r.url)
    }

    /// Whether some reader accepts the input: an allowed host, or a path below an allowed
    /// directory (symlinks are checked only when the file is read).
    pub fn can_read(&self, input: &str) -> bool {
        self.resolve(input)
            .is_ok_and(|url| self.readers.iter().any(|r| r.can_read(&url)))
    }

    fn pick(&self, input: &str) -> Result<(Resolved, &Arc<dyn UrlReader>), UrlReaderError> {
        let resolved = resolve_input(input, &self.base_dir)?;
        let reader = self
            .readers
            .iter()
            .find(|r| r.can_read(&resolved.url))
            .ok_or_else(|| UrlReaderError::NotAllowed {
                url: input.to_owned(),
            })?;
        Ok((resolved, reader))
    }

    /// Reads one URL or file (Backstage `readUrl`).
    ///
    /// # Errors
    ///
    /// [`UrlReaderError::NotModified`] when `opts` names the current etag or a date not older
    /// than the content, [`UrlReaderError::NotFound`], [`UrlReaderError::NotAllowed`],
    /// [`UrlReaderError::TooLarge`] and the reader's other errors.
    pub async fn read_url(
        &self,
        url: &str,
        opts: &ReadUrlOptions,
    ) -> Result<ReadUrlResponse, UrlReaderError> {
        let (resolved, reader) = self.pick(url)?;
        reader.read_url(&resolved.url, opts).await
    }

    /// Reads a directory tree (Backstage `readTree`).
    ///
    /// # Errors
    ///
    /// As [`read_url`](Self::read_url); [`UrlReaderError::Unsupported`] for readers without
    /// trees (plain HTTP).
    pub async fn read_tree(
        &self,
        url: &str,
        opts: &ReadTreeOptions,
    ) -> Result<ReadTreeResponse, UrlReaderError> {
        let (resolved, reader) = self.pick(url)?;
        reader.read_tree(&resolved.url, opts).await
    }

    /// Finds the files matching a glob URL or path (Backstage `search`).
    ///
    /// # Errors
    ///
    /// As [`read_url`](Self::read_url); a missing file or directory is an empty result, not
    /// an error.
    pub async fn search(
        &self,
        url: &str,
        opts: &SearchOptions,
    ) -> Result<SearchResponse, UrlReaderError> {
        let (resolved, reader) = self.pick(url)?;
        let mut res = reader.search(&resolved.url, opts).await?;
        if resolved.plain_path {
            for file in &mut res.files {
                let path = Url::parse(&file.url)
                    .ok()
                    .and_then(|u| u.to_file_path().ok());
                if let Some(path) = path {
                    file.url = path.to_string_lossy().into_owned();
                }
            }
        }
        Ok(res)
    }
}

#[async_trait::async_trait]
impl UrlReaderService for UrlReaders {
    async fn read_url(
        &self,
        url: &str,
        opts: &ReadUrlOptions,
    ) -> Result<ReadUrlResponse, UrlReaderError> {
        UrlReaders::read_url(self, url, opts).await
    }

    async fn read_tree(
        &self,
        url: &str,
        opts: &ReadTreeOptions,
    ) -> Result<ReadTreeResponse, UrlReaderError> {
        UrlReaders::read_tree(self, url, opts).await
    }

    async fn search(
        &self,
        url: &str,
        opts: &SearchOptions,
    ) -> Result<SearchResponse, UrlReaderError> {
        UrlReaders::search(self, url, opts).await
    }
}

/// Builds [`UrlReaders`].
///
/// ```
/// use std::time::Duration;
/// use backlot::services::url_reader::{AllowRule, UrlReaders};
///
/// let readers = UrlReaders::builder()
///     .allow(AllowRule::parse("*.example.com")?.with_paths(["/catalog/"]))
///     .file_roots(["examples"])
///     .base_dir(env!("CARGO_MANIFEST_DIR"))
///     .max_size(4 << 20)
///     .timeout(Duration::from_secs(10))
///     .build()?;
/// assert!(readers.can_read("https://git.example.com/catalog/all.yaml"));
/// assert!(!readers.can_read("https://git.example.com/other"));
/// assert!(readers.can_read("file:examples/entities.yaml"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct UrlReadersBuilder {
    allow: AllowList,
    file_roots: Option<Vec<PathBuf>>,
    unrestricted_files: bool,
    limits: UrlReaderLimits,
    base_dir: Option<PathBuf>,
    readers: Vec<Arc<dyn UrlReader>>,
    resolved: Vec<(String, SocketAddr)>,
}

impl UrlReadersBuilder {
    /// Applies a `backend.reading` object:
    ///
    /// - `allow`: `[{ host, paths? }]`, the hosts the HTTP reader may fetch (see
    ///   [`AllowRule`]); rules add to those already given.
    /// - `fileAllow`: directories (relative ones against the base directory) below which
    ///   files may be read; replaces earlier roots. Absent: the base directory. `[]`: no
    ///   files.
    /// - `maxSize`, `timeout`: see [`UrlReaderLimits::from_config`].
    ///
    /// # Errors
    ///
    /// [`UrlReaderError::InvalidConfig`] naming the offending key.
    pub fn config(mut self, reading: Option<&Value>) -> Result<Self, UrlReaderError> {
        let Some(reading) = reading.filter(|v| !v.is_null()) else {
            return Ok(self);
        };
        if !reading.is_object() {
            return Err(UrlReaderError::InvalidConfig {
                key: "backend.reading".to_owned(),
                reason: "expected an object".to_owned(),
            });
        }
        let allow = AllowList::from_config(reading.get("allow"))?;
        for rule in allow.rules() {
            self.allow = self.allow.with_rule(rule.clone());
        }
        if let Some(roots) = reading.get("fileAllow").filter(|v| !v.is_null()) {
            const KEY: &str = "backend.reading.fileAllow";
            let list = roots
                .as_array()
                .ok_or_else(|| UrlReaderError::InvalidConfig {
                    key: KEY.to_owned(),
                    reason: "expected a list of directories".to_owned(),
                })?;
            let mut dirs = Vec::with_capacity(list.len());
            for (i, dir) in list.iter().enumerate() {
                let dir = dir
                    .as_str()
                    .filter(|s| !s.trim().is_empty())
                    .ok_or_else(|| UrlReaderError::InvalidConfig {
                        key: format!("{KEY}[{i}]"),
                        reason: "expected a directory path".to_owned(),
                    })?;
                dirs.push(PathBuf::from(dir));
            }
            self.file_roots = Some(dirs);
        }
        self.limits = UrlReaderLimits::from_config(Some(reading))?;
        Ok(self)
    }

    /// Allows the HTTP reader to fetch URLs matching `rule`.
    #[must_use]
    pub fn allow(mut self, rule: AllowRule) -> Self {
        self.allow = self.allow.with_rule(rule);
        self
    }

    /// Sets the directories below which files may be read (relative ones against the base
    /// directory). Empty: no files.
    #[must_use]
    pub fn file_roots<I, P>(mut self, roots: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        self.file_roots = Some(roots.into_iter().map(Into::into).collect());
        self.unrestricted_files = false;
        self
    }

    /// Allows reading every file the process may read. Only when every URL comes from
    /// trusted configuration.
    #[must_use]
    pub fn unrestricted_files(mut self) -> Self {
        self.unrestricted_files = true;
        self
    }

    /// Sets both limits.
    #[must_use]
    pub fn limits(mut self, limits: UrlReaderLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the most bytes one call may return.
    #[must_use]
    pub fn max_size(mut self, max_size: u64) -> Self {
        self.limits.max_size = max_size;
        self
    }

    /// Sets the HTTP request timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.limits.timeout = timeout;
        self
    }

    /// Sets the directory relative paths and roots are resolved against (default: the
    /// process's working directory when built).
    #[must_use]
    pub fn base_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.base_dir = Some(dir.into());
        self
    }

    /// Makes the HTTP reader connect to `addr` for `host` instead of asking DNS (see
    /// [`FetchUrlReader::with_resolved`]).
    #[must_use]
    pub fn resolve(mut self, host: impl Into<String>, addr: SocketAddr) -> Self {
        self.resolved.push((host.into(), addr));
        self
    }

    /// Adds a reader asked before the built-in ones (see [`UrlReaders::with_reader`]).
    #[must_use]
    pub fn reader(mut self, reader: Arc<dyn UrlReader>) -> Self {
        self.readers.push(reader);
        self
    }

    /// The base directory and the file reader `build` makes, with `extra` roots.
    fn files(&mut self, extra: &[PathBuf]) -> Result<(PathBuf, FileUrlReader), UrlReaderError> {
        let base_dir = match self.base_dir.take() {
            Some(dir) if dir.is_absolute() => dir,
            other => {
                let cwd = std::env::current_dir().map_err(|source| UrlReaderError::Io {
                    url: ".".to_owned(),
                    source,
                })?;
                cwd.join(other.unwrap_or_default())
            }
        };
        let base_dir = super::path::normalize(&base_dir);
        let files = if self.unrestricted_files {
            FileUrlReader::unrestricted()
        } else {
            let roots = self
                .file_roots
                .clone()
                .unwrap_or_else(|| vec![PathBuf::new()]);
            FileUrlReader::new(roots.iter().chain(extra).map(|r| base_dir.join(r)))
        }
        .with_max_size(self.limits.max_size)
        .with_timeout(self.limits.timeout);
        Ok((base_dir, files))
    }

    /// Only the file reader `build` would make, with `extra` roots (absolute, or relative to
    /// the base directory) besides `fileAllow`: the catalog reads its file locations with it.
    pub(crate) fn build_file_reader(
        mut self,
        extra: &[PathBuf],
    ) -> Result<FileUrlReader, UrlReaderError> {
        self.files(extra).map(|(_, files)| files)
    }

    /// Builds the service.
    ///
    /// # Errors
    ///
    /// [`UrlReaderError::Io`] when the working directory cannot be determined,
    /// [`UrlReaderError::Client`] when the HTTP client cannot be built.
    pub fn build(mut self) -> Result<UrlReaders, UrlReaderError> {
        let (base_dir, files) = self.files(&[])?;
        let fetch = FetchUrlReader::with_resolved(self.allow, self.limits, &self.resolved)?;
        let added = self.readers.len();
        let mut readers = self.readers;
        readers.push(Arc::new(files));
        readers.push(Arc::new(fetch));
        Ok(UrlReaders {
            readers,
            added,
            base_dir,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn default_file_root_is_the_base_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let readers = UrlReaders::builder().base_dir(tmp.path()).build().unwrap();
        assert!(readers.can_read("catalog-info.yaml"));
        assert!(readers.can_read("file:./a/b.yaml"));
        assert!(!readers.can_read("http://localhost/"));
        assert!(!readers.can_read("../outside.yaml"));
        assert!(!readers.can_read("a/../../outside.yaml"));
        assert!(!readers.can_read("/etc/passwd"));
        assert_eq!(readers.base_dir(), tmp.path());
        assert_eq!(
            readers.resolve("a/../b.yaml").unwrap(),
            Url::from_file_path(tmp.path().join("b.yaml")).unwrap()
        );
    }

    #[test]
    fn empty_file_allow_disables_files() {
        let readers = UrlReaders::from_config(Some(&json!({ "fileAllow": [] }))).unwrap();
        assert!(!readers.can_read("file:///etc/hostname"));
        assert!(!readers.can_read("Cargo.toml"));
    }

    #[test]
    fn config_errors_name_keys() {
        for (config, key) in [
            (json!({ "fileAllow": "." }), "backend.reading.fileAllow"),
            (
                json!({ "fileAllow": [".", 1] }),
                "backend.reading.fileAllow[1]",
            ),
            (
                json!({ "allow": [{ "host": "a.*.b" }] }),
                "backend.reading.allow[0].host",
            ),
            (json!({ "maxSize": -3 }), "backend.reading.maxSize"),
            (json!([]), "backend.reading"),
        ] {
            let err = UrlReaders::from_config(Some(&config)).unwrap_err();
            assert!(
                matches!(err, UrlReaderError::InvalidConfig { key: ref k, .. } if k == key),
                "{config}: {err:?}"
            );
        }
    }

    #[test]
    fn added_readers_come_first_in_order() {
        #[derive(Debug)]
        struct Named(&'static str);
        #[async_trait::async_trait]
        impl UrlReader for Named {
            fn can_read(&self, url: &Url) -> bool {
                url.scheme() == "https"
            }
            async fn read_url(
                &self,
                _: &Url,
                _: &ReadUrlOptions,
            ) -> Result<ReadUrlResponse, UrlReaderError> {
                Ok(ReadUrlResponse::new(self.0))
            }
            async fn read_tree(
                &self,
                url: &Url,
                _: &ReadTreeOptions,
            ) -> Result<ReadTreeResponse, UrlReaderError> {
                Err(UrlReaderError::NotFound {
                    url: url.to_string(),
                })
            }
            async fn search(
                &self,
                url: &Url,
                _: &SearchOptions,
            ) -> Result<SearchResponse, UrlReaderError> {
                Err(UrlReaderError::NotFound {
                    url: url.to_string(),
                })
            }
        }
        let readers = UrlReaders::builder()
            .allow(AllowRule::parse("example.com").unwrap())
            .build()
            .unwrap()
            .with_reader(Arc::new(Named("first")))
            .with_reader(Arc::new(Named("second")));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let res = rt
            .block_on(readers.read_url("https://example.com/x", &ReadUrlOptions::new()))
            .unwrap();
        assert_eq!(&res.bytes[..], b"first");
    }
}
