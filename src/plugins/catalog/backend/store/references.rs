//! The `relations` and `refresh_state_references` tables: relations processing found, and
//! which provider or parent emits which entity.

use std::collections::HashSet;

use crate::services::database::{DbTransaction, PluginDatabase, Sql, placeholders};

use super::super::error::CatalogError;
use super::*;

pub(crate) async fn relation_sources_of(
    tx: &mut DbTransaction,
    ids: &[String],
) -> Result<HashSet<String>, CatalogError> {
    select_column(
        tx,
        "SELECT DISTINCT source_entity_ref FROM relations WHERE",
        "originating_entity_id",
        ids,
        "",
        "read relations",
    )
    .await
}

/// Which of `ids` were processed successfully before (their `processed_entity` is set). Only
/// those can have relations and references of their own: both are written in the transaction
/// that sets `processed_entity`, which is never cleared, and deleted with the entity's row.
/// Read inside the writing transaction, after the writer lock, so a result another process
/// committed first is seen.
pub(crate) async fn processed_before(
    tx: &mut DbTransaction,
    ids: &[String],
) -> Result<HashSet<String>, CatalogError> {
    select_column(
        tx,
        "SELECT entity_id FROM refresh_state WHERE",
        "entity_id",
        ids,
        " AND processed_entity IS NOT NULL",
        "read processed entities",
    )
    .await
}

/// Which of `ids` (distinct) have no row any more: another process deleted them. Read inside
/// the writing transaction, after the writer lock.
pub(crate) async fn gone(
    tx: &mut DbTransaction,
    ids: &[String],
) -> Result<HashSet<String>, CatalogError> {
    unmatched(
        tx,
        ("SELECT COUNT(*) FROM refresh_state WHERE", "count entities"),
        ("SELECT entity_id FROM refresh_state WHERE", "read entities"),
        "entity_id",
        ids,
    )
    .await
}

/// Which of `items` no row matches on `column`. `count` counts the distinct items a chunk
/// matches and `read` reads them, each with the name of its operation. The count can reach
/// `items.len()` only when every item matches: a chunk that repeats an item counts it once,
/// and then the items are read (callers pass distinct items, so that does not happen).
///
/// Nearly always every item matches, so this counts first (a row per chunk of items) and
/// reads the matched items only when the count falls short. (A row per item cost SQLite
/// about 4 µs each in the driver: 0.4 s of a 100,000-entity ingestion for the deleted-row
/// check alone.)
async fn unmatched(
    tx: &mut DbTransaction,
    count: (&str, &'static str),
    read: (&str, &'static str),
    column: &str,
    items: &[String],
) -> Result<HashSet<String>, CatalogError> {
    let counts: Vec<(i64,)> =
        select_in::<(i64,), _>(tx, count.0, column, items, "", count.1).await?;
    let matched: i64 = counts.iter().map(|(n,)| n).sum();
    if usize::try_from(matched).is_ok_and(|n| n >= items.len()) {
        return Ok(HashSet::new());
    }
    let matched: HashSet<String> = select_column(tx, read.0, column, items, "", read.1).await?;
    Ok(items
        .iter()
        .filter(|item| !matched.contains(*item))
        .cloned()
        .collect())
}

pub(crate) async fn delete_where_in(
    tx: &mut DbTransaction,
    table: &str,
    column: &str,
    items: &[String],
    op: &'static str,
) -> Result<(), CatalogError> {
    #[cfg(feature = "postgres")]
    if let DbTransaction::Postgres(conn) = &mut *tx {
        let text = format!("DELETE FROM {table} WHERE {column} = ANY($1)");
        return bulk::execute_any(conn, &text, items, None, op).await;
    }
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

/// `(source ref, target ref)` of the references going out of `sources`.
pub(crate) async fn reference_targets(
    tx: &mut DbTransaction,
    sources: &[String],
) -> Result<Vec<(String, String)>, CatalogError> {
    select_in::<(String, String), _>(
        tx,
        "SELECT source_entity_ref, target_entity_ref FROM refresh_state_references WHERE",
        "source_entity_ref",
        sources,
        "",
        "read references",
    )
    .await
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

/// Which of `refs` nothing references any more (no parent emits them, no provider holds
/// them). Nearly every entity stitched is referenced: see [`unmatched`].
pub(crate) async fn unreferenced(
    tx: &mut DbTransaction,
    refs: &[String],
) -> Result<HashSet<String>, CatalogError> {
    unmatched(
        tx,
        (
            "SELECT COUNT(DISTINCT target_entity_ref) FROM refresh_state_references WHERE",
            "count references",
        ),
        (
            "SELECT DISTINCT target_entity_ref FROM refresh_state_references WHERE",
            "read references",
        ),
        "target_entity_ref",
        refs,
    )
    .await
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
