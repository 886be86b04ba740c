//! Local tasks: each instance runs its own copy on its own timer.

use std::future::pending;
use std::time::Duration;

use chrono::Utc;
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::error::SchedulerError;
use super::run::execute;
use super::schedule::{CronSchedule, TaskFrequency};
use super::state::{TaskState, WorkerState, iso_from_ms};
use super::task::TaskDefinition;

#[derive(Debug, Default)]
struct Inner {
    worker: Option<WorkerState>,
    run: Option<CancellationToken>,
    starts_at: Option<i64>,
    started_at: Option<i64>,
    times_out_at: Option<i64>,
    last_ended: Option<i64>,
    last_error: Option<String>,
}

/// The timer loop of one local task.
#[derive(Debug)]
pub(crate) struct LocalWorker {
    plugin_id: String,
    def: TaskDefinition,
    inner: Mutex<Inner>,
    wake: Notify,
    first_delay: Option<Duration>,
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// How long until the next run after one that took `elapsed` (`None`: only on trigger).
pub(crate) fn delay_until_next(frequency: &TaskFrequency, elapsed: Duration) -> Option<Duration> {
    match frequency {
        TaskFrequency::Every(period) => Some(period.saturating_sub(elapsed)),
        TaskFrequency::Cron(expr) => {
            let now = Utc::now();
            let next = CronSchedule::parse(expr).ok()?.next_after(now)?;
            Some((next - now).to_std().unwrap_or_default())
        }
        TaskFrequency::Manual => None,
    }
}

impl LocalWorker {
    /// A worker whose first run waits for the initial delay plus `jitter` (for cron tasks,
    /// at least until the next occurrence; manual tasks wait for a trigger).
    pub(crate) fn new(plugin_id: String, def: TaskDefinition, jitter: Duration) -> Self {
        let schedule = &def.schedule;
        let first = schedule.initial_delay.unwrap_or_default() + jitter;
        let first_delay = match &schedule.frequency {
            TaskFrequency::Manual => None,
            TaskFrequency::Every(_) => Some(first),
            f @ TaskFrequency::Cron(_) => delay_until_next(f, Duration::ZERO).map(|d| d.max(first)),
        };
        let inner = Inner {
            worker: Some(if schedule.initial_delay.is_some() {
                WorkerState::InitialWait
            } else {
                WorkerState::Idle
            }),
            starts_at: first_delay.map(|d| now_ms() + d.as_millis() as i64),
            ..Inner::default()
        };
        Self {
            plugin_id,
            def,
            inner: Mutex::new(inner),
            wake: Notify::new(),
            first_delay,
        }
    }

    pub(crate) fn task_state(&self) -> TaskState {
        let inner = self.inner.lock();
        match (&inner.run, inner.started_at) {
            (Some(_), Some(started)) => TaskState::Running {
                started_at: iso_from_ms(started),
                times_out_at: inner.times_out_at.map(iso_from_ms),
                last_run_ended_at: inner.last_ended.map(iso_from_ms),
                last_run_error: inner.last_error.clone(),
            },
            _ => TaskState::Idle {
                starts_at: inner.starts_at.map(iso_from_ms),
                last_run_ended_at: inner.last_ended.map(iso_from_ms),
                last_run_error: inner.last_error.clone(),
            },
        }
    }

    pub(crate) fn worker_state(&self) -> Option<WorkerState> {
        self.inner.lock().worker
    }

    pub(crate) fn is_running(&self) -> bool {
        self.inner.lock().run.is_some()
    }

    /// Starts a run now, unless one is under way.
    pub(crate) fn trigger(&self) -> Result<(), SchedulerError> {
        if self.is_running() {
            return Err(SchedulerError::Conflict {
                id: self.def.id.clone(),
                reason: "is currently running",
            });
        }
        self.wake.notify_one();
        Ok(())
    }

    /// Cancels the run under way.
    pub(crate) fn cancel(&self) -> Result<(), SchedulerError> {
        match &self.inner.lock().run {
            Some(token) => {
                token.cancel();
                Ok(())
            }
            None => Err(SchedulerError::Conflict {
                id: self.def.id.clone(),
                reason: "is not running",
            }),
        }
    }

    /// Waits for `delay` (forever when `None`), a trigger, or shutdown (false).
    async fn wait(&self, delay: Option<Duration>, shutdown: &CancellationToken) -> bool {
        let timer = async {
            match delay {
                Some(d) => tokio::time::sleep(d).await,
                None => pending::<()>().await,
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => false,
            _ = self.wake.notified() => true,
            _ = timer => true,
        }
    }

    pub(crate) async fn run(&self, shutdown: CancellationToken) {
        let schedule = &self.def.schedule;
        let mut delay = self.first_delay;
        let mut first = true;
        tracing::info!(plugin = %self.plugin_id, task = %self.def.id, cadence = %schedule.frequency.cadence(), "registered local scheduled task");
        loop {
            if !first {
                let mut inner = self.inner.lock();
                inner.worker = Some(WorkerState::Idle);
                inner.starts_at = delay.map(|d| now_ms() + d.as_millis() as i64);
            }
            first = false;
            if !self.wait(delay, &shutdown).await {
                break;
            }
            let token = shutdown.child_token();
            {
                let mut inner = self.inner.lock();
                let now = now_ms();
                inner.run = Some(token.clone());
                inner.worker = Some(WorkerState::Running);
                inner.started_at = Some(now);
                inner.times_out_at = Some(now + schedule.timeout.as_millis() as i64);
                inner.starts_at = None;
            }
            let started = tokio::time::Instant::now();
            let outcome = execute(
                &self.plugin_id,
                &self.def.id,
                &self.def.func,
                schedule.timeout,
                token,
            )
            .await;
            {
                let mut inner = self.inner.lock();
                inner.run = None;
                inner.started_at = None;
                inner.times_out_at = None;
                inner.last_ended = Some(now_ms());
                inner.last_error = outcome.error_json(&self.def.id, schedule.timeout);
                inner.worker = Some(WorkerState::Idle);
            }
            if shutdown.is_cancelled() {
                break;
            }
            delay = delay_until_next(&schedule.frequency, started.elapsed());
        }
        self.inner.lock().worker = None;
        tracing::debug!(plugin = %self.plugin_id, task = %self.def.id, "local task worker stopped");
    }
}
