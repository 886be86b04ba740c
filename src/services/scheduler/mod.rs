//! The scheduler service: recurring and on-demand tasks for plugins (Backstage's
//! `coreServices.scheduler`).
//!
//! A plugin gets a [`PluginScheduler`] and schedules [`TaskDefinition`]s on it. Each task has
//! a [`TaskSchedule`]: a [`TaskFrequency`] (fixed rate, cron expression in UTC, or manual
//! only), a timeout, an optional initial delay and a [`TaskScope`]:
//!
//! - `local` tasks run on every instance, each on its own timer;
//! - `global` tasks (the default) run on exactly one instance at a time among all instances
//!   sharing the plugin's database. Every instance polls the [`LeaseStore`]; the one that
//!   claims a due run gets a ticket that expires after the task's timeout. When a holder dies,
//!   its lease expires and another instance takes the next run.
//!
//! A run that fails or panics is logged and the schedule goes on; a run past its timeout is
//! cancelled (its [`CancellationToken`](tokio_util::sync::CancellationToken) fires and its
//! future is dropped). [`router`] serves Backstage's `/.backstage/scheduler/v1/tasks`
//! endpoints for one plugin.
//!
//! ```
//! use std::time::Duration;
//! use backlot::services::scheduler::{LeaseStore, PluginScheduler, TaskDefinition, TaskSchedule};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let scheduler = PluginScheduler::new("search", LeaseStore::memory());
//! // The schedule as it appears in app-config.yaml (search.collators.catalog.schedule).
//! let schedule = TaskSchedule::from_config_value(&serde_json::json!({
//!     "frequency": { "minutes": 10 },
//!     "timeout": { "minutes": 15 },
//!     "initialDelay": { "seconds": 3 },
//! }))?;
//! let task = TaskDefinition::new("collate-catalog", schedule, |_cancel| async { Ok(()) })?;
//! scheduler.schedule_task(task).await?;
//! scheduler.trigger_task("collate-catalog").await?;
//! scheduler.shutdown().await;
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
pub use router::router;
pub use schedule::{TaskFrequency, TaskSchedule, TaskScope, TaskSettings};
pub use state::{TaskDescriptor, TaskInfo, TaskState, WorkerState};
pub use store::{LeaseStore, MemoryLeaseStore};
pub use task::{TaskDefinition, TaskDefinitionBuilder, TaskError, TaskFn};
