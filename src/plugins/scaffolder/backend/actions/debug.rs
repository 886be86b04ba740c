//! Built-in `debug:*` actions: `debug:log` and `debug:wait`.
//!
//! ```yaml
//! scaffolder:
//!   actions:
//!     debugWait:
//!       maxWaitTime: 30s     # the longest debug:wait (default 30 s, as Backstage)
//!     debugLog:
//!       maxFileBytes: 65536  # bytes of each file `listWorkspace: with-contents` shows
//! ```

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};

use super::BuiltinActionDeps;
use crate::plugins::scaffolder::common::ActionExample;
use crate::plugins::scaffolder::node::{ActionContext, ActionError, TemplateAction};

/// The longest `debug:wait` unless `scaffolder.actions.debugWait.maxWaitTime` says (Backstage's
/// default).
const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(30);
/// How many bytes of one file `listWorkspace: with-contents` shows unless
/// `scaffolder.actions.debugLog.maxFileBytes` says.
const DEFAULT_MAX_FILE_BYTES: u64 = 64 * 1024;
/// How many workspace entries `listWorkspace` lists.
const MAX_LISTED: usize = 10_000;

/// The `debug:*` actions.
pub(super) fn actions(deps: &BuiltinActionDeps) -> Vec<Arc<dyn TemplateAction>> {
    // A bad value fails the action when it runs rather than lifting the limit.
    let max_wait = deps
        .config
        .opt_duration("scaffolder.actions.debugWait.maxWaitTime")
        .map(|v| v.unwrap_or(DEFAULT_MAX_WAIT))
        .map_err(|e| e.to_string());
    let max_file_bytes = deps
        .config
        .opt_u64("scaffolder.actions.debugLog.maxFileBytes")
        .map(|v| v.unwrap_or(DEFAULT_MAX_FILE_BYTES))
        .map_err(|e| e.to_string());
    vec![
        Arc::new(DebugLog { max_file_bytes }),
        Arc::new(DebugWait { max_wait }),
    ]
}

fn example(description: &str, yaml: &str) -> ActionExample {
    ActionExample {
        description: description.to_string(),
        example: yaml.to_string(),
    }
}

/// `debug:log`: writes a message, the input, or the workspace's files into the task log.
#[derive(Debug)]
struct DebugLog {
    max_file_bytes: Result<u64, String>,
}

/// `listWorkspace`: `true`/`"with-filenames"` lists names, `"with-contents"` adds contents.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Listing {
    None,
    Names,
    Contents,
}

fn listing(v: Option<&Value>) -> Result<Listing, ActionError> {
    match v {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(Listing::None),
        Some(Value::Bool(true)) => Ok(Listing::Names),
        Some(Value::String(s)) if s == "with-filenames" => Ok(Listing::Names),
        Some(Value::String(s)) if s == "with-contents" => Ok(Listing::Contents),
        Some(other) => Err(ActionError::InvalidInput(format!(
            "listWorkspace must be true, false, 'with-filenames' or 'with-contents', not {other}"
        ))),
    }
}

/// The workspace's files (relative, sorted), not following symlinks.
fn list_files(root: &Path) -> std::io::Result<(Vec<String>, bool)> {
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    let mut truncated = false;
    while let Some((dir, prefix)) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            if entry.file_type()?.is_dir() {
                stack.push((entry.path(), rel));
            } else if out.len() < MAX_LISTED {
                out.push(rel);
            } else {
                truncated = true;
            }
        }
    }
    out.sort();
    Ok((out, truncated))
}

fn read_head(path: &Path, max: u64) -> String {
    use std::io::Read;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) => return format!("<unreadable: {e}>"),
    };
    if meta.file_type().is_symlink() {
        return "<symlink>".to_string();
    }
    // A FIFO or device would block or never end.
    if !meta.is_file() {
        return "<not a regular file>".to_string();
    }
    let mut buf = Vec::new();
    let read = std::fs::File::open(path).and_then(|f| f.take(max).read_to_end(&mut buf));
    if let Err(e) = read {
        return format!("<unreadable: {e}>");
    }
    let mut text = String::from_utf8_lossy(&buf).into_owned();
    if meta.len() > max {
        text.push_str(&format!("\n<… {} more bytes>", meta.len() - max));
    }
    text
}

#[async_trait]
impl TemplateAction for DebugLog {
    fn id(&self) -> &str {
        "debug:log"
    }

    fn description(&self) -> Option<&str> {
        Some("Writes a message into the log and/or lists all files in the workspace.")
    }

    fn examples(&self) -> Vec<ActionExample> {
        vec![
            example(
                "Write a debug message",
                "steps:\n  - action: debug:log\n    id: write-debug-line\n    name: Write \"Hello Backstage!\" log line\n    input:\n      message: Hello Backstage!\n",
            ),
            example(
                "List the workspace's files",
                "steps:\n  - action: debug:log\n    id: write-workspace-directory\n    name: List the workspace directory\n    input:\n      listWorkspace: true\n",
            ),
            example(
                "List the workspace's files with their contents",
                "steps:\n  - action: debug:log\n    id: write-workspace-contents\n    name: List the workspace with contents\n    input:\n      listWorkspace: with-contents\n",
            ),
        ]
    }

    fn input_schema(&self) -> Option<Value> {
        Some(json!({
            "type": "object",
            "properties": {
                "message": { "title": "Message to output.", "type": "string" },
                "listWorkspace": {
                    "title": "List all files in the workspace. If used with \"with-contents\", also the file contents.",
                    "oneOf": [
                        { "type": "boolean" },
                        { "type": "string", "enum": ["with-filenames", "with-contents"] }
                    ]
                },
                "extra": { "title": "Extra info" }
            }
        }))
    }

    fn supports_dry_run(&self) -> bool {
        true
    }

    async fn handler(&self, ctx: &mut ActionContext) -> Result<(), ActionError> {
        let mode = listing(ctx.input.get("listWorkspace"))?;
        let max = self.max_file_bytes.clone().map_err(ActionError::Failed)?;
        let input_text =
            serde_json::to_string_pretty(&ctx.input).unwrap_or_else(|_| ctx.input.to_string());
        ctx.logger.info(&input_text);
        if let Some(message) = ctx.input.get("message") {
            match message {
                Value::String(s) => ctx.logger.info(s),
                Value::Null => {}
                other => ctx.logger.info(&other.to_string()),
            }
        }
        if mode == Listing::None {
            return Ok(());
        }
        let root = ctx.workspace_path.clone();
        let text = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
            let (files, truncated) = list_files(&root)?;
            let mut text = String::from("Workspace:\n");
            for f in &files {
                text.push_str(&format!("  - {f}\n"));
                if mode == Listing::Contents {
                    for line in read_head(&root.join(f), max).lines() {
                        text.push_str(&format!("      {line}\n"));
                    }
                }
            }
            if truncated {
                text.push_str(&format!("  … (only the first {MAX_LISTED} files)\n"));
            }
            Ok(text)
        })
        .await
        .map_err(|e| ActionError::Failed(format!("debug:log did not finish: {e}")))??;
        ctx.logger.info(text.trim_end());
        Ok(())
    }
}

/// `debug:wait`: waits, up to a configured maximum, until the time is up or the task is
/// cancelled.
#[derive(Debug)]
struct DebugWait {
    max_wait: Result<Duration, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WaitInput {
    #[serde(default)]
    minutes: Option<f64>,
    #[serde(default)]
    seconds: Option<f64>,
    #[serde(default)]
    milliseconds: Option<f64>,
}

impl WaitInput {
    fn duration(&self) -> Result<Duration, ActionError> {
        let mut ms = 0.0;
        for (v, unit) in [
            (self.minutes, 60_000.0),
            (self.seconds, 1_000.0),
            (self.milliseconds, 1.0),
        ] {
            if let Some(v) = v {
                if !v.is_finite() || v < 0.0 {
                    return Err(ActionError::InvalidInput(
                        "waiting periods must be non-negative numbers".to_string(),
                    ));
                }
                ms += v * unit;
            }
        }
        if !ms.is_finite() || ms > 1e15 {
            return Err(ActionError::InvalidInput(
                "the waiting period is too long".to_string(),
            ));
        }
        Ok(Duration::from_secs_f64(ms / 1000.0))
    }
}

#[async_trait]
impl TemplateAction for DebugWait {
    fn id(&self) -> &str {
        "debug:wait"
    }

    fn description(&self) -> Option<&str> {
        Some("Waits for a certain period of time.")
    }

    fn examples(&self) -> Vec<ActionExample> {
        vec![
            example(
                "Waiting for 5 seconds",
                "steps:\n  - action: debug:wait\n    id: wait-5sec\n    name: Waiting for 5 seconds\n    input:\n      seconds: 5\n",
            ),
            example(
                "Waiting for 5 minutes",
                "steps:\n  - action: debug:wait\n    id: wait-5min\n    name: Waiting for 5 minutes\n    input:\n      minutes: 5\n",
            ),
        ]
    }

    fn input_schema(&self) -> Option<Value> {
        Some(json!({
            "type": "object",
            "properties": {
                "minutes": { "title": "Waiting period in minutes.", "type": "number" },
                "seconds": { "title": "Waiting period in seconds.", "type": "number" },
                "milliseconds": { "title": "Waiting period in milliseconds.", "type": "number" }
            }
        }))
    }

    async fn handler(&self, ctx: &mut ActionContext) -> Result<(), ActionError> {
        let input: WaitInput = serde_json::from_value(ctx.input.clone())
            .map_err(|e| ActionError::InvalidInput(e.to_string()))?;
        let wait = input.duration()?;
        let max_wait = self.max_wait.clone().map_err(ActionError::Failed)?;
        if wait > max_wait {
            return Err(ActionError::InvalidInput(format!(
                "Waiting duration is longer than the maximum threshold of {} (scaffolder.actions.debugWait.maxWaitTime)",
                humantime::format_duration(max_wait)
            )));
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => Ok(()),
            () = ctx.signal.cancelled() => Err(ActionError::Cancelled),
        }
    }
}
