//! The processing engine: provider mutations, processing passes, conflicts, orphans, and the
//! hand-over to stitching.
//!
//! `process` handles one entity, `passes` the batches and their writes, `outcome` the typed
//! result of processing (errors in Backstage's status shape, relations).

mod outcome;
mod passes;
mod process;
#[cfg(test)]
pub(crate) mod tests;
mod writer;

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Weak};
use std::time::Duration;

use serde_json::Value;

use crate::backend::BoxError;
use crate::plugins::catalog::common::Entity;
use crate::plugins::catalog::node::{CatalogProcessor, EntityMutationSink, EntityProviderMutation};
use crate::services::database::{DbTransaction, PluginDatabase, Sql};
use crate::services::logger::{LogLevel, LoggerService};

use super::error::CatalogError;
use super::index::EntityIndex;
use super::locations::{RulesEnforcer, sha1_hex, strip_catalog_fields};
use super::read::{LocationReader, YamlLocationProcessor};
use super::stitch_queue::StitchMarks;
use super::store;
use outcome::ProcessingError;
pub(crate) use passes::{DEFAULT_BATCH_SIZE, DEFAULT_MAX_BUFFERED_CHILDREN};

/// Most entities a dry run reads.
const DRY_RUN_LIMIT: usize = 10_000;

/// What happens to entities no parent emits any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OrphanStrategy {
    /// Keep them with `backstage.io/orphan: 'true'`.
    Keep,
    /// Delete them.
    Delete,
}

/// Settings of the engine.
#[derive(Debug, Clone)]
pub(crate) struct EngineOptions {
    pub(crate) orphan_strategy: OrphanStrategy,
    /// Processing interval: each entity is reprocessed after `interval` to `1.5 * interval`.
    pub(crate) interval: Duration,
    pub(crate) rules: RulesEnforcer,
    /// Entities processed per batch (`catalog.processing.batchSize`).
    pub(crate) batch_size: usize,
    /// Children held before the outcomes that emitted them are written
    /// (`catalog.processing.maxBufferedChildren`).
    pub(crate) max_buffered_children: usize,
}

/// The processing engine shared by the router, providers and the refresh loop.
pub(crate) struct Engine {
    pub(crate) db: PluginDatabase,
    /// The built-in and the added processors, in the order they run.
    processors: Vec<Arc<dyn CatalogProcessor>>,
    pub(crate) reader: LocationReader,
    pub(super) options: EngineOptions,
    lock: tokio::sync::Mutex<()>,
    /// The engine itself, for work that must outlive the caller's future.
    pub(super) me: Weak<Engine>,
    /// The in-memory read model every query is answered from.
    pub(crate) index: Arc<EntityIndex>,
    /// The catalog plugin's logger (`LOGGER`).
    pub(crate) logger: Arc<dyn LoggerService>,
    /// Whether a WAL checkpoint started by [`Engine::checkpoint_beside_writer`] is running.
    checkpointing: Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field(
                "processors",
                &self
                    .processors
                    .iter()
                    .map(|p| p.name().to_owned())
                    .collect::<Vec<_>>(),
            )
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn ordered_processors(
    builtin: Vec<Arc<dyn CatalogProcessor>>,
    added: Vec<Arc<dyn CatalogProcessor>>,
) -> Vec<Arc<dyn CatalogProcessor>> {
    let mut all: Vec<Arc<dyn CatalogProcessor>> = builtin.into_iter().chain(added).collect();
    all.sort_by_key(|p| p.priority());
    all
}

fn lower_ref(r: &str) -> String {
    r.to_lowercase()
}

impl Engine {
    pub(crate) fn new(
        db: PluginDatabase,
        processors: Vec<Arc<dyn CatalogProcessor>>,
        options: EngineOptions,
        reader: LocationReader,
        logger: Arc<dyn LoggerService>,
    ) -> Arc<Self> {
        let builtin: Arc<dyn CatalogProcessor> = Arc::new(YamlLocationProcessor {
            reader: reader.clone(),
        });
        Arc::new_cyclic(|me| Self {
            db,
            processors: ordered_processors(vec![builtin], processors),
            reader,
            options,
            lock: tokio::sync::Mutex::new(()),
            index: Arc::new(EntityIndex::default()),
            me: me.clone(),
            logger,
            checkpointing: Arc::default(),
        })
    }

    /// On a SQLite file, copies the WAL into the database from another connection, on a task
    /// of its own, unless such a copy is running already. Called after each commit of a
    /// processing batch or stitch chunk: the copy then runs beside the next transaction,
    /// instead of inside a later commit on the writing connection (a copy every 8,000 pages,
    /// up to about 120 ms, at 100,000 entities). `PASSIVE` waits for no reader or writer; a
    /// commit that finds a copy running skips its own.
    pub(crate) fn checkpoint_beside_writer(&self) {
        use std::sync::atomic::Ordering;
        if self.db.dialect() != crate::services::database::Dialect::Sqlite
            || self.db.location() == ":memory:"
            || self.checkpointing.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let (db, running, logger) = (
            self.db.clone(),
            self.checkpointing.clone(),
            self.logger.clone(),
        );
        tokio::spawn(async move {
            if let Err(e) = Sql::new("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&db)
                .await
            {
                logger.log(
                    LogLevel::Debug,
                    "catalog WAL checkpoint failed",
                    &[("error", &e.to_string())],
                );
            }
            running.store(false, Ordering::Release);
        });
    }

    /// Runs `work` on a task of its own and waits for it: a caller that goes away (a client
    /// that disconnects, a provider's task that times out) cancels nothing, and whatever the
    /// work committed is finished by the stitch queue even if the process dies.
    async fn detached<T, F, Fut>(&self, work: F) -> Result<T, CatalogError>
    where
        F: FnOnce(Arc<Engine>) -> Fut,
        Fut: Future<Output = Result<T, CatalogError>> + Send + 'static,
        T: Send + 'static,
    {
        let engine = self.me.upgrade().ok_or(CatalogError::Interrupted)?;
        tokio::spawn(work(engine))
            .await
            .map_err(|_| CatalogError::Interrupted)?
    }

    fn next_update(&self) -> i64 {
        let base = self.options.interval.as_millis() as i64;
        let jitter = (uuid::Uuid::new_v4().as_u128() % 1000) as i64;
        now_ms() + base + base * jitter / 2000
    }

    /// A transaction that writes catalog rows: it takes the writer lock first.
    pub(super) async fn begin(&self) -> Result<DbTransaction, CatalogError> {
        let mut tx = tuned(self.db.begin().await).await?;
        store::lock_writers(&mut tx).await?;
        Ok(tx)
    }

    /// A transaction that writes catalog rows and takes the writer lock only before its
    /// stitch marks, on PostgreSQL (see `Engine::write_fresh_beside`): its lock waits end
    /// early ([`store::limit_lock_waits`]).
    pub(super) async fn begin_unlocked(&self) -> Result<DbTransaction, CatalogError> {
        let mut tx = tuned(self.db.begin().await).await?;
        store::limit_lock_waits(&mut tx).await?;
        Ok(tx)
    }

    /// A transaction that only reads: it takes neither the catalog's writer lock nor, on
    /// SQLite, the database's, so it runs beside a write in flight (it sees what had committed
    /// when it began).
    pub(super) async fn begin_read(&self) -> Result<DbTransaction, CatalogError> {
        tuned(self.db.begin_read().await).await
    }

    /// Processes every entity whose refresh time has come, and finishes the stitching of any
    /// pass that was cut short (here or in another process sharing the database).
    pub(crate) async fn process_due(&self) -> Result<usize, CatalogError> {
        let _guard = self.lock.lock().await;
        let due = store::due_refs(&self.db, now_ms()).await?;
        let n = due.len();
        self.pass_locked(due).await?;
        Ok(n)
    }

    /// Applies a provider's mutation and processes what changed, on a task of its own.
    pub(crate) async fn apply_mutation(
        &self,
        provider: &str,
        mutation: EntityProviderMutation,
    ) -> Result<(), CatalogError> {
        let provider = provider.to_owned();
        self.detached(
            move |engine| async move { engine.apply_mutation_now(&provider, mutation).await },
        )
        .await
    }

    /// [`Engine::apply_mutation`] in the caller's own task, for callers no client can cancel
    /// (the start-up ingestion): the work stays on one thread, which keeps the allocator's
    /// per-thread arenas, and so the peak memory of a large first ingestion, down.
    pub(crate) async fn apply_mutation_now(
        &self,
        provider: &str,
        mutation: EntityProviderMutation,
    ) -> Result<(), CatalogError> {
        let _guard = self.lock.lock().await;
        let now = now_ms();
        let (added, removed, full) = match mutation {
            EntityProviderMutation::Full { entities } => (entities, Vec::new(), true),
            EntityProviderMutation::Delta { added, removed } => (added, removed, false),
        };
        let mut prepared = Vec::new();
        for d in added {
            let mut entity = d.entity;
            strip_catalog_fields(&mut entity);
            let json = serde_json::to_string(&entity)
                .map_err(|e| CatalogError::input("entity", e.to_string()))?;
            prepared.push((
                entity.ref_string(),
                sha1_hex(json.as_bytes()),
                json,
                d.location_key,
            ));
        }
        let mut tx = self.begin().await?;
        let refs: Vec<String> = prepared.iter().map(|p| p.0.clone()).collect();
        let mut existing = store::existing_rows(&mut tx, &refs).await?;
        let (mut inserts, mut updates) = (Vec::new(), Vec::new());
        let mut queue = Vec::new();
        let mut accepted = Vec::new();
        let mut seen = HashSet::new();
        for (entity_ref, hash, json, key) in prepared {
            if !seen.insert(entity_ref.clone()) {
                continue;
            }
            match Self::plan_upsert(
                &mut existing,
                &entity_ref,
                json,
                &hash,
                key.as_deref(),
                &mut inserts,
                &mut updates,
            ) {
                Ok(planned) => {
                    if planned != passes::Upsert::Same {
                        queue.push(entity_ref.clone());
                    }
                    accepted.push(entity_ref);
                }
                Err(other) => self.logger.log(
                    LogLevel::Warn,
                    &format!(
                        "entity conflicts with the same entity from {}; the first one is kept",
                        other.unwrap_or_default()
                    ),
                    &[("provider", provider), ("entity", &entity_ref)],
                ),
            }
        }
        store::insert_unprocessed(&mut tx, inserts, now).await?;
        store::update_unprocessed(&mut tx, updates, now).await?;
        // What the provider no longer emits goes, with its unreferenced subtree.
        let mut marks = StitchMarks::default();
        if full {
            let old = store::provider_targets(&mut tx, provider).await?;
            let keep: HashSet<&String> = accepted.iter().collect();
            for r in old.into_iter().filter(|r| !keep.contains(r)) {
                marks.delete_if_unreferenced(r);
            }
            store::delete_provider_refs(&mut tx, provider, None).await?;
        } else {
            let removed_refs: Vec<String> = removed.iter().map(|d| d.entity.ref_string()).collect();
            store::delete_provider_refs(&mut tx, provider, Some(&removed_refs)).await?;
            store::delete_provider_refs(&mut tx, provider, Some(&accepted)).await?;
            for r in removed_refs {
                marks.delete_if_unreferenced(r);
            }
        }
        marks.write(&mut tx).await?;
        store::insert_references(
            &mut tx,
            accepted
                .iter()
                .map(|r| (Some(provider.to_owned()), None, r.clone()))
                .collect(),
        )
        .await?;
        tx.commit().await.map_err(CatalogError::db("commit"))?;
        self.pass_locked(queue).await
    }

    /// Deletes one entity (by reference), on a task of its own. Its parents are due for
    /// processing at once, so one that still emits it brings it back (with a new uid) within
    /// a refresh tick, as Backstage does; its children become orphan candidates.
    pub(crate) async fn delete_entity(&self, entity_ref: &str) -> Result<(), CatalogError> {
        let entity_ref = entity_ref.to_owned();
        self.detached(move |engine| async move { engine.delete_entity_now(&entity_ref).await })
            .await
    }

    async fn delete_entity_now(&self, entity_ref: &str) -> Result<(), CatalogError> {
        let _guard = self.lock.lock().await;
        let parents: Vec<String> = store::parents_of(&self.db, entity_ref)
            .await?
            .into_iter()
            .flatten()
            .collect();
        let mut tx = self.begin().await?;
        store::reprocess_now(&mut tx, &parents, now_ms()).await?;
        let mut marks = StitchMarks::default();
        let mut removed = Vec::new();
        let target = [entity_ref.to_owned()];
        self.delete_now(&mut tx, &target, false, &mut marks, &mut removed)
            .await?;
        store::delete_where_in(
            &mut tx,
            "refresh_state_references",
            "target_entity_ref",
            &target,
            "delete references",
        )
        .await?;
        marks.write(&mut tx).await?;
        let generation =
            store::bump_generation(&mut tx, removed.iter().map(String::as_str)).await?;
        tx.commit().await.map_err(CatalogError::db("commit"))?;
        self.index.apply(Vec::new(), &removed, Some(generation));
        self.drain_stitch_queue().await.map(drop)
    }

    /// Processes an entity and its ancestors now, on a task of its own; `false` when there is
    /// no such entity.
    pub(crate) async fn refresh(&self, entity_ref: &str) -> Result<bool, CatalogError> {
        let entity_ref = entity_ref.to_owned();
        self.detached(move |engine| async move { engine.refresh_now(&entity_ref).await })
            .await
    }

    async fn refresh_now(&self, entity_ref: &str) -> Result<bool, CatalogError> {
        let mut chain = Vec::new();
        let mut todo = vec![entity_ref.to_owned()];
        let mut seen = HashSet::new();
        while let Some(r) = todo.pop() {
            if !seen.insert(r.clone()) {
                continue;
            }
            for p in store::parents_of(&self.db, &r).await?.into_iter().flatten() {
                todo.push(p);
            }
            chain.push(r);
        }
        let mut tx = self.begin().await?;
        let exists = !store::ids_of(&mut tx, &[entity_ref.to_owned()])
            .await?
            .is_empty();
        if exists {
            // Due now: should this pass be cut short, the next tick does it.
            store::reprocess_now(&mut tx, &chain, now_ms()).await?;
        }
        tx.commit().await.map_err(CatalogError::db("commit"))?;
        if !exists {
            return Ok(false);
        }
        chain.reverse();
        let _guard = self.lock.lock().await;
        self.pass_locked(chain).await?;
        Ok(true)
    }

    /// Processes `root` and what it emits in memory, without storing anything.
    pub(crate) async fn dry_run(
        &self,
        root: Entity,
    ) -> Result<(Vec<Value>, Vec<Value>), CatalogError> {
        let mut queue: VecDeque<(String, String)> = VecDeque::new();
        let json = serde_json::to_string(&root)
            .map_err(|e| CatalogError::input("entity", e.to_string()))?;
        queue.push_back((root.ref_string(), json));
        let mut seen = HashSet::new();
        let (mut entities, mut errors) = (Vec::new(), Vec::new());
        while let Some((entity_ref, json)) = queue.pop_front() {
            if !seen.insert(lower_ref(&entity_ref)) || entities.len() >= DRY_RUN_LIMIT {
                continue;
            }
            let id = uuid::Uuid::new_v4().to_string();
            let o = self.process(&id, &entity_ref, &json, None).await;
            errors.extend(o.errors.iter().map(ProcessingError::to_value));
            if let Some(p) = o.processed {
                entities.push(p);
            }
            for c in o.children {
                queue.push_back((c.entity_ref, c.json));
            }
        }
        Ok((entities, errors))
    }
}

#[async_trait::async_trait]
impl EntityMutationSink for Engine {
    async fn apply(
        &self,
        provider: &str,
        mutation: EntityProviderMutation,
    ) -> Result<(), BoxError> {
        self.apply_mutation(provider, mutation)
            .await
            .map_err(Into::into)
    }
}

/// A transaction just begun, with the catalog's connection settings applied.
async fn tuned(
    begun: Result<DbTransaction, crate::services::database::DatabaseError>,
) -> Result<DbTransaction, CatalogError> {
    let mut tx = begun.map_err(CatalogError::db("begin transaction"))?;
    store::tune(&mut tx).await?;
    Ok(tx)
}
