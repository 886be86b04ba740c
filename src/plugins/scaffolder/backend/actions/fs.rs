//! Built-in `fs:*` actions: `fs:delete` and `fs:rename`, confined to the task's workspace.
//!
//! Every path, and every glob, goes through [`resolve_safe_child_path`]: `..`, absolute paths
//! and symlinks leading out are refused. Globs are matched while walking the workspace without
//! following symlinks.
//!
//! ```yaml
//! scaffolder:
//!   actions:
//!     fs:
//!       maxEntries: 100000   # workspace entries a glob may walk (default 100,000)
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use globset::{GlobBuilder, GlobMatcher};
use serde::Deserialize;
use serde_json::{Value, json};

use super::BuiltinActionDeps;
use crate::plugins::scaffolder::common::ActionExample;
use crate::plugins::scaffolder::node::{
    ActionContext, ActionError, TemplateAction, resolve_safe_child_path,
};

/// How many workspace entries a glob may walk unless `scaffolder.actions.fs.maxEntries` says.
const DEFAULT_MAX_ENTRIES: u64 = 100_000;
/// How many paths one step may name.
const MAX_FILES: usize = 1_000;

/// The `fs:*` actions.
pub(super) fn actions(deps: &BuiltinActionDeps) -> Vec<Arc<dyn TemplateAction>> {
    // A bad value fails the action when it runs rather than lifting the limit.
    let max_entries = deps
        .config
        .opt_u64("scaffolder.actions.fs.maxEntries")
        .map(|v| v.unwrap_or(DEFAULT_MAX_ENTRIES))
        .map_err(|e| e.to_string());
    vec![Arc::new(FsDelete { max_entries }), Arc::new(FsRename)]
}

fn parse<T: for<'de> Deserialize<'de>>(ctx: &ActionContext) -> Result<T, ActionError> {
    serde_json::from_value(ctx.input.clone()).map_err(|e| ActionError::InvalidInput(e.to_string()))
}

fn example(description: &str, yaml: &str) -> ActionExample {
    ActionExample {
        description: description.to_string(),
        example: yaml.to_string(),
    }
}

/// `fs:delete`: deletes files and directories of the workspace named by globs.
#[derive(Debug)]
struct FsDelete {
    max_entries: Result<u64, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteInput {
    files: Vec<String>,
}

fn has_glob_chars(s: &str) -> bool {
    s.contains(['*', '?', '[', ']', '{', '}'])
}

/// Every path below `root` (relative, `/`-separated), not following symlinks, at most `max`.
fn walk(root: &Path, max: u64) -> Result<Vec<String>, ActionError> {
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    let mut seen: u64 = 0;
    while let Some((dir, prefix)) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            seen += 1;
            if seen > max {
                return Err(ActionError::Failed(format!(
                    "the workspace has more than {max} entries (scaffolder.actions.fs.maxEntries)"
                )));
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            // `file_type` does not follow symlinks: a link to a directory is not descended.
            if entry.file_type()?.is_dir() {
                stack.push((entry.path(), rel.clone()));
            }
            out.push(rel);
        }
    }
    Ok(out)
}

fn glob(pattern: &str) -> Result<GlobMatcher, ActionError> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| ActionError::InvalidInput(format!("invalid glob '{pattern}': {e}")))
}

fn remove(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[async_trait]
impl TemplateAction for FsDelete {
    fn id(&self) -> &str {
        "fs:delete"
    }

    fn description(&self) -> Option<&str> {
        Some("Deletes files and directories from the workspace")
    }

    fn examples(&self) -> Vec<ActionExample> {
        vec![
            example(
                "Delete a file and every markdown file of the workspace",
                "steps:\n  - action: fs:delete\n    id: delete-files\n    name: Delete files\n    input:\n      files:\n        - file1.txt\n        - '**/*.md'\n",
            ),
            example(
                "Delete a directory",
                "steps:\n  - action: fs:delete\n    id: delete-dir\n    name: Delete the docs directory\n    input:\n      files:\n        - docs\n",
            ),
        ]
    }

    fn input_schema(&self) -> Option<Value> {
        Some(json!({
            "type": "object",
            "required": ["files"],
            "properties": {
                "files": {
                    "title": "Files",
                    "description": "A list of files and directories that will be deleted (globs allowed)",
                    "type": "array",
                    "items": { "type": "string" }
                }
            }
        }))
    }

    fn supports_dry_run(&self) -> bool {
        true
    }

    async fn handler(&self, ctx: &mut ActionContext) -> Result<(), ActionError> {
        let input: DeleteInput = parse(ctx)?;
        if input.files.len() > MAX_FILES {
            return Err(ActionError::InvalidInput(format!(
                "at most {MAX_FILES} files may be deleted in one step"
            )));
        }
        let ws = ctx.workspace_path.clone();
        let max_entries = self.max_entries.clone().map_err(ActionError::Failed)?;
        let logger = ctx.logger.clone();
        let signal = ctx.signal.clone();
        tokio::task::spawn_blocking(move || -> Result<(), ActionError> {
            let mut listing: Option<Vec<String>> = None;
            for pattern in &input.files {
                if signal.is_cancelled() {
                    return Err(ActionError::Cancelled);
                }
                // Refuses `..` and absolute patterns before anything is matched.
                let literal = resolve_safe_child_path(&ws, pattern)?;
                let targets: Vec<PathBuf> = if has_glob_chars(pattern) {
                    let matcher = glob(pattern.trim_start_matches("./"))?;
                    if listing.is_none() {
                        listing = Some(walk(&ws, max_entries)?);
                    }
                    let mut hits: Vec<&String> = listing
                        .iter()
                        .flatten()
                        .filter(|p| matcher.is_match(p.as_str()))
                        .collect();
                    // Parents before children, so a deleted directory's entries are skipped.
                    hits.sort();
                    hits.iter()
                        .map(|p| resolve_safe_child_path(&ws, p))
                        .collect::<Result<_, _>>()?
                } else {
                    vec![literal]
                };
                for target in targets {
                    if target == ws {
                        return Err(ActionError::InvalidInput(
                            "fs:delete cannot delete the workspace itself".to_string(),
                        ));
                    }
                    if std::fs::symlink_metadata(&target).is_err() {
                        continue;
                    }
                    remove(&target).map_err(|e| {
                        ActionError::Failed(format!("failed to delete {pattern}: {e}"))
                    })?;
                    let rel = target.strip_prefix(&ws).unwrap_or(&target);
                    logger.info(&format!("File {} deleted successfully", rel.display()));
                }
            }
            Ok(())
        })
        .await
        .map_err(|e| ActionError::Failed(format!("fs:delete did not finish: {e}")))?
    }
}

/// `fs:rename`: renames (moves) files and directories inside the workspace.
#[derive(Debug)]
struct FsRename;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RenameInput {
    files: Vec<RenameItem>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RenameItem {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    overwrite: Option<bool>,
}

fn rename_one(ws: &Path, item: &RenameItem) -> Result<(), ActionError> {
    let (Some(from), Some(to)) = (item.from.as_deref(), item.to.as_deref()) else {
        return Err(ActionError::InvalidInput(
            "each file must have a from and to property".to_string(),
        ));
    };
    let source = resolve_safe_child_path(ws, from)?;
    let dest = resolve_safe_child_path(ws, to)?;
    if source == ws || dest == ws {
        return Err(ActionError::InvalidInput(
            "fs:rename cannot move the workspace itself".to_string(),
        ));
    }
    if std::fs::symlink_metadata(&source).is_err() {
        return Err(ActionError::NotFound(format!("{from} does not exist")));
    }
    if source == dest {
        return Ok(());
    }
    if dest.starts_with(&source) {
        return Err(ActionError::InvalidInput(format!(
            "cannot move {from} into itself ({to})"
        )));
    }
    if std::fs::symlink_metadata(&dest).is_ok() {
        if !item.overwrite.unwrap_or(false) {
            return Err(ActionError::Failed(format!(
                "{to} already exists; set overwrite: true to replace it"
            )));
        }
        remove(&dest)?;
    }
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::rename(&source, &dest)
        .map_err(|e| ActionError::Failed(format!("failed to move {from} to {to}: {e}")))
}

#[async_trait]
impl TemplateAction for FsRename {
    fn id(&self) -> &str {
        "fs:rename"
    }

    fn description(&self) -> Option<&str> {
        Some("Renames files and directories of the workspace (moves them)")
    }

    fn examples(&self) -> Vec<ActionExample> {
        vec![
            example(
                "Rename a file and a directory",
                "steps:\n  - action: fs:rename\n    id: rename-files\n    name: Rename files\n    input:\n      files:\n        - from: file1.txt\n          to: file1-renamed.txt\n        - from: docs\n          to: documentation\n",
            ),
            example(
                "Replace an existing file",
                "steps:\n  - action: fs:rename\n    id: rename-overwrite\n    name: Rename with overwrite\n    input:\n      files:\n        - from: README.template.md\n          to: README.md\n          overwrite: true\n",
            ),
        ]
    }

    fn input_schema(&self) -> Option<Value> {
        Some(json!({
            "type": "object",
            "required": ["files"],
            "properties": {
                "files": {
                    "title": "Files",
                    "description": "A list of file and directory names that will be renamed",
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["from", "to"],
                        "properties": {
                            "from": { "type": "string", "title": "The source location of the file to be renamed" },
                            "to": { "type": "string", "title": "The destination of the new file" },
                            "overwrite": {
                                "type": "boolean",
                                "title": "Overwrite existing file or directory, default is false"
                            }
                        }
                    }
                }
            }
        }))
    }

    fn supports_dry_run(&self) -> bool {
        true
    }

    async fn handler(&self, ctx: &mut ActionContext) -> Result<(), ActionError> {
        let input: RenameInput = parse(ctx)?;
        if input.files.len() > MAX_FILES {
            return Err(ActionError::InvalidInput(format!(
                "at most {MAX_FILES} files may be renamed in one step"
            )));
        }
        for item in &input.files {
            ctx.check_cancelled()?;
            rename_one(&ctx.workspace_path, item)?;
            ctx.logger.info(&format!(
                "File {} renamed to {} successfully",
                item.from.as_deref().unwrap_or_default(),
                item.to.as_deref().unwrap_or_default()
            ));
        }
        Ok(())
    }
}
