//! What stitching reads and writes: processed rows and their relations, `final_entities`,
//! and deleting entities from every table (the generation counter is in `changes.rs`).

use std::collections::HashMap;

use crate::services::database::{DatabaseError, DbRow, DbTransaction, Dialect, FromDbRow};

use super::super::error::CatalogError;
use super::*;

pub(crate) async fn stitch_rows(
    tx: &mut DbTransaction,
    refs: &[String],
) -> Result<Vec<StitchRow>, CatalogError> {
    select_in(
        tx,
        "SELECT entity_id, entity_ref, processed_entity, errors, relations FROM refresh_state WHERE",
        "entity_ref",
        refs,
        " AND processed_entity IS NOT NULL",
        "load processed entities",
    )
    .await
}

impl FromDbRow for StitchRow {
    fn from_row(row: DbRow) -> Result<Self, DatabaseError> {
        Ok(Self {
            entity_id: row.get_at(0)?,
            entity_ref: row.get_at(1)?,
            processed: row.get_at(2)?,
            errors: row.get_at(3)?,
            relations: row.get_at(4)?,
        })
    }
}

/// `(type, target)` of every relation row whose source is one of `refs`, per source: the
/// relations other entities emit about them (and own relations written before migration 6).
///
/// SQLite and PostgreSQL aggregate each source's relations into one JSON array (`[[type,
/// target], …]`), so a chunk's relations cross as one row per entity instead of one row
/// (and three strings) each. MySQL reads one row per relation.
pub(crate) async fn relations_from(
    tx: &mut DbTransaction,
    refs: &[String],
) -> Result<HashMap<String, Vec<(String, String)>>, CatalogError> {
    let mut out: HashMap<String, Vec<(String, String)>> = HashMap::new();
    let aggregate = match tx.dialect() {
        Dialect::Sqlite => "json_group_array(json_array(type, target_entity_ref))",
        Dialect::Postgres => "json_agg(json_build_array(type, target_entity_ref))::text",
        Dialect::Mysql => {
            let rows: Vec<(String, String, String)> = select_in(
                tx,
                "SELECT source_entity_ref, type, target_entity_ref FROM relations WHERE",
                "source_entity_ref",
                refs,
                "",
                "load relations",
            )
            .await?;
            for (source, kind, target) in rows {
                out.entry(source).or_default().push((kind, target));
            }
            return Ok(out);
        }
    };
    let rows: Vec<(String, String)> = select_in(
        tx,
        &format!("SELECT source_entity_ref, {aggregate} FROM relations WHERE"),
        "source_entity_ref",
        refs,
        " GROUP BY source_entity_ref",
        "load relations",
    )
    .await?;
    for (source, json) in rows {
        let relations: Vec<(String, String)> = serde_json::from_str(&json).map_err(|e| {
            CatalogError::db("load relations")(crate::services::database::DatabaseError::Decode {
                column: format!("relations of {source}"),
                source: sqlx::Error::Decode(Box::new(e)),
            })
        })?;
        out.entry(source).or_default().extend(relations);
    }
    Ok(out)
}

/// The stored final row of each of `refs` that has one: `ref → (entity_id, hash)`.
///
/// Read by ref rather than by id: an entity's id never changes while its row lives, and a
/// final row left under another id for the same ref (an entity deleted and made again) is
/// then found in the same read, so writing a part needs no blind delete by ref.
pub(crate) async fn stored_finals(
    tx: &mut DbTransaction,
    refs: &[String],
) -> Result<HashMap<String, (String, String)>, CatalogError> {
    let rows: Vec<(String, String, String)> = select_in(
        tx,
        "SELECT entity_ref, entity_id, hash FROM final_entities WHERE",
        "entity_ref",
        refs,
        "",
        "load final hashes",
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|(entity_ref, id, hash)| (entity_ref, (id, hash)))
        .collect())
}

/// Replaces final entities; `stored` holds the final row stored for each ref, as
/// [`stored_finals`] read it: that row goes, whatever its id, before the new one is written.
pub(crate) async fn write_finals(
    tx: &mut DbTransaction,
    rows: Vec<FinalWrite>,
    stored: &HashMap<String, (String, String)>,
) -> Result<(), CatalogError> {
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = rows
        .iter()
        .filter_map(|r| stored.get(&r.entity_ref).map(|(id, _)| id.clone()))
        .collect();
    delete_where_in(
        tx,
        "final_entities",
        "entity_id",
        &ids,
        "replace final entities",
    )
    .await?;
    let finals = rows
        .into_iter()
        .map(|r| {
            vec![
                text(r.entity_id),
                text(r.entity_ref),
                text(r.hash),
                text(r.json),
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
    select_in::<(String, String), _>(
        tx,
        "SELECT entity_id, entity_ref FROM refresh_state WHERE",
        "entity_ref",
        refs,
        "",
        "find entities",
    )
    .await
}
