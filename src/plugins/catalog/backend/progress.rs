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
        tokio::select! {
            result = &mut work => break result,
            () = tokio::time::sleep(every) => {}
        }
        match Progress::measure(db).await {
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
