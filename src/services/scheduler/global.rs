//! Global tasks: every instance polls the lease store, and the one that claims a due run
//! runs it while holding a ticket that expires after the task's timeout.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::error::StoreError;
use super::run::{CANCEL_GRACE, execute};
use super::schedule::{CronSchedule, TaskFrequency};
use super::state::WorkerState;
use super::store::{NextRun, Store};
use super::task::TaskDefinition;

#[derive(Debug, Default)]
struct Inner {
    worker: Option<WorkerState>,
    run: Option<CancellationToken>,
}

/// The polling loop of one global task on this instance.
#[derive(Debug)]
pub(crate) struct GlobalWorker {
    plugin_id: String,
    def: TaskDefinition,
    store: Arc<Store>,
    poll_interval: Duration,
    inner: Mutex<Inner>,
    wake: Notify,
    first_delay: Duration,
}

/// The next cron occurrence after `now_ms` (store clock), in epoch ms.
pub(crate) fn next_cron_ms(expr: &str, now_ms: i64) -> Option<i64> {
    let now = DateTime::<Utc>::from_timestamp_millis(now_ms)?;
    CronSchedule::parse(expr)
        .ok()?
        .next_after(now)
        .map(|t| t.timestamp_millis())
}

/// First and re-registration due times for a task, from the store clock `now`:
/// `(start_at for a new row, next_start_at that may pull an existing row's time earlier)`.
pub(crate) fn registration_times(
    frequency: &TaskFrequency,
    initial_delay: Option<Duration>,
    now: i64,
) -> (Option<i64>, Option<i64>) {
    let delayed = initial_delay.map(|d| now + d.as_millis() as i64);
    match frequency {
        TaskFrequency::Every(p) => (delayed.or(Some(now)), Some(now + p.as_millis() as i64)),
        TaskFrequency::Cron(c) => {
            let next = next_cron_ms(c, now);
            (delayed.max(next), next)
        }
        TaskFrequency::Manual => (None, None),
    }
}

impl GlobalWorker {
    pub(crate) fn new(
        plugin_id: String,
        def: TaskDefinition,
        store: Arc<Store>,
        poll_interval: Duration,
        jitter: Duration,
    ) -> Self {
        let poll_interval = match def.schedule.frequency {
            TaskFrequency::Every(p) => poll_interval.min(p),
            _ => poll_interval,
        }
        .max(Duration::from_millis(1));
        let first_delay = def.schedule.initial_delay.unwrap_or_default() + jitter;
        let inner = Inner {
            worker: Some(if def.schedule.initial_delay.is_some() {
                WorkerState::InitialWait
            } else {
                WorkerState::Idle
            }),
            run: None,
        };
        Self {
            plugin_id,
            def,
            store,
            poll_interval,
            inner: Mutex::new(inner),
            wake: Notify::new(),
            first_delay,
        }
    }

    pub(crate) fn worker_state(&self) -> Option<WorkerState> {
        self.inner.lock().worker
    }

    /// Cancels the run if this instance holds it; false when it does not.
    pub(crate) fn cancel_local_run(&self) -> bool {
        match &self.inner.lock().run {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    /// Polls at once instead of waiting for the next poll.
    pub(crate) fn poke(&self) {
        self.wake.notify_one();
    }

    /// The next run time to record when a run is cancelled from elsewhere.
    pub(crate) fn next_after_cancel(&self, now: i64) -> Option<i64> {
        match &self.def.schedule.frequency {
            TaskFrequency::Every(p) => Some(now + p.as_millis() as i64),
            TaskFrequency::Cron(c) => next_cron_ms(c, now),
            TaskFrequency::Manual => None,
        }
    }

    fn jittered_poll(&self) -> Duration {
        // +-20% so that instances started together drift apart.
        let ms = self.poll_interval.as_millis() as u64;
        let spread = ms / 5;
        Duration::from_millis(ms - spread + fastrand::u64(0..=spread * 2))
    }

    pub(crate) async fn run(&self, shutdown: CancellationToken) {
        tracing::info!(plugin = %self.plugin_id, task = %self.def.id, cadence = %self.def.schedule.frequency.cadence(), "registered global scheduled task");
        let first = self.first_delay;
        let go = tokio::select! {
            _ = shutdown.cancelled() => false,
            _ = self.wake.notified() => true,
            _ = tokio::time::sleep(first) => true,
        };
        if go {
            self.inner.lock().worker = Some(WorkerState::Idle);
            while !shutdown.is_cancelled() {
                if let Err(e) = self.run_once(&shutdown).await {
                    tracing::warn!(plugin = %self.plugin_id, task = %self.def.id, error = %e, source = %e.source, "global task poll failed");
                }
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(self.jittered_poll()) => {}
                }
            }
        }
        self.inner.lock().worker = None;
        tracing::debug!(plugin = %self.plugin_id, task = %self.def.id, "global task worker stopped");
    }

    /// Claims and runs the task if it is due and free.
    async fn run_once(&self, shutdown: &CancellationToken) -> Result<(), StoreError> {
        let schedule = &self.def.schedule;
        let ticket = uuid::Uuid::new_v4().to_string();
        // The lease outlives the timeout by the cancellation grace, so that a run being
        // stopped still holds it.
        let timeout_ms = (schedule.timeout + CANCEL_GRACE).as_millis() as i64;
        if !self
            .store
            .try_claim(&self.def.id, &ticket, timeout_ms)
            .await?
        {
            return Ok(());
        }
        let token = shutdown.child_token();
        {
            let mut inner = self.inner.lock();
            inner.run = Some(token.clone());
            inner.worker = Some(WorkerState::Running);
        }
        let liveness = tokio::spawn(watch_ticket(
            self.store.clone(),
            self.plugin_id.clone(),
            self.def.id.clone(),
            ticket.clone(),
            token.clone(),
            self.poll_interval,
        ));
        let outcome = execute(
            &self.plugin_id,
            &self.def.id,
            &self.def.func,
            schedule.timeout,
            token,
        )
        .await;
        liveness.abort();
        {
            let mut inner = self.inner.lock();
            inner.run = None;
            inner.worker = Some(WorkerState::Idle);
        }
        let next = match &schedule.frequency {
            TaskFrequency::Every(p) => NextRun::AfterPrevious(p.as_millis() as i64),
            TaskFrequency::Cron(c) => NextRun::At(next_cron_ms(c, self.store.now().await?)),
            TaskFrequency::Manual => NextRun::At(None),
        };
        let error = outcome.error_json(&self.def.id, schedule.timeout);
        if !self
            .store
            .release(&self.def.id, &ticket, next, error.as_deref())
            .await?
        {
            tracing::info!(plugin = %self.plugin_id, task = %self.def.id, "task lease was lost before the run ended (cancelled or expired)");
        }
        Ok(())
    }
}

/// Cancels the run when its ticket disappears from the store (cancelled on another instance,
/// or expired and taken over).
async fn watch_ticket(
    store: Arc<Store>,
    plugin_id: String,
    id: String,
    ticket: String,
    token: CancellationToken,
    every: Duration,
) {
    loop {
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        match store.current_ticket(&id).await {
            Ok(Some(t)) if t == ticket => {}
            Ok(_) => {
                tracing::info!(plugin = %plugin_id, task = %id, "task ticket is no longer valid; cancelling the run");
                token.cancel();
                return;
            }
            Err(e) => {
                tracing::warn!(plugin = %plugin_id, task = %id, error = %e, "task liveness check failed");
            }
        }
    }
}
