//! The response of `read_tree` and writing it out to a directory.

use std::path::{Component, Path, PathBuf};

use bytes::Bytes;
use chrono::{DateTime, Utc};

use super::UrlReaderError;

/// One file of a tree (Backstage `ReadTreeResponseFile`).
///
/// ```
/// use backlot::services::url_reader::TreeFile;
///
/// let file = TreeFile::new("docs/index.md", "# Hello");
/// assert_eq!(file.path, "docs/index.md");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TreeFile {
    /// The path relative to the tree root, `/`-separated, without a leading `/`.
    pub path: String,
    /// The content.
    pub content: Bytes,
    /// When the file last changed, when the source knows.
    pub last_modified_at: Option<DateTime<Utc>>,
    /// Unix permission bits (`0o755` for an executable), when the source knows them.
    pub mode: Option<u32>,
    /// When the file is a symbolic link, where it leads: a `/`-separated path relative to the
    /// tree root when the target is inside the tree, an absolute path when it is outside.
    pub symlink: Option<String>,
}

impl TreeFile {
    /// A file with the given relative path and content.
    pub fn new(path: impl Into<String>, content: impl Into<Bytes>) -> Self {
        Self {
            path: path.into(),
            content: content.into(),
            last_modified_at: None,
            mode: None,
            symlink: None,
        }
    }

    /// Sets the last modification time.
    #[must_use]
    pub fn with_last_modified_at(mut self, at: DateTime<Utc>) -> Self {
        self.last_modified_at = Some(at);
        self
    }
}

/// A file tree (Backstage `ReadTreeResponse`).
///
/// ```
/// use backlot::services::url_reader::{ReadTreeResponse, TreeFile};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let tree = ReadTreeResponse::new(
///     vec![TreeFile::new("mkdocs.yml", "site_name: x"), TreeFile::new("docs/index.md", "# x")],
///     "sha256:0123",
/// );
/// let target = std::env::temp_dir().join(format!("backlot-doc-tree-{}", std::process::id()));
/// let dir = tree.dir(&target).await?;
/// assert_eq!(std::fs::read_to_string(dir.join("docs/index.md"))?, "# x");
/// std::fs::remove_dir_all(&target)?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadTreeResponse {
    /// The files, sorted by path for file trees.
    pub files: Vec<TreeFile>,
    /// Identifies this tree, to pass as [`ReadTreeOptions::etag`] on the next read.
    ///
    /// [`ReadTreeOptions::etag`]: super::ReadTreeOptions::etag
    pub etag: String,
}

impl ReadTreeResponse {
    /// A tree with the given files and etag.
    pub fn new(files: Vec<TreeFile>, etag: impl Into<String>) -> Self {
        Self {
            files,
            etag: etag.into(),
        }
    }

    /// The total size of all files in bytes.
    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.content.len() as u64).sum()
    }

    /// Writes every file below `target` (created when missing, existing files overwritten)
    /// and returns `target`. The caller owns the directory and removes it after use.
    ///
    /// # Errors
    ///
    /// [`UrlReaderError::UnsafePath`] when a file path is absolute or contains `..` (nothing
    /// is written then), [`UrlReaderError::Write`] when the file system refuses.
    pub async fn dir(&self, target: &Path) -> Result<PathBuf, UrlReaderError> {
        let mut planned = Vec::with_capacity(self.files.len());
        for file in &self.files {
            planned.push((safe_relative_path(&file.path)?, &file.content));
        }
        let write_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| UrlReaderError::Write { path, source }
        };
        tokio::fs::create_dir_all(target)
            .await
            .map_err(write_err(target))?;
        for (relative, content) in planned {
            let path = target.join(relative);
            if let Some(parent) = path.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(write_err(parent))?;
            }
            tokio::fs::write(&path, content)
                .await
                .map_err(write_err(&path))?;
        }
        Ok(target.to_path_buf())
    }
}

/// Turns a `/`-separated tree path into a relative path that cannot leave its root.
fn safe_relative_path(path: &str) -> Result<PathBuf, UrlReaderError> {
    let unsafe_path = || UrlReaderError::UnsafePath {
        path: path.to_owned(),
    };
    if path.is_empty() || path.contains('\\') || path.contains('\0') {
        return Err(unsafe_path());
    }
    let mut out = PathBuf::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(unsafe_path());
            }
        }
    }
    if out.as_os_str().is_empty() {
        return Err(unsafe_path());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_paths_stay_relative() {
        assert_eq!(
            safe_relative_path("a/./b.txt").unwrap(),
            PathBuf::from("a/b.txt")
        );
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a/..", ".", "a\\b"] {
            assert!(
                matches!(
                    safe_relative_path(bad),
                    Err(UrlReaderError::UnsafePath { .. })
                ),
                "{bad} should be refused"
            );
        }
    }

    #[tokio::test]
    async fn dir_refuses_escaping_paths_before_writing() {
        let tmp = tempfile::tempdir().unwrap();
        let tree = ReadTreeResponse::new(
            vec![
                TreeFile::new("ok.txt", "ok"),
                TreeFile::new("../evil.txt", "x"),
            ],
            "e",
        );
        let target = tmp.path().join("out");
        let err = tree.dir(&target).await.unwrap_err();
        assert!(matches!(err, UrlReaderError::UnsafePath { ref path } if path == "../evil.txt"));
        assert!(!target.exists());
        assert!(!tmp.path().join("evil.txt").exists());
    }

    #[tokio::test]
    async fn dir_writes_nested_files() {
        let tmp = tempfile::tempdir().unwrap();
        let tree = ReadTreeResponse::new(
            vec![
                TreeFile::new("a/b/c.txt", "c"),
                TreeFile::new("top.txt", "t"),
            ],
            "e",
        );
        let dir = tree.dir(tmp.path()).await.unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("a/b/c.txt")).unwrap(), "c");
        assert_eq!(std::fs::read_to_string(dir.join("top.txt")).unwrap(), "t");
        assert_eq!(tree.total_size(), 2);
    }
}
