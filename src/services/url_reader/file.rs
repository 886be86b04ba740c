//! The reader of local files: `file:` URLs and plain paths.

use std::fs;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use url::Url;

use super::etag::{SetEtag, content_etag};
use super::file_open::{io_error, open_regular, regular_metadata};
use super::options::compile_glob;
use super::path::{normalize, split_glob};
use super::{
    ReadTreeOptions, ReadTreeResponse, ReadUrlOptions, ReadUrlResponse, SearchFile, SearchOptions,
    SearchResponse, TreeFile, UrlReader, UrlReaderError, UrlReaderLimits,
};

/// Reads local files through `file://` URLs.
///
/// - `read_url` reads one file; its etag is `sha256-<hex>` of the content, and
///   `last_modified_at` is the file's modification time.
/// - `read_tree` reads a directory recursively (symlinked files are followed when their
///   target is allowed, symlinked directories are skipped); the etag hashes every included
///   path and content, so it changes exactly when the selected files change.
/// - `search` takes a glob path such as `/repo/**/catalog-info.yaml` (`*` stays within one
///   directory, `**` crosses directories); a path without glob characters yields that one
///   file, or none when it does not exist.
///
/// Files are read only below the allowed root directories (after resolving `..` and
/// symlinks); [`FileUrlReader::unrestricted`] allows every file the process can read. Only
/// regular files are read: FIFOs, devices, sockets and the files of `/proc`, `/sys` and `/dev`
/// are refused without being opened (and files are opened with `O_NONBLOCK`), at most
/// `max_size` bytes are read, and a call that takes longer than the timeout fails with
/// [`UrlReaderError::Timeout`]. A path outside the roots is [`UrlReaderError::NotAllowed`]
/// whether it exists or not.
///
/// ```
/// use backlot::services::url_reader::{FileUrlReader, ReadUrlOptions, UrlReader, UrlReaderError};
/// use url::Url;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let crate_dir = env!("CARGO_MANIFEST_DIR");
/// let reader = FileUrlReader::new([crate_dir]);
///
/// let url = Url::from_file_path(format!("{crate_dir}/Cargo.toml")).map_err(|()| "bad path")?;
/// let res = reader.read_url(&url, &ReadUrlOptions::new()).await?;
/// assert!(res.text()?.contains("name = \"backlot\""));
///
/// // The same etag again: not modified.
/// let again = ReadUrlOptions::new().etag(res.etag.clone().unwrap_or_default());
/// let err = reader.read_url(&url, &again).await.unwrap_err();
/// assert!(matches!(err, UrlReaderError::NotModified { .. }));
///
/// // Outside the allowed root.
/// let outside = Url::parse(&format!("file://{crate_dir}/../outside.txt"))?;
/// let err = reader.read_url(&outside, &ReadUrlOptions::new()).await.unwrap_err();
/// assert!(matches!(err, UrlReaderError::NotAllowed { .. }));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct FileUrlReader {
    roots: Option<Arc<[Root]>>,
    max_size: u64,
    timeout: Duration,
}

#[derive(Debug, Clone)]
struct Root {
    lexical: PathBuf,
    canonical: PathBuf,
}

impl FileUrlReader {
    /// A reader for files below `roots` (relative roots are resolved against the current
    /// directory). No roots means no file may be read.
    pub fn new<I, P>(roots: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<Path>,
    {
        let cwd = std::env::current_dir().unwrap_or_default();
        let roots = roots
            .into_iter()
            .map(|root| {
                let lexical = normalize(&cwd.join(root.as_ref()));
                let canonical = fs::canonicalize(&lexical).unwrap_or_else(|_| lexical.clone());
                Root { lexical, canonical }
            })
            .collect();
        Self {
            roots: Some(roots),
            max_size: UrlReaderLimits::default().max_size,
            timeout: UrlReaderLimits::default().timeout,
        }
    }

    /// A reader for every file the process may read. Only for inputs that come from trusted
    /// configuration.
    pub fn unrestricted() -> Self {
        Self {
            roots: None,
            max_size: UrlReaderLimits::default().max_size,
            timeout: UrlReaderLimits::default().timeout,
        }
    }

    /// Sets the most bytes one call may return.
    #[must_use]
    pub fn with_max_size(mut self, max_size: u64) -> Self {
        self.max_size = max_size;
        self
    }

    /// Sets the longest one call may take (default 60 seconds, `backend.reading.timeout`).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The allowed roots (lexical, absolute); `None` when unrestricted.
    pub fn roots(&self) -> Option<Vec<&Path>> {
        self.roots
            .as_ref()
            .map(|roots| roots.iter().map(|r| r.lexical.as_path()).collect())
    }

    /// Maps the URL to a canonical path and checks it against the roots.
    fn check(&self, url: &Url) -> Result<PathBuf, UrlReaderError> {
        let path = url
            .to_file_path()
            .map_err(|()| UrlReaderError::InvalidUrl {
                url: url.to_string(),
                reason: "file url must name a local absolute path".to_owned(),
            })?;
        let path = normalize(&path);
        let not_allowed = || UrlReaderError::NotAllowed {
            url: url.to_string(),
        };
        if !self.lexically_allowed(&path) {
            return Err(not_allowed());
        }
        let canonical = match fs::canonicalize(&path) {
            Ok(canonical) => canonical,
            // A dangling symlink: where it points is not known to be allowed, and saying
            // "not found" would tell whether a file outside the roots exists.
            Err(_) if fs::symlink_metadata(&path).is_ok() => return Err(not_allowed()),
            Err(e) => return Err(io_error(url)(e)),
        };
        if !self.allowed_canonical(&canonical) {
            return Err(not_allowed());
        }
        Ok(canonical)
    }

    fn lexically_allowed(&self, normalized: &Path) -> bool {
        self.roots.as_ref().is_none_or(|roots| {
            roots
                .iter()
                .any(|r| normalized.starts_with(&r.lexical) || normalized.starts_with(&r.canonical))
        })
    }

    /// Whether a canonical path lies below a root's canonical form. A root that did not
    /// exist when the reader was built (or has moved) is canonicalized again.
    fn allowed_canonical(&self, canonical: &Path) -> bool {
        let Some(roots) = &self.roots else {
            return true;
        };
        roots.iter().any(|r| canonical.starts_with(&r.canonical))
            || roots
                .iter()
                .any(|r| fs::canonicalize(&r.lexical).is_ok_and(|now| canonical.starts_with(now)))
    }

    fn read_file(
        &self,
        url: &Url,
        opts: &ReadUrlOptions,
    ) -> Result<ReadUrlResponse, UrlReaderError> {
        let path = self.check(url)?;
        // Look before opening: opening a FIFO would block.
        let meta = regular_metadata(&path, url)?;
        if meta.len() > self.max_size {
            return Err(self.too_large(url));
        }
        let file = open_regular(&path, &meta, url)?;
        let modified = modified_at(&meta);
        if let (Some(after), Some(modified)) = (opts.last_modified_after, modified) {
            if modified <= after {
                return Err(UrlReaderError::NotModified {
                    url: url.to_string(),
                });
            }
        }
        let content = self.read_limited(file, meta.len(), url)?;
        let etag = content_etag(&content);
        if opts.etag.as_deref() == Some(etag.as_str()) {
            return Err(UrlReaderError::NotModified {
                url: url.to_string(),
            });
        }
        let mut res = ReadUrlResponse::new(content).with_etag(etag);
        res.last_modified_at = modified;
        Ok(res)
    }

    /// Reads at most `max_size` bytes, failing when the file holds more (it may have grown
    /// since its metadata was read).
    fn read_limited(&self, file: fs::File, hint: u64, url: &Url) -> Result<Bytes, UrlReaderError> {
        let mut buf = Vec::with_capacity(usize::try_from(hint.min(self.max_size)).unwrap_or(0));
        file.take(self.max_size.saturating_add(1))
            .read_to_end(&mut buf)
            .map_err(io_error(url))?;
        if buf.len() as u64 > self.max_size {
            return Err(self.too_large(url));
        }
        Ok(Bytes::from(buf))
    }

    fn too_large(&self, url: &Url) -> UrlReaderError {
        UrlReaderError::TooLarge {
            url: url.to_string(),
            limit: self.max_size,
        }
    }

    fn read_dir_tree(
        &self,
        url: &Url,
        opts: &ReadTreeOptions,
    ) -> Result<ReadTreeResponse, UrlReaderError> {
        let root = self.check(url)?;
        if !root.is_dir() {
            return Err(UrlReaderError::Io {
                url: url.to_string(),
                source: io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
            });
        }
        let mut entries = Vec::new();
        self.walk(&root, "", None, &|_| true, &mut entries, url)?;
        let mut total = 0u64;
        let mut files = Vec::new();
        let mut etag = SetEtag::default();
        for entry in entries {
            if !opts.accepts(&entry.rel, entry.size) {
                continue;
            }
            let (content, modified) = self.read_entry(&entry, total, url)?;
            total += content.len() as u64;
            etag.add(&entry.rel, &content);
            let mut file = TreeFile::new(entry.rel, content);
            file.last_modified_at = modified;
            file.mode = entry.mode;
            file.symlink = entry.link.as_deref().map(|target| {
                target
                    .strip_prefix(&root)
                    .ok()
                    .and_then(|rel| rel.to_str())
                    .map_or_else(
                        || target.display().to_string(),
                        |rel| rel.replace('\\', "/"),
                    )
            });
            files.push(file);
        }
        let etag = etag.finish();
        if opts.etag.as_deref() == Some(etag.as_str()) {
            return Err(UrlReaderError::NotModified {
                url: url.to_string(),
            });
        }
        Ok(ReadTreeResponse::new(files, etag))
    }

    fn search_files(
        &self,
        url: &Url,
        opts: &SearchOptions,
    ) -> Result<SearchResponse, UrlReaderError> {
        let path = url
            .to_file_path()
            .map_err(|()| UrlReaderError::InvalidUrl {
                url: url.to_string(),
                reason: "file url must name a local absolute path".to_owned(),
            })?;
        let mut files = Vec::new();
        match split_glob(&path)? {
            None => match self.read_file(url, &ReadUrlOptions::new()) {
                Ok(res) => {
                    let mut file = SearchFile::new(url.as_str(), res.bytes);
                    file.last_modified_at = res.last_modified_at;
                    files.push(file);
                }
                Err(UrlReaderError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            },
            Some((base, pattern)) => {
                let matcher = compile_glob(&pattern)?;
                let base = normalize(&base);
                let base_url =
                    Url::from_file_path(&base).map_err(|()| UrlReaderError::InvalidUrl {
                        url: url.to_string(),
                        reason: "search base must be a local absolute path".to_owned(),
                    })?;
                let root = match self.check(&base_url) {
                    Ok(root) => Some(root),
                    Err(UrlReaderError::NotFound { .. }) => None,
                    Err(e) => return Err(e),
                };
                if let Some(root) = root.filter(|r| r.is_dir()) {
                    let depth = (!pattern.contains("**")).then(|| pattern.split('/').count());
                    let mut entries = Vec::new();
                    let keep = |rel: &str| matcher.is_match(rel);
                    self.walk(&root, "", depth, &keep, &mut entries, url)?;
                    let mut total = 0u64;
                    for entry in entries {
                        let (content, modified) = self.read_entry(&entry, total, url)?;
                        total += content.len() as u64;
                        let file_url =
                            Url::from_file_path(base.join(&entry.rel)).map_err(|()| {
                                UrlReaderError::InvalidUrl {
                                    url: url.to_string(),
                                    reason: format!("cannot express '{}' as a file url", entry.rel),
                                }
                            })?;
                        let mut file = SearchFile::new(file_url.as_str(), content);
                        file.last_modified_at = modified;
                        files.push(file);
                    }
                }
            }
        }
        let mut etag = SetEtag::default();
        for file in &files {
            etag.add(&file.url, &file.content);
        }
        let etag = etag.finish();
        if opts.etag.as_deref() == Some(etag.as_str()) {
            return Err(UrlReaderError::NotModified {
                url: url.to_string(),
            });
        }
        Ok(SearchResponse::new(files, etag))
    }

    fn read_entry(
        &self,
        entry: &Entry,
        total: u64,
        url: &Url,
    ) -> Result<(Bytes, Option<DateTime<Utc>>), UrlReaderError> {
        let remaining = self.max_size.saturating_sub(total);
        if entry.size > remaining {
            return Err(self.too_large(url));
        }
        let meta = regular_metadata(&entry.path, url)?;
        let file = open_regular(&entry.path, &meta, url)?;
        let modified = modified_at(&meta);
        let mut buf = Vec::with_capacity(usize::try_from(entry.size).unwrap_or(0));
        file.take(remaining.saturating_add(1))
            .read_to_end(&mut buf)
            .map_err(io_error(url))?;
        if buf.len() as u64 > remaining {
            return Err(self.too_large(url));
        }
        Ok((Bytes::from(buf), modified))
    }

    /// Lists the regular files below `dir` whose relative path `keep` accepts (sorted by
    /// relative path), down to `depth` levels.
    fn walk(
        &self,
        dir: &Path,
        rel: &str,
        depth: Option<usize>,
        keep: &dyn Fn(&str) -> bool,
        out: &mut Vec<Entry>,
        url: &Url,
    ) -> Result<(), UrlReaderError> {
        if depth == Some(0) {
            return Ok(());
        }
        let mut children = fs::read_dir(dir)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(io_error(url))?;
        children.sort_by_key(fs::DirEntry::file_name);
        for child in children {
            let name = child.file_name();
            let Some(name) = name.to_str() else {
                tracing::warn!(path = %child.path().display(), "url reader skips a file name that is not utf-8");
                continue;
            };
            let child_rel = if rel.is_empty() {
                name.to_owned()
            } else {
                format!("{rel}/{name}")
            };
            let path = child.path();
            let file_type = child.file_type().map_err(io_error(url))?;
            if file_type.is_dir() {
                self.walk(&path, &child_rel, depth.map(|d| d - 1), keep, out, url)?;
            } else if !keep(&child_rel) {
                continue;
            } else if file_type.is_file() {
                let meta = child.metadata().map_err(io_error(url))?;
                out.push(Entry {
                    rel: child_rel,
                    path,
                    size: meta.len(),
                    mode: permission_bits(&meta),
                    link: None,
                });
            } else if file_type.is_symlink() {
                let Ok(meta) = fs::metadata(&path) else {
                    continue;
                };
                if !meta.is_file() {
                    continue;
                }
                let allowed = fs::canonicalize(&path).is_ok_and(|c| self.allowed_canonical(&c));
                if allowed {
                    out.push(Entry {
                        rel: child_rel,
                        mode: permission_bits(&meta),
                        link: fs::canonicalize(&path).ok(),
                        path,
                        size: meta.len(),
                    });
                } else {
                    tracing::warn!(path = %path.display(), "url reader skips a symlink to a file outside the allowed roots");
                }
            }
        }
        if rel.is_empty() {
            out.sort_by(|a, b| a.rel.cmp(&b.rel));
        }
        Ok(())
    }
}

/// A file found by [`FileUrlReader::walk`].
#[derive(Debug)]
struct Entry {
    rel: String,
    path: PathBuf,
    size: u64,
    /// Permission bits of the file (of the target for a symlink).
    mode: Option<u32>,
    /// The canonical target of a symlink.
    link: Option<PathBuf>,
}

#[cfg(unix)]
fn permission_bits(meta: &fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    Some(meta.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn permission_bits(_meta: &fs::Metadata) -> Option<u32> {
    None
}

fn modified_at(meta: &fs::Metadata) -> Option<DateTime<Utc>> {
    meta.modified().ok().map(DateTime::<Utc>::from)
}

/// Runs blocking file work off the async runtime, for at most `timeout` (the thread may
/// finish later; files are opened without blocking, so it does not hang).
async fn blocking<T, F>(url: &Url, timeout: Duration, work: F) -> Result<T, UrlReaderError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, UrlReaderError> + Send + 'static,
{
    match tokio::time::timeout(timeout, tokio::task::spawn_blocking(work)).await {
        Err(_) => Err(UrlReaderError::Timeout {
            url: url.to_string(),
        }),
        Ok(joined) => joined.map_err(|e| UrlReaderError::Io {
            url: url.to_string(),
            source: io::Error::other(e),
        })?,
    }
}

#[async_trait::async_trait]
impl UrlReader for FileUrlReader {
    /// `file:` URLs of local paths that lie below an allowed root once `.` and `..` are
    /// resolved (symlinks are checked when reading).
    fn can_read(&self, url: &Url) -> bool {
        url.scheme() == "file"
            && url
                .to_file_path()
                .is_ok_and(|path| self.lexically_allowed(&normalize(&path)))
    }

    async fn read_url(
        &self,
        url: &Url,
        opts: &ReadUrlOptions,
    ) -> Result<ReadUrlResponse, UrlReaderError> {
        let (this, target, opts) = (self.clone(), url.clone(), opts.clone());
        blocking(url, self.timeout, move || this.read_file(&target, &opts)).await
    }

    async fn read_tree(
        &self,
        url: &Url,
        opts: &ReadTreeOptions,
    ) -> Result<ReadTreeResponse, UrlReaderError> {
        let (this, target, opts) = (self.clone(), url.clone(), opts.clone());
        blocking(url, self.timeout, move || {
            this.read_dir_tree(&target, &opts)
        })
        .await
    }

    async fn search(
        &self,
        url: &Url,
        opts: &SearchOptions,
    ) -> Result<SearchResponse, UrlReaderError> {
        let (this, target, opts) = (self.clone(), url.clone(), opts.clone());
        blocking(url, self.timeout, move || this.search_files(&target, &opts)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_url(path: &Path) -> Url {
        Url::from_file_path(path).unwrap()
    }

    #[tokio::test]
    async fn last_modified_after_is_honoured() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a.txt");
        fs::write(&path, "a").unwrap();
        let reader = FileUrlReader::new([tmp.path()]);
        let url = file_url(&path);
        let res = reader.read_url(&url, &ReadUrlOptions::new()).await.unwrap();
        let modified = res.last_modified_at.unwrap();
        let err = reader
            .read_url(&url, &ReadUrlOptions::new().last_modified_after(modified))
            .await
            .unwrap_err();
        assert!(err.is_not_modified());
        let earlier = modified - chrono::Duration::seconds(10);
        let res = reader
            .read_url(&url, &ReadUrlOptions::new().last_modified_after(earlier))
            .await
            .unwrap();
        assert_eq!(&res.bytes[..], b"a");
    }

    #[tokio::test]
    async fn directories_are_not_files_and_files_are_not_trees() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("a.txt"), "a").unwrap();
        let reader = FileUrlReader::new([tmp.path()]);
        let err = reader
            .read_url(&file_url(tmp.path()), &ReadUrlOptions::new())
            .await
            .unwrap_err();
        assert!(
            matches!(err, UrlReaderError::Io { ref source, .. } if source.kind() == io::ErrorKind::IsADirectory)
        );
        let err = reader
            .read_tree(
                &file_url(&tmp.path().join("a.txt")),
                &ReadTreeOptions::new(),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, UrlReaderError::Io { ref source, .. } if source.kind() == io::ErrorKind::NotADirectory)
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn symlinks_cannot_escape_the_roots() {
        let tmp = tempfile::tempdir().unwrap();
        let allowed = tmp.path().join("allowed");
        fs::create_dir(&allowed).unwrap();
        fs::write(tmp.path().join("secret.txt"), "secret").unwrap();
        fs::write(allowed.join("ok.txt"), "ok").unwrap();
        std::os::unix::fs::symlink(tmp.path().join("secret.txt"), allowed.join("link.txt"))
            .unwrap();
        std::os::unix::fs::symlink(tmp.path(), allowed.join("parent")).unwrap();
        let reader = FileUrlReader::new([&allowed]);

        let err = reader
            .read_url(&file_url(&allowed.join("link.txt")), &ReadUrlOptions::new())
            .await
            .unwrap_err();
        assert!(matches!(err, UrlReaderError::NotAllowed { .. }), "{err:?}");

        let tree = reader
            .read_tree(&file_url(&allowed), &ReadTreeOptions::new())
            .await
            .unwrap();
        let paths: Vec<_> = tree.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["ok.txt"]);

        // Unrestricted readers follow the file symlink but still skip directory symlinks.
        let tree = FileUrlReader::unrestricted()
            .read_tree(&file_url(&allowed), &ReadTreeOptions::new())
            .await
            .unwrap();
        let paths: Vec<_> = tree.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["link.txt", "ok.txt"]);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn roots_created_after_the_reader_work_through_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        let link = tmp.path().join("link");
        let reader = FileUrlReader::new([&link]);
        fs::create_dir(&real).unwrap();
        fs::write(real.join("a.txt"), "a").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let res = reader
            .read_url(&file_url(&link.join("a.txt")), &ReadUrlOptions::new())
            .await
            .unwrap();
        assert_eq!(&res.bytes[..], b"a");
        let err = reader
            .read_url(&file_url(&real.join("a.txt")), &ReadUrlOptions::new())
            .await
            .unwrap_err();
        assert!(matches!(err, UrlReaderError::NotAllowed { .. }));
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn special_files_are_refused_without_blocking() {
        let reader = FileUrlReader::unrestricted();
        let err = reader
            .read_url(
                &Url::parse("file:///dev/zero").unwrap(),
                &ReadUrlOptions::new(),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, UrlReaderError::Io { ref source, .. } if source.kind() == io::ErrorKind::InvalidInput),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn no_roots_reads_nothing() {
        let reader = FileUrlReader::new(Vec::<PathBuf>::new());
        assert!(!reader.can_read(&Url::parse("file:///etc/hostname").unwrap()));
        assert!(
            FileUrlReader::unrestricted().can_read(&Url::parse("file:///etc/hostname").unwrap())
        );
        assert!(
            !FileUrlReader::unrestricted().can_read(&Url::parse("https://example.com/").unwrap())
        );
    }

    #[tokio::test]
    async fn search_depth_is_bounded_without_double_star() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("a/b")).unwrap();
        fs::write(tmp.path().join("top.yaml"), "t").unwrap();
        fs::write(tmp.path().join("a/one.yaml"), "1").unwrap();
        fs::write(tmp.path().join("a/b/two.yaml"), "2").unwrap();
        let reader = FileUrlReader::new([tmp.path()]);
        let pattern = Url::from_file_path(tmp.path().join("*/*.yaml")).unwrap();
        let res = reader
            .search(&pattern, &SearchOptions::new())
            .await
            .unwrap();
        let names: Vec<_> = res
            .files
            .iter()
            .map(|f| f.url.rsplit('/').next().unwrap())
            .collect();
        assert_eq!(names, ["one.yaml"]);
    }
}
