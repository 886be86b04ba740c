//! The scheduler's error type.

/// An error from the scheduler service.
///
/// The HTTP router maps [`SchedulerError::NotFound`] to Backstage's `NotFoundError` (404),
/// [`SchedulerError::Conflict`] to `ConflictError` (409), the schedule and id errors to
/// `InputError` (400) and everything else to a 500.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchedulerError {
    /// A task id is empty or holds characters that cannot appear in a URL path segment.
    #[error("invalid task id '{id}': {reason}")]
    InvalidId {
        /// The rejected id.
        id: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A schedule, or one field of it, could not be read.
    #[error("invalid task schedule field '{field}': {message}")]
    InvalidSchedule {
        /// The field (a dotted path such as `frequency.cron` or `timeout`).
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// A task with this id was already scheduled by this plugin.
    #[error("task '{id}' is already scheduled for plugin '{plugin_id}'")]
    DuplicateTask {
        /// The plugin that owns the scheduler.
        plugin_id: String,
        /// The task id.
        id: String,
    },
    /// No task with this id exists.
    #[error("task '{id}' does not exist for plugin '{plugin_id}'")]
    NotFound {
        /// The plugin that owns the scheduler.
        plugin_id: String,
        /// The task id.
        id: String,
    },
    /// The task is in the wrong state for the request (triggering a running task, cancelling
    /// an idle one).
    #[error("task '{id}' {reason}")]
    Conflict {
        /// The task id.
        id: String,
        /// What the task is doing, e.g. `is currently running`.
        reason: &'static str,
    },
    /// The scheduler was shut down and takes no new work.
    #[error("the scheduler of plugin '{plugin_id}' is shut down")]
    ShutDown {
        /// The plugin that owns the scheduler.
        plugin_id: String,
    },
    /// The lease store (the tasks table) failed.
    #[error("scheduler store failed during {operation} for plugin '{plugin_id}'")]
    Store {
        /// The plugin that owns the scheduler.
        plugin_id: String,
        /// What the store was doing, e.g. `claim of task 'refresh'`.
        operation: String,
        /// The database error.
        #[source]
        source: sqlx::Error,
    },
}

impl SchedulerError {
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidSchedule {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An error from the lease store before it is tied to a plugin id.
#[derive(Debug, thiserror::Error)]
#[error("{operation}")]
pub(crate) struct StoreError {
    pub(crate) operation: String,
    #[source]
    pub(crate) source: sqlx::Error,
}

impl StoreError {
    pub(crate) fn into_scheduler(self, plugin_id: &str) -> SchedulerError {
        SchedulerError::Store {
            plugin_id: plugin_id.to_owned(),
            operation: self.operation,
            source: self.source,
        }
    }
}
