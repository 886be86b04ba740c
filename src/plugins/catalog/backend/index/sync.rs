//! Keeping the index in step with the database: the load at start, the changes this process
//! commits, and reconciling with other processes through the `catalog_generation` counter.

use crate::services::database::{PluginDatabase, Sql};
use crate::services::logger::{LogLevel, LoggerService};

use super::super::error::CatalogError;
use super::state::{State, fingerprint};
use super::{EntityIndex, IndexedEntity};

/// Entities read per query when the index is loaded at start.
pub(super) const LOAD_PAGE: i64 = 2000;

impl EntityIndex {
    /// Replaces the whole index with what `db` holds; entities that are not valid JSON are
    /// skipped with a warning to `logger`.
    pub(crate) async fn load(
        &self,
        db: &PluginDatabase,
        logger: &dyn LoggerService,
    ) -> Result<(), CatalogError> {
        let generation = read_generation(db).await?;
        // Page through the table, so that start-up never holds every entity's JSON and
        // search rows at once on top of the index being built.
        let mut fresh = State::default();
        let mut after = String::new();
        loop {
            let rows: Vec<(String, String, String, String)> = Sql::new(
                "SELECT entity_id, entity_ref, hash, final_entity FROM final_entities \
                 WHERE entity_id > ? ORDER BY entity_id LIMIT ?",
            )
            .bind(after.clone())
            .bind(LOAD_PAGE)
            .fetch_all(db)
            .await
            .map_err(CatalogError::db("load entities"))?;
            let Some((last, ..)) = rows.last() else { break };
            after = last.clone();
            let full = rows.len() as i64 == LOAD_PAGE;
            for e in to_entries(rows, logger) {
                fresh.insert(e);
            }
            if !full {
                break;
            }
        }
        *self.state.write() = fresh;
        *self.generation.lock() = generation;
        Ok(())
    }

    /// Applies changes a writer of this process committed in the transaction that moved the
    /// generation from `before` to `after`.
    pub(crate) fn apply(
        &self,
        upserts: Vec<IndexedEntity>,
        removed_ids: &[String],
        generation: Option<(i64, i64)>,
    ) {
        {
            let mut s = self.state.write();
            for id in removed_ids {
                if let Some(slot) = s.slot_by_id(id) {
                    s.remove_slot(slot);
                }
            }
            for e in upserts {
                s.insert(e);
            }
        }
        if let Some((before, after)) = generation {
            let mut g = self.generation.lock();
            // Only move on when no other process wrote in between; otherwise `sync` will
            // notice the difference and reconcile.
            if *g == before {
                *g = after;
            }
        }
    }

    /// Catches up with changes other processes made to the shared database: compares the
    /// stored generation, and when it moved, reloads the entities whose hash differs.
    pub(crate) async fn sync(
        &self,
        db: &PluginDatabase,
        logger: &dyn LoggerService,
    ) -> Result<bool, CatalogError> {
        let generation = read_generation(db).await?;
        if generation == *self.generation.lock() {
            return Ok(false);
        }
        let stored: Vec<(String, String)> = Sql::new("SELECT entity_id, hash FROM final_entities")
            .fetch_all(db)
            .await
            .map_err(CatalogError::db("list entity hashes"))?;
        let (changed, removed) = {
            let s = self.state.read();
            let mut changed = Vec::new();
            let mut seen = std::collections::HashSet::with_capacity(stored.len());
            for (id, hash) in &stored {
                seen.insert(id.as_str());
                let same = s
                    .slot_by_id(id)
                    .and_then(|slot| s.slot(slot))
                    .is_some_and(|slot| slot.hash == fingerprint(hash));
                if !same {
                    changed.push(id.clone());
                }
            }
            let removed: Vec<String> = s
                .by_id
                .keys()
                .map(|&id| s.strings.get(id))
                .filter(|id| !seen.contains(id))
                .map(str::to_owned)
                .collect();
            (changed, removed)
        };
        let mut upserts = Vec::with_capacity(changed.len());
        for chunk in changed.chunks(500) {
            let mut sql = Sql::new(
                "SELECT entity_id, entity_ref, hash, final_entity FROM final_entities WHERE entity_id IN (",
            );
            for (i, id) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.push_bind(id.clone());
            }
            sql.push(")");
            let rows: Vec<(String, String, String, String)> = sql
                .fetch_all(db)
                .await
                .map_err(CatalogError::db("load changed entities"))?;
            upserts.extend(to_entries(rows, logger));
        }
        self.apply(upserts, &removed, None);
        *self.generation.lock() = generation;
        Ok(true)
    }
}

fn to_entries(
    rows: Vec<(String, String, String, String)>,
    logger: &dyn LoggerService,
) -> Vec<IndexedEntity> {
    rows.into_iter()
        .filter_map(|(id, r, hash, json)| {
            IndexedEntity::from_stored(id, r.clone(), hash, json)
                .map_err(|e| {
                    logger.log(
                        LogLevel::Warn,
                        "stored entity is not valid JSON; skipped",
                        &[("entity", &r), ("error", &e.to_string())],
                    );
                })
                .ok()
        })
        .collect()
}

/// The generation counter of the shared database.
pub(crate) async fn read_generation(db: &PluginDatabase) -> Result<i64, CatalogError> {
    let row: Option<(i64,)> = Sql::new("SELECT generation FROM catalog_generation WHERE id = 1")
        .fetch_optional(db)
        .await
        .map_err(CatalogError::db("read catalog generation"))?;
    Ok(row.map_or(0, |(g,)| g))
}
