//! Tasks, their events and the action list, as `/api/scaffolder/v2` serialises them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Where a task is in its life: `open` → `processing` → `completed` | `failed` | `cancelled`.
/// Steps are also `skipped` when their `if` is falsy.
///
/// ```
/// use backlot::plugins::scaffolder::common::TaskStatus;
///
/// assert_eq!("processing".parse::<TaskStatus>(), Ok(TaskStatus::Processing));
/// assert!(TaskStatus::Cancelled.is_final());
/// assert_eq!(serde_json::to_string(&TaskStatus::Open)?, "\"open\"");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    /// Waiting for a worker.
    Open,
    /// Claimed by a worker that sends heartbeats.
    Processing,
    /// Every step ran.
    Completed,
    /// A step failed, or the worker was lost.
    Failed,
    /// Cancelled by a user.
    Cancelled,
    /// A step whose `if` was falsy (steps only).
    Skipped,
}

impl TaskStatus {
    /// `open`, `processing`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Skipped => "skipped",
        }
    }

    /// Whether nothing will happen to the task any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Failed | Self::Cancelled | Self::Skipped
        )
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "open" => Self::Open,
            "processing" => Self::Processing,
            "completed" => Self::Completed,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            "skipped" => Self::Skipped,
            other => return Err(format!("unknown task status '{other}'")),
        })
    }
}

/// The kind of a task event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskEventType {
    /// A log line, or a step's status change (`body.stepId` + `body.status`).
    Log,
    /// The task finished; `body.status` is final and `body.output` holds the rendered output.
    Completion,
    /// The task was cancelled.
    Cancelled,
    /// The task was taken over after its worker was lost.
    Recovered,
}

impl TaskEventType {
    /// `log`, `completion`, `cancelled` or `recovered`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Log => "log",
            Self::Completion => "completion",
            Self::Cancelled => "cancelled",
            Self::Recovered => "recovered",
        }
    }
}

impl FromStr for TaskEventType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "log" => Self::Log,
            "completion" => Self::Completion,
            "cancelled" => Self::Cancelled,
            "recovered" => Self::Recovered,
            other => return Err(format!("unknown task event type '{other}'")),
        })
    }
}

/// The body of a task event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskEventBody {
    /// The log line or a description of the change.
    pub message: String,
    /// The step it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_id: Option<String>,
    /// The step's or task's new status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskStatus>,
    /// On `completion`: the rendered `spec.output`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// On a failed `completion`: the error, `{name, message}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

/// One event of a task, with an id that grows with each event of the task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SerializedTaskEvent {
    /// Monotonic per task; `?after=` resumes after it.
    pub id: i64,
    /// The task.
    pub task_id: String,
    /// What happened.
    pub body: TaskEventBody,
    /// Its kind.
    #[serde(rename = "type")]
    pub event_type: TaskEventType,
    /// RFC 3339.
    pub created_at: String,
    /// Whether the task can be resumed from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_task_recoverable: Option<bool>,
}

/// A step of a task spec, as written in the template.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskStep {
    /// The id its outputs are addressed by (`steps.<id>.output`).
    #[serde(default)]
    pub id: String,
    /// Shown in the UI.
    #[serde(default)]
    pub name: String,
    /// The action id, e.g. `fetch:template`.
    pub action: String,
    /// The action's input, templated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// A templated condition; the step is skipped when it is falsy.
    #[serde(default, rename = "if", skip_serializing_if = "Option::is_none")]
    pub if_: Option<Value>,
    /// A templated array or object; the step runs once per item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub each: Option<Value>,
}

/// The signed-in user a task runs for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskUser {
    /// The user's catalog entity, when it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<Value>,
    /// `user:default/jane`.
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub ref_: Option<String>,
}

/// Which template a task comes from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateInfo {
    /// `template:default/my-template`.
    pub entity_ref: String,
    /// Where relative `url`s of `fetch:*` resolve against: the template's location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// `{ metadata }` of the template entity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<Value>,
}

/// What a task runs (`TaskSpecV1beta3`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskSpec {
    /// `scaffolder.backstage.io/v1beta3`.
    pub api_version: String,
    /// The user's values (secrets excluded).
    #[serde(default)]
    pub parameters: Map<String, Value>,
    /// The steps, run in order.
    #[serde(default)]
    pub steps: Vec<TaskStep>,
    /// `spec.output` of the template, rendered when the task completes.
    #[serde(default)]
    pub output: Map<String, Value>,
    /// The template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_info: Option<TemplateInfo>,
    /// The user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<TaskUser>,
}

/// A task as `GET /v2/tasks/{id}` answers it. Secrets are never part of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SerializedTask {
    /// A UUID.
    pub id: String,
    /// What it runs.
    pub spec: TaskSpec,
    /// Where it is.
    pub status: TaskStatus,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, while a worker holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_heartbeat_at: Option<String>,
    /// The user entity ref of its creator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Checkpoints and other state kept across recoveries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Value>,
}

/// An example of an action's use, as `GET /v2/actions` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionExample {
    /// What it shows.
    pub description: String,
    /// A YAML snippet of a step using the action.
    pub example: String,
}

/// The JSON Schemas of an action's input and output.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActionSchema {
    /// The input's schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// The output's schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
}

/// One entry of `GET /v2/actions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionInfo {
    /// `namespace:verb[:qualifier]`.
    pub id: String,
    /// What it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Examples.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<ActionExample>,
    /// Its schemas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<ActionSchema>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_serialises_as_backstage() -> Result<(), serde_json::Error> {
        let e = SerializedTaskEvent {
            id: 3,
            task_id: "t".into(),
            body: TaskEventBody {
                message: "Beginning step Fetch".into(),
                step_id: Some("fetch".into()),
                status: Some(TaskStatus::Processing),
                ..TaskEventBody::default()
            },
            event_type: TaskEventType::Log,
            created_at: "2026-01-01T00:00:00Z".into(),
            is_task_recoverable: None,
        };
        let v = serde_json::to_value(&e)?;
        assert_eq!(v["type"], "log");
        assert_eq!(v["taskId"], "t");
        assert_eq!(v["body"]["stepId"], "fetch");
        assert_eq!(v["body"]["status"], "processing");
        assert!(v["body"].get("output").is_none());
        Ok(())
    }

    #[test]
    fn step_keeps_if_and_each() -> Result<(), serde_json::Error> {
        let s: TaskStep = serde_json::from_value(serde_json::json!({
            "id": "a", "name": "A", "action": "debug:log",
            "if": "${{ parameters.x }}", "each": ["1", "2"]
        }))?;
        assert_eq!(
            s.if_.as_ref().and_then(Value::as_str),
            Some("${{ parameters.x }}")
        );
        assert_eq!(serde_json::to_value(&s)?["if"], "${{ parameters.x }}");
        Ok(())
    }
}
