//! The scheduler service: recurring and on-demand tasks for plugins (Backstage's
//! `coreServices.scheduler`).
//!
//! A plugin takes its [`PluginScheduler`] from the
//! [`SCHEDULER`](crate::services::core_services::SCHEDULER) service ref and schedules
//! [`TaskDefinition`]s on it. The backend builds one scheduler per plugin, takes global leases
//! in the plugin's own database (so replicas sharing it run each global task once), mounts
//! the task endpoints under `/api/<pluginId>/.backstage/scheduler/v1/tasks` and stops the
//! scheduler at shutdown. Tests reach it with
//! `TestBackend::scheduler` and `TestBackend::trigger_task` (feature `testing`).
//!
//! Each task has a [`TaskSchedule`]: a [`TaskFrequency`] (fixed rate, cron expression in UTC,
//! or manual only), a timeout, an optional initial delay and a [`TaskScope`]:
//!
//! - `local` tasks run on every instance, each on its own timer;
//! - `global` tasks (the default) run on exactly one instance at a time among all instances
//!   sharing the plugin's database. Every instance polls the plugin's lease table; the one
//!   that claims a due run gets a ticket that expires after the task's timeout. When a holder
//!   dies, its lease expires and another instance takes the next run.
//!
//! A run that fails or panics is logged and the schedule goes on; a run past its timeout is
//! cancelled (its [`CancellationToken`](tokio_util::sync::CancellationToken) fires and its
//! future is dropped).
//!
//! | route (under `/api/<pluginId>`) | answer |
//! |---|---|
//! | `GET /.backstage/scheduler/v1/tasks` | `{ "tasks": [{ taskId, pluginId, scope, settings, taskState, workerState }] }` |
//! | `GET /.backstage/scheduler/v1/tasks/{id}` | one such task object |
//! | `POST /.backstage/scheduler/v1/tasks/{id}/trigger` | 200 empty; 404 unknown task; 409 while it runs |
//! | `POST /.backstage/scheduler/v1/tasks/{id}/cancel` | 200 empty; 404 unknown task; 409 when it is not running |
//!
//! ```
//! use backlot::backend::{Backend, Feature};
//! use backlot::services::core_services::SCHEDULER;
//! use backlot::services::scheduler::{TaskDefinition, TaskSchedule};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let plugin = Feature::plugin_fn("search", |reg| {
//!     reg.init(&SCHEDULER, |scheduler| async move {
//!         // The schedule as it appears in app-config.yaml (search.collators.catalog.schedule).
//!         let schedule = TaskSchedule::from_config_value(&serde_json::json!({
//!             "frequency": "1h 30m",
//!             "timeout": { "minutes": 15 },
//!             "initialDelay": { "seconds": 3 },
//!         }))?;
//!         let task = TaskDefinition::new("collate-catalog", schedule, |_cancel| async { Ok(()) })?;
//!         scheduler.schedule_task(task).await?;
//!         Ok(())
//!     })
//! });
//!
//! let backend = Backend::builder()
//!     .listen_addr(([127, 0, 0, 1], 0).into())
//!     .config_value(serde_json::json!({
//!         "backend": {
//!             "database": { "client": "better-sqlite3", "connection": ":memory:" },
//!             // The task listing is a plugin route: callers need a token.
//!             "auth": { "externalAccess": [
//!                 { "type": "static", "options": { "token": "an-ops-dashboard-secret", "subject": "ops" } }
//!             ] },
//!         }
//!     }))
//!     .add_feature(plugin)
//!     .start()
//!     .await?;
//! let tasks = reqwest::Client::new()
//!     .get(backend.url("/api/search/.backstage/scheduler/v1/tasks"))
//!     .bearer_auth("an-ops-dashboard-secret")
//!     .send()
//!     .await?
//!     .error_for_status()?
//!     .json::<serde_json::Value>()
//!     .await?;
//! assert_eq!(tasks["tasks"][0]["taskId"], "collate-catalog");
//! backend.stop().await?;
//! # Ok(())
//! # }
//! ```

mod error;
mod global;
mod local;
mod plugin;
mod router;
mod run;
mod schedule;
mod state;
mod store;
mod task;

pub use error::SchedulerError;
pub use plugin::{PluginScheduler, PluginSchedulerBuilder};
pub(crate) use router::guard_actions;
pub use router::{TASK_CANCEL_PERMISSION, TASK_TRIGGER_PERMISSION, router};
pub use schedule::{TaskFrequency, TaskSchedule, TaskScope, TaskSettings};
pub use state::{TaskDescriptor, TaskInfo, TaskState, WorkerState};
pub use store::{LeaseStore, MemoryLeaseStore};
pub use task::{TaskDefinition, TaskDefinitionBuilder, TaskError, TaskFn};
