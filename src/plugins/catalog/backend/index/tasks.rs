//! The index's scheduled work, on the catalog plugin's `SCHEDULER`: a local task that
//! catches up with other processes (`catalog.sync.interval`), and a global one that prunes
//! the change log (`catalog.changeLog.*`).

use std::sync::Arc;
use std::time::Duration;

use crate::services::config::Config;
use crate::services::database::PluginDatabase;
use crate::services::logger::LoggerService;
use crate::services::scheduler::{PluginScheduler, SchedulerError, TaskDefinition, TaskScope};

use super::super::error::CatalogError;
use super::super::store::{self, Retention};
use super::EntityIndex;

/// Id of the local sync task.
pub(crate) const SYNC_TASK: &str = "catalog-index-sync";
/// Id of the global prune task.
pub(crate) const PRUNE_TASK: &str = "catalog-change-log-prune";

/// Default of `catalog.sync.interval`: a write committed by another process is readable here
/// after at most this long plus one sync (one indexed read of the log, then the changed
/// entities).
pub(crate) const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_millis(250);
/// Default of `catalog.changeLog.maxAge`.
pub(crate) const DEFAULT_MAX_AGE: Duration = Duration::from_secs(3600);
/// Default of `catalog.changeLog.maxRows`.
pub(crate) const DEFAULT_MAX_ROWS: u64 = 500_000;
/// Default of `catalog.changeLog.pruneInterval`.
pub(crate) const DEFAULT_PRUNE_INTERVAL: Duration = Duration::from_secs(60);

/// How the index keeps up with the shared database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SyncSettings {
    /// How often the index looks for other processes' writes.
    pub(crate) interval: Duration,
    /// How much of the change log stays.
    pub(crate) retention: Retention,
    /// How often the change log is pruned.
    pub(crate) prune_interval: Duration,
}

impl SyncSettings {
    /// Reads `catalog.sync.interval`, `catalog.changeLog.maxAge`, `catalog.changeLog.maxRows`
    /// and `catalog.changeLog.pruneInterval`.
    pub(crate) fn from_config(config: &Config) -> Result<Self, CatalogError> {
        let duration = |key: &str, default: Duration| -> Result<Duration, CatalogError> {
            let bad = |message: String| CatalogError::Config {
                key: key.to_owned(),
                message,
            };
            match config.opt_duration(key).map_err(|e| bad(e.to_string()))? {
                Some(d) if d.is_zero() => Err(bad("must be greater than zero".into())),
                Some(d) => Ok(d),
                None => Ok(default),
            }
        };
        const ROWS: &str = "catalog.changeLog.maxRows";
        let max_rows = config
            .opt_u64(ROWS)
            .map_err(|e| CatalogError::Config {
                key: ROWS.into(),
                message: e.to_string(),
            })?
            .unwrap_or(DEFAULT_MAX_ROWS);
        Ok(Self {
            interval: duration("catalog.sync.interval", DEFAULT_SYNC_INTERVAL)?,
            retention: Retention {
                max_age: duration("catalog.changeLog.maxAge", DEFAULT_MAX_AGE)?,
                max_rows,
            },
            prune_interval: duration("catalog.changeLog.pruneInterval", DEFAULT_PRUNE_INTERVAL)?,
        })
    }
}

/// Schedules the sync and prune tasks of `index` on `scheduler`.
pub(crate) async fn schedule(
    scheduler: &PluginScheduler,
    index: Arc<EntityIndex>,
    db: PluginDatabase,
    logger: Arc<dyn LoggerService>,
    settings: SyncSettings,
) -> Result<(), SchedulerError> {
    let sync_db = db.clone();
    let sync = TaskDefinition::builder(SYNC_TASK)
        .every(settings.interval)
        .timeout(settings.interval.max(Duration::from_secs(300)))
        .scope(TaskScope::Local)
        .run(move |_cancel| {
            let (index, db, logger) = (Arc::clone(&index), sync_db.clone(), Arc::clone(&logger));
            async move {
                index.sync(&db, &*logger).await?;
                Ok(())
            }
        })
        .build()?;
    scheduler.schedule_task(sync).await?;
    let retention = settings.retention;
    let prune = TaskDefinition::builder(PRUNE_TASK)
        .every(settings.prune_interval)
        .timeout(Duration::from_secs(300))
        .scope(TaskScope::Global)
        .run(move |_cancel| {
            let db = db.clone();
            async move {
                store::prune_changes(&db, retention).await?;
                Ok(())
            }
        })
        .build()?;
    scheduler.schedule_task(prune).await
}
