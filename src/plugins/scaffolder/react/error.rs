//! Errors of the scaffolder utility API.

use serde::{Deserialize, Serialize};

/// One complaint of the backend about the submitted values (`POST /v2/tasks` answers 400
/// with `{ "errors": [ … ] }`), like the JSON-Schema validator's errors Backstage returns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ValidationError {
    /// Where the value is (`instance.name`, or a path as a list).
    pub property: String,
    /// What is wrong.
    pub message: String,
    /// The rule that failed (`required`, `pattern`, …).
    pub name: String,
    /// The failed rule's argument (the missing property, the pattern, …).
    pub argument: serde_json::Value,
}

impl ValidationError {
    /// The parameter the error is about: the last segment of `property`, or the missing
    /// property of a `required` error.
    ///
    /// ```
    /// use backlot::plugins::scaffolder::react::ValidationError;
    ///
    /// let e: ValidationError = serde_json::from_value(serde_json::json!({
    ///     "property": "instance.name", "message": "does not match pattern", "name": "pattern"
    /// }))?;
    /// assert_eq!(e.field(), Some("name".to_string()));
    /// let e: ValidationError = serde_json::from_value(serde_json::json!({
    ///     "property": "instance", "message": "requires property \"owner\"", "name": "required", "argument": "owner"
    /// }))?;
    /// assert_eq!(e.field(), Some("owner".to_string()));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn field(&self) -> Option<String> {
        if self.name == "required"
            && let Some(arg) = self.argument.as_str()
        {
            return Some(arg.to_string());
        }
        let last = self
            .property
            .trim_start_matches("instance")
            .trim_start_matches('.')
            .rsplit(['.', '/'])
            .next()
            .unwrap_or("");
        (!last.is_empty()).then(|| last.to_string())
    }
}

/// A scaffolder request that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScaffolderApiError {
    /// The request could not be sent or its body not read.
    #[error("scaffolder request to {url} failed")]
    Transport {
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The backend refused the values (400 with `errors`).
    #[error("the values were refused: {}", .errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; "))]
    Validation {
        /// The complaints, one per failed rule.
        errors: Vec<ValidationError>,
    },
    /// The backend answered with another error status.
    #[error("scaffolder request to {url} returned {status}: {message}")]
    Response {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// Backstage's error name (`NotFoundError`, `NotAllowedError`, …).
        name: String,
        /// The error message from the body.
        message: String,
    },
    /// The body was not the expected JSON.
    #[error("response from {url} could not be decoded")]
    Decode {
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The implementation does not do this.
    #[error("the scaffolder api does not support {operation}")]
    Unsupported {
        /// What was asked.
        operation: &'static str,
    },
    /// The event stream broke off or sent something that is not an event.
    #[error("event stream of task {task_id} failed: {message}")]
    Stream {
        /// The task.
        task_id: String,
        /// What went wrong.
        message: String,
    },
}

impl ScaffolderApiError {
    /// The HTTP status the backend answered with, when it answered with an error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Response { status, .. } => Some(*status),
            Self::Validation { .. } => Some(400),
            _ => None,
        }
    }

    /// What to show a person: the backend's message for error answers, else the error.
    pub fn user_message(&self) -> String {
        match self {
            Self::Response { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
}
