//! The action trait and the context an action runs with.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use crate::backend::BoxError;
use crate::plugins::scaffolder::common::{ActionExample, TaskUser, TemplateInfo};
use crate::services::auth::Credentials;

/// Why an action failed. The task records the message and fails the step.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ActionError {
    /// The input does not fit the action's schema or makes no sense.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A path leaves the task's workspace (`..`, an absolute path, a symlink).
    #[error("{0}")]
    PathEscape(String),
    /// Something the action needs does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The task was cancelled while the action ran.
    #[error("the task was cancelled")]
    Cancelled,
    /// The action ran and failed.
    #[error("{0}")]
    Failed(String),
    /// An error of a service the action called.
    #[error(transparent)]
    Other(#[from] BoxError),
}

impl From<std::io::Error> for ActionError {
    fn from(e: std::io::Error) -> Self {
        Self::Failed(e.to_string())
    }
}

/// Where an action's log lines go: the task's event log. Implemented by the task runner; the
/// [`ActionLogger`] in front of it removes secrets first.
pub trait ActionLogSink: Send + Sync + fmt::Debug {
    /// Records one log line of the running step.
    fn log(&self, level: &str, message: &str);
}

/// An action's logger: every line goes to the task's event log with the task's secrets
/// replaced by `***`.
///
/// ```
/// use std::sync::Arc;
/// use parking_lot::Mutex;
/// use backlot::plugins::scaffolder::node::{ActionLogSink, ActionLogger};
///
/// #[derive(Debug, Default)]
/// struct Lines(Mutex<Vec<String>>);
/// impl ActionLogSink for Lines {
///     fn log(&self, _level: &str, message: &str) { self.0.lock().push(message.to_string()); }
/// }
///
/// let lines = Arc::new(Lines::default());
/// let logger = ActionLogger::new(lines.clone(), vec!["hunter2".to_string()]);
/// logger.info("token is hunter2");
/// assert_eq!(lines.0.lock().as_slice(), ["token is ***"]);
/// ```
#[derive(Clone)]
pub struct ActionLogger {
    sink: Arc<dyn ActionLogSink>,
    secrets: Arc<Vec<String>>,
}

impl fmt::Debug for ActionLogger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActionLogger")
            .field("sink", &self.sink)
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

impl ActionLogger {
    /// A logger writing to `sink` that hides every value of `secrets` (empty ones ignored).
    pub fn new(sink: Arc<dyn ActionLogSink>, secrets: Vec<String>) -> Self {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| !s.is_empty()).collect();
        // Longest first, so a secret containing another is hidden whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Self {
            sink,
            secrets: Arc::new(secrets),
        }
    }

    /// `message` with every secret replaced by `***`.
    pub fn redact(&self, message: &str) -> String {
        let mut out = message.to_string();
        for s in self.secrets.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "***");
            }
        }
        out
    }

    /// Logs at `info`.
    pub fn info(&self, message: &str) {
        self.sink.log("info", &self.redact(message));
    }

    /// Logs at `warn`.
    pub fn warn(&self, message: &str) {
        self.sink.log("warn", &self.redact(message));
    }

    /// Logs at `error`.
    pub fn error(&self, message: &str) {
        self.sink.log("error", &self.redact(message));
    }
}

/// What an action runs with (Backstage's `ActionContext`): its rendered input, the task's
/// workspace, a logger, the task's secrets and user, a cancellation signal, and where it puts
/// its outputs.
#[derive(Debug)]
pub struct ActionContext {
    /// The step's input, rendered and validated against the action's input schema.
    pub input: Value,
    /// The task's workspace; every path an action takes from its input must be resolved with
    /// [`resolve_safe_child_path`](super::resolve_safe_child_path) against it.
    pub workspace_path: PathBuf,
    /// The step's logger.
    pub logger: ActionLogger,
    /// The task's secrets (`ui:field: Secret` values), never stored in the clear.
    pub secrets: BTreeMap<String, String>,
    /// The user the task runs for.
    pub user: TaskUser,
    /// The user's credentials, for calls to other plugins on the user's behalf.
    pub credentials: Credentials,
    /// The template the task comes from.
    pub template_info: Option<TemplateInfo>,
    /// The task.
    pub task_id: String,
    /// The running step.
    pub step_id: String,
    /// Cancelled when the task is cancelled or its worker shuts down; long actions must watch it.
    pub signal: CancellationToken,
    /// A dry run: the action must not change anything outside the workspace.
    pub is_dry_run: bool,
    /// The template's own files when they came with the request (a dry run's
    /// `directoryContents`): `fetch:*` reads `file:` URLs below this directory directly, as the
    /// backend's file allow-list knows nothing of a request's files.
    pub template_directory: Option<PathBuf>,
    outputs: Map<String, Value>,
    temp_root: PathBuf,
}

impl ActionContext {
    /// A context for running one action. `temp_root` is where
    /// [`create_temporary_directory`](Self::create_temporary_directory) creates directories;
    /// the caller deletes it afterwards.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        input: Value,
        workspace_path: PathBuf,
        temp_root: PathBuf,
        logger: ActionLogger,
        task_id: String,
        step_id: String,
        signal: CancellationToken,
    ) -> Self {
        Self {
            input,
            workspace_path,
            logger,
            secrets: BTreeMap::new(),
            user: TaskUser::default(),
            credentials: Credentials::none(),
            template_info: None,
            task_id,
            step_id,
            signal,
            is_dry_run: false,
            template_directory: None,
            outputs: Map::new(),
            temp_root,
        }
    }

    /// Sets an output of the step (`steps.<id>.output.<name>`).
    pub fn output(&mut self, name: &str, value: impl Into<Value>) {
        self.outputs.insert(name.to_string(), value.into());
    }

    /// The outputs set so far.
    pub fn outputs(&self) -> &Map<String, Value> {
        &self.outputs
    }

    /// Takes the outputs out of the context.
    pub fn take_outputs(&mut self) -> Map<String, Value> {
        std::mem::take(&mut self.outputs)
    }

    /// A fresh directory outside the workspace, deleted with the task.
    ///
    /// # Errors
    ///
    /// The I/O error of creating it.
    pub fn create_temporary_directory(&self) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(&self.temp_root)?;
        let dir = tempfile::Builder::new()
            .prefix("tmp-")
            .tempdir_in(&self.temp_root)?;
        Ok(dir.keep())
    }

    /// The directory temporary directories are created in.
    pub fn temp_root(&self) -> &Path {
        &self.temp_root
    }

    /// A string field of the input.
    pub fn input_str(&self, key: &str) -> Option<&str> {
        self.input.get(key).and_then(Value::as_str)
    }

    /// Fails with [`ActionError::Cancelled`] once the task is cancelled.
    ///
    /// # Errors
    ///
    /// [`ActionError::Cancelled`].
    pub fn check_cancelled(&self) -> Result<(), ActionError> {
        if self.signal.is_cancelled() {
            Err(ActionError::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// A scaffolder action (Backstage's `TemplateAction`): an id, JSON Schemas of its input and
/// output, examples, and a handler run with an [`ActionContext`]. Modules add actions through
/// [`SCAFFOLDER_ACTIONS`](super::SCAFFOLDER_ACTIONS).
///
/// ```
/// use async_trait::async_trait;
/// use serde_json::json;
/// use backlot::plugins::scaffolder::node::{ActionContext, ActionError, TemplateAction};
///
/// #[derive(Debug)]
/// struct Greet;
///
/// #[async_trait]
/// impl TemplateAction for Greet {
///     fn id(&self) -> &str { "acme:greet" }
///     fn input_schema(&self) -> Option<serde_json::Value> {
///         Some(json!({"type": "object", "required": ["name"],
///                     "properties": {"name": {"type": "string"}}}))
///     }
///     fn supports_dry_run(&self) -> bool { true }
///     async fn handler(&self, ctx: &mut ActionContext) -> Result<(), ActionError> {
///         let name = ctx.input_str("name").unwrap_or("world").to_string();
///         ctx.logger.info(&format!("hello {name}"));
///         ctx.output("greeting", format!("hello {name}"));
///         Ok(())
///     }
/// }
/// assert_eq!(Greet.id(), "acme:greet");
/// ```
#[async_trait]
pub trait TemplateAction: Send + Sync + fmt::Debug {
    /// `namespace:verb[:qualifier]`, lowercase.
    fn id(&self) -> &str;

    /// What it does, for `GET /v2/actions`.
    fn description(&self) -> Option<&str> {
        None
    }

    /// Examples of its use.
    fn examples(&self) -> Vec<ActionExample> {
        Vec::new()
    }

    /// The JSON Schema its input is validated against before it runs.
    fn input_schema(&self) -> Option<Value> {
        None
    }

    /// The JSON Schema of its outputs.
    fn output_schema(&self) -> Option<Value> {
        None
    }

    /// Whether it runs in a dry run (it must then change nothing outside the workspace).
    fn supports_dry_run(&self) -> bool {
        false
    }

    /// Runs the action.
    async fn handler(&self, ctx: &mut ActionContext) -> Result<(), ActionError>;
}
