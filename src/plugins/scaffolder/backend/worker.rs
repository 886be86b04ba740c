//! The task workers of one process and the janitor (Backstage's `TaskWorker` and the
//! heartbeat timeout of `StorageTaskBroker`).
//!
//! `scaffolder.concurrentTasksLimit` workers claim `open` tasks from the database. A task
//! created through this process wakes one at once; tasks created elsewhere are found by
//! polling. While a task runs its worker records a heartbeat, which also reports a
//! cancellation requested through any process. The janitor fails `processing` tasks whose
//! heartbeat stopped (their worker died), or re-opens them with a `recovered` event when the
//! template asks for `EXPERIMENTAL_recovery.EXPERIMENTAL_strategy: startOver`.
//!
//! On shutdown workers stop claiming, running tasks are stopped through their signal, and
//! each is left in a state another process can act on: re-opened when it may start over,
//! failed otherwise — never `processing` with nobody behind it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::config::ScaffolderConfig;
use super::runner::{Emitter, RunRequest, Runner};
use super::secrets::SecretsSealer;
use super::store::{ClaimedTask, Heartbeat, TaskStore};
use crate::plugins::scaffolder::common::TaskStatus;
use crate::services::auth::Credentials;
use crate::services::logger::{LoggerService, LoggerServiceExt};
use crate::services::permissions::PolicyDecision;

/// Sends a task's events to the store in order, from one writer task.
#[derive(Debug)]
struct ChannelEmitter(mpsc::UnboundedSender<Value>);

impl Emitter for ChannelEmitter {
    fn emit(&self, body: Value) {
        let _ = self.0.send(body);
    }
}

/// The workers, janitor and run-time state of one process.
#[derive(Debug)]
pub(crate) struct TaskEngine {
    pub(crate) store: TaskStore,
    pub(crate) runner: Arc<Runner>,
    pub(crate) sealer: Arc<SecretsSealer>,
    pub(crate) config: Arc<ScaffolderConfig>,
    pub(crate) logger: Arc<dyn LoggerService>,
    worker_id: String,
    /// The credentials of the users who created or retried tasks through this process, for
    /// the actions of their runs (never stored).
    credentials: Mutex<HashMap<String, Credentials>>,
    shutdown: CancellationToken,
    handles: Mutex<Vec<JoinHandle<()>>>,
}

impl TaskEngine {
    pub(crate) fn new(
        store: TaskStore,
        runner: Arc<Runner>,
        sealer: Arc<SecretsSealer>,
        config: Arc<ScaffolderConfig>,
        logger: Arc<dyn LoggerService>,
    ) -> Self {
        Self {
            store,
            runner,
            sealer,
            config,
            logger,
            worker_id: uuid::Uuid::new_v4().to_string(),
            credentials: Mutex::new(HashMap::new()),
            shutdown: CancellationToken::new(),
            handles: Mutex::new(Vec::new()),
        }
    }

    /// Remembers who a task runs for, until a worker of this process takes it.
    pub(crate) fn remember_credentials(&self, task_id: &str, credentials: Credentials) {
        let mut map = self.credentials.lock();
        if map.len() > 100_000 {
            map.clear();
        }
        map.insert(task_id.to_string(), credentials);
    }

    /// Starts the workers and the janitor.
    pub(crate) fn start(self: &Arc<Self>) {
        let mut handles = self.handles.lock();
        for _ in 0..self.config.concurrent_tasks_limit {
            let me = Arc::clone(self);
            handles.push(tokio::spawn(async move { me.work().await }));
        }
        let me = Arc::clone(self);
        handles.push(tokio::spawn(async move { me.janitor().await }));
    }

    /// Stops claiming, stops running tasks and waits for the workers.
    pub(crate) async fn stop(&self) {
        self.shutdown.cancel();
        let handles: Vec<_> = std::mem::take(&mut *self.handles.lock());
        for h in handles {
            let _ = h.await;
        }
    }

    async fn work(self: Arc<Self>) {
        let hub = Arc::clone(self.store.hub());
        while !self.shutdown.is_cancelled() {
            match self.store.claim(&self.worker_id).await {
                Ok(Some(task)) => {
                    hub.pass_on();
                    self.run_claimed(task).await;
                }
                Ok(None) => {
                    tokio::select! {
                        () = hub.wait_created() => {}
                        () = tokio::time::sleep(self.config.poll_interval) => {}
                        () = self.shutdown.cancelled() => {}
                    }
                }
                Err(e) => {
                    self.logger
                        .warn(&format!("scaffolder: could not claim a task: {e}"));
                    tokio::select! {
                        () = tokio::time::sleep(self.config.poll_interval) => {}
                        () = self.shutdown.cancelled() => {}
                    }
                }
            }
        }
    }

    async fn run_claimed(&self, task: ClaimedTask) {
        let id = task.row.id.clone();
        let hub = Arc::clone(self.store.hub());
        let secrets = match &task.sealed_secrets {
            None => BTreeMap::new(),
            Some(sealed) => match self.sealer.open(&id, sealed) {
                Ok(s) => s,
                Err(e) => {
                    let body = json!({
                        "message": format!("Run completed with status: failed"),
                        "status": "failed",
                        "error": {"name": "Error", "message": e.to_string()},
                    });
                    self.finish(&id, TaskStatus::Failed, &body).await;
                    return;
                }
            },
        };
        let credentials = self
            .credentials
            .lock()
            .remove(&id)
            .unwrap_or_else(Credentials::none);
        let action_decision = task
            .action_decision
            .and_then(|d| serde_json::from_value::<PolicyDecision>(d).ok());
        let signal = CancellationToken::new();
        hub.running(&id, signal.clone());

        let (workspace, temp_root) = match self.make_dirs(&id) {
            Ok(d) => d,
            Err(e) => {
                hub.finished(&id);
                let body = json!({
                    "message": "Run completed with status: failed",
                    "status": "failed",
                    "error": {"name": "Error", "message": format!("could not create the task's workspace: {e}")},
                });
                self.finish(&id, TaskStatus::Failed, &body).await;
                return;
            }
        };

        let (tx, mut rx) = mpsc::unbounded_channel::<Value>();
        let writer_store = self.store.clone();
        let writer_id = id.clone();
        let writer_logger = Arc::clone(&self.logger);
        let writer = tokio::spawn(async move {
            while let Some(body) = rx.recv().await {
                if let Err(e) = writer_store.append_event(&writer_id, "log", &body).await {
                    writer_logger.warn(&format!(
                        "scaffolder: could not store an event of task {writer_id}: {e}"
                    ));
                }
            }
        });

        let lost = CancellationToken::new();
        let beat = {
            let store = self.store.clone();
            let worker_id = self.worker_id.clone();
            let id = id.clone();
            let signal = signal.clone();
            let lost = lost.clone();
            let interval = self.config.heartbeat_interval;
            let shutdown = self.shutdown.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(interval);
                tick.tick().await;
                loop {
                    tokio::select! {
                        _ = tick.tick() => {}
                        () = shutdown.cancelled() => { signal.cancel(); return; }
                    }
                    match store.heartbeat(&id, &worker_id).await {
                        Ok(Heartbeat::Alive {
                            cancel_requested: true,
                        }) => signal.cancel(),
                        Ok(Heartbeat::Alive { .. }) | Err(_) => {}
                        Ok(Heartbeat::Lost) => {
                            lost.cancel();
                            signal.cancel();
                            return;
                        }
                    }
                }
            })
        };

        let req = RunRequest {
            task_id: id.clone(),
            spec: task.row.spec.clone(),
            secrets,
            credentials,
            signal: signal.clone(),
            dry_run: false,
            workspace: workspace.path().to_path_buf(),
            temp_root: temp_root.path().to_path_buf(),
            action_decision,
        };
        let emitter: Arc<dyn Emitter> = Arc::new(ChannelEmitter(tx));
        let result = self.runner.run(req, emitter).await;
        let _ = writer.await;
        beat.abort();
        hub.finished(&id);
        let _ = tokio::task::spawn_blocking(move || {
            drop(workspace);
            drop(temp_root);
        })
        .await;

        if lost.is_cancelled() {
            return;
        }
        if self.shutdown.is_cancelled() && result.status == TaskStatus::Cancelled {
            self.release_on_shutdown(&task.row).await;
            return;
        }
        self.finish(&id, result.status, &result.completion_body())
            .await;
    }

    async fn finish(&self, id: &str, status: TaskStatus, body: &Value) {
        match self.store.complete(id, &self.worker_id, status, body).await {
            Ok(true) => {}
            Ok(false) => self.logger.warn(&format!(
                "scaffolder: task {id} was taken from this worker before it finished"
            )),
            Err(e) => self
                .logger
                .error(&format!("scaffolder: could not complete task {id}: {e}")),
        }
    }

    async fn release_on_shutdown(&self, task: &super::store::TaskRow) {
        let far_future = chrono::Utc::now() + chrono::Duration::days(3650);
        let result = if task.recovers_by_starting_over() {
            self.store.recover_stale(task, far_future).await
        } else {
            let body = json!({
                "message": "Run completed with status: failed",
                "status": "failed",
                "error": {"name": "Error", "message": "The backend shut down while the task was running"},
            });
            self.store
                .complete(&task.id, &self.worker_id, TaskStatus::Failed, &body)
                .await
        };
        if let Err(e) = result {
            self.logger.warn(&format!(
                "scaffolder: could not release task {} on shutdown: {e}",
                task.id
            ));
        }
    }

    fn make_dirs(&self, id: &str) -> std::io::Result<(tempfile::TempDir, tempfile::TempDir)> {
        let base = self
            .config
            .working_directory
            .clone()
            .unwrap_or_else(std::env::temp_dir);
        std::fs::create_dir_all(&base)?;
        let prefix: String = id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(40)
            .collect();
        let workspace = tempfile::Builder::new()
            .prefix(&format!("scaffolder-{prefix}-"))
            .tempdir_in(&base)?;
        let temp_root = tempfile::Builder::new()
            .prefix(&format!("scaffolder-tmp-{prefix}-"))
            .tempdir_in(&base)?;
        Ok((workspace, temp_root))
    }

    async fn janitor(self: Arc<Self>) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(self.config.janitor_frequency) => {}
                () = self.shutdown.cancelled() => return,
            }
            self.sweep().await;
        }
    }

    /// Fails or re-opens the tasks whose worker stopped sending heartbeats.
    pub(crate) async fn sweep(&self) {
        let timeout = chrono::Duration::from_std(self.config.heartbeat_timeout)
            .unwrap_or_else(|_| chrono::Duration::seconds(60));
        let cutoff = chrono::Utc::now() - timeout;
        let stale = match self.store.stale(cutoff).await {
            Ok(s) => s,
            Err(e) => {
                self.logger
                    .warn(&format!("scaffolder: could not look for stale tasks: {e}"));
                return;
            }
        };
        for task in stale {
            let (outcome, what) = if task.recovers_by_starting_over() {
                (self.store.recover_stale(&task, cutoff).await, "re-opened")
            } else {
                (self.store.fail_stale(&task, cutoff).await, "failed")
            };
            match outcome {
                Ok(true) => self.logger.warn(&format!(
                    "scaffolder: task {} had no heartbeat for {}; {what}",
                    task.id,
                    humantime::format_duration(self.config.heartbeat_timeout)
                )),
                Ok(false) => {}
                Err(e) => self.logger.warn(&format!(
                    "scaffolder: could not handle stale task {}: {e}",
                    task.id
                )),
            }
        }
    }
}
