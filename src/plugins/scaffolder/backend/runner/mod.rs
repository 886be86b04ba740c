//! The workflow runner (Backstage's `NunjucksWorkflowRunner`): runs a task's steps in order
//! over the `${{ }}` templating context, and renders the template's output.
//!
//! Every event goes through an [`Emitter`] after the task's secrets are replaced by `***`
//! in every string of its body, so neither log lines nor error messages nor the rendered
//! output ever carry a secret.

mod emit;

pub(crate) use emit::{CollectingEmitter, Emitter};

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use super::config::ScaffolderConfig;
use super::permissions::action_allowed;
use super::validation;
use crate::plugins::scaffolder::common::{TaskStatus, TaskUser, TemplateInfo};
use crate::plugins::scaffolder::node::{
    ActionContext, ActionError, ActionLogSink, ActionLogger, TemplateAction, Templater,
};
use crate::services::auth::Credentials;
use crate::services::permissions::PolicyDecision;

/// The actions a runner knows, by id.
#[derive(Debug, Default)]
pub(crate) struct ActionRegistry {
    actions: BTreeMap<String, Arc<dyn TemplateAction>>,
}

impl ActionRegistry {
    /// Built-ins first; an added action with the id of a built-in replaces it.
    pub(crate) fn new(
        builtin: Vec<Arc<dyn TemplateAction>>,
        added: Vec<Arc<dyn TemplateAction>>,
    ) -> Self {
        let mut actions = BTreeMap::new();
        for a in builtin.into_iter().chain(added) {
            actions.insert(a.id().to_string(), a);
        }
        Self { actions }
    }

    pub(crate) fn get(&self, id: &str) -> Option<&Arc<dyn TemplateAction>> {
        self.actions.get(id)
    }

    pub(crate) fn all(&self) -> impl Iterator<Item = &Arc<dyn TemplateAction>> {
        self.actions.values()
    }
}

/// One run of a task's steps.
#[derive(Debug)]
pub(crate) struct RunRequest {
    pub(crate) task_id: String,
    pub(crate) spec: Value,
    pub(crate) secrets: BTreeMap<String, String>,
    pub(crate) credentials: Credentials,
    pub(crate) signal: CancellationToken,
    pub(crate) dry_run: bool,
    pub(crate) workspace: PathBuf,
    pub(crate) temp_root: PathBuf,
    /// The creator's `scaffolder.action.execute` decision; `None` allows every action.
    pub(crate) action_decision: Option<PolicyDecision>,
}

/// How a run ended.
#[derive(Debug)]
pub(crate) struct RunResult {
    pub(crate) status: TaskStatus,
    /// The rendered `spec.output` (completed runs).
    pub(crate) output: Value,
    /// The error that failed the run, redacted.
    pub(crate) error: Option<String>,
}

impl RunResult {
    /// The body of the `completion` event.
    pub(crate) fn completion_body(&self) -> Value {
        let mut body = json!({
            "message": format!("Run completed with status: {}", self.status),
            "status": self.status.as_str(),
        });
        if self.status == TaskStatus::Completed {
            body["output"] = self.output.clone();
        }
        if let Some(e) = &self.error {
            body["error"] = json!({"name": "Error", "message": e});
        }
        body
    }
}

/// Runs steps.
#[derive(Debug)]
pub(crate) struct Runner {
    pub(crate) actions: Arc<ActionRegistry>,
    pub(crate) templater: Arc<Templater>,
    pub(crate) config: Arc<ScaffolderConfig>,
}

/// Why a step stopped the run.
enum StepStop {
    Failed(String),
    Cancelled,
}

/// An action's log lines, as `log` events of its step.
#[derive(Debug)]
struct StepSink {
    emitter: Arc<dyn Emitter>,
    step_id: String,
    lines: Arc<AtomicUsize>,
    max_lines: usize,
    max_bytes: usize,
}

impl ActionLogSink for StepSink {
    fn log(&self, _level: &str, message: &str) {
        let n = self.lines.fetch_add(1, Ordering::Relaxed);
        if n > self.max_lines {
            return;
        }
        let message = if n == self.max_lines {
            "further log lines of this task are dropped (scaffolder.maxEventsPerTask)".to_string()
        } else {
            truncate(message, self.max_bytes)
        };
        self.emitter
            .emit(json!({"message": message, "stepId": self.step_id}));
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

impl Runner {
    /// Runs the steps of `req.spec`, emitting step events; never panics on bad input.
    pub(crate) async fn run(&self, req: RunRequest, emitter: Arc<dyn Emitter>) -> RunResult {
        let secrets: Vec<String> = req.secrets.values().cloned().collect();
        let emitter: Arc<dyn Emitter> = Arc::new(emit::Redacting::new(emitter, secrets.clone()));
        let lines = Arc::new(AtomicUsize::new(0));
        let mut steps_ctx = Map::new();
        let steps: Vec<Value> = req
            .spec
            .get("steps")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let fail = |e: String| RunResult {
            status: TaskStatus::Failed,
            output: Value::Null,
            error: Some(e),
        };
        if steps.len() > self.config.max_steps {
            return fail(format!(
                "the template has {} steps, more than scaffolder.maxSteps ({})",
                steps.len(),
                self.config.max_steps
            ));
        }
        for (index, step) in steps.iter().enumerate() {
            if req.signal.is_cancelled() {
                return self.cancelled();
            }
            let id = step
                .get("id")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| format!("step-{}", index + 1));
            match self
                .run_step(&req, step, &id, &mut steps_ctx, &emitter, &lines, &secrets)
                .await
            {
                Ok(()) => {}
                Err(StepStop::Cancelled) => {
                    emitter.emit(json!({"message": format!("Step {id} has been cancelled."), "stepId": id, "status": "cancelled"}));
                    return self.cancelled();
                }
                Err(StepStop::Failed(message)) => {
                    emitter.emit(json!({"message": message, "stepId": id, "status": "failed"}));
                    return fail(emit::redact_str(&message, &secrets));
                }
            }
        }
        let ctx = self.context(&req, &steps_ctx, None);
        match self.render_output(&req.spec, &ctx) {
            Ok(output) => RunResult {
                status: TaskStatus::Completed,
                output: emit::redact_value(&output, &secrets),
                error: None,
            },
            Err(e) => fail(emit::redact_str(&e, &secrets)),
        }
    }

    fn cancelled(&self) -> RunResult {
        RunResult {
            status: TaskStatus::Cancelled,
            output: Value::Null,
            error: None,
        }
    }

    /// The templating context: `parameters`, `secrets`, `steps`, `user`, `context`, `each`.
    fn context(&self, req: &RunRequest, steps: &Map<String, Value>, each: Option<Value>) -> Value {
        let spec = &req.spec;
        let mut ctx = json!({
            "parameters": spec.get("parameters").cloned().unwrap_or_else(|| json!({})),
            "secrets": req.secrets,
            "steps": steps,
            "user": spec.get("user").cloned().unwrap_or_else(|| json!({})),
            "context": {
                "task": {"id": req.task_id},
                "templateInfo": spec.get("templateInfo").cloned().unwrap_or(Value::Null),
                "isDryRun": req.dry_run,
            },
        });
        if let Some(each) = each {
            ctx["each"] = each;
        }
        ctx
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_step(
        &self,
        req: &RunRequest,
        step: &Value,
        id: &str,
        steps_ctx: &mut Map<String, Value>,
        emitter: &Arc<dyn Emitter>,
        lines: &Arc<AtomicUsize>,
        secrets: &[String],
    ) -> Result<(), StepStop> {
        let name = step.get("name").and_then(Value::as_str).unwrap_or(id);
        let action_id = step.get("action").and_then(Value::as_str).unwrap_or("");
        let ctx = self.context(req, steps_ctx, None);
        if let Some(cond) = step.get("if") {
            let rendered = self.templater.render_value(cond, &ctx).map_err(|e| {
                StepStop::Failed(format!("could not evaluate the if of step {id}: {e}"))
            })?;
            if !Templater::is_truthy(&rendered) {
                emitter.emit(json!({
                    "message": format!("Skipping step {id} because its if condition was false"),
                    "stepId": id, "status": "skipped",
                }));
                return Ok(());
            }
        }
        emitter.emit(json!({"message": format!("Beginning step {name}"), "stepId": id, "status": "processing"}));
        let Some(action) = self.actions.get(action_id) else {
            return Err(StepStop::Failed(format!(
                "Template action with ID '{action_id}' is not registered."
            )));
        };
        if req.dry_run && !action.supports_dry_run() {
            emitter.emit(json!({
                "message": format!("Skipping because {action_id} does not support dry-run"),
                "stepId": id, "status": "skipped",
            }));
            return Ok(());
        }
        let iterations: Vec<Option<Value>> = match step.get("each") {
            None => vec![None],
            Some(each) => {
                let rendered = self.templater.render_value(each, &ctx).map_err(|e| {
                    StepStop::Failed(format!("could not evaluate the each of step {id}: {e}"))
                })?;
                let items: Vec<Value> = match rendered {
                    Value::Array(a) => a
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| json!({"key": i.to_string(), "value": v}))
                        .collect(),
                    Value::Object(o) => o
                        .into_iter()
                        .map(|(k, v)| json!({"key": k, "value": v}))
                        .collect(),
                    other => {
                        return Err(StepStop::Failed(format!(
                            "Invalid value on action {action_id}.each parameter, \"{}\" cannot be iterated",
                            emit::redact_str(&other.to_string(), secrets)
                        )));
                    }
                };
                if items.len() > self.config.max_each_items {
                    return Err(StepStop::Failed(format!(
                        "the each of step {id} has {} items, more than scaffolder.maxEachItems ({})",
                        items.len(),
                        self.config.max_each_items
                    )));
                }
                items.into_iter().map(Some).collect()
            }
        };
        let is_each = step.get("each").is_some();
        let mut output: Map<String, Value> = Map::new();
        let input_template = step.get("input").cloned().unwrap_or_else(|| json!({}));
        for each in iterations {
            if req.signal.is_cancelled() {
                return Err(StepStop::Cancelled);
            }
            let ctx = self.context(req, steps_ctx, each.clone());
            let input = self
                .templater
                .render_value(&input_template, &ctx)
                .map_err(|e| {
                    StepStop::Failed(format!("could not render the input of step {id}: {e}"))
                })?;
            if let Some(schema) = action.input_schema() {
                let errors = validation::validate(&schema, &input).map_err(|e| {
                    StepStop::Failed(format!(
                        "the input schema of action {action_id} is invalid: {e}"
                    ))
                })?;
                if !errors.is_empty() {
                    let msgs: Vec<String> = errors
                        .iter()
                        .filter_map(|e| e["stack"].as_str().map(str::to_string))
                        .collect();
                    return Err(StepStop::Failed(format!(
                        "Invalid input passed to action {action_id}, {}",
                        msgs.join(", ")
                    )));
                }
            }
            if let Some(decision) = &req.action_decision
                && !action_allowed(decision, action_id, &input)
            {
                return Err(StepStop::Failed(format!(
                    "Unauthorized action: {action_id}. The action is not allowed."
                )));
            }
            if let Some(each) = &each {
                emitter.emit(json!({
                    "message": format!("Running {action_id} for item {}", each["key"].as_str().unwrap_or("")),
                    "stepId": id,
                }));
            }
            let sink = Arc::new(StepSink {
                emitter: Arc::clone(emitter),
                step_id: id.to_string(),
                lines: Arc::clone(lines),
                max_lines: usize::try_from(self.config.max_events_per_task).unwrap_or(usize::MAX),
                max_bytes: self.config.max_log_message_bytes,
            });
            let logger = ActionLogger::new(sink, secrets.to_vec());
            let mut actx = ActionContext::new(
                input,
                req.workspace.clone(),
                req.temp_root.clone(),
                logger,
                req.task_id.clone(),
                id.to_string(),
                req.signal.child_token(),
            );
            actx.secrets = req.secrets.clone();
            actx.user = serde_json::from_value::<TaskUser>(
                req.spec.get("user").cloned().unwrap_or(Value::Null),
            )
            .unwrap_or_default();
            actx.credentials = req.credentials.clone();
            actx.template_info = req
                .spec
                .get("templateInfo")
                .and_then(|t| serde_json::from_value::<TemplateInfo>(t.clone()).ok());
            actx.is_dry_run = req.dry_run;
            let result = tokio::select! {
                r = action.handler(&mut actx) => r,
                () = req.signal.cancelled() => Err(ActionError::Cancelled),
            };
            match result {
                Ok(()) => {}
                Err(ActionError::Cancelled) => return Err(StepStop::Cancelled),
                Err(e) if req.signal.is_cancelled() => {
                    let _ = e;
                    return Err(StepStop::Cancelled);
                }
                Err(e) => return Err(StepStop::Failed(e.to_string())),
            }
            for (k, v) in actx.take_outputs() {
                if is_each {
                    match output.entry(k).or_insert_with(|| Value::Array(Vec::new())) {
                        Value::Array(a) => a.push(v),
                        slot => *slot = Value::Array(vec![v]),
                    }
                } else {
                    output.insert(k, v);
                }
            }
        }
        steps_ctx.insert(id.to_string(), json!({"output": output}));
        emitter.emit(json!({"message": format!("Finished step {name}"), "stepId": id, "status": "completed"}));
        Ok(())
    }

    /// `spec.output` rendered; `links` and `text` items whose `if` is falsy are left out.
    fn render_output(&self, spec: &Value, ctx: &Value) -> Result<Value, String> {
        let Some(Value::Object(output)) = spec.get("output") else {
            return Ok(json!({}));
        };
        let mut out = Map::new();
        for (key, value) in output {
            if (key == "links" || key == "text")
                && let Value::Array(items) = value
            {
                let mut kept = Vec::new();
                for item in items {
                    let mut item = item.clone();
                    if let Some(obj) = item.as_object_mut()
                        && let Some(cond) = obj.remove("if")
                    {
                        let r = self
                            .templater
                            .render_value(&cond, ctx)
                            .map_err(|e| format!("could not render the output: {e}"))?;
                        if !Templater::is_truthy(&r) {
                            continue;
                        }
                    }
                    kept.push(
                        self.templater
                            .render_value(&item, ctx)
                            .map_err(|e| format!("could not render the output: {e}"))?,
                    );
                }
                out.insert(key.clone(), Value::Array(kept));
                continue;
            }
            out.insert(
                key.clone(),
                self.templater
                    .render_value(value, ctx)
                    .map_err(|e| format!("could not render the output: {e}"))?,
            );
        }
        Ok(Value::Object(out))
    }
}

/// Steps as the dry-run answer lists them.
pub(crate) fn step_summaries(spec: &Value) -> Vec<Value> {
    spec.get("steps")
        .and_then(Value::as_array)
        .map(|steps| {
            steps
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let id = s
                        .get("id")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("step-{}", i + 1));
                    json!({
                        "id": id,
                        "name": s.get("name").and_then(Value::as_str).unwrap_or(&id),
                        "action": s.get("action").cloned().unwrap_or(Value::Null),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}
