//! Ingestion progress: how many entities the catalog knows of, how many are processed and
//! how many are readable. While the first ingestion keeps the backend unready, the figures go
//! to the readiness payload (`details.catalog`) and to a log line every
//! `catalog.progress.interval`; afterwards the status route (`GET /api/catalog/status`)
//! shows them.

use std::future::Future;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;

use crate::services::database::{PluginDatabase, Sql};
use crate::services::health::RootHealth;
use crate::services::logger::{LogLevel, LoggerService};

use super::error::CatalogError;

/// Default of `catalog.progress.interval`.
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// The key of the catalog's report in the readiness payload.
const SOURCE: &str = "catalog";

/// Where ingestion stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Progress {
    /// Entities providers and locations emitted (rows of `refresh_state`).
    pub(crate) known: i64,
    /// Of those, the ones processed since they last changed.
    pub(crate) processed: i64,
    /// Final entities: what the API serves.
    pub(crate) stitched: i64,
    /// Known entities not processed yet, plus entities waiting to be stitched.
    pub(crate) pending: i64,
}

impl Progress {
    /// Counts the rows of the catalog's tables.
    pub(crate) async fn measure(db: &PluginDatabase) -> Result<Self, CatalogError> {
        let (known, processed): (i64, i64) =
            Sql::new("SELECT COUNT(*), COUNT(result_hash) FROM refresh_state")
                .fetch_one(db)
                .await
                .map_err(CatalogError::db("count entities"))?;
        let (stitched,): (i64,) = Sql::new("SELECT COUNT(*) FROM final_entities")
            .fetch_one(db)
            .await
            .map_err(CatalogError::db("count final entities"))?;
        let (queued,): (i64,) = Sql::new("SELECT COUNT(*) FROM stitch_queue")
            .fetch_one(db)
            .await
            .map_err(CatalogError::db("count stitch queue"))?;
        Ok(Self {
            known,
            processed,
            stitched,
            pending: known - processed + queued,
        })
    }
}

/// How old a figure `GET /api/catalog/status` serves may be. Counting scans `refresh_state`
/// (about 115 ms at 100,000 entities on SQLite), so the route counts at most once per this
/// much time, however many callers ask.
pub(crate) const STATUS_MAX_AGE: Duration = Duration::from_secs(1);

/// The last [`Progress`] measured, shared by the callers of the status route: one count at a
/// time, and none while the last one is younger than the age asked for.
#[derive(Debug, Default)]
pub(crate) struct ProgressCache {
    last: parking_lot::Mutex<Option<(Instant, Progress)>>,
    measuring: tokio::sync::Mutex<()>,
}

impl ProgressCache {
    /// The progress, measured at most `max_age` ago.
    pub(crate) async fn get(
        &self,
        db: &PluginDatabase,
        max_age: Duration,
    ) -> Result<Progress, CatalogError> {
        let fresh = |last: &Option<(Instant, Progress)>| {
            last.filter(|(at, _)| at.elapsed() < max_age)
                .map(|(_, p)| p)
        };
        if let Some(p) = fresh(&self.last.lock()) {
            return Ok(p);
        }
        let _one = self.measuring.lock().await;
        // Another caller may have measured while this one waited.
        if let Some(p) = fresh(&self.last.lock()) {
            return Ok(p);
        }
        let p = Progress::measure(db).await?;
        *self.last.lock() = Some((Instant::now(), p));
        Ok(p)
    }
}

/// Runs `work` (the catalog's start: its first ingestion), reporting progress to `health`
/// and `logger` every `every` until it finishes; then removes the report.
pub(crate) async fn report_while<T>(
    work: impl Future<Output = T>,
    db: &PluginDatabase,
    health: &RootHealth,
    logger: &dyn LoggerService,
    every: Duration,
) -> T {
    let started = Instant::now();
    health.report(SOURCE, json!({ "state": "starting" }));
    let mut work = std::pin::pin!(work);
    let result = loop {
        // The count runs beside the work, which goes on meanwhile (the work is polled here).
        let measured = tokio::select! {
            result = &mut work => break result,
            measured = async {
                tokio::time::sleep(every).await;
                Progress::measure(db).await
            } => measured,
        };
        match measured {
            Ok(p) => {
                let elapsed = started.elapsed().as_secs();
                health.report(
                    SOURCE,
                    json!({ "state": "ingesting", "elapsedSeconds": elapsed, "progress": p }),
                );
                logger.log(
                    LogLevel::Info,
                    "catalog ingesting",
                    &[
                        ("known", &p.known.to_string()),
                        ("processed", &p.processed.to_string()),
                        ("stitched", &p.stitched.to_string()),
                        ("pending", &p.pending.to_string()),
                        ("elapsedSeconds", &elapsed.to_string()),
                    ],
                );
            }
            Err(e) => logger.log(
                LogLevel::Warn,
                "could not measure catalog ingestion progress",
                &[("error", &e.to_string())],
            ),
        }
    };
    health.clear_report(SOURCE);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn add_row(db: &PluginDatabase, n: usize) {
        Sql::new(
            "INSERT INTO refresh_state (entity_id, entity_ref, unprocessed_entity, \
             unprocessed_hash, next_update_at) VALUES (?, ?, '{}', 'h', 0)",
        )
        .bind(format!("id-{n}"))
        .bind(format!("component:default/c-{n}"))
        .execute(db)
        .await
        .expect("insert");
    }

    #[tokio::test]
    async fn the_status_count_is_reused_until_it_is_older_than_asked() {
        let db = crate::services::database::DatabaseManager::in_memory()
            .for_plugin("catalog")
            .await
            .expect("database");
        super::super::store::migrate(&db).await.expect("migrate");
        let cache = ProgressCache::default();
        let age = Duration::from_millis(200);
        add_row(&db, 1).await;
        assert_eq!(cache.get(&db, age).await.expect("count").known, 1);
        add_row(&db, 2).await;
        // Within the age: the last count, without scanning again.
        assert_eq!(cache.get(&db, age).await.expect("count").known, 1);
        tokio::time::sleep(age).await;
        let p = cache.get(&db, age).await.expect("count");
        assert_eq!((p.known, p.processed, p.pending), (2, 0, 2));
    }
}
