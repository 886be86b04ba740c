//! Built-in `fetch:*` actions: `fetch:plain` (a directory tree), `fetch:plain:file` (one file)
//! and `fetch:template` (a skeleton rendered with `values`).
//!
//! Every read goes through the backend's URL reader (its allow-lists and file roots apply);
//! every write goes through [`resolve_safe_child_path`] against the task's workspace.
//!
//! Configuration:
//!
//! ```yaml
//! scaffolder:
//!   fetch:
//!     maxFiles: 10000     # files one fetch may read or write (default 10,000)
//!     maxBytes: 100MiB    # bytes one fetch may read, and write (default 100 MiB)
//!   templating:
//!     maxOutputSize: 10MiB  # bytes one rendered file may have
//! ```
//!
//! Symlinks inside a fetched tree are copied as the file they lead to; one that leads out of
//! the tree is refused. Empty directories of a skeleton are not recreated (the reader returns
//! files only).

mod plain;
mod template;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use url::Url;

use super::BuiltinActionDeps;
use crate::plugins::scaffolder::node::{
    ActionContext, ActionError, TemplateAction, resolve_safe_child_path,
};
use crate::services::config::Config;
use crate::services::url_reader::{TreeFile, UrlReaderError};

/// The `fetch:*` actions.
pub(super) fn actions(deps: &BuiltinActionDeps) -> Vec<Arc<dyn TemplateAction>> {
    vec![
        Arc::new(plain::FetchPlain::new(deps)),
        Arc::new(plain::FetchPlainFile::new(deps)),
        Arc::new(template::FetchTemplate::new(deps)),
    ]
}

/// Default of `scaffolder.fetch.maxFiles`.
const DEFAULT_MAX_FILES: usize = 10_000;
/// Default of `scaffolder.fetch.maxBytes`.
const DEFAULT_MAX_BYTES: u64 = 100 * 1024 * 1024;

/// How much one fetch may read and write.
#[derive(Debug, Clone, Copy)]
pub(super) struct FetchLimits {
    pub(super) max_files: usize,
    pub(super) max_bytes: u64,
}

impl FetchLimits {
    /// `scaffolder.fetch.maxFiles` and `scaffolder.fetch.maxBytes`; a value that is not a
    /// positive number (or a size) fails the action rather than lifting the limit.
    pub(super) fn from_config(config: &Config) -> Result<Self, ActionError> {
        let mut limits = Self {
            max_files: DEFAULT_MAX_FILES,
            max_bytes: DEFAULT_MAX_BYTES,
        };
        if let Some(v) = config.get("scaffolder.fetch.maxFiles") {
            limits.max_files = v
                .as_u64()
                .filter(|n| *n > 0)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| {
                    ActionError::Failed(format!(
                        "scaffolder.fetch.maxFiles must be a positive number, got {v}"
                    ))
                })?;
        }
        if let Some(v) = config.get("scaffolder.fetch.maxBytes") {
            limits.max_bytes = crate::services::url_reader::parse_size(v)
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    ActionError::Failed(format!(
                        "scaffolder.fetch.maxBytes must be a size, got {v}"
                    ))
                })?;
        }
        Ok(limits)
    }

    /// Refuses a tree over the limits before anything is written.
    pub(super) fn check_tree(&self, files: &[TreeFile]) -> Result<(), ActionError> {
        if files.len() > self.max_files {
            return Err(ActionError::Failed(format!(
                "the fetched tree has {} files, more than the {} allowed (scaffolder.fetch.maxFiles)",
                files.len(),
                self.max_files
            )));
        }
        let total: u64 = files.iter().map(|f| f.content.len() as u64).sum();
        if total > self.max_bytes {
            return Err(ActionError::Failed(format!(
                "the fetched tree has {total} bytes, more than the {} allowed (scaffolder.fetch.maxBytes)",
                self.max_bytes
            )));
        }
        Ok(())
    }
}

/// The URL to read: `url` itself when absolute, else resolved against the template's location
/// (`ctx.template_info.base_url`).
pub(super) fn resolve_fetch_url(ctx: &ActionContext, url: &str) -> Result<String, ActionError> {
    if Url::parse(url).is_ok() {
        return Ok(url.to_string());
    }
    let base = ctx
        .template_info
        .as_ref()
        .and_then(|t| t.base_url.as_deref())
        .ok_or_else(|| {
            ActionError::InvalidInput(format!(
                "Failed to fetch, template location could not be determined and the fetch URL is relative, {url}"
            ))
        })?;
    let base = Url::parse(base).map_err(|e| {
        ActionError::InvalidInput(format!("the template location {base} is not a URL: {e}"))
    })?;
    if base.scheme() == "file" && (url.starts_with('/') || url.starts_with('\\')) {
        return Err(ActionError::InvalidInput(format!(
            "Fetch URL may not be absolute for file locations, {url}"
        )));
    }
    base.join(url)
        .map(String::from)
        .map_err(|e| ActionError::InvalidInput(format!("cannot resolve {url} against {base}: {e}")))
}

/// A reader failure as an action error.
pub(super) fn read_error(url: &str, e: UrlReaderError) -> ActionError {
    if e.is_not_found() {
        ActionError::NotFound(format!("{url}: {e}"))
    } else {
        ActionError::Failed(format!("could not read {url}: {e}"))
    }
}

/// `targetPath` resolved in the workspace and created.
pub(super) fn output_dir(ctx: &ActionContext, target: &str) -> Result<PathBuf, ActionError> {
    let dir = resolve_safe_child_path(&ctx.workspace_path, target)?;
    std::fs::create_dir_all(&dir)?;
    // Created through no symlink that leads out: check again now that it exists.
    resolve_safe_child_path(&ctx.workspace_path, target)?;
    Ok(dir)
}

/// Refuses a file of the tree that is a symlink leading out of the tree.
pub(super) fn check_symlink(file: &TreeFile) -> Result<(), ActionError> {
    if let Some(target) = &file.symlink {
        let outside = Path::new(target).is_absolute()
            || target.split('/').next() == Some("..")
            || target.is_empty();
        if outside {
            return Err(ActionError::PathEscape(format!(
                "the symlink '{}' in the fetched tree leads out of it",
                file.path
            )));
        }
    }
    Ok(())
}

/// Writes `content` at `path` (parents created) with the file's permission bits.
pub(super) fn write_file(
    path: &Path,
    content: &[u8],
    mode: Option<u32>,
) -> Result<(), ActionError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    // Never write through a symlink that is already there.
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        std::fs::remove_file(path)?;
    }
    std::fs::write(path, content)?;
    #[cfg(unix)]
    if let Some(mode) = mode {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o777))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    Ok(())
}

/// Writes every file of a tree below `dir` (`fetch:plain`).
pub(super) fn write_tree(
    dir: &Path,
    files: &[TreeFile],
    signal: &tokio_util::sync::CancellationToken,
) -> Result<usize, ActionError> {
    for (i, file) in files.iter().enumerate() {
        if i % 64 == 0 && signal.is_cancelled() {
            return Err(ActionError::Cancelled);
        }
        check_symlink(file)?;
        let dest = resolve_safe_child_path(dir, &file.path)?;
        write_file(&dest, &file.content, file.mode)?;
    }
    Ok(files.len())
}

/// An optional string input.
pub(super) fn opt_str<'a>(
    ctx: &'a ActionContext,
    key: &str,
) -> Result<Option<&'a str>, ActionError> {
    match ctx.input.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(ActionError::InvalidInput(format!(
            "{key} must be a string, got {other}"
        ))),
    }
}

/// Trees are read without a token (the reader takes none for trees): say so rather than drop
/// it silently.
pub(super) fn warn_unused_token(ctx: &ActionContext) {
    if ctx.input.get("token").is_some_and(|t| !t.is_null()) {
        ctx.logger
            .warn("the token input is not used when reading a directory tree; the URL reader's integration credentials apply");
    }
}

/// The required `url` input.
pub(super) fn url_input(ctx: &ActionContext) -> Result<String, ActionError> {
    match ctx.input.get("url") {
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(ActionError::InvalidInput(format!(
            "Invalid url parameter, expected string, got {other}"
        ))),
        None => Err(ActionError::InvalidInput("url is required".to_string())),
    }
}

/// Whether content is binary: not UTF-8, or a NUL byte in its first 8 KiB.
pub(super) fn is_binary(content: &[u8]) -> bool {
    content.iter().take(8192).any(|b| *b == 0) || std::str::from_utf8(content).is_err()
}
