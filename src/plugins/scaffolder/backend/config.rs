//! `scaffolder.*` configuration: worker pool, timeouts and every limit of the REST API.

use std::path::PathBuf;
use std::time::Duration;

use crate::services::config::{Config, ConfigError};

/// The scaffolder backend's settings, read from `scaffolder.*`.
///
/// ```
/// use std::time::Duration;
/// use backlot::plugins::scaffolder::backend::ScaffolderConfig;
/// use backlot::services::config::Config;
///
/// let config = Config::from_value(serde_json::json!({
///     "scaffolder": { "concurrentTasksLimit": 2, "taskHeartbeatTimeout": "30s" }
/// }));
/// let c = ScaffolderConfig::from_config(&config)?;
/// assert_eq!(c.concurrent_tasks_limit, 2);
/// assert_eq!(c.heartbeat_timeout, Duration::from_secs(30));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ScaffolderConfig {
    /// `scaffolder.concurrentTasksLimit`: tasks one process runs at once (default 10; 0 runs
    /// no workers, so the process only serves the API).
    pub concurrent_tasks_limit: usize,
    /// `scaffolder.taskHeartbeatInterval`: how often a running task's worker records that it
    /// is alive and looks for a cancellation made through another process (default 1 s).
    pub heartbeat_interval: Duration,
    /// `scaffolder.taskHeartbeatTimeout`: a `processing` task whose last heartbeat is older
    /// is stale (default 60 s).
    pub heartbeat_timeout: Duration,
    /// `scaffolder.taskTimeoutJanitorFrequency`: how often stale tasks are looked for
    /// (default 30 s).
    pub janitor_frequency: Duration,
    /// `scaffolder.taskPollInterval`: how often idle workers look for tasks created through
    /// another process (default 1 s; this process's tasks wake them at once).
    pub poll_interval: Duration,
    /// `scaffolder.workingDirectory`: where task workspaces are made (default the OS temp
    /// directory).
    pub working_directory: Option<PathBuf>,
    /// `scaffolder.taskSecretsKey`: the key task secrets are sealed with.
    pub task_secrets_key: Option<String>,
    /// `scaffolder.maxRequestBodyBytes` (default 1 MiB; dry runs 10 MiB, see below).
    pub max_body_bytes: usize,
    /// `scaffolder.dryRun.maxRequestBodyBytes` (default 10 MiB).
    pub dry_run_max_body_bytes: usize,
    /// `scaffolder.dryRun.maxFiles` (default 1,000): files in and out of a dry run.
    pub dry_run_max_files: usize,
    /// `scaffolder.dryRun.maxOutputBytes` (default 10 MiB): the workspace a dry run returns.
    pub dry_run_max_output_bytes: u64,
    /// `scaffolder.dryRun.timeout` (default 60 s).
    pub dry_run_timeout: Duration,
    /// `scaffolder.tasks.maxListLimit` (default 1,000): the largest `limit` of `GET /v2/tasks`.
    pub max_list_limit: usize,
    /// `scaffolder.tasks.defaultListLimit` (default 100).
    pub default_list_limit: usize,
    /// `scaffolder.tasks.maxEventsPerRequest` (default 10,000): events one `GET …/events`
    /// returns.
    pub max_events_per_request: usize,
    /// `scaffolder.eventStream.maxOpenStreams` (default 256): event streams open at once in
    /// this process; more answer 503.
    pub max_open_streams: usize,
    /// `scaffolder.eventStream.pollInterval` (default 1 s): how often a stream looks for
    /// events written by another process.
    pub stream_poll_interval: Duration,
    /// `scaffolder.eventStream.maxDuration` (default 1 h): a stream is closed after it.
    pub stream_max_duration: Duration,
    /// `scaffolder.tasks.eventsWaitTimeout` (default 25 s): how long `GET …/events` waits
    /// for a first event before answering `[]`.
    pub events_wait_timeout: Duration,
    /// `scaffolder.maxLogMessageBytes` (default 64 KiB): longer log lines are cut.
    pub max_log_message_bytes: usize,
    /// `scaffolder.maxEventsPerTask` (default 100,000): further log lines are dropped.
    pub max_events_per_task: i64,
    /// `scaffolder.maxSteps` (default 200) and `scaffolder.maxEachItems` (default 1,000).
    pub max_steps: usize,
    /// See [`max_steps`](Self::max_steps).
    pub max_each_items: usize,
}

impl Default for ScaffolderConfig {
    fn default() -> Self {
        Self {
            concurrent_tasks_limit: 10,
            heartbeat_interval: Duration::from_secs(1),
            heartbeat_timeout: Duration::from_secs(60),
            janitor_frequency: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
            working_directory: None,
            task_secrets_key: None,
            max_body_bytes: 1024 * 1024,
            dry_run_max_body_bytes: 10 * 1024 * 1024,
            dry_run_max_files: 1000,
            dry_run_max_output_bytes: 10 * 1024 * 1024,
            dry_run_timeout: Duration::from_secs(60),
            max_list_limit: 1000,
            default_list_limit: 100,
            max_events_per_request: 10_000,
            max_open_streams: 256,
            stream_poll_interval: Duration::from_secs(1),
            stream_max_duration: Duration::from_secs(3600),
            events_wait_timeout: Duration::from_secs(25),
            max_log_message_bytes: 64 * 1024,
            max_events_per_task: 100_000,
            max_steps: 200,
            max_each_items: 1000,
        }
    }
}

fn count(config: &Config, path: &str, default: usize) -> Result<usize, ConfigError> {
    match config.opt_number(path)? {
        None => Ok(default),
        Some(n) if n >= 0.0 && n.fract() == 0.0 && n <= 1e12 => Ok(n as usize),
        Some(n) => Err(ConfigError::Invalid {
            path: path.to_string(),
            message: format!("expected a whole number of at least 0, got {n}"),
        }),
    }
}

fn positive(config: &Config, path: &str, default: usize) -> Result<usize, ConfigError> {
    let n = count(config, path, default)?;
    if n == 0 {
        return Err(ConfigError::Invalid {
            path: path.to_string(),
            message: "must be at least 1".into(),
        });
    }
    Ok(n)
}

fn duration(config: &Config, path: &str, default: Duration) -> Result<Duration, ConfigError> {
    let d = config.opt_duration(path)?.unwrap_or(default);
    if d.is_zero() {
        return Err(ConfigError::Invalid {
            path: path.to_string(),
            message: "must be longer than zero".into(),
        });
    }
    Ok(d)
}

impl ScaffolderConfig {
    /// Reads `scaffolder.*`; errors name the key.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for a value of the wrong type or out of range.
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        let d = Self::default();
        let c = Self {
            concurrent_tasks_limit: count(
                config,
                "scaffolder.concurrentTasksLimit",
                d.concurrent_tasks_limit,
            )?,
            heartbeat_interval: duration(
                config,
                "scaffolder.taskHeartbeatInterval",
                d.heartbeat_interval,
            )?,
            heartbeat_timeout: duration(
                config,
                "scaffolder.taskHeartbeatTimeout",
                d.heartbeat_timeout,
            )?,
            janitor_frequency: duration(
                config,
                "scaffolder.taskTimeoutJanitorFrequency",
                d.janitor_frequency,
            )?,
            poll_interval: duration(config, "scaffolder.taskPollInterval", d.poll_interval)?,
            working_directory: config
                .opt_string("scaffolder.workingDirectory")?
                .map(PathBuf::from),
            task_secrets_key: config.opt_string("scaffolder.taskSecretsKey")?,
            max_body_bytes: positive(config, "scaffolder.maxRequestBodyBytes", d.max_body_bytes)?,
            dry_run_max_body_bytes: positive(
                config,
                "scaffolder.dryRun.maxRequestBodyBytes",
                d.dry_run_max_body_bytes,
            )?,
            dry_run_max_files: positive(config, "scaffolder.dryRun.maxFiles", d.dry_run_max_files)?,
            dry_run_max_output_bytes: positive(
                config,
                "scaffolder.dryRun.maxOutputBytes",
                d.dry_run_max_output_bytes as usize,
            )? as u64,
            dry_run_timeout: duration(config, "scaffolder.dryRun.timeout", d.dry_run_timeout)?,
            max_list_limit: positive(config, "scaffolder.tasks.maxListLimit", d.max_list_limit)?,
            default_list_limit: positive(
                config,
                "scaffolder.tasks.defaultListLimit",
                d.default_list_limit,
            )?,
            max_events_per_request: positive(
                config,
                "scaffolder.tasks.maxEventsPerRequest",
                d.max_events_per_request,
            )?,
            max_open_streams: positive(
                config,
                "scaffolder.eventStream.maxOpenStreams",
                d.max_open_streams,
            )?,
            stream_poll_interval: duration(
                config,
                "scaffolder.eventStream.pollInterval",
                d.stream_poll_interval,
            )?,
            stream_max_duration: duration(
                config,
                "scaffolder.eventStream.maxDuration",
                d.stream_max_duration,
            )?,
            events_wait_timeout: duration(
                config,
                "scaffolder.tasks.eventsWaitTimeout",
                d.events_wait_timeout,
            )?,
            max_log_message_bytes: positive(
                config,
                "scaffolder.maxLogMessageBytes",
                d.max_log_message_bytes,
            )?,
            max_events_per_task: positive(
                config,
                "scaffolder.maxEventsPerTask",
                d.max_events_per_task as usize,
            )? as i64,
            max_steps: positive(config, "scaffolder.maxSteps", d.max_steps)?,
            max_each_items: positive(config, "scaffolder.maxEachItems", d.max_each_items)?,
        };
        if c.heartbeat_interval >= c.heartbeat_timeout {
            return Err(ConfigError::Invalid {
                path: "scaffolder.taskHeartbeatInterval".into(),
                message: "must be shorter than scaffolder.taskHeartbeatTimeout".into(),
            });
        }
        Ok(c)
    }
}
