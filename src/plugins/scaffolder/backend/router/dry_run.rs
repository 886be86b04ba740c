//! `POST /v2/dry-run`: runs a template given in the request in a temporary workspace,
//! without storing a task; actions that do not support dry runs are skipped.

use std::collections::BTreeMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use super::templates::{
    authorize_template, check_template, check_values, split_secrets, task_spec, task_user,
};
use super::{Caller, Shared, body_json, json_response, validation_failed};
use crate::backend::ApiError;
use crate::plugins::scaffolder::backend::runner::{
    CollectingEmitter, Emitter, RunRequest, step_summaries,
};
use crate::plugins::scaffolder::common::permissions::{ACTION_EXECUTE, TASK_CREATE};
use crate::plugins::scaffolder::node::resolve_safe_child_path;
use crate::services::permissions::PolicyDecision;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DryRunBody {
    template: Value,
    #[serde(default)]
    values: Map<String, Value>,
    #[serde(default)]
    secrets: BTreeMap<String, String>,
    #[serde(default)]
    directory_contents: Vec<FileIn>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileIn {
    path: String,
    base64_content: String,
}

pub(super) async fn dry_run(
    State(state): Shared,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require_principal()?;
    let body: DryRunBody = body_json(&body)?;
    state.require(&caller, &TASK_CREATE).await?;
    let config = Arc::clone(&state.engine.config);
    check_template(&body.template)?;
    if body.directory_contents.len() > config.dry_run_max_files {
        return Err(ApiError::input(format!(
            "directoryContents has {} files, more than scaffolder.dryRun.maxFiles ({})",
            body.directory_contents.len(),
            config.dry_run_max_files
        )));
    }
    let template = authorize_template(&state, &caller, body.template).await?;
    if let Some(errors) = check_values(&template, &Value::Object(body.values.clone()))? {
        return Ok(validation_failed(errors));
    }
    let mut values = body.values;
    let mut secrets = body.secrets;
    split_secrets(&template, &mut values, &mut secrets);
    let decision = state.conditional(&caller, &[&ACTION_EXECUTE]).await?;
    let user = task_user(&state, &caller).await;
    let meta = template.get("metadata").cloned().unwrap_or(Value::Null);
    let entity_ref = format!(
        "template:{}/{}",
        meta.get("namespace")
            .and_then(Value::as_str)
            .unwrap_or("default"),
        meta.get("name").and_then(Value::as_str).unwrap_or("")
    );

    let base = config
        .working_directory
        .clone()
        .unwrap_or_else(std::env::temp_dir);
    let root = tokio::task::spawn_blocking(move || -> std::io::Result<tempfile::TempDir> {
        std::fs::create_dir_all(&base)?;
        tempfile::Builder::new()
            .prefix("scaffolder-dry-run-")
            .tempdir_in(&base)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| ApiError::internal(format!("could not create the dry-run directory: {e}")))?;
    let contents = root.path().join("template");
    let workspace = root.path().join("workspace");
    let temp_root = root.path().join("tmp");
    let files: Vec<(String, Vec<u8>)> = body
        .directory_contents
        .into_iter()
        .map(|f| {
            STANDARD
                .decode(f.base64_content.as_bytes())
                .map(|bytes| (f.path.clone(), bytes))
                .map_err(|_| {
                    ApiError::input(format!("directoryContents: {} is not valid base64", f.path))
                })
        })
        .collect::<Result<_, _>>()?;
    {
        let contents = contents.clone();
        let workspace = workspace.clone();
        tokio::task::spawn_blocking(move || write_contents(&contents, &workspace, &files))
            .await
            .map_err(ApiError::internal)??;
    }
    let base_url = url::Url::from_file_path(contents.join("template.yaml"))
        .ok()
        .map(|u| u.to_string());
    let spec = task_spec(&template, &entity_ref, values, user, base_url);
    let emitter = Arc::new(CollectingEmitter::new(10_000));
    let signal = CancellationToken::new();
    let req = RunRequest {
        task_id: format!("dry-run-{}", uuid::Uuid::new_v4()),
        spec: spec.clone(),
        secrets,
        credentials: caller.0.clone(),
        signal: signal.clone(),
        dry_run: true,
        workspace: workspace.clone(),
        temp_root,
        action_decision: match &decision[0] {
            PolicyDecision::Allow => None,
            d => Some(d.clone()),
        },
    };
    let runner = Arc::clone(&state.engine.runner);
    let run = runner.run(req, Arc::clone(&emitter) as Arc<dyn Emitter>);
    let result = match tokio::time::timeout(config.dry_run_timeout, run).await {
        Ok(r) => r,
        Err(_) => {
            signal.cancel();
            return Err(ApiError::service_unavailable(format!(
                "the dry run took longer than {} (scaffolder.dryRun.timeout)",
                humantime::format_duration(config.dry_run_timeout)
            )));
        }
    };
    let max_files = config.dry_run_max_files;
    let max_bytes = config.dry_run_max_output_bytes;
    let out_files = tokio::task::spawn_blocking(move || {
        let listed = read_workspace(&workspace, max_files, max_bytes);
        drop(root);
        listed
    })
    .await
    .map_err(ApiError::internal)??;
    let mut log: Vec<Value> = emitter
        .take()
        .into_iter()
        .map(|b| json!({"body": b}))
        .collect();
    log.push(json!({"body": result.completion_body()}));
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "log": log,
            "directoryContents": out_files,
            "output": if result.output.is_null() { json!({}) } else { result.output.clone() },
            "steps": step_summaries(&spec),
        }),
    ))
}

/// Writes the request's files under `contents` (the template's directory) and creates the
/// empty workspace.
fn write_contents(
    contents: &FsPath,
    workspace: &FsPath,
    files: &[(String, Vec<u8>)],
) -> Result<(), ApiError> {
    let io =
        |e: std::io::Error| ApiError::internal(format!("could not write the dry-run files: {e}"));
    std::fs::create_dir_all(contents).map_err(io)?;
    std::fs::create_dir_all(workspace).map_err(io)?;
    for (path, bytes) in files {
        let target = resolve_safe_child_path(contents, path)
            .map_err(|e| ApiError::input(format!("directoryContents: {path}: {e}")))?;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(&target, bytes).map_err(io)?;
    }
    Ok(())
}

/// The workspace's files, base64, with the executable bit; bounded.
fn read_workspace(
    workspace: &FsPath,
    max_files: usize,
    max_bytes: u64,
) -> Result<Vec<Value>, ApiError> {
    let mut out = Vec::new();
    let mut total: u64 = 0;
    let mut stack: Vec<PathBuf> = vec![workspace.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
                continue;
            };
            if meta.is_dir() {
                stack.push(entry.path());
                continue;
            }
            if !meta.is_file() {
                continue;
            }
            total += meta.len();
            if out.len() >= max_files || total > max_bytes {
                return Err(ApiError::input(format!(
                    "the dry run produced more than {max_files} files or {max_bytes} bytes (scaffolder.dryRun.maxFiles, scaffolder.dryRun.maxOutputBytes)"
                )));
            }
            let bytes = std::fs::read(entry.path()).map_err(|e| {
                ApiError::internal(format!("could not read the dry-run output: {e}"))
            })?;
            let rel = entry
                .path()
                .strip_prefix(workspace)
                .map(|p| p.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            out.push(json!({
                "path": rel,
                "base64Content": STANDARD.encode(bytes),
                "executable": is_executable(&meta),
            }));
        }
    }
    out.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
    Ok(out)
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    false
}
