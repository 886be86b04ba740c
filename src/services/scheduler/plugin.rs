//! The per-plugin scheduler: registers tasks, starts their workers, answers for them.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::error::SchedulerError;
use super::global::{GlobalWorker, registration_times};
use super::local::LocalWorker;
use super::schedule::TaskScope;
use super::state::{TaskDescriptor, TaskInfo, error_json};
use super::store::{LeaseStore, Store, Update};
use super::task::{TaskDefinition, validate_id};

const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);
const DEFAULT_STARTUP_JITTER: Duration = Duration::from_secs(1);
const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
enum Worker {
    Local(Arc<LocalWorker>),
    Global(Arc<GlobalWorker>),
}

#[derive(Debug)]
struct Scheduled {
    descriptor: TaskDescriptor,
    worker: Worker,
}

/// A plugin's task scheduler (Backstage's `SchedulerService` for one plugin).
///
/// Local tasks run on this instance's timers. Global tasks are coordinated through the
/// [`LeaseStore`]: every instance polls it and exactly one claims each due run.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::time::Duration;
/// use backlot::services::scheduler::{LeaseStore, PluginScheduler, TaskDefinition};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let scheduler = PluginScheduler::builder("catalog", LeaseStore::memory())
///     .poll_interval(Duration::from_millis(10))
///     .startup_jitter(Duration::ZERO)
///     .build();
/// let runs = Arc::new(AtomicUsize::new(0));
/// let counter = runs.clone();
/// scheduler
///     .schedule_task(
///         TaskDefinition::builder("refresh")
///             .every(Duration::from_millis(20))
///             .timeout(Duration::from_secs(1))
///             .run(move |_cancel| {
///                 let counter = counter.clone();
///                 async move {
///                     counter.fetch_add(1, Ordering::SeqCst);
///                     Ok(())
///                 }
///             })
///             .build()?,
///     )
///     .await?;
/// assert_eq!(scheduler.get_scheduled_tasks()[0].id, "refresh");
/// while runs.load(Ordering::SeqCst) < 2 {
///     tokio::time::sleep(Duration::from_millis(5)).await;
/// }
/// scheduler.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct PluginScheduler {
    plugin_id: String,
    store: Arc<Store>,
    poll_interval: Duration,
    startup_jitter: Duration,
    shutdown_timeout: Duration,
    shutdown: CancellationToken,
    tasks: Mutex<Vec<Scheduled>>,
    handles: Mutex<Vec<JoinHandle<()>>>,
    metrics: std::sync::OnceLock<crate::services::metrics::PluginMetrics>,
}

/// Builds a [`PluginScheduler`] with non-default timings; for the crate's own tests and
/// benchmarks (plugins take their scheduler from `SCHEDULER`).
///
/// ```
/// use std::time::Duration;
/// use backlot::services::scheduler::{LeaseStore, PluginScheduler};
///
/// let scheduler = PluginScheduler::builder("search", LeaseStore::memory())
///     .poll_interval(Duration::from_millis(500))
///     .startup_jitter(Duration::from_millis(200))
///     .shutdown_timeout(Duration::from_secs(2))
///     .build();
/// assert_eq!(scheduler.plugin_id(), "search");
/// ```
#[derive(Debug)]
#[must_use]
#[doc(hidden)]
pub struct PluginSchedulerBuilder {
    plugin_id: String,
    store: LeaseStore,
    poll_interval: Duration,
    startup_jitter: Duration,
    shutdown_timeout: Duration,
}

impl PluginSchedulerBuilder {
    /// How often each instance checks the lease store for a due global run (default 1s,
    /// with ±20% jitter; never longer than a task's own period).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// The largest random delay added before a task's first run, so that tasks scheduled
    /// together do not all fire at once (default 1s).
    pub fn startup_jitter(mut self, jitter: Duration) -> Self {
        self.startup_jitter = jitter;
        self
    }

    /// How long [`PluginScheduler::shutdown`] waits for workers to stop (default 5s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Builds the scheduler.
    pub fn build(self) -> PluginScheduler {
        PluginScheduler {
            plugin_id: self.plugin_id,
            store: Arc::new(Store::new(self.store)),
            poll_interval: self.poll_interval,
            startup_jitter: self.startup_jitter,
            shutdown_timeout: self.shutdown_timeout,
            shutdown: CancellationToken::new(),
            tasks: Mutex::new(Vec::new()),
            handles: Mutex::new(Vec::new()),
            metrics: std::sync::OnceLock::new(),
        }
    }
}

impl PluginScheduler {
    /// A scheduler for `plugin_id` with default timings. Plugins take theirs from
    /// [`SCHEDULER`](crate::services::core_services::SCHEDULER), which also mounts its
    /// endpoints and stops it at shutdown.
    pub(crate) fn new(plugin_id: impl Into<String>, store: LeaseStore) -> Self {
        Self::builder(plugin_id, store).build()
    }

    /// A builder for a scheduler for `plugin_id`. Not for plugins (they take theirs from
    /// [`SCHEDULER`](crate::services::core_services::SCHEDULER)): public for the crate's own
    /// scheduler tests and benchmarks, which tune its timings.
    #[doc(hidden)]
    pub fn builder(plugin_id: impl Into<String>, store: LeaseStore) -> PluginSchedulerBuilder {
        PluginSchedulerBuilder {
            plugin_id: plugin_id.into(),
            store,
            poll_interval: DEFAULT_POLL_INTERVAL,
            startup_jitter: DEFAULT_STARTUP_JITTER,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }

    /// Counts each task run (and failure) in `metrics` from now on.
    pub(crate) fn set_metrics(&self, metrics: crate::services::metrics::PluginMetrics) {
        if metrics.enabled() {
            let _ = self.metrics.set(metrics);
        }
    }

    /// The plugin this scheduler belongs to.
    pub fn plugin_id(&self) -> &str {
        &self.plugin_id
    }

    fn store_err(&self) -> impl FnOnce(super::error::StoreError) -> SchedulerError + '_ {
        |e| e.into_scheduler(&self.plugin_id)
    }

    fn find(&self, id: &str) -> Option<Worker> {
        self.tasks
            .lock()
            .iter()
            .find(|t| t.descriptor.id == id)
            .map(|t| t.worker.clone())
    }

    fn duplicate(&self, id: &str) -> SchedulerError {
        SchedulerError::DuplicateTask {
            plugin_id: self.plugin_id.clone(),
            id: id.to_owned(),
        }
    }

    /// Registers a task and starts its worker. A global task is written to the lease store
    /// first (its settings replace any stored ones; an earlier stored due time is kept).
    pub async fn schedule_task(&self, task: TaskDefinition) -> Result<(), SchedulerError> {
        if self.shutdown.is_cancelled() {
            return Err(SchedulerError::ShutDown {
                plugin_id: self.plugin_id.clone(),
            });
        }
        if self.find(&task.id).is_some() {
            return Err(self.duplicate(&task.id));
        }
        let mut task = task;
        if let Some(metrics) = self.metrics.get() {
            task.func =
                crate::services::metrics::instrument_task(metrics.clone(), &task.id, task.func);
        }
        let schedule = &task.schedule;
        let descriptor = TaskDescriptor {
            id: task.id.clone(),
            scope: schedule.scope,
            settings: schedule.settings(),
        };
        let jitter_ms = self.startup_jitter.as_millis() as u64;
        let jitter = Duration::from_millis(fastrand::u64(0..=jitter_ms));
        let worker = match schedule.scope {
            TaskScope::Local => Worker::Local(Arc::new(LocalWorker::new(
                self.plugin_id.clone(),
                task.clone(),
                jitter,
            ))),
            TaskScope::Global => {
                let settings_json = serde_json::to_string(&descriptor.settings)
                    .map_err(|e| SchedulerError::invalid("settings", e.to_string()))?;
                let now = self.store.now().await.map_err(self.store_err())?;
                let (start_at, next_start_at) =
                    registration_times(&schedule.frequency, schedule.initial_delay, now);
                self.store
                    .upsert(&task.id, &settings_json, start_at, next_start_at)
                    .await
                    .map_err(self.store_err())?;
                Worker::Global(Arc::new(GlobalWorker::new(
                    self.plugin_id.clone(),
                    task.clone(),
                    self.store.clone(),
                    self.poll_interval,
                    jitter,
                )))
            }
        };
        {
            let mut tasks = self.tasks.lock();
            if tasks.iter().any(|t| t.descriptor.id == task.id) {
                return Err(self.duplicate(&task.id));
            }
            tasks.push(Scheduled {
                descriptor,
                worker: worker.clone(),
            });
        }
        let shutdown = self.shutdown.clone();
        let handle = match worker {
            Worker::Local(w) => tokio::spawn(async move { w.run(shutdown).await }),
            Worker::Global(w) => tokio::spawn(async move { w.run(shutdown).await }),
        };
        let mut handles = self.handles.lock();
        handles.retain(|h| !h.is_finished());
        handles.push(handle);
        Ok(())
    }

    /// The tasks scheduled through this scheduler, in the order they were scheduled.
    pub fn get_scheduled_tasks(&self) -> Vec<TaskDescriptor> {
        self.tasks
            .lock()
            .iter()
            .map(|t| t.descriptor.clone())
            .collect()
    }

    /// Every task with its run state and this instance's worker state, as the
    /// `GET /.backstage/scheduler/v1/tasks` endpoint returns them.
    pub async fn task_infos(&self) -> Result<Vec<TaskInfo>, SchedulerError> {
        let tasks: Vec<(TaskDescriptor, Worker)> = self
            .tasks
            .lock()
            .iter()
            .map(|t| (t.descriptor.clone(), t.worker.clone()))
            .collect();
        let global = if tasks.iter().any(|(_, w)| matches!(w, Worker::Global(_))) {
            self.store.states().await.map_err(self.store_err())?
        } else {
            Default::default()
        };
        Ok(tasks
            .into_iter()
            .map(|(d, worker)| {
                let (task_state, worker_state) = match &worker {
                    Worker::Local(w) => (Some(w.task_state()), w.worker_state()),
                    Worker::Global(w) => (global.get(&d.id).cloned(), w.worker_state()),
                };
                TaskInfo {
                    task_id: d.id,
                    plugin_id: self.plugin_id.clone(),
                    scope: d.scope,
                    settings: d.settings,
                    task_state,
                    worker_state,
                }
            })
            .collect())
    }

    /// One task as [`task_infos`](Self::task_infos) reports it.
    pub async fn task_info(&self, id: &str) -> Result<TaskInfo, SchedulerError> {
        if self.find(id).is_none() {
            return Err(self.not_found(id));
        }
        self.task_infos()
            .await?
            .into_iter()
            .find(|t| t.task_id == id)
            .ok_or_else(|| self.not_found(id))
    }

    fn not_found(&self, id: &str) -> SchedulerError {
        SchedulerError::NotFound {
            plugin_id: self.plugin_id.clone(),
            id: id.to_owned(),
        }
    }

    /// Runs a task as soon as possible: a local one at once on this instance, a global one
    /// on whichever instance polls first. [`SchedulerError::Conflict`] when a run is under
    /// way, [`SchedulerError::NotFound`] for an unknown id.
    pub async fn trigger_task(&self, id: &str) -> Result<(), SchedulerError> {
        validate_id(id).map_err(|_| self.not_found(id))?;
        match self.find(id) {
            Some(Worker::Local(w)) => w.trigger(),
            worker => {
                // A global task, possibly registered only by another instance.
                match self.store.trigger(id).await.map_err(self.store_err())? {
                    Update::Done => {
                        if let Some(Worker::Global(w)) = worker {
                            w.poke();
                        }
                        Ok(())
                    }
                    Update::Conflict => Err(SchedulerError::Conflict {
                        id: id.to_owned(),
                        reason: "is currently running",
                    }),
                    Update::Missing => Err(self.not_found(id)),
                }
            }
        }
    }

    /// Cancels the run of a task under way (its token fires and its future is dropped).
    /// [`SchedulerError::Conflict`] when it is not running.
    pub async fn cancel_task(&self, id: &str) -> Result<(), SchedulerError> {
        validate_id(id).map_err(|_| self.not_found(id))?;
        match self.find(id) {
            Some(Worker::Local(w)) => w.cancel(),
            Some(Worker::Global(w)) if w.cancel_local_run() => Ok(()),
            worker => {
                let now = self.store.now().await.map_err(self.store_err())?;
                let next = match &worker {
                    Some(Worker::Global(w)) => Some(w.next_after_cancel(now)),
                    _ => None,
                };
                let error = error_json("Error", "Task was cancelled");
                match self
                    .store
                    .cancel(id, next, &error)
                    .await
                    .map_err(self.store_err())?
                {
                    Update::Done => Ok(()),
                    Update::Conflict => Err(SchedulerError::Conflict {
                        id: id.to_owned(),
                        reason: "is not running",
                    }),
                    Update::Missing => Err(self.not_found(id)),
                }
            }
        }
    }

    /// Stops every timer and poll loop, cancels running tasks (global leases are released)
    /// and waits up to the shutdown timeout for the workers to finish; stragglers are
    /// aborted. Later calls return at once; later [`schedule_task`](Self::schedule_task)
    /// calls fail with [`SchedulerError::ShutDown`].
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        let handles: Vec<JoinHandle<()>> = std::mem::take(&mut *self.handles.lock());
        let aborts: Vec<_> = handles.iter().map(|h| h.abort_handle()).collect();
        if tokio::time::timeout(self.shutdown_timeout, futures::future::join_all(handles))
            .await
            .is_err()
        {
            tracing::warn!(plugin = %self.plugin_id, "scheduler workers did not stop in time; aborting them");
            for a in aborts {
                a.abort();
            }
        }
    }
}

impl Drop for PluginScheduler {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
