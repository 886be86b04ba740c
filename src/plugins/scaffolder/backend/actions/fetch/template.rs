//! `fetch:template`: a skeleton whose file names and contents are rendered with `values`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde_json::{Value, json};

use super::{
    FetchLimits, check_symlink, is_binary, opt_str, output_dir, read_error, resolve_fetch_url,
    url_input, write_file,
};
use crate::plugins::scaffolder::backend::actions::BuiltinActionDeps;
use crate::plugins::scaffolder::common::ActionExample;
use crate::plugins::scaffolder::node::templating::TemplaterOptions;
use crate::plugins::scaffolder::node::{
    ActionContext, ActionError, ActionLogger, TemplateAction, Templater, TemplatingExtensions,
    resolve_safe_child_path,
};
use crate::services::config::Config;
use crate::services::url_reader::{ReadTreeOptions, TreeFile, UrlReaderService};

/// `fetch:template`.
#[derive(Debug)]
pub(super) struct FetchTemplate {
    reader: Arc<dyn UrlReaderService>,
    config: Arc<Config>,
    templating: Arc<TemplatingExtensions>,
}

impl FetchTemplate {
    pub(super) fn new(deps: &BuiltinActionDeps) -> Self {
        Self {
            reader: deps.reader.clone(),
            config: deps.config.clone(),
            templating: deps.templating.clone(),
        }
    }
}

/// What the input asks for, checked.
#[derive(Debug)]
struct Settings {
    target: String,
    values: Value,
    copy_only: Option<GlobSet>,
    render_filename: bool,
    extension: Option<String>,
    cookiecutter: bool,
    replace: bool,
    trim_blocks: bool,
    lstrip_blocks: bool,
}

fn bool_input(ctx: &ActionContext, key: &str) -> Result<bool, ActionError> {
    match ctx.input.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(ActionError::InvalidInput(format!(
            "{key} must be a boolean, got {other}"
        ))),
    }
}

fn globs(patterns: &Value) -> Result<GlobSet, ActionError> {
    let Value::Array(items) = patterns else {
        return Err(ActionError::InvalidInput(
            "Fetch action input copyWithoutRender/copyWithoutTemplating must be an Array"
                .to_string(),
        ));
    };
    let mut set = GlobSetBuilder::new();
    for p in items {
        let p = p.as_str().ok_or_else(|| {
            ActionError::InvalidInput(format!(
                "a copyWithoutTemplating pattern must be a string, got {p}"
            ))
        })?;
        let glob = GlobBuilder::new(p.trim_start_matches("./"))
            .literal_separator(true)
            .build()
            .map_err(|e| ActionError::InvalidInput(format!("bad glob pattern '{p}': {e}")))?;
        set.add(glob);
    }
    set.build()
        .map_err(|e| ActionError::InvalidInput(e.to_string()))
}

fn settings(ctx: &ActionContext) -> Result<Settings, ActionError> {
    let without_render = ctx.input.get("copyWithoutRender").filter(|v| !v.is_null());
    let without_templating = ctx
        .input
        .get("copyWithoutTemplating")
        .filter(|v| !v.is_null());
    if without_render.is_some() && without_templating.is_some() {
        return Err(ActionError::InvalidInput(
            "Fetch action input copyWithoutRender and copyWithoutTemplating can not be used at the same time".to_string(),
        ));
    }
    let (copy_only, render_filename) = match (without_render, without_templating) {
        (Some(p), _) => {
            ctx.logger.warn(
                "[Deprecated] copyWithoutRender is deprecated Please use copyWithoutTemplating instead.",
            );
            (Some(globs(p)?), false)
        }
        (None, Some(p)) => (Some(globs(p)?), true),
        (None, None) => (None, true),
    };
    let cookiecutter = bool_input(ctx, "cookiecutterCompat")?;
    let extension = match ctx.input.get("templateFileExtension") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => None,
        Some(Value::Bool(true)) => Some(".njk".to_string()),
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) if s.starts_with('.') => Some(s.clone()),
        Some(Value::String(s)) => Some(format!(".{s}")),
        Some(other) => {
            return Err(ActionError::InvalidInput(format!(
                "templateFileExtension must be a string or a boolean, got {other}"
            )));
        }
    };
    if extension.is_some() && (copy_only.is_some() || cookiecutter) {
        return Err(ActionError::InvalidInput(
            "Fetch action input extension incompatible with copyWithoutRender/copyWithoutTemplating and cookiecutterCompat".to_string(),
        ));
    }
    let values = match ctx.input.get("values") {
        None | Some(Value::Null) => json!({}),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(other) => {
            return Err(ActionError::InvalidInput(format!(
                "values must be an object, got {other}"
            )));
        }
    };
    Ok(Settings {
        target: opt_str(ctx, "targetPath")?.unwrap_or("./").to_string(),
        values,
        copy_only,
        render_filename,
        extension,
        cookiecutter,
        replace: bool_input(ctx, "replace")?,
        trim_blocks: bool_input(ctx, "trimBlocks")?,
        lstrip_blocks: bool_input(ctx, "lstripBlocks")?,
    })
}

/// The extension of a path as Node's `path.extname` gives it (`.njk` of `a.txt.njk`, none for
/// `.njk` alone).
fn extname(path: &str) -> &str {
    let base = path.rsplit('/').next().unwrap_or(path);
    match base.rfind('.') {
        Some(i) if i > 0 => &base[i..],
        _ => "",
    }
}

/// Renders every segment of a skeleton path. `None` when a segment renders empty (the file is
/// skipped, as Backstage does); a segment that renders to an absolute path is refused.
fn render_path(
    templater: &Templater,
    path: &str,
    ctx: &minijinja::Value,
) -> Result<Option<String>, ActionError> {
    let mut out = Vec::new();
    for segment in path.split('/') {
        let rendered = templater
            .render_str_with(segment, ctx)
            .map_err(|e| ActionError::Failed(format!("failed to render the path '{path}': {e}")))?;
        if rendered.is_empty() {
            return Ok(None);
        }
        if rendered.starts_with('/')
            || rendered.starts_with('\\')
            || Path::new(&rendered).is_absolute()
        {
            return Err(ActionError::PathEscape(format!(
                "the path '{path}' of the skeleton renders to '{rendered}', an absolute path"
            )));
        }
        out.push(rendered);
    }
    Ok(Some(out.join("/")))
}

/// The work done off the async runtime: render and write every file.
struct Job {
    files: Vec<TreeFile>,
    settings: Settings,
    dir: PathBuf,
    templater: Templater,
    logger: ActionLogger,
    limits: FetchLimits,
    signal: tokio_util::sync::CancellationToken,
}

impl Job {
    fn run(self) -> Result<usize, ActionError> {
        let s = &self.settings;
        let key = if s.cookiecutter {
            "cookiecutter"
        } else {
            "values"
        };
        let ctx = Templater::context(&json!({ key: s.values }));
        let mut written_bytes = 0u64;
        let mut written = 0usize;
        for (i, file) in self.files.iter().enumerate() {
            if i % 64 == 0 && self.signal.is_cancelled() {
                return Err(ActionError::Cancelled);
            }
            check_symlink(file)?;
            let location = file.path.as_str();
            let (render_contents, out_path) = match &s.extension {
                Some(ext) => {
                    let render = extname(location) == ext;
                    let stripped = if render {
                        &location[..location.len() - ext.len()]
                    } else {
                        location
                    };
                    (render, render_path(&self.templater, stripped, &ctx)?)
                }
                None => {
                    let render = !s.copy_only.as_ref().is_some_and(|g| g.is_match(location));
                    let path = if s.render_filename || render {
                        render_path(&self.templater, location, &ctx)?
                    } else {
                        Some(location.to_string())
                    };
                    (render, path)
                }
            };
            let Some(out_path) = out_path else {
                continue;
            };
            let dest = resolve_safe_child_path(&self.dir, &out_path)?;
            if !s.replace && std::fs::symlink_metadata(&dest).is_ok() {
                continue;
            }
            let binary = is_binary(&file.content);
            let content: std::borrow::Cow<'_, [u8]> = if render_contents && !binary {
                let text = std::str::from_utf8(&file.content).unwrap_or_default();
                let rendered = self.templater.render_str_with(text, &ctx).map_err(|e| {
                    ActionError::Failed(format!("failed to render '{location}': {e}"))
                })?;
                std::borrow::Cow::Owned(rendered.into_bytes())
            } else {
                if !render_contents {
                    self.logger
                        .info(&format!("Copying file {location} without processing."));
                }
                std::borrow::Cow::Borrowed(&file.content[..])
            };
            written_bytes += content.len() as u64;
            if written_bytes > self.limits.max_bytes {
                return Err(ActionError::Failed(format!(
                    "the rendered skeleton is larger than {} bytes (scaffolder.fetch.maxBytes)",
                    self.limits.max_bytes
                )));
            }
            // Parents may be created by now; resolve again so a symlink among them is caught.
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let dest = resolve_safe_child_path(&self.dir, &out_path)?;
            write_file(&dest, &content, file.mode)?;
            written += 1;
        }
        Ok(written)
    }
}

#[async_trait]
impl TemplateAction for FetchTemplate {
    fn id(&self) -> &str {
        "fetch:template"
    }

    fn description(&self) -> Option<&str> {
        Some(
            "Downloads a skeleton, templates variables into file and directory names and content, and places the result in the workspace, or optionally in a subdirectory specified by the `targetPath` input option.",
        )
    }

    fn examples(&self) -> Vec<ActionExample> {
        vec![
            ActionExample {
                description: "Renders the skeleton next to the template with the values given.".to_string(),
                example: "steps:\n  - id: fetch-template\n    name: Fetch template\n    action: fetch:template\n    input:\n      url: ./skeleton\n      targetPath: ./target\n      values:\n        name: ${{ parameters.name }}\n".to_string(),
            },
            ActionExample {
                description: "Renders only the files ending in .njk (and drops that extension); other files are copied as they are.".to_string(),
                example: "steps:\n  - id: fetch-template\n    name: Fetch template\n    action: fetch:template\n    input:\n      url: ./skeleton\n      templateFileExtension: true\n      values:\n        name: ${{ parameters.name }}\n".to_string(),
            },
            ActionExample {
                description: "Copies the workflow files without rendering their contents; their paths are still rendered.".to_string(),
                example: "steps:\n  - id: fetch-template\n    name: Fetch template\n    action: fetch:template\n    input:\n      url: ./skeleton\n      copyWithoutTemplating:\n        - .github/workflows/*\n      values:\n        name: ${{ parameters.name }}\n".to_string(),
            },
        ]
    }

    fn input_schema(&self) -> Option<Value> {
        Some(json!({
            "type": "object",
            "required": ["url"],
            "properties": {
                "url": {"title": "Fetch URL", "type": "string",
                    "description": "Relative path or absolute URL pointing to the directory tree to fetch"},
                "targetPath": {"title": "Target Path", "type": "string",
                    "description": "Target path within the working directory to download the contents to. Defaults to the working directory root."},
                "values": {"title": "Template Values", "type": "object",
                    "description": "Values to pass on to the templating engine"},
                "copyWithoutRender": {"title": "[Deprecated] Copy Without Render", "type": "array", "items": {"type": "string"},
                    "description": "An array of glob patterns. Any files or directories which match are copied without being processed as templates."},
                "copyWithoutTemplating": {"title": "Copy Without Templating", "type": "array", "items": {"type": "string"},
                    "description": "An array of glob patterns. Contents of matched files or directories are copied without being processed, but paths are subject to rendering."},
                "cookiecutterCompat": {"title": "Cookiecutter compatibility mode", "type": "boolean",
                    "description": "Enable features to maximise compatibility with templates built for fetch:cookiecutter"},
                "templateFileExtension": {"title": "Template File Extension", "type": ["string", "boolean"],
                    "description": "If set, only files with the given extension will be templated. If set to `true`, the default extension `.njk` is used."},
                "replace": {"title": "Replace files", "type": "boolean",
                    "description": "If set, replace files in targetPath instead of skipping existing ones."},
                "trimBlocks": {"title": "Trim Blocks", "type": "boolean",
                    "description": "If set, the first newline after a block is removed (block, not variable tag!)."},
                "lstripBlocks": {"title": "Lstrip Blocks", "type": "boolean",
                    "description": "If set, leading spaces and tabs are stripped from the start of a line to a block."},
                "token": {"title": "Token", "type": "string",
                    "description": "An optional token to use for authentication when reading the resources."},
            },
        }))
    }

    fn output_schema(&self) -> Option<Value> {
        Some(json!({"type": "object", "properties": {}}))
    }

    fn supports_dry_run(&self) -> bool {
        true
    }

    async fn handler(&self, ctx: &mut ActionContext) -> Result<(), ActionError> {
        let limits = FetchLimits::from_config(&self.config)?;
        let settings = settings(ctx)?;
        let url = resolve_fetch_url(ctx, &url_input(ctx)?)?;
        resolve_safe_child_path(&ctx.workspace_path, &settings.target)?;
        let options = TemplaterOptions {
            trim_blocks: settings.trim_blocks,
            lstrip_blocks: settings.lstrip_blocks,
            cookiecutter_compat: settings.cookiecutter,
            ..TemplaterOptions::from_config(&self.config)
                .map_err(|e| ActionError::Failed(e.to_string()))?
        };
        let templater = Templater::with_options(&self.templating, options);

        ctx.logger.info("Fetching template content from remote URL");
        super::warn_unused_token(ctx);
        let tree = self
            .reader
            .read_tree(&url, &ReadTreeOptions::new())
            .await
            .map_err(|e| read_error(&url, e))?;
        limits.check_tree(&tree.files)?;
        ctx.check_cancelled()?;
        ctx.logger.info(&format!(
            "Processing {} template files with input values",
            tree.files.len()
        ));
        let dir = output_dir(ctx, &settings.target)?;
        let target = settings.target.clone();
        let job = Job {
            files: tree.files,
            settings,
            dir,
            templater,
            logger: ctx.logger.clone(),
            limits,
            signal: ctx.signal.clone(),
        };
        let written = tokio::task::spawn_blocking(move || job.run())
            .await
            .map_err(|e| ActionError::Failed(e.to_string()))??;
        ctx.logger.info(&format!(
            "Template result written to {target} ({written} files)"
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extnames() {
        assert_eq!(extname("a/b.txt.njk"), ".njk");
        assert_eq!(extname("a/.njk"), "");
        assert_eq!(extname("Makefile"), "");
    }
}
