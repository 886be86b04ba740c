//! The `refresh_state` table: unprocessed entities, processing results and when each is
//! due again.

use std::collections::HashMap;

use crate::services::database::{DbTransaction, Dialect, PluginDatabase, Sql, placeholders};

use super::super::error::CatalogError;
use super::*;

pub(crate) async fn load_state_rows(
    tx: &mut DbTransaction,
    refs: &[String],
) -> Result<Vec<StateRow>, CatalogError> {
    let rows: Vec<(String, String, String, Option<String>)> = select_in(
        tx,
        "SELECT entity_id, entity_ref, unprocessed_entity, result_hash FROM refresh_state WHERE",
        "entity_ref",
        refs,
        "",
        "load refresh state",
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(entity_id, entity_ref, unprocessed, result_hash)| StateRow {
                entity_id,
                entity_ref,
                unprocessed,
                result_hash,
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
/// result hash, errors)`, many rows per statement, and makes each row due again at
/// `next_update_at` in the same statement (one write of the row, not two).
pub(crate) async fn update_processed_many(
    tx: &mut DbTransaction,
    rows: Vec<(String, Option<String>, String, Option<String>)>,
    next_update_at: i64,
) -> Result<(), CatalogError> {
    #[cfg(feature = "postgres")]
    if let DbTransaction::Postgres(conn) = &mut *tx {
        return bulk::update_processed(conn, rows, next_update_at).await;
    }
    let (ok, failed): (Vec<_>, Vec<_>) = rows.into_iter().partition(|r| r.1.is_some());
    if tx.dialect() == Dialect::Mysql {
        return update_processed_many_mysql(tx, ok, failed, next_update_at).await;
    }
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
            ") UPDATE refresh_state SET processed_entity = v.p, result_hash = v.h, errors = v.e, \
             next_update_at = ? FROM v WHERE refresh_state.entity_id = v.id",
        );
        sql.bind(next_update_at)
            .execute(&mut *tx)
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
            ") UPDATE refresh_state SET result_hash = v.h, errors = v.e, next_update_at = ? \
             FROM v WHERE refresh_state.entity_id = v.id",
        );
        sql.bind(next_update_at)
            .execute(&mut *tx)
            .await
            .map_err(CatalogError::db("update processing errors"))?;
    }
    Ok(())
}

type Processed = (String, Option<String>, String, Option<String>);

/// MySQL: no `UPDATE ... FROM (VALUES ...)`; the values are a `UNION ALL` joined in instead.
async fn update_processed_many_mysql(
    tx: &mut DbTransaction,
    ok: Vec<Processed>,
    failed: Vec<Processed>,
    next_update_at: i64,
) -> Result<(), CatalogError> {
    for batch in ok.chunks(MAX_PARAMS / 4) {
        let mut sql = Sql::new("UPDATE refresh_state JOIN (");
        for (i, (id, p, h, e)) in batch.iter().enumerate() {
            sql.push(if i == 0 {
                "SELECT ? AS id, ? AS p, ? AS h, ? AS e"
            } else {
                " UNION ALL SELECT ?, ?, ?, ?"
            });
            sql = sql
                .bind(id.clone())
                .bind(p.clone())
                .bind(h.clone())
                .bind(e.clone());
        }
        sql.push(
            ") v ON refresh_state.entity_id = v.id \
             SET processed_entity = v.p, result_hash = v.h, errors = v.e, next_update_at = ?",
        );
        sql.bind(next_update_at)
            .execute(&mut *tx)
            .await
            .map_err(CatalogError::db("update processed entities"))?;
    }
    for batch in failed.chunks(MAX_PARAMS / 3) {
        let mut sql = Sql::new("UPDATE refresh_state JOIN (");
        for (i, (id, _, h, e)) in batch.iter().enumerate() {
            sql.push(if i == 0 {
                "SELECT ? AS id, ? AS h, ? AS e"
            } else {
                " UNION ALL SELECT ?, ?, ?"
            });
            sql = sql.bind(id.clone()).bind(h.clone()).bind(e.clone());
        }
        sql.push(
            ") v ON refresh_state.entity_id = v.id \
             SET result_hash = v.h, errors = v.e, next_update_at = ?",
        );
        sql.bind(next_update_at)
            .execute(&mut *tx)
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
