//! What the scheduler reports about its tasks: descriptors, task state and worker state.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::schedule::{TaskScope, TaskSettings};

/// A scheduled task as [`PluginScheduler::get_scheduled_tasks`](super::PluginScheduler::get_scheduled_tasks)
/// lists it (Backstage's `SchedulerServiceTaskDescriptor`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskDescriptor {
    /// The task id.
    pub id: String,
    /// Global or local.
    pub scope: TaskScope,
    /// The stored settings.
    pub settings: TaskSettings,
}

/// The state of a task's runs (Backstage's `taskState`): for a global task as the tasks table
/// holds it, for a local one as this instance knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum TaskState {
    /// Not running now.
    #[serde(rename_all = "camelCase")]
    Idle {
        /// When the next run is due (ISO-8601), if one is planned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        starts_at: Option<String>,
        /// When the last run ended.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_run_ended_at: Option<String>,
        /// The last run's error as JSON text (`{"name":"Error","message":"…"}`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_run_error: Option<String>,
    },
    /// A run is under way (somewhere, for a global task).
    #[serde(rename_all = "camelCase")]
    Running {
        /// When the run started.
        started_at: String,
        /// When its lease (timeout) expires.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        times_out_at: Option<String>,
        /// When the previous run ended.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_run_ended_at: Option<String>,
        /// The previous run's error as JSON text.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_run_error: Option<String>,
    },
}

impl TaskState {
    /// Whether a run is under way.
    pub fn is_running(&self) -> bool {
        matches!(self, Self::Running { .. })
    }

    /// The last run's error, if the last run failed.
    pub fn last_run_error(&self) -> Option<&str> {
        match self {
            Self::Idle { last_run_error, .. } | Self::Running { last_run_error, .. } => {
                last_run_error.as_deref()
            }
        }
    }
}

/// What this instance's worker for a task is doing (Backstage's `workerState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum WorkerState {
    /// Waiting out the initial delay.
    InitialWait,
    /// Waiting for the next run (or, for a global task, polling for one).
    Idle,
    /// Running the task on this instance.
    Running,
}

/// One task in the `GET /.backstage/scheduler/v1/tasks` response (Backstage's
/// `TaskApiTasksResponse`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskInfo {
    /// The task id.
    pub task_id: String,
    /// The plugin that scheduled it.
    pub plugin_id: String,
    /// Global or local.
    pub scope: TaskScope,
    /// The stored settings.
    pub settings: TaskSettings,
    /// The runs' state, `null` when unknown.
    pub task_state: Option<TaskState>,
    /// This instance's worker state, `null` when unknown.
    pub worker_state: Option<WorkerState>,
}

/// Formats epoch milliseconds as ISO-8601 UTC with milliseconds.
pub(crate) fn iso_from_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Serializes an error like Backstage's `serializeError`: `{"name","message"}` as JSON text.
pub(crate) fn error_json(name: &str, message: &str) -> String {
    serde_json::json!({ "name": name, "message": message }).to_string()
}
