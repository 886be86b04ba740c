//! The catalog's tables and the batched SQL that reads and writes them.

use std::collections::{HashMap, HashSet};

use crate::services::database::{DbTransaction, Migration, PluginDatabase, Sql, placeholders};

use super::error::CatalogError;

/// Rows per `IN (...)` list.
const CHUNK: usize = 500;
/// Bound values per multi-row insert.
const MAX_PARAMS: usize = 8000;

pub(crate) static MIGRATIONS: &[Migration] = &[
    Migration::new(
        1,
        "catalog_init",
        "CREATE TABLE catalog_locations (
        id ${text} PRIMARY KEY,
        type ${text} NOT NULL,
        target ${text} NOT NULL
    );
    CREATE UNIQUE INDEX catalog_locations_type_target ON catalog_locations (type, target);
    CREATE TABLE refresh_state (
        entity_id ${text} PRIMARY KEY,
        entity_ref ${text} NOT NULL,
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
        source_key ${text},
        source_entity_ref ${text},
        target_entity_ref ${text} NOT NULL
    );
    CREATE INDEX refs_source_key ON refresh_state_references (source_key);
    CREATE INDEX refs_source_entity ON refresh_state_references (source_entity_ref);
    CREATE INDEX refs_target_entity ON refresh_state_references (target_entity_ref);
    CREATE TABLE relations (
        originating_entity_id ${text} NOT NULL,
        source_entity_ref ${text} NOT NULL,
        type ${text} NOT NULL,
        target_entity_ref ${text} NOT NULL
    );
    CREATE INDEX relations_originating ON relations (originating_entity_id);
    CREATE INDEX relations_source ON relations (source_entity_ref);
    CREATE TABLE final_entities (
        entity_id ${text} PRIMARY KEY,
        entity_ref ${text} NOT NULL,
        hash ${text} NOT NULL,
        final_entity ${text} NOT NULL
    );
    CREATE UNIQUE INDEX final_entities_entity_ref ON final_entities (entity_ref);
    CREATE TABLE search (
        entity_id ${text} NOT NULL,
        key ${text} NOT NULL,
        value ${text},
        original_value ${text}
    );
    CREATE INDEX search_key_value ON search (key, value);
    CREATE INDEX search_entity_key ON search (entity_id, key);",
    ),
    // Queries are answered by the in-memory index (see `index.rs`); the generation counter
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
    ),
    // Durable stitching (see `stitch_queue.rs`): what a pass still has to stitch survives a
    // crash, a cancelled request or an error, and is finished by the next drain.
    Migration::new(
        3,
        "catalog_stitch_queue",
        "CREATE TABLE stitch_queue (
        entity_ref ${text} PRIMARY KEY,
        ticket ${text} NOT NULL,
        eager ${bigint} NOT NULL
    );",
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
}

/// A finished entity for `final_entities`.
#[derive(Debug, Clone)]
pub(crate) struct FinalWrite {
    pub(crate) entity_id: String,
    pub(crate) entity_ref: String,
    pub(crate) hash: String,
    pub(crate) json: String,
}

fn in_sql(prefix: &str, column: &str, items: &[String], suffix: &str) -> Sql {
    Sql::new(format!(
        "{prefix} {column} IN ({}){suffix}",
        placeholders(items.len())
    ))
    .bind_all(items.iter())
}

/// Runs a multi-row insert of `rows` (each `cols` values long) in as few statements as fit.
async fn insert_rows(
    tx: &mut DbTransaction,
    head: &str,
    cols: usize,
    rows: Vec<Vec<crate::services::database::DbValue>>,
    op: &'static str,
) -> Result<(), CatalogError> {
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

fn text(s: impl Into<String>) -> crate::services::database::DbValue {
    crate::services::database::DbValue::Text(Some(s.into()))
}

fn opt_text(s: Option<String>) -> crate::services::database::DbValue {
    crate::services::database::DbValue::Text(s)
}

/// Gives SQLite connections a 2 MiB page cache (SQLite's default) whatever the connection
/// string says: the pool has up to 8 connections, and a bigger cache did not make ingestion
/// faster but cost up to 30 MiB each.
pub(crate) async fn tune(tx: &mut DbTransaction) -> Result<(), CatalogError> {
    if tx.dialect() == crate::services::database::Dialect::Sqlite {
        Sql::new("PRAGMA cache_size = -2048")
            .execute(&mut *tx)
            .await
            .map_err(CatalogError::db("tune connection"))?;
    }
    Ok(())
}

pub(crate) async fn migrate(db: &PluginDatabase) -> Result<(), CatalogError> {
    db.migrate(MIGRATIONS)
        .await
        .map(drop)
        .map_err(CatalogError::db("migrate"))
}

// ---- locations ----

pub(crate) async fn list_locations(db: &PluginDatabase) -> Result<Vec<LocationRow>, CatalogError> {
    let rows: Vec<(String, String, String)> =
        Sql::new("SELECT id, type, target FROM catalog_locations ORDER BY type, target")
            .fetch_all(db)
            .await
            .map_err(CatalogError::db("list locations"))?;
    Ok(rows.into_iter().map(location_row).collect())
}

fn location_row((id, location_type, target): (String, String, String)) -> LocationRow {
    LocationRow {
        id,
        location_type,
        target,
    }
}

pub(crate) async fn location_by_id(
    db: &PluginDatabase,
    id: &str,
) -> Result<Option<LocationRow>, CatalogError> {
    let row: Option<(String, String, String)> =
        Sql::new("SELECT id, type, target FROM catalog_locations WHERE id = ?")
            .bind(id)
            .fetch_optional(db)
            .await
            .map_err(CatalogError::db("get location"))?;
    Ok(row.map(location_row))
}

pub(crate) async fn location_by_spec(
    db: &PluginDatabase,
    location_type: &str,
    target: &str,
) -> Result<Option<LocationRow>, CatalogError> {
    let row: Option<(String, String, String)> =
        Sql::new("SELECT id, type, target FROM catalog_locations WHERE type = ? AND target = ?")
            .bind(location_type)
            .bind(target)
            .fetch_optional(db)
            .await
            .map_err(CatalogError::db("find location"))?;
    Ok(row.map(location_row))
}

pub(crate) async fn insert_location(
    db: &PluginDatabase,
    row: &LocationRow,
) -> Result<bool, CatalogError> {
    let result = Sql::new("INSERT INTO catalog_locations (id, type, target) VALUES (?, ?, ?)")
        .bind(&row.id)
        .bind(&row.location_type)
        .bind(&row.target)
        .execute(db)
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(e) if e.is_unique_violation() => Ok(false),
        Err(e) => Err(CatalogError::db("insert location")(e)),
    }
}

pub(crate) async fn delete_location(db: &PluginDatabase, id: &str) -> Result<bool, CatalogError> {
    let n = Sql::new("DELETE FROM catalog_locations WHERE id = ?")
        .bind(id)
        .execute(db)
        .await
        .map_err(CatalogError::db("delete location"))?;
    Ok(n > 0)
}

/// Replaces the type and target of location `row.id`: `Ok(false)` when no such location
/// exists, [`CatalogError::Conflict`] when another location already has that type and target.
pub(crate) async fn update_location(
    db: &PluginDatabase,
    row: &LocationRow,
) -> Result<bool, CatalogError> {
    let result = Sql::new("UPDATE catalog_locations SET type = ?, target = ? WHERE id = ?")
        .bind(&row.location_type)
        .bind(&row.target)
        .bind(&row.id)
        .execute(db)
        .await;
    match result {
        Ok(n) => Ok(n > 0),
        Err(e) if e.is_unique_violation() => Err(CatalogError::Conflict {
            what: "location",
            id: format!("{}:{}", row.location_type, row.target),
        }),
        Err(e) => Err(CatalogError::db("update location")(e)),
    }
}

// ---- refresh state ----

pub(crate) async fn load_state_rows(
    tx: &mut DbTransaction,
    refs: &[String],
) -> Result<Vec<StateRow>, CatalogError> {
    let mut out = Vec::with_capacity(refs.len());
    for chunk in refs.chunks(CHUNK) {
        let rows: Vec<(String, String, String, Option<String>)> = in_sql(
            "SELECT entity_id, entity_ref, unprocessed_entity, result_hash FROM refresh_state WHERE",
            "entity_ref",
            chunk,
            "",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(CatalogError::db("load refresh state"))?;
        out.extend(
            rows.into_iter().map(
                |(entity_id, entity_ref, unprocessed, result_hash)| StateRow {
                    entity_id,
                    entity_ref,
                    unprocessed,
                    result_hash,
                },
            ),
        );
    }
    Ok(out)
}

pub(crate) async fn existing_rows(
    tx: &mut DbTransaction,
    refs: &[String],
) -> Result<HashMap<String, ExistingRow>, CatalogError> {
    let mut out = HashMap::with_capacity(refs.len());
    for chunk in refs.chunks(CHUNK) {
        let rows: Vec<(String, String, Option<String>, String)> = in_sql(
            "SELECT entity_id, entity_ref, location_key, unprocessed_hash FROM refresh_state WHERE",
            "entity_ref",
            chunk,
            "",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(CatalogError::db("find existing entities"))?;
        for (entity_id, entity_ref, location_key, unprocessed_hash) in rows {
            out.insert(
                entity_ref,
                ExistingRow {
                    entity_id,
                    location_key,
                    unprocessed_hash,
                },
            );
        }
    }
    Ok(out)
}

pub(crate) async fn insert_unprocessed(
    tx: &mut DbTransaction,
    rows: Vec<UnprocessedWrite>,
    now: i64,
) -> Result<(), CatalogError> {
    let values = rows
        .into_iter()
        .map(|r| {
            vec![
                text(r.entity_id),
                text(r.entity_ref),
                text(r.unprocessed),
                text(r.unprocessed_hash),
                opt_text(r.location_key),
                crate::services::database::DbValue::Int(Some(now)),
            ]
        })
        .collect();
    insert_rows(
        tx,
        "INSERT INTO refresh_state (entity_id, entity_ref, unprocessed_entity, unprocessed_hash, location_key, next_update_at)",
        6,
        values,
        "insert refresh state",
    )
    .await
}

pub(crate) async fn update_unprocessed(
    tx: &mut DbTransaction,
    rows: Vec<UnprocessedWrite>,
    now: i64,
) -> Result<(), CatalogError> {
    for r in rows {
        Sql::new(
            "UPDATE refresh_state SET unprocessed_entity = ?, unprocessed_hash = ?, location_key = ?, next_update_at = ?, result_hash = NULL WHERE entity_id = ?",
        )
        .bind(r.unprocessed)
        .bind(r.unprocessed_hash)
        .bind(r.location_key)
        .bind(now)
        .bind(r.entity_id)
        .execute(&mut *tx)
        .await
        .map_err(CatalogError::db("update refresh state"))?;
    }
    Ok(())
}

/// Writes processing results as `(entity_id, processed entity or None when it failed,
/// result hash, errors)`, many rows per statement.
pub(crate) async fn update_processed_many(
    tx: &mut DbTransaction,
    rows: Vec<(String, Option<String>, String, Option<String>)>,
) -> Result<(), CatalogError> {
    let (ok, failed): (Vec<_>, Vec<_>) = rows.into_iter().partition(|r| r.1.is_some());
    for batch in ok.chunks(MAX_PARAMS / 4) {
        let mut sql = Sql::new("WITH v(id, p, h, e) AS (VALUES ");
        for (i, (id, p, h, e)) in batch.iter().enumerate() {
            sql.push(if i == 0 { "(" } else { ", (" });
            sql.push_bind(id.clone()).push(", ");
            sql.push_bind(p.clone()).push(", ");
            sql.push_bind(h.clone()).push(", ");
            sql.push_bind(e.clone()).push(")");
        }
        sql.push(
            ") UPDATE refresh_state SET processed_entity = v.p, result_hash = v.h, errors = v.e \
             FROM v WHERE refresh_state.entity_id = v.id",
        );
        sql.execute(&mut *tx)
            .await
            .map_err(CatalogError::db("update processed entities"))?;
    }
    for batch in failed.chunks(MAX_PARAMS / 3) {
        let mut sql = Sql::new("WITH v(id, h, e) AS (VALUES ");
        for (i, (id, _, h, e)) in batch.iter().enumerate() {
            sql.push(if i == 0 { "(" } else { ", (" });
            sql.push_bind(id.clone()).push(", ");
            sql.push_bind(h.clone()).push(", ");
            sql.push_bind(e.clone()).push(")");
        }
        sql.push(
            ") UPDATE refresh_state SET result_hash = v.h, errors = v.e \
             FROM v WHERE refresh_state.entity_id = v.id",
        );
        sql.execute(&mut *tx)
            .await
            .map_err(CatalogError::db("update processing errors"))?;
    }
    Ok(())
}

pub(crate) async fn set_next_update(
    tx: &mut DbTransaction,
    ids: &[String],
    at: i64,
) -> Result<(), CatalogError> {
    for chunk in ids.chunks(CHUNK) {
        Sql::new(format!(
            "UPDATE refresh_state SET next_update_at = ? WHERE entity_id IN ({})",
            placeholders(chunk.len())
        ))
        .bind(at)
        .bind_all(chunk.iter())
        .execute(&mut *tx)
        .await
        .map_err(CatalogError::db("schedule refresh"))?;
    }
    Ok(())
}

pub(crate) async fn due_refs(db: &PluginDatabase, now: i64) -> Result<Vec<String>, CatalogError> {
    let rows: Vec<(String,)> =
        Sql::new("SELECT entity_ref FROM refresh_state WHERE next_update_at <= ?")
            .bind(now)
            .fetch_all(db)
            .await
            .map_err(CatalogError::db("find due entities"))?;
    Ok(rows.into_iter().map(|(r,)| r).collect())
}

/// Makes `refs` due at `now` with no result hash, so the next pass reprocesses them fully.
pub(crate) async fn reprocess_now(
    tx: &mut DbTransaction,
    refs: &[String],
    now: i64,
) -> Result<(), CatalogError> {
    for chunk in refs.chunks(CHUNK) {
        Sql::new(format!(
            "UPDATE refresh_state SET result_hash = NULL, next_update_at = ? WHERE entity_ref IN ({})",
            placeholders(chunk.len())
        ))
        .bind(now)
        .bind_all(chunk.iter())
        .execute(&mut *tx)
        .await
        .map_err(CatalogError::db("reset result hash"))?;
    }
    Ok(())
}

// ---- relations ----

pub(crate) async fn relation_sources_of(
    tx: &mut DbTransaction,
    ids: &[String],
) -> Result<HashSet<String>, CatalogError> {
    let mut out = HashSet::new();
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<(String,)> = in_sql(
            "SELECT DISTINCT source_entity_ref FROM relations WHERE",
            "originating_entity_id",
            chunk,
            "",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(CatalogError::db("read relations"))?;
        out.extend(rows.into_iter().map(|(r,)| r));
    }
    Ok(out)
}

pub(crate) async fn delete_where_in(
    tx: &mut DbTransaction,
    table: &str,
    column: &str,
    items: &[String],
    op: &'static str,
) -> Result<(), CatalogError> {
    for chunk in items.chunks(CHUNK) {
        in_sql(&format!("DELETE FROM {table} WHERE"), column, chunk, "")
            .execute(&mut *tx)
            .await
            .map_err(CatalogError::db(op))?;
    }
    Ok(())
}

/// Relations as `(originating id, source ref, type, target ref)`.
pub(crate) async fn insert_relations(
    tx: &mut DbTransaction,
    rows: Vec<(String, String, String, String)>,
) -> Result<(), CatalogError> {
    let values = rows
        .into_iter()
        .map(|(a, b, c, d)| vec![text(a), text(b), text(c), text(d)])
        .collect();
    insert_rows(
        tx,
        "INSERT INTO relations (originating_entity_id, source_entity_ref, type, target_entity_ref)",
        4,
        values,
        "insert relations",
    )
    .await
}

// ---- references ----

/// `(source ref, target ref)` of the references going out of `sources`.
pub(crate) async fn reference_targets(
    tx: &mut DbTransaction,
    sources: &[String],
) -> Result<Vec<(String, String)>, CatalogError> {
    let mut out = Vec::new();
    for chunk in sources.chunks(CHUNK) {
        let rows: Vec<(String, String)> = in_sql(
            "SELECT source_entity_ref, target_entity_ref FROM refresh_state_references WHERE",
            "source_entity_ref",
            chunk,
            "",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(CatalogError::db("read references"))?;
        out.extend(rows);
    }
    Ok(out)
}

pub(crate) async fn provider_targets(
    tx: &mut DbTransaction,
    provider: &str,
) -> Result<Vec<String>, CatalogError> {
    let rows: Vec<(String,)> =
        Sql::new("SELECT target_entity_ref FROM refresh_state_references WHERE source_key = ?")
            .bind(provider)
            .fetch_all(&mut *tx)
            .await
            .map_err(CatalogError::db("read provider references"))?;
    Ok(rows.into_iter().map(|(r,)| r).collect())
}

pub(crate) async fn delete_provider_refs(
    tx: &mut DbTransaction,
    provider: &str,
    targets: Option<&[String]>,
) -> Result<(), CatalogError> {
    match targets {
        None => {
            Sql::new("DELETE FROM refresh_state_references WHERE source_key = ?")
                .bind(provider)
                .execute(&mut *tx)
                .await
                .map_err(CatalogError::db("delete provider references"))?;
        }
        Some(targets) => {
            for chunk in targets.chunks(CHUNK) {
                Sql::new(format!(
                    "DELETE FROM refresh_state_references WHERE source_key = ? AND target_entity_ref IN ({})",
                    placeholders(chunk.len())
                ))
                .bind(provider)
                .bind_all(chunk.iter())
                .execute(&mut *tx)
                .await
                .map_err(CatalogError::db("delete provider references"))?;
            }
        }
    }
    Ok(())
}

/// References as `(source key, source entity ref, target ref)`.
pub(crate) async fn insert_references(
    tx: &mut DbTransaction,
    rows: Vec<(Option<String>, Option<String>, String)>,
) -> Result<(), CatalogError> {
    let values = rows
        .into_iter()
        .map(|(a, b, c)| vec![opt_text(a), opt_text(b), text(c)])
        .collect();
    insert_rows(
        tx,
        "INSERT INTO refresh_state_references (source_key, source_entity_ref, target_entity_ref)",
        3,
        values,
        "insert references",
    )
    .await
}

/// Which of `refs` still have a reference pointing at them.
pub(crate) async fn referenced(
    tx: &mut DbTransaction,
    refs: &[String],
) -> Result<HashSet<String>, CatalogError> {
    let mut out = HashSet::new();
    for chunk in refs.chunks(CHUNK) {
        let rows: Vec<(String,)> = in_sql(
            "SELECT DISTINCT target_entity_ref FROM refresh_state_references WHERE",
            "target_entity_ref",
            chunk,
            "",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(CatalogError::db("read references"))?;
        out.extend(rows.into_iter().map(|(r,)| r));
    }
    Ok(out)
}

/// The sources (entity refs, or `None` for a provider) referencing `target`.
pub(crate) async fn parents_of(
    db: &PluginDatabase,
    target: &str,
) -> Result<Vec<Option<String>>, CatalogError> {
    let rows: Vec<(Option<String>,)> = Sql::new(
        "SELECT source_entity_ref FROM refresh_state_references WHERE target_entity_ref = ?",
    )
    .bind(target)
    .fetch_all(db)
    .await
    .map_err(CatalogError::db("read parents"))?;
    Ok(rows.into_iter().map(|(r,)| r).collect())
}

// ---- stitching ----

pub(crate) async fn stitch_rows(
    tx: &mut DbTransaction,
    refs: &[String],
) -> Result<Vec<StitchRow>, CatalogError> {
    let mut out = Vec::with_capacity(refs.len());
    for chunk in refs.chunks(CHUNK) {
        let rows: Vec<(String, String, String, Option<String>)> = in_sql(
            "SELECT entity_id, entity_ref, processed_entity, errors FROM refresh_state WHERE",
            "entity_ref",
            chunk,
            " AND processed_entity IS NOT NULL",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(CatalogError::db("load processed entities"))?;
        out.extend(
            rows.into_iter()
                .map(|(entity_id, entity_ref, processed, errors)| StitchRow {
                    entity_id,
                    entity_ref,
                    processed,
                    errors,
                }),
        );
    }
    Ok(out)
}

/// `(source, type, target)` of every relation whose source is one of `refs`.
pub(crate) async fn relations_from(
    tx: &mut DbTransaction,
    refs: &[String],
) -> Result<Vec<(String, String, String)>, CatalogError> {
    let mut out = Vec::new();
    for chunk in refs.chunks(CHUNK) {
        let rows: Vec<(String, String, String)> = in_sql(
            "SELECT source_entity_ref, type, target_entity_ref FROM relations WHERE",
            "source_entity_ref",
            chunk,
            "",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(CatalogError::db("load relations"))?;
        out.extend(rows);
    }
    Ok(out)
}

pub(crate) async fn final_hashes(
    tx: &mut DbTransaction,
    ids: &[String],
) -> Result<HashMap<String, String>, CatalogError> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<(String, String)> = in_sql(
            "SELECT entity_id, hash FROM final_entities WHERE",
            "entity_id",
            chunk,
            "",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(CatalogError::db("load final hashes"))?;
        out.extend(rows);
    }
    Ok(out)
}

/// Replaces final entities; `existing` holds the ids that have a final row already.
pub(crate) async fn write_finals(
    tx: &mut DbTransaction,
    rows: &[FinalWrite],
    existing: &HashMap<String, String>,
) -> Result<(), CatalogError> {
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = rows
        .iter()
        .filter(|r| existing.contains_key(&r.entity_id))
        .map(|r| r.entity_id.clone())
        .collect();
    let refs: Vec<String> = rows.iter().map(|r| r.entity_ref.clone()).collect();
    delete_where_in(
        tx,
        "final_entities",
        "entity_id",
        &ids,
        "replace final entities",
    )
    .await?;
    delete_where_in(
        tx,
        "final_entities",
        "entity_ref",
        &refs,
        "replace final entities",
    )
    .await?;
    let finals = rows
        .iter()
        .map(|r| {
            vec![
                text(r.entity_id.clone()),
                text(r.entity_ref.clone()),
                text(r.hash.clone()),
                text(r.json.clone()),
            ]
        })
        .collect();
    insert_rows(
        tx,
        "INSERT INTO final_entities (entity_id, entity_ref, hash, final_entity)",
        4,
        finals,
        "insert final entities",
    )
    .await
}

/// Bumps the generation counter inside a writing transaction: `(before, after)`.
pub(crate) async fn bump_generation(tx: &mut DbTransaction) -> Result<(i64, i64), CatalogError> {
    Sql::new("UPDATE catalog_generation SET generation = generation + 1 WHERE id = 1")
        .execute(&mut *tx)
        .await
        .map_err(CatalogError::db("bump catalog generation"))?;
    let (after,): (i64,) = Sql::new("SELECT generation FROM catalog_generation WHERE id = 1")
        .fetch_one(&mut *tx)
        .await
        .map_err(CatalogError::db("read catalog generation"))?;
    Ok((after - 1, after))
}

/// Deletes entities by id from every table; returns nothing about their children.
pub(crate) async fn delete_entities(
    tx: &mut DbTransaction,
    ids: &[String],
    refs: &[String],
) -> Result<(), CatalogError> {
    delete_where_in(
        tx,
        "relations",
        "originating_entity_id",
        ids,
        "delete relations",
    )
    .await?;
    delete_where_in(
        tx,
        "refresh_state_references",
        "source_entity_ref",
        refs,
        "delete references",
    )
    .await?;
    delete_where_in(
        tx,
        "refresh_state",
        "entity_id",
        ids,
        "delete refresh state",
    )
    .await?;
    delete_where_in(
        tx,
        "final_entities",
        "entity_id",
        ids,
        "delete final entities",
    )
    .await
}

/// `entity_id` and `entity_ref` of refresh-state rows.
pub(crate) async fn ids_of(
    tx: &mut DbTransaction,
    refs: &[String],
) -> Result<Vec<(String, String)>, CatalogError> {
    let mut out = Vec::new();
    for chunk in refs.chunks(CHUNK) {
        let rows: Vec<(String, String)> = in_sql(
            "SELECT entity_id, entity_ref FROM refresh_state WHERE",
            "entity_ref",
            chunk,
            "",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(CatalogError::db("find entities"))?;
        out.extend(rows);
    }
    Ok(out)
}
