//! Keeping the index in step with the database: the load at start, the changes this process
//! commits, and catching up with other processes through the `catalog_generation` counter
//! and the change log (`store/changes.rs`): the cost of a sync follows the size of the
//! change, not of the catalog.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::services::database::{PluginDatabase, Sql};
use crate::services::logger::{LogLevel, LoggerService};

use super::super::error::CatalogError;
use super::super::store;
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
        let generation = store::read_generation(db).await?;
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
            for e in to_entries(&self.codec, rows, logger) {
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
    ///
    /// When the index already reflects `after` or later, a [`sync`](Self::sync) that started
    /// after that commit loaded these entities from the database, as new as this change or
    /// newer, so the change is dropped rather than written over them.
    pub(crate) fn apply(
        &self,
        upserts: Vec<IndexedEntity>,
        removed_ids: &[String],
        generation: Option<(i64, i64)>,
    ) {
        let mut s = self.state.write();
        let mut g = self.generation.lock();
        if let Some((_, after)) = generation
            && *g >= after
        {
            return;
        }
        apply_rows(&mut s, upserts, removed_ids);
        if let Some((before, after)) = generation {
            // Only move on when no other process wrote in between; otherwise `sync` will
            // notice the difference and reconcile.
            if *g == before {
                *g = after;
            }
        }
    }

    /// Catches up with changes other processes made to the shared database. Reads the
    /// counter `C`; when it moved from this index's generation, reads the entity ids the
    /// change log holds for the generations up to `C` and reloads just those entities (or,
    /// when the log was pruned past this index's generation, compares every stored hash as a
    /// fallback). Returns whether anything was read.
    ///
    /// Safe to run beside this process's writers (it does not take the engine's lock): rows
    /// it reads are at least as new as `C`, so [`apply`](Self::apply) drops a local change at
    /// or below `C` that arrives late; and a local change above `C` that it may have written
    /// over is read again by the next sync, because the index goes back to `C`.
    pub(crate) async fn sync(
        &self,
        db: &PluginDatabase,
        logger: &dyn LoggerService,
    ) -> Result<bool, CatalogError> {
        let _one_at_a_time = self.sync_lock.lock().await;
        let target = store::read_generation(db).await?;
        let mine = *self.generation.lock();
        if target == mine {
            return Ok(false);
        }
        let mut incremental = None;
        if mine < target {
            let ids = store::changed_ids(db, mine, target).await?;
            // Read after the log: a prune in between is seen here.
            if store::read_horizon(db).await? <= mine {
                incremental = Some(ids);
            }
        }
        let (upserts, removed, rows_read) =
            match incremental {
                Some(ids) => {
                    self.stats.incremental.fetch_add(1, Ordering::Relaxed);
                    let log_rows = ids.len() as u64;
                    let upserts = load_ids(&self.codec, db, &ids, logger).await?;
                    let found: HashSet<&str> =
                        upserts.iter().map(|e| e.entity_id.as_str()).collect();
                    let removed: Vec<String> = ids
                        .iter()
                        .filter(|id| !found.contains(id.as_str()))
                        .cloned()
                        .collect();
                    let read = log_rows + upserts.len() as u64;
                    (upserts, removed, read)
                }
                None => {
                    self.stats.full.fetch_add(1, Ordering::Relaxed);
                    logger.log(
                    LogLevel::Info,
                    "catalog change log does not reach back to this index; comparing every entity",
                    &[("generation", &mine.to_string()), ("target", &target.to_string())],
                );
                    self.full_comparison(db, logger).await?
                }
            };
        self.stats.rows_read.fetch_add(rows_read, Ordering::Relaxed);
        self.stats
            .last_rows_read
            .store(rows_read, Ordering::Relaxed);
        let mut s = self.state.write();
        apply_rows(&mut s, upserts, &removed);
        *self.generation.lock() = target;
        Ok(true)
    }

    /// Compares every stored `(entity_id, hash)` with the index and loads what differs:
    /// `(upserts, removed ids, rows read)`.
    async fn full_comparison(
        &self,
        db: &PluginDatabase,
        logger: &dyn LoggerService,
    ) -> Result<(Vec<IndexedEntity>, Vec<String>, u64), CatalogError> {
        let stored: Vec<(String, String)> = Sql::new("SELECT entity_id, hash FROM final_entities")
            .fetch_all(db)
            .await
            .map_err(CatalogError::db("list entity hashes"))?;
        let (changed, removed) = {
            let s = self.state.read();
            let mut changed = Vec::new();
            let mut seen = HashSet::with_capacity(stored.len());
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
        let upserts = load_ids(&self.codec, db, &changed, logger).await?;
        let read = (stored.len() + upserts.len()) as u64;
        Ok((upserts, removed, read))
    }

    /// What [`sync`](Self::sync) has done so far.
    pub(crate) fn sync_stats(&self) -> SyncStats {
        SyncStats {
            generation: *self.generation.lock(),
            incremental: self.stats.incremental.load(Ordering::Relaxed),
            full: self.stats.full.load(Ordering::Relaxed),
            rows_read: self.stats.rows_read.load(Ordering::Relaxed),
            last_rows_read: self.stats.last_rows_read.load(Ordering::Relaxed),
        }
    }
}

/// Counters of [`EntityIndex::sync`].
#[derive(Debug, Default)]
pub(super) struct SyncCounters {
    incremental: AtomicU64,
    full: AtomicU64,
    rows_read: AtomicU64,
    last_rows_read: AtomicU64,
}

/// What the index's syncs have done, as the catalog's status route shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SyncStats {
    /// The `catalog_generation` the index reflects.
    pub(crate) generation: i64,
    /// Syncs that caught up from the change log.
    pub(crate) incremental: u64,
    /// Syncs that compared every stored entity (the log did not reach back far enough).
    pub(crate) full: u64,
    /// Database rows read by every sync together (log rows, hashes and entities).
    pub(crate) rows_read: u64,
    /// Database rows the last sync that found a change read.
    pub(crate) last_rows_read: u64,
}

fn apply_rows(s: &mut State, upserts: Vec<IndexedEntity>, removed_ids: &[String]) {
    for id in removed_ids {
        if let Some(slot) = s.slot_by_id(id) {
            s.remove_slot(slot);
        }
    }
    for e in upserts {
        s.insert(e);
    }
}

/// Loads the stored entities with these ids (missing ones are left out).
async fn load_ids(
    codec: &super::Codec,
    db: &PluginDatabase,
    ids: &[String],
    logger: &dyn LoggerService,
) -> Result<Vec<IndexedEntity>, CatalogError> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
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
        out.extend(to_entries(codec, rows, logger));
    }
    Ok(out)
}

fn to_entries(
    codec: &super::Codec,
    rows: Vec<(String, String, String, String)>,
    logger: &dyn LoggerService,
) -> Vec<IndexedEntity> {
    rows.into_iter()
        .filter_map(|(id, r, hash, json)| {
            IndexedEntity::from_stored(codec, id, r.clone(), hash, json)
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
