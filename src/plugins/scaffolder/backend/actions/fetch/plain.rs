//! `fetch:plain` and `fetch:plain:file`: content copied into the workspace as it is.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{
    FetchLimits, opt_str, output_dir, read_error, resolve_fetch_url, url_input, write_file,
    write_tree,
};
use crate::plugins::scaffolder::backend::actions::BuiltinActionDeps;
use crate::plugins::scaffolder::common::ActionExample;
use crate::plugins::scaffolder::node::{
    ActionContext, ActionError, TemplateAction, resolve_safe_child_path,
};
use crate::services::config::Config;
use crate::services::url_reader::{ReadTreeOptions, ReadUrlOptions, UrlReaderService};

fn example(description: &str, yaml: &str) -> ActionExample {
    ActionExample {
        description: description.to_string(),
        example: yaml.to_string(),
    }
}

fn url_property() -> Value {
    json!({
        "title": "Fetch URL",
        "description": "Relative path or absolute URL pointing to the directory tree to fetch",
        "type": "string",
    })
}

fn token_property() -> Value {
    json!({
        "title": "Token",
        "description": "An optional token to use for authentication when reading the resources.",
        "type": "string",
    })
}

/// `fetch:plain`: a directory tree copied into the workspace.
#[derive(Debug)]
pub(super) struct FetchPlain {
    reader: Arc<dyn UrlReaderService>,
    config: Arc<Config>,
}

impl FetchPlain {
    pub(super) fn new(deps: &BuiltinActionDeps) -> Self {
        Self {
            reader: deps.reader.clone(),
            config: deps.config.clone(),
        }
    }
}

#[async_trait]
impl TemplateAction for FetchPlain {
    fn id(&self) -> &str {
        "fetch:plain"
    }

    fn description(&self) -> Option<&str> {
        Some(
            "Downloads content and places it in the workspace, or optionally in a subdirectory specified by the `targetPath` input option.",
        )
    }

    fn examples(&self) -> Vec<ActionExample> {
        vec![
            example(
                "Copies the directory next to the template into the workspace.",
                "steps:\n  - id: fetch-plain\n    name: Fetch plain\n    action: fetch:plain\n    input:\n      url: ./content\n",
            ),
            example(
                "Copies a directory into a subdirectory of the workspace.",
                "steps:\n  - id: fetch-plain\n    name: Fetch plain\n    action: fetch:plain\n    input:\n      url: ./content\n      targetPath: fetched-data\n",
            ),
        ]
    }

    fn input_schema(&self) -> Option<Value> {
        Some(json!({
            "type": "object",
            "required": ["url"],
            "properties": {
                "url": url_property(),
                "targetPath": {
                    "title": "Target Path",
                    "description": "Target path within the working directory to download the contents to.",
                    "type": "string",
                },
                "token": token_property(),
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
        let url = resolve_fetch_url(ctx, &url_input(ctx)?)?;
        let target = opt_str(ctx, "targetPath")?.unwrap_or("./").to_string();
        // Resolve before reading: a bad targetPath fails without a read.
        resolve_safe_child_path(&ctx.workspace_path, &target)?;
        ctx.logger
            .info(&format!("Fetching plain content from {url}"));
        super::warn_unused_token(ctx);
        let tree = self
            .reader
            .read_tree(&url, &ReadTreeOptions::new())
            .await
            .map_err(|e| read_error(&url, e))?;
        limits.check_tree(&tree.files)?;
        ctx.check_cancelled()?;
        let dir = output_dir(ctx, &target)?;
        let signal = ctx.signal.clone();
        let written = tokio::task::spawn_blocking(move || write_tree(&dir, &tree.files, &signal))
            .await
            .map_err(|e| ActionError::Failed(e.to_string()))??;
        ctx.logger
            .info(&format!("Wrote {written} files to {target}"));
        Ok(())
    }
}

/// `fetch:plain:file`: one file copied into the workspace.
#[derive(Debug)]
pub(super) struct FetchPlainFile {
    reader: Arc<dyn UrlReaderService>,
    config: Arc<Config>,
}

impl FetchPlainFile {
    pub(super) fn new(deps: &BuiltinActionDeps) -> Self {
        Self {
            reader: deps.reader.clone(),
            config: deps.config.clone(),
        }
    }
}

#[async_trait]
impl TemplateAction for FetchPlainFile {
    fn id(&self) -> &str {
        "fetch:plain:file"
    }

    fn description(&self) -> Option<&str> {
        Some("Downloads a single file and places it in the workspace.")
    }

    fn examples(&self) -> Vec<ActionExample> {
        vec![example(
            "Copies one file next to the template into the workspace.",
            "steps:\n  - id: fetch-plain-file\n    name: Fetch plain file\n    action: fetch:plain:file\n    input:\n      url: ./files/LICENSE\n      targetPath: LICENSE\n",
        )]
    }

    fn input_schema(&self) -> Option<Value> {
        Some(json!({
            "type": "object",
            "required": ["url", "targetPath"],
            "properties": {
                "url": {
                    "title": "Fetch URL",
                    "description": "Relative path or absolute URL pointing to the single file to fetch.",
                    "type": "string",
                },
                "targetPath": {
                    "title": "Target Path",
                    "description": "Target path within the working directory to download the file as.",
                    "type": "string",
                },
                "token": token_property(),
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
        let url = resolve_fetch_url(ctx, &url_input(ctx)?)?;
        let target = opt_str(ctx, "targetPath")?
            .ok_or_else(|| ActionError::InvalidInput("targetPath is required".to_string()))?
            .to_string();
        let dest = resolve_safe_child_path(&ctx.workspace_path, &target)?;
        if target.trim_matches(|c| c == '/' || c == '.').is_empty() {
            return Err(ActionError::InvalidInput(format!(
                "targetPath must name a file, got '{target}'"
            )));
        }
        ctx.logger.info(&format!("Fetching plain file from {url}"));
        let mut opts = ReadUrlOptions::new();
        if let Some(token) = opt_str(ctx, "token")? {
            opts = opts.token(token);
        }
        let res = self
            .reader
            .read_url(&url, &opts)
            .await
            .map_err(|e| read_error(&url, e))?;
        if res.bytes.len() as u64 > limits.max_bytes {
            return Err(ActionError::Failed(format!(
                "{url} has {} bytes, more than the {} allowed (scaffolder.fetch.maxBytes)",
                res.bytes.len(),
                limits.max_bytes
            )));
        }
        ctx.check_cancelled()?;
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        // Parents now exist: resolve again so a symlink among them is caught.
        let dest = resolve_safe_child_path(&ctx.workspace_path, &target)?;
        write_file(&dest, &res.bytes, None)?;
        ctx.logger.info(&format!("Wrote {target}"));
        Ok(())
    }
}
