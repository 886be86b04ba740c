//! Task definitions: an id, a schedule and the function to run.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use super::error::SchedulerError;
use super::schedule::{TaskFrequency, TaskSchedule, TaskScope};

/// The error a task function may return; it is logged and the schedule goes on.
pub type TaskError = Box<dyn std::error::Error + Send + Sync>;

/// A task function: called once per run with a token that fires when the run must stop
/// (timeout, cancellation, shutdown).
pub type TaskFn =
    Arc<dyn Fn(CancellationToken) -> BoxFuture<'static, Result<(), TaskError>> + Send + Sync>;

/// A task to schedule: an id unique within the plugin, its schedule and its function.
///
/// ```
/// use std::time::Duration;
/// use backlot::services::scheduler::{TaskDefinition, TaskScope};
///
/// let task = TaskDefinition::builder("refresh")
///     .every(Duration::from_secs(600))
///     .timeout(Duration::from_secs(60))
///     .initial_delay(Duration::from_secs(3))
///     .scope(TaskScope::Local)
///     .run(|cancel| async move {
///         tokio::select! {
///             _ = cancel.cancelled() => {}
///             _ = tokio::time::sleep(Duration::from_millis(1)) => {}
///         }
///         Ok(())
///     })
///     .build()?;
/// assert_eq!(task.id(), "refresh");
/// assert_eq!(task.schedule().scope, TaskScope::Local);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct TaskDefinition {
    pub(crate) id: String,
    pub(crate) schedule: TaskSchedule,
    pub(crate) func: TaskFn,
}

impl fmt::Debug for TaskDefinition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskDefinition")
            .field("id", &self.id)
            .field("schedule", &self.schedule)
            .finish_non_exhaustive()
    }
}

impl TaskDefinition {
    /// A task from its parts; the id and schedule are checked.
    pub fn new<F, Fut>(
        id: impl Into<String>,
        schedule: TaskSchedule,
        func: F,
    ) -> Result<Self, SchedulerError>
    where
        F: Fn(CancellationToken) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), TaskError>> + Send + 'static,
    {
        let id = id.into();
        validate_id(&id)?;
        schedule.validate()?;
        Ok(Self {
            id,
            schedule,
            func: Arc::new(move |token| func(token).boxed()),
        })
    }

    /// Starts a builder for the task `id`.
    pub fn builder(id: impl Into<String>) -> TaskDefinitionBuilder {
        TaskDefinitionBuilder {
            id: id.into(),
            frequency: None,
            timeout: None,
            initial_delay: None,
            scope: TaskScope::Global,
            func: None,
        }
    }

    /// The task id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The task schedule.
    pub fn schedule(&self) -> &TaskSchedule {
        &self.schedule
    }
}

/// Builds a [`TaskDefinition`]; see there for an example.
#[must_use]
pub struct TaskDefinitionBuilder {
    id: String,
    frequency: Option<TaskFrequency>,
    timeout: Option<Duration>,
    initial_delay: Option<Duration>,
    scope: TaskScope,
    func: Option<TaskFn>,
}

impl fmt::Debug for TaskDefinitionBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskDefinitionBuilder")
            .field("id", &self.id)
            .field("frequency", &self.frequency)
            .field("timeout", &self.timeout)
            .field("initial_delay", &self.initial_delay)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl TaskDefinitionBuilder {
    /// Takes frequency, timeout, initial delay and scope from a schedule.
    pub fn schedule(mut self, schedule: TaskSchedule) -> Self {
        self.frequency = Some(schedule.frequency);
        self.timeout = Some(schedule.timeout);
        self.initial_delay = schedule.initial_delay;
        self.scope = schedule.scope;
        self
    }

    /// Sets the frequency.
    pub fn frequency(mut self, frequency: TaskFrequency) -> Self {
        self.frequency = Some(frequency);
        self
    }

    /// Runs at a fixed rate.
    pub fn every(self, period: Duration) -> Self {
        self.frequency(TaskFrequency::Every(period))
    }

    /// Runs on a cron expression (checked by [`build`](Self::build)).
    pub fn cron(self, expression: impl Into<String>) -> Self {
        self.frequency(TaskFrequency::Cron(expression.into()))
    }

    /// Runs only when triggered.
    pub fn manual(self) -> Self {
        self.frequency(TaskFrequency::Manual)
    }

    /// Sets the timeout (required).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the initial delay.
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = Some(delay);
        self
    }

    /// Sets the scope (default global).
    pub fn scope(mut self, scope: TaskScope) -> Self {
        self.scope = scope;
        self
    }

    /// Sets the function to run.
    pub fn run<F, Fut>(mut self, func: F) -> Self
    where
        F: Fn(CancellationToken) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), TaskError>> + Send + 'static,
    {
        self.func = Some(Arc::new(move |token| func(token).boxed()));
        self
    }

    /// Checks and builds the definition; a missing frequency, timeout or function is an
    /// [`SchedulerError::InvalidSchedule`] naming the field.
    pub fn build(self) -> Result<TaskDefinition, SchedulerError> {
        validate_id(&self.id)?;
        let frequency = self
            .frequency
            .ok_or_else(|| SchedulerError::invalid("frequency", "missing required field"))?;
        let timeout = self
            .timeout
            .ok_or_else(|| SchedulerError::invalid("timeout", "missing required field"))?;
        let func = self
            .func
            .ok_or_else(|| SchedulerError::invalid("fn", "missing task function"))?;
        let schedule = TaskSchedule {
            frequency,
            timeout,
            initial_delay: self.initial_delay,
            scope: self.scope,
        };
        schedule.validate()?;
        Ok(TaskDefinition {
            id: self.id,
            schedule,
            func,
        })
    }
}

/// Task ids appear in URL paths and log lines: non-empty, printable, no `/`, `?`, `#`, `%`
/// or whitespace.
pub(crate) fn validate_id(id: &str) -> Result<(), SchedulerError> {
    let reason = if id.is_empty() {
        Some("must not be empty")
    } else if id.len() > 255 {
        Some("must be at most 255 bytes")
    } else if id
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '?' | '#' | '%'))
    {
        Some("must not contain whitespace, control characters, '/', '?', '#' or '%'")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(SchedulerError::InvalidId {
            id: id.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_requires_fields() {
        let no_timeout = TaskDefinition::builder("a")
            .every(Duration::from_secs(1))
            .run(|_| async { Ok(()) })
            .build()
            .unwrap_err();
        assert!(
            matches!(no_timeout, SchedulerError::InvalidSchedule { ref field, .. } if field == "timeout")
        );
        let bad_id = TaskDefinition::builder("a/b")
            .manual()
            .timeout(Duration::from_secs(1))
            .run(|_| async { Ok(()) })
            .build()
            .unwrap_err();
        assert!(matches!(bad_id, SchedulerError::InvalidId { .. }));
        let bad_cron = TaskDefinition::builder("c")
            .cron("nope")
            .timeout(Duration::from_secs(1))
            .run(|_| async { Ok(()) })
            .build()
            .unwrap_err();
        assert!(
            matches!(bad_cron, SchedulerError::InvalidSchedule { ref field, .. } if field == "frequency.cron")
        );
    }
}
