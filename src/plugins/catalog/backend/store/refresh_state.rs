//! The `refresh_state` table: unprocessed entities, processing results and when each is
//! due again.

use std::collections::HashMap;

use crate::services::database::{DbTransaction, Dialect, PluginDatabase, Sql, placeholders};

use super::super::error::CatalogError;
use super::*;

/// `entity_id, entity_ref, unprocessed_entity, result_hash`, and `'y'` when no processed
/// entity is stored.
type StateColumns = (String, String, String, Option<String>, Option<String>);

pub(crate) async fn load_state_rows(
    tx: &mut DbTransaction,
    refs: &[String],
) -> Result<Vec<StateRow>, CatalogError> {
    // Whether a processed entity is stored, as text: a boolean decodes differently on each
    // database, a text literal the same everywhere.
    let rows: Vec<StateColumns> = select_in(
        tx,
        "SELECT entity_id, entity_ref, unprocessed_entity, result_hash, \
         CASE WHEN processed_entity IS NULL THEN 'y' END FROM refresh_state WHERE",
        "entity_ref",
        refs,
        "",
        "load refresh state",
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(entity_id, entity_ref, unprocessed, result_hash, first)| StateRow {
                entity_id,
                entity_ref,
                unprocessed,
                result_hash,
                first: first.is_some(),
            },
        )
        .collect())
}

pub(crate) async fn existing_rows(
    tx: &mut DbTransaction,
    refs: &[String],
) -> Result<HashMap<String, ExistingRow>, CatalogError> {
    let rows: Vec<(String, String, Option<String>, String)> = select_in(
        tx,
        "SELECT entity_id, entity_ref, location_key, unprocessed_hash FROM refresh_state WHERE",
        "entity_ref",
        refs,
        "",
        "find existing entities",
    )
    .await?;
    let mut out = HashMap::with_capacity(rows.len());
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

/// Inserts the rows of entities processed before their first write (see
/// `Engine::process_ahead`), with their processing results, due again at
/// `next_update_at`: one write of each row.
pub(crate) async fn insert_processed(
    tx: &mut DbTransaction,
    rows: Vec<(UnprocessedWrite, ProcessedWrite)>,
    next_update_at: i64,
) -> Result<(), CatalogError> {
    let values = rows
        .into_iter()
        .map(|(u, p)| {
            vec![
                text(u.entity_id),
                text(u.entity_ref),
                text(u.unprocessed),
                text(u.unprocessed_hash),
                opt_text(u.location_key),
                crate::services::database::DbValue::Int(Some(next_update_at)),
                opt_text(p.processed),
                text(p.result_hash),
                opt_text(p.errors),
                opt_text(p.relations),
            ]
        })
        .collect();
    insert_rows(
        tx,
        "INSERT INTO refresh_state (entity_id, entity_ref, unprocessed_entity, unprocessed_hash, location_key, next_update_at, processed_entity, result_hash, errors, relations)",
        10,
        values,
        "insert processed refresh state",
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

/// Writes processing results, many rows per statement, and makes each row due again at
/// `next_update_at` in the same statement (one write of the row, not two). A row whose
/// processing failed keeps its stored processed entity and relations.
pub(crate) async fn update_processed_many(
    tx: &mut DbTransaction,
    rows: Vec<ProcessedWrite>,
    next_update_at: i64,
) -> Result<(), CatalogError> {
    #[cfg(feature = "postgres")]
    if let DbTransaction::Postgres(conn) = &mut *tx {
        return bulk::update_processed(conn, rows, next_update_at).await;
    }
    let (ok, failed): (Vec<_>, Vec<_>) = rows.into_iter().partition(|r| r.processed.is_some());
    let mysql = tx.dialect() == Dialect::Mysql;
    // SQLite: `UPDATE … FROM (VALUES …)`; MySQL has no `UPDATE … FROM`: the values are a
    // `UNION ALL` joined in instead.
    let (open, first, next, close) = if mysql {
        (
            "UPDATE refresh_state JOIN (",
            "SELECT ? AS id, ? AS h, ? AS e, ? AS p, ? AS r",
            " UNION ALL SELECT ?, ?, ?, ?, ?",
            ") v ON refresh_state.entity_id = v.id SET ",
        )
    } else {
        (
            "WITH v(id, h, e, p, r) AS (VALUES ",
            "(?, ?, ?, ?, ?)",
            ", (?, ?, ?, ?, ?)",
            ") UPDATE refresh_state SET ",
        )
    };
    let (set_ok, set_failed) = (
        "processed_entity = v.p, relations = v.r, result_hash = v.h, errors = v.e, \
         next_update_at = ?",
        "result_hash = v.h, errors = v.e, next_update_at = ?",
    );
    for (rows, set, op) in [
        (ok, set_ok, "update processed entities"),
        (failed, set_failed, "update processing errors"),
    ] {
        for batch in rows.chunks(MAX_PARAMS / 5) {
            let mut sql = Sql::new(open);
            for (i, r) in batch.iter().enumerate() {
                sql.push(if i == 0 { first } else { next });
                sql = sql
                    .bind(r.entity_id.clone())
                    .bind(r.result_hash.clone())
                    .bind(r.errors.clone())
                    .bind(r.processed.clone())
                    .bind(r.relations.clone());
            }
            sql.push(close).push(set);
            if !mysql {
                sql.push(" FROM v WHERE refresh_state.entity_id = v.id");
            }
            sql.bind(next_update_at)
                .execute(&mut *tx)
                .await
                .map_err(CatalogError::db(op))?;
        }
    }
    Ok(())
}

pub(crate) async fn set_next_update(
    tx: &mut DbTransaction,
    ids: &[String],
    at: i64,
) -> Result<(), CatalogError> {
    #[cfg(feature = "postgres")]
    if let DbTransaction::Postgres(conn) = &mut *tx {
        let text = "UPDATE refresh_state SET next_update_at = $2 WHERE entity_id = ANY($1)";
        return bulk::execute_any(conn, text, ids, Some(at), "schedule refresh").await;
    }
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
