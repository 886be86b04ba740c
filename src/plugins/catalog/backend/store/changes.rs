//! The generation counter and the change log: every writing transaction bumps
//! `catalog_generation` and records, under the new generation, the ids of the entities it
//! upserted or removed in `catalog_changes`. Other processes sharing the database read the
//! log above their own generation (see `index/sync.rs`) instead of every row.
//!
//! # Commit order is generation order
//!
//! A reader reads the counter `C`, then the log rows with `mine < generation <= C`, and then
//! takes `C` as its new generation. That is only right if every transaction with a generation
//! at most `C` has committed by the time `C` is visible — otherwise a generation below `C`
//! could commit later and be skipped for good. It holds because the bump is an `UPDATE` of
//! the one counter row:
//!
//! - PostgreSQL (and MySQL/InnoDB): the `UPDATE` takes the row's write lock and keeps it
//!   until the transaction ends. A second writer's `UPDATE` waits for the first to commit (or
//!   roll back), then, under READ COMMITTED, re-reads the committed row and adds one to it.
//!   So the writer of `N + 1` cannot even obtain its number before `N` has committed, and a
//!   snapshot that sees `N + 1` sees `N`.
//! - SQLite: one writer at a time for the whole database; transactions are serial.
//!
//! # One writer at a time across processes
//!
//! Every writing transaction takes the counter row's lock as its first statement
//! ([`lock_writers`]), not only at the bump. Without it, two processes sharing the database
//! that process or stitch the same entities at once (replicas started together, or a
//! location registered on one while another processes it) both run delete-then-insert and
//! read-then-insert on the same keys: the second to commit fails on a unique key
//! (`final_entities`, `refresh_state.entity_ref`) and its whole pass is lost. Taking the
//! lock first makes the second writer wait, then read what the first committed. Inside one
//! process the engine's own lock already serialises writers, so this costs nothing there;
//! across replicas it trades write concurrency (which would only collide) for passes that
//! never fail. Every writer takes this lock before any other row lock, so writers cannot
//! deadlock on each other, with one exception: on PostgreSQL, a batch of children written
//! ahead of their parent inserts its rows first and takes the lock only for its stitch marks
//! (`Engine::write_fresh_beside`). Its inserts conflict only with a writer inserting the same
//! refs, and its lock waits end after 500 ms, below the server's deadlock check: in a
//! deadlock it is the one that gives up, and its children take the locked path.
//!
//! A rolled-back transaction leaves no generation and no log rows; generations without log
//! rows (a bump that changed nothing) are harmless, so readers never rely on the log being
//! contiguous.
//!
//! # Horizon and pruning
//!
//! Row 2 of `catalog_generation` is the horizon `H`: the log holds every change of the
//! generations above `H`. Pruning raises `H` and deletes the rows at or below it in one
//! transaction. A reader whose generation is below `H` cannot use the log and compares every
//! row instead; it reads `H` after the log, so a prune that ran in between is noticed.

use std::time::Duration;

use crate::services::database::{DbTransaction, DbValue, PluginDatabase, Sql};

use super::super::error::CatalogError;
use super::{insert_rows, text};

/// The counter's row in `catalog_generation`.
const COUNTER_ROW: i64 = 1;
/// The log horizon's row in `catalog_generation`.
const HORIZON_ROW: i64 = 2;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Takes the catalog's writer lock (the generation counter's row) for the rest of `tx`: the
/// first statement of every transaction that writes catalog rows, but for the one exception
/// in the module docs.
pub(crate) async fn lock_writers(tx: &mut DbTransaction) -> Result<(), CatalogError> {
    let sql = if tx.dialect() == crate::services::database::Dialect::Sqlite {
        // SQLite has no row locks: a no-op write takes the database's write lock now (waiting
        // out the busy timeout) instead of failing to upgrade a read lock later.
        "UPDATE catalog_generation SET generation = generation WHERE id = ?"
    } else {
        "SELECT generation FROM catalog_generation WHERE id = ? FOR UPDATE"
    };
    Sql::new(sql)
        .bind(COUNTER_ROW)
        .execute(&mut *tx)
        .await
        .map_err(CatalogError::db("take the catalog writer lock"))?;
    Ok(())
}

/// Bumps the generation counter inside a writing transaction and records `changed` (ids of
/// entities upserted or removed) under the new generation: `(before, after)`. Call it last
/// before the commit (see the module docs for why order matters).
pub(crate) async fn bump_generation<'a>(
    tx: &mut DbTransaction,
    changed: impl IntoIterator<Item = &'a str>,
) -> Result<(i64, i64), CatalogError> {
    Sql::new("UPDATE catalog_generation SET generation = generation + 1 WHERE id = ?")
        .bind(COUNTER_ROW)
        .execute(&mut *tx)
        .await
        .map_err(CatalogError::db("bump catalog generation"))?;
    let (after,): (i64,) = Sql::new("SELECT generation FROM catalog_generation WHERE id = ?")
        .bind(COUNTER_ROW)
        .fetch_one(&mut *tx)
        .await
        .map_err(CatalogError::db("read catalog generation"))?;
    let now = now_ms();
    let mut seen = std::collections::HashSet::new();
    let rows = changed
        .into_iter()
        .filter(|id| seen.insert(*id))
        .map(|id| vec![DbValue::Int(Some(after)), text(id), DbValue::Int(Some(now))])
        .collect();
    insert_rows(
        tx,
        "INSERT INTO catalog_changes (generation, entity_id, created_at)",
        3,
        rows,
        "record catalog changes",
    )
    .await?;
    Ok((after - 1, after))
}

async fn read_row(db: &PluginDatabase, id: i64) -> Result<i64, CatalogError> {
    let row: Option<(i64,)> = Sql::new("SELECT generation FROM catalog_generation WHERE id = ?")
        .bind(id)
        .fetch_optional(db)
        .await
        .map_err(CatalogError::db("read catalog generation"))?;
    Ok(row.map_or(0, |(g,)| g))
}

/// The generation counter of the shared database.
pub(crate) async fn read_generation(db: &PluginDatabase) -> Result<i64, CatalogError> {
    read_row(db, COUNTER_ROW).await
}

/// The change log's horizon: the log holds every change of the generations above it.
pub(crate) async fn read_horizon(db: &PluginDatabase) -> Result<i64, CatalogError> {
    read_row(db, HORIZON_ROW).await
}

/// The ids of the entities changed by the generations in `(after, upto]`.
pub(crate) async fn changed_ids(
    db: &PluginDatabase,
    after: i64,
    upto: i64,
) -> Result<Vec<String>, CatalogError> {
    let rows: Vec<(String,)> = Sql::new(
        "SELECT DISTINCT entity_id FROM catalog_changes WHERE generation > ? AND generation <= ?",
    )
    .bind(after)
    .bind(upto)
    .fetch_all(db)
    .await
    .map_err(CatalogError::db("read catalog changes"))?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// How much of the change log to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Retention {
    /// Rows older than this go.
    pub(crate) max_age: Duration,
    /// At most this many rows stay (whole generations go, oldest first).
    pub(crate) max_rows: u64,
}

/// Drops the log rows `retention` no longer keeps and raises the horizon over them, in one
/// transaction; returns the new horizon when it moved.
pub(crate) async fn prune_changes(
    db: &PluginDatabase,
    retention: Retention,
) -> Result<Option<i64>, CatalogError> {
    let cutoff =
        now_ms().saturating_sub(i64::try_from(retention.max_age.as_millis()).unwrap_or(i64::MAX));
    let (by_age,): (Option<i64>,) =
        Sql::new("SELECT MAX(generation) FROM catalog_changes WHERE created_at < ?")
            .bind(cutoff)
            .fetch_one(db)
            .await
            .map_err(CatalogError::db("find old catalog changes"))?;
    let by_count: Option<(i64,)> = Sql::new(
        "SELECT generation FROM catalog_changes ORDER BY generation DESC LIMIT 1 OFFSET ?",
    )
    .bind(i64::try_from(retention.max_rows).unwrap_or(i64::MAX))
    .fetch_optional(db)
    .await
    .map_err(CatalogError::db("count catalog changes"))?;
    let Some(horizon) = by_age.max(by_count.map(|(g,)| g)) else {
        return Ok(None);
    };
    let mut tx = db
        .begin()
        .await
        .map_err(CatalogError::db("begin transaction"))?;
    lock_writers(&mut tx).await?;
    Sql::new("UPDATE catalog_generation SET generation = ? WHERE id = ? AND generation < ?")
        .bind(horizon)
        .bind(HORIZON_ROW)
        .bind(horizon)
        .execute(&mut tx)
        .await
        .map_err(CatalogError::db("raise change log horizon"))?;
    Sql::new("DELETE FROM catalog_changes WHERE generation <= ?")
        .bind(horizon)
        .execute(&mut tx)
        .await
        .map_err(CatalogError::db("prune catalog changes"))?;
    tx.commit().await.map_err(CatalogError::db("commit"))?;
    Ok(Some(horizon))
}
