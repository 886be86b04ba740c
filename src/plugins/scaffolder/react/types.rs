//! The request and response bodies of `/api/scaffolder/v2` the app uses.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::plugins::scaffolder::common::{SerializedTask, TaskStatus};

/// One step of a template's form: a title and the JSON Schema (with its `ui:*` keys) of the
/// parameters asked on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ParameterStep {
    /// The step title.
    #[serde(default)]
    pub title: String,
    /// The step description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The step's JSON Schema.
    #[serde(default)]
    pub schema: Value,
}

impl ParameterStep {
    /// A step titled `title` asking for the properties of `schema`.
    pub fn new(title: impl Into<String>, schema: Value) -> Self {
        Self {
            title: title.into(),
            description: None,
            schema,
        }
    }
}

/// `GET /v2/templates/{namespace}/{kind}/{name}/parameter-schema`: what the form asks.
///
/// ```
/// use backlot::plugins::scaffolder::react::TemplateParameterSchema;
///
/// let schema: TemplateParameterSchema = serde_json::from_value(serde_json::json!({
///     "title": "Rust service",
///     "steps": [{ "title": "Service", "schema": { "properties": { "name": { "type": "string" } } } }]
/// }))?;
/// assert_eq!(schema.steps[0].title, "Service");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TemplateParameterSchema {
    /// The template title.
    #[serde(default)]
    pub title: String,
    /// The template description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The form's steps, in order.
    #[serde(default)]
    pub steps: Vec<ParameterStep>,
}

impl TemplateParameterSchema {
    /// A schema titled `title` with `steps`.
    pub fn new(title: impl Into<String>, steps: Vec<ParameterStep>) -> Self {
        Self {
            title: title.into(),
            description: None,
            steps,
        }
    }
}

/// `POST /v2/tasks`: run a template with values (and secrets, never stored with the task).
///
/// ```
/// use backlot::plugins::scaffolder::react::ScaffoldRequest;
///
/// let req = ScaffoldRequest::new("template:default/rust-service")
///     .value("name", "billing")
///     .secret("token", "hunter2");
/// let body = serde_json::to_value(&req)?;
/// assert_eq!(body["templateRef"], "template:default/rust-service");
/// assert_eq!(body["values"]["name"], "billing");
/// assert_eq!(body["secrets"]["token"], "hunter2");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ScaffoldRequest {
    /// The template, as a full entity ref.
    pub template_ref: String,
    /// The parameter values.
    pub values: Map<String, Value>,
    /// The secrets (`ui:field: Secret` parameters).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub secrets: Map<String, Value>,
}

impl ScaffoldRequest {
    /// A request to run `template_ref` with no values yet.
    pub fn new(template_ref: impl Into<String>) -> Self {
        Self {
            template_ref: template_ref.into(),
            values: Map::new(),
            secrets: Map::new(),
        }
    }

    /// Adds a value.
    #[must_use]
    pub fn value(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.values.insert(key.into(), value.into());
        self
    }

    /// Adds a secret.
    #[must_use]
    pub fn secret(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.secrets.insert(key.into(), Value::String(value.into()));
        self
    }
}

/// Which tasks `GET /v2/tasks` lists.
///
/// ```
/// use backlot::plugins::scaffolder::react::ListTasksRequest;
///
/// let mine = ListTasksRequest::created_by("user:default/jane").limit(20);
/// assert_eq!(mine.query(), "createdBy=user%3Adefault%2Fjane&limit=20&order=desc%3Acreated_at");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListTasksRequest {
    /// Only tasks created by these users.
    pub created_by: Vec<String>,
    /// Only tasks in these states.
    pub status: Vec<TaskStatus>,
    /// At most this many.
    pub limit: Option<u32>,
    /// Skip this many.
    pub offset: Option<u32>,
}

impl ListTasksRequest {
    /// Every task the caller may read.
    pub fn all() -> Self {
        Self::default()
    }

    /// The tasks of one user.
    pub fn created_by(user_ref: impl Into<String>) -> Self {
        Self {
            created_by: vec![user_ref.into()],
            ..Self::default()
        }
    }

    /// Sets the limit.
    #[must_use]
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Sets the offset.
    #[must_use]
    pub fn offset(mut self, offset: u32) -> Self {
        self.offset = Some(offset);
        self
    }

    /// The query string (newest first).
    pub fn query(&self) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for c in &self.created_by {
            q.append_pair("createdBy", c);
        }
        for s in &self.status {
            q.append_pair("status", s.as_str());
        }
        if let Some(l) = self.limit {
            q.append_pair("limit", &l.to_string());
        }
        if let Some(o) = self.offset {
            q.append_pair("offset", &o.to_string());
        }
        q.append_pair("order", "desc:created_at");
        q.finish()
    }
}

/// `GET /v2/tasks`: a page of tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ListTasksResponse {
    /// The tasks.
    #[serde(default)]
    pub tasks: Vec<SerializedTask>,
    /// How many match in all, when the backend counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_tasks: Option<u64>,
}

/// A file of a dry run's workspace, base64-encoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DryRunFile {
    /// The path inside the workspace.
    pub path: String,
    /// The content, base64.
    pub base64_content: String,
    /// Whether the file is executable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executable: Option<bool>,
}

impl DryRunFile {
    /// A file at `path` with `base64_content`.
    pub fn new(path: impl Into<String>, base64_content: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            base64_content: base64_content.into(),
            executable: None,
        }
    }
}

/// `POST /v2/dry-run`: run a template (as YAML-decoded JSON) without side effects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DryRunRequest {
    /// The template entity.
    pub template: Value,
    /// The parameter values.
    pub values: Map<String, Value>,
    /// The secrets.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub secrets: Map<String, Value>,
    /// The template's own files (the skeleton).
    #[serde(default)]
    pub directory_contents: Vec<DryRunFile>,
}

impl DryRunRequest {
    /// A dry run of `template` with `values`.
    pub fn new(template: Value, values: Map<String, Value>) -> Self {
        Self {
            template,
            values,
            secrets: Map::new(),
            directory_contents: Vec::new(),
        }
    }
}

/// One log line of a dry run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DryRunLog {
    /// The event body.
    pub body: Value,
}

/// The answer of a dry run: its log, the workspace's files, the output and the steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DryRunResponse {
    /// The log.
    #[serde(default)]
    pub log: Vec<DryRunLog>,
    /// The workspace's files at the end.
    #[serde(default)]
    pub directory_contents: Vec<DryRunFile>,
    /// The template output.
    #[serde(default)]
    pub output: Value,
    /// The steps (`id`, `name`, `action`).
    #[serde(default)]
    pub steps: Vec<Value>,
}
