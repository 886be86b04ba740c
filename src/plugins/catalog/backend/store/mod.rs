//! The catalog's tables and the batched SQL that reads and writes them.
//!
//! One file per group of tables: `locations`, `refresh_state` (processing), `references`
//! (relations and who emits what), `finals` (stitching) and `changes` (the generation
//! counter and the change log other processes catch up from); here the schema, the row
//! types and the batching helpers they share.

#[cfg(feature = "postgres")]
mod bulk;
mod changes;
mod finals;
mod locations;
mod references;
mod refresh_state;

pub(crate) use changes::*;
pub(crate) use finals::*;
pub(crate) use locations::*;
pub(crate) use references::*;
pub(crate) use refresh_state::*;

use crate::services::database::{
    DbTransaction, Dialect, FromDbRow, Migration, PluginDatabase, Sql, placeholders,
};

use super::error::CatalogError;

/// Rows per `IN (...)` list.
pub(super) const CHUNK: usize = 500;
/// Bound values per multi-row insert.
pub(super) const MAX_PARAMS: usize = 8000;

/// The catalog's first tables, without the `search` table that migration 2 drops (MySQL
/// cannot create it: `key` is a reserved word there). A macro so that the portable migration
/// text stays byte for byte what SQLite and PostgreSQL databases recorded.
macro_rules! catalog_init_tables {
    () => {
        "CREATE TABLE catalog_locations (
        id ${key} PRIMARY KEY,
        type ${key} NOT NULL,
        target ${key} NOT NULL
    );
    CREATE UNIQUE INDEX catalog_locations_type_target ON catalog_locations (type, target);
    CREATE TABLE refresh_state (
        entity_id ${key} PRIMARY KEY,
        entity_ref ${key} NOT NULL,
        unprocessed_entity ${text} NOT NULL,
        unprocessed_hash ${text} NOT NULL,
        processed_entity ${text},
        result_hash ${text},
        errors ${text},
        location_key ${text},
        next_update_at ${bigint} NOT NULL
    );
    CREATE UNIQUE INDEX refresh_state_entity_ref ON refresh_state (entity_ref);
    CREATE INDEX refresh_state_next_update ON refresh_state (next_update_at);
    CREATE TABLE refresh_state_references (
        source_key ${key},
        source_entity_ref ${key},
        target_entity_ref ${key} NOT NULL
    );
    CREATE INDEX refs_source_key ON refresh_state_references (source_key);
    CREATE INDEX refs_source_entity ON refresh_state_references (source_entity_ref);
    CREATE INDEX refs_target_entity ON refresh_state_references (target_entity_ref);
    CREATE TABLE relations (
        originating_entity_id ${key} NOT NULL,
        source_entity_ref ${key} NOT NULL,
        type ${text} NOT NULL,
        target_entity_ref ${text} NOT NULL
    );
    CREATE INDEX relations_originating ON relations (originating_entity_id);
    CREATE INDEX relations_source ON relations (source_entity_ref);
    CREATE TABLE final_entities (
        entity_id ${key} PRIMARY KEY,
        entity_ref ${key} NOT NULL,
        hash ${text} NOT NULL,
        final_entity ${text} NOT NULL
    );
    CREATE UNIQUE INDEX final_entities_entity_ref ON final_entities (entity_ref);"
    };
}

pub(crate) static MIGRATIONS: &[Migration] = &[
    Migration::new(
        1,
        "catalog_init",
        concat!(
            catalog_init_tables!(),
            "
    CREATE TABLE search (
        entity_id ${text} NOT NULL,
        key ${text} NOT NULL,
        value ${text},
        original_value ${text}
    );
    CREATE INDEX search_key_value ON search (key, value);
    CREATE INDEX search_entity_key ON search (entity_id, key);"
        ),
    )
    .with_mysql(catalog_init_tables!()),
    // Queries are answered by the in-memory index (see `index/`); the generation counter
    // tells processes sharing the database that another one wrote.
    Migration::new(
        2,
        "catalog_index_generation",
        "DROP TABLE search;
    CREATE TABLE catalog_generation (
        id ${bigint} PRIMARY KEY,
        generation ${bigint} NOT NULL
    );
    INSERT INTO catalog_generation (id, generation) VALUES (1, 0);",
    )
    .with_mysql(
        "CREATE TABLE catalog_generation (
        id ${bigint} PRIMARY KEY,
        generation ${bigint} NOT NULL
    );
    INSERT INTO catalog_generation (id, generation) VALUES (1, 0);",
    ),
    // Durable stitching (see `stitch_queue.rs`): what a pass still has to stitch survives a
    // crash, a cancelled request or an error, and is finished by the next drain.
    Migration::new(
        3,
        "catalog_stitch_queue",
        "CREATE TABLE stitch_queue (
        entity_ref ${key} PRIMARY KEY,
        ticket ${text} NOT NULL,
        eager ${bigint} NOT NULL
    );",
    ),
    // The change log (see `changes.rs`): the entity ids each generation upserted or removed,
    // so other processes catch up by reading the change instead of every row. Row 2 of
    // `catalog_generation` is the log's horizon: it holds every generation above it. An
    // existing database starts with an empty log reaching back to its current generation.
    Migration::new(
        4,
        "catalog_change_log",
        "CREATE TABLE catalog_changes (
        generation ${bigint} NOT NULL,
        entity_id ${text} NOT NULL,
        created_at ${bigint} NOT NULL
    );
    CREATE INDEX catalog_changes_generation ON catalog_changes (generation);
    INSERT INTO catalog_generation (id, generation)
        SELECT 2, generation FROM catalog_generation WHERE id = 1;",
    ),
    // PostgreSQL: a queued entity is queued again by every batch that relates to it (a group
    // by each batch of the components it owns), and each time its ticket is rewritten. With
    // room left on the queue's pages, that rewrite is a heap-only update that adds no index
    // entry. Other databases have no such setting: the migration does nothing there. (Since
    // `StitchMarks::write` leaves a queued row alone on a plain mark, only eager marks
    // rewrite a queued row.)
    Migration::new(5, "catalog_stitch_queue_fillfactor", "SELECT 1;")
        .with_postgres("ALTER TABLE stitch_queue SET (fillfactor = 30);"),
    // An entity's own relations (those whose source is the entity itself, about half of all)
    // are kept with its processed entity, as one JSON array `[[type, target], …]`, instead of
    // a row each in `relations`, which keeps only the relations an entity emits about others
    // (the other end's view of a pair). Stitching an entity reads both. Rows older processing
    // wrote for an entity's own relations stay valid until it is processed again.
    Migration::new(
        6,
        "catalog_own_relations",
        "ALTER TABLE refresh_state ADD COLUMN relations ${text};",
    ),
    // Only a provider's references have a `source_key` (an entity's have a source entity),
    // so its index keeps only them: every entity's reference row was an index entry that no
    // lookup (`source_key = ?`) could match. MySQL has no partial indexes and keeps the full
    // one. On PostgreSQL the stitch queue's pages are filled again (migration 5 left room
    // for rewrites that plain marks no longer make).
    Migration::new(
        7,
        "catalog_provider_refs_index",
        "DROP INDEX refs_source_key;
    CREATE INDEX refs_source_key ON refresh_state_references (source_key)
        WHERE source_key IS NOT NULL;",
    )
    .with_postgres(
        "DROP INDEX refs_source_key;
    CREATE INDEX refs_source_key ON refresh_state_references (source_key)
        WHERE source_key IS NOT NULL;
    ALTER TABLE stitch_queue RESET (fillfactor);",
    )
    .with_mysql("SELECT 1;"),
    // SQLite: the stitch queue becomes a `WITHOUT ROWID` table, stored in its primary key's
    // order. Its rows are small and always found by that key (`ORDER BY entity_ref LIMIT`,
    // deletes by ref); as a rowid table each of them lived twice, in the table and in the
    // key's index, and every row a drain read was a second lookup. PostgreSQL and MySQL
    // keep theirs (InnoDB already stores a table in its primary key's order).
    Migration::new(8, "catalog_stitch_queue_clustered", "SELECT 1;").with_sqlite(
        "CREATE TABLE stitch_queue_clustered (
        entity_ref ${key} PRIMARY KEY,
        ticket ${text} NOT NULL,
        eager ${bigint} NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO stitch_queue_clustered (entity_ref, ticket, eager)
        SELECT entity_ref, ticket, eager FROM stitch_queue;
    DROP TABLE stitch_queue;
    ALTER TABLE stitch_queue_clustered RENAME TO stitch_queue;",
    ),
];

/// A registered location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LocationRow {
    pub(crate) id: String,
    pub(crate) location_type: String,
    pub(crate) target: String,
}

impl LocationRow {
    /// The location as the API shows it: `{id, type, target}`.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "id": self.id, "type": self.location_type, "target": self.target })
    }
}

/// An entity waiting to be processed.
#[derive(Debug, Clone)]
pub(crate) struct StateRow {
    pub(crate) entity_id: String,
    pub(crate) entity_ref: String,
    pub(crate) unprocessed: String,
    pub(crate) result_hash: Option<String>,
    /// Never processed successfully: no processed entity is stored.
    pub(crate) first: bool,
}

/// What is known of an existing row when a new version arrives.
#[derive(Debug, Clone)]
pub(crate) struct ExistingRow {
    pub(crate) entity_id: String,
    pub(crate) location_key: Option<String>,
    pub(crate) unprocessed_hash: String,
}

/// A new or changed unprocessed entity.
#[derive(Debug, Clone)]
pub(crate) struct UnprocessedWrite {
    pub(crate) entity_id: String,
    pub(crate) entity_ref: String,
    pub(crate) unprocessed: String,
    pub(crate) unprocessed_hash: String,
    pub(crate) location_key: Option<String>,
}

/// A row for the stitcher.
#[derive(Debug, Clone)]
pub(crate) struct StitchRow {
    pub(crate) entity_id: String,
    pub(crate) entity_ref: String,
    pub(crate) processed: String,
    pub(crate) errors: Option<String>,
    /// The entity's own relations as a JSON array of `[type, target]` (see migration 6).
    pub(crate) relations: Option<String>,
}

/// The result of processing one entity, for `refresh_state`.
#[derive(Debug, Clone)]
pub(crate) struct ProcessedWrite {
    pub(crate) entity_id: String,
    /// The processed entity; `None` when processing failed, which keeps the stored one (and
    /// its relations).
    pub(crate) processed: Option<String>,
    pub(crate) result_hash: String,
    pub(crate) errors: Option<String>,
    /// The entity's own relations, a JSON array of `[type, target]`; `None` when it has none.
    /// Only written with a processed entity.
    pub(crate) relations: Option<String>,
}

/// A finished entity for `final_entities`.
#[derive(Debug, Clone)]
pub(crate) struct FinalWrite {
    pub(crate) entity_id: String,
    pub(crate) entity_ref: String,
    pub(crate) hash: String,
    pub(crate) json: String,
}

pub(super) fn in_sql(prefix: &str, column: &str, items: &[String], suffix: &str) -> Sql {
    Sql::new(format!(
        "{prefix} {column} IN ({}){suffix}",
        placeholders(items.len())
    ))
    .bind_all(items.iter())
}

/// Runs a multi-row insert of `rows` (each `cols` values long) in as few statements as fit.
pub(super) async fn insert_rows(
    tx: &mut DbTransaction,
    head: &str,
    cols: usize,
    rows: Vec<Vec<crate::services::database::DbValue>>,
    op: &'static str,
) -> Result<(), CatalogError> {
    #[cfg(feature = "postgres")]
    if let DbTransaction::Postgres(conn) = &mut *tx {
        if bulk::insertable(&rows) {
            return bulk::insert(conn, head, rows, op).await;
        }
    }
    let per = (MAX_PARAMS / cols).max(1);
    let row_ph = format!("({})", placeholders(cols));
    let mut iter = rows.into_iter().peekable();
    while iter.peek().is_some() {
        let batch: Vec<_> = iter.by_ref().take(per).collect();
        let mut text = String::with_capacity(head.len() + batch.len() * (row_ph.len() + 2));
        text.push_str(head);
        text.push_str(" VALUES ");
        for i in 0..batch.len() {
            if i > 0 {
                text.push_str(", ");
            }
            text.push_str(&row_ph);
        }
        Sql::new(text)
            .bind_all(batch.into_iter().flatten())
            .execute(&mut *tx)
            .await
            .map_err(CatalogError::db(op))?;
    }
    Ok(())
}

/// Runs `<prefix> <column> IN (…)<suffix>` over `items`, [`CHUNK`] at a time (on PostgreSQL
/// `= ANY` of an array, a few thousand at a time), and collects every row.
pub(super) async fn select_in<T: FromDbRow, C: Default + Extend<T>>(
    tx: &mut DbTransaction,
    prefix: &str,
    column: &str,
    items: &[String],
    suffix: &str,
    op: &'static str,
) -> Result<C, CatalogError> {
    #[cfg(feature = "postgres")]
    if let DbTransaction::Postgres(conn) = &mut *tx {
        return bulk::select_any(conn, prefix, column, items, suffix, op).await;
    }
    let mut out = C::default();
    for chunk in items.chunks(CHUNK) {
        let rows: Vec<T> = in_sql(prefix, column, chunk, suffix)
            .fetch_all(&mut *tx)
            .await
            .map_err(CatalogError::db(op))?;
        out.extend(rows);
    }
    Ok(out)
}

/// The one text column of the rows [`select_in`] selects.
pub(super) async fn select_column<C: FromIterator<String>>(
    tx: &mut DbTransaction,
    prefix: &str,
    column: &str,
    items: &[String],
    suffix: &str,
    op: &'static str,
) -> Result<C, CatalogError> {
    let rows: Vec<(String,)> = select_in(tx, prefix, column, items, suffix, op).await?;
    Ok(rows.into_iter().map(|(v,)| v).collect())
}

pub(super) fn text(s: impl Into<String>) -> crate::services::database::DbValue {
    crate::services::database::DbValue::Text(Some(s.into()))
}

pub(super) fn opt_text(s: Option<String>) -> crate::services::database::DbValue {
    crate::services::database::DbValue::Text(s)
}

/// Gives SQLite connections a 2 MiB page cache (SQLite's default) whatever the connection
/// string says: the pool has up to 8 connections, and a bigger cache did not make ingestion
/// faster but cost up to 30 MiB each. A writing transaction may still hold up to 1,024 dirty
/// pages (4 MiB) before SQLite spills them to the WAL mid-transaction: spilling at the cache
/// size rewrote the pages of a batch's index inserts several times over (over 100 MB/s of
/// writes during a 100,000-entity ingestion); the bound keeps one huge transaction from
/// holding its whole write set in memory (4,096 pages was no faster and held more).
///
/// The WAL is checkpointed into the database file every 8,000 pages (32 MiB) instead of
/// SQLite's 1,000: at 1,000 nearly every processing batch's commit ran a checkpoint, with its
/// fsyncs, and copied pages the next batch dirtied again; commits took about 25 ms instead of
/// 8 ms. The WAL file then stays up to about 32 MiB on disk.
///
/// On PostgreSQL the transaction plans without sequential scans (`SET LOCAL enable_seqscan =
/// off`). Every statement of these transactions looks rows up by a key that has an index, but
/// during a first ingestion the tables have no statistics yet (autovacuum analyses a table a
/// minute or more after it grew), and the planner then read the whole `relations` table for
/// each part stitched: 16 scans of up to 39,000 rows at 10,000 entities. With the setting,
/// those reads go through the index (the stitching read of relations took 73 ms instead of
/// 135 ms). It lasts until the transaction ends.
pub(crate) async fn tune(tx: &mut DbTransaction) -> Result<(), CatalogError> {
    match tx.dialect() {
        Dialect::Sqlite => {
            set(
                tx,
                "PRAGMA cache_size = -2048; PRAGMA cache_spill = 1024; PRAGMA wal_autocheckpoint = 8000",
            )
            .await
        }
        Dialect::Postgres => set(tx, "SET LOCAL enable_seqscan = off").await,
        Dialect::Mysql => Ok(()),
    }
}

/// Runs a setting statement (`SET LOCAL …`, `PRAGMA …`) in `tx`.
async fn set(tx: &mut DbTransaction, statement: &str) -> Result<(), CatalogError> {
    Sql::new(statement)
        .execute(&mut *tx)
        .await
        .map_err(CatalogError::db("tune transaction"))?;
    Ok(())
}

/// PostgreSQL: the commit of `tx` does not wait for its log to reach the disk
/// (`synchronous_commit = off` for this transaction only). For the writes of children
/// processed ahead of their parent (`Engine::write_ahead`) alone. If the server stops before
/// that log is flushed, those commits are lost, and nothing else: the server's log is one
/// sequence, so the parent's own write, which commits after them and waits for its flush,
/// makes them durable first, and so does any other commit that waits (a drain that read
/// their rows among them). Until the parent's write is durable, the parent is still due and
/// still never processed, so its next processing writes the lost children again.
pub(crate) async fn commit_lazily(tx: &mut DbTransaction) -> Result<(), CatalogError> {
    if tx.dialect() == Dialect::Postgres {
        set(tx, "SET LOCAL synchronous_commit = off").await?;
    }
    Ok(())
}

/// How long a write that has not taken the catalog's writer lock waits for a lock
/// (PostgreSQL's `lock_timeout`): for the writer lock, or for a transaction that inserted
/// one of its refs. Past it the write gives up and its entities take the locked path (see
/// `Engine::write_fresh_beside`); below PostgreSQL's deadlock check (one second by
/// default), so in a deadlock with a locked writer this write is the one that yields.
const UNLOCKED_LOCK_TIMEOUT: &str = "500ms";

/// Ends the lock waits of `tx` after [`UNLOCKED_LOCK_TIMEOUT`] (PostgreSQL): for a
/// transaction that writes catalog rows without the writer lock yet. It must take the lock
/// ([`lock_writers`]) before it writes stitch marks.
pub(crate) async fn limit_lock_waits(tx: &mut DbTransaction) -> Result<(), CatalogError> {
    set(
        tx,
        &format!("SET LOCAL lock_timeout = '{UNLOCKED_LOCK_TIMEOUT}'"),
    )
    .await
}

pub(crate) async fn migrate(db: &PluginDatabase) -> Result<(), CatalogError> {
    db.migrate(MIGRATIONS)
        .await
        .map(drop)
        .map_err(CatalogError::db("migrate"))
}
