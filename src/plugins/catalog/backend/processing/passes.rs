//! Processing passes and their writes: which new entity versions are stored (and which
//! conflict), what a batch of outcomes changes in the tables, and the loop that processes
//! what changed until nothing does.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use futures::StreamExt as _;

use crate::services::database::{DbTransaction, Dialect};
use crate::services::logger::LogLevel;

use super::super::error::CatalogError;
use super::super::stitch_queue::StitchMarks;
use super::super::store::{self, ExistingRow, ProcessedWrite, StateRow, UnprocessedWrite};
use super::outcome::{Child, Outcome, ProcessingError};
use super::writer::{Writer, seal_fresh};
use super::{Engine, now_ms};

/// Entities processed per batch, by default (`catalog.processing.batchSize`).
pub(crate) const DEFAULT_BATCH_SIZE: usize = 1000;
/// Children emitted by a batch's outcomes that are held before those outcomes are written,
/// by default (`catalog.processing.maxBufferedChildren`).
pub(crate) const DEFAULT_MAX_BUFFERED_CHILDREN: usize = 5000;
/// Entities processed at the same time.
pub(super) const CONCURRENCY: usize = 16;
/// How many times one entity may be processed in one pass (guards against emit loops).
const MAX_VISITS: u32 = 3;

/// What a new version of an entity does to its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Upsert {
    /// There was no row: one is inserted.
    New,
    /// The row holds another version: it is updated and processed again.
    Changed,
    /// The row holds this version already.
    Same,
}

/// The children's rows a batch writes.
#[derive(Default)]
struct ChildPlan {
    /// New rows, inserted unprocessed.
    inserts: Vec<UnprocessedWrite>,
    /// Changed rows.
    updates: Vec<UnprocessedWrite>,
}

/// An entity processed before its row was stored (see `Engine::process_ahead`): the row it
/// gets, should there still be none when it is written, and its outcome.
pub(crate) struct Fresh {
    pub(super) row: UnprocessedWrite,
    pub(super) outcome: Outcome,
}

impl Engine {
    /// Decides what to do with a new version of an entity: a new row goes to `inserts`, a
    /// changed one to `updates`. `Err` holds the location key of the row it conflicts with.
    pub(super) fn plan_upsert(
        existing: &mut HashMap<String, ExistingRow>,
        entity_ref: &str,
        json: String,
        hash: &str,
        location_key: Option<&str>,
        inserts: &mut Vec<UnprocessedWrite>,
        updates: &mut Vec<UnprocessedWrite>,
    ) -> Result<Upsert, Option<String>> {
        match existing.get_mut(entity_ref) {
            None => {
                // Time-ordered (v7): ids made together sort together, so the indexes keyed by
                // entity id (`refresh_state`, `final_entities`, `relations`, the change log)
                // grow at their end instead of dirtying a random page per row.
                let entity_id = uuid::Uuid::now_v7().to_string();
                existing.insert(
                    entity_ref.to_owned(),
                    ExistingRow {
                        entity_id: entity_id.clone(),
                        location_key: location_key.map(str::to_owned),
                        unprocessed_hash: hash.to_owned(),
                    },
                );
                inserts.push(UnprocessedWrite {
                    entity_id,
                    entity_ref: entity_ref.to_owned(),
                    unprocessed: json,
                    unprocessed_hash: hash.to_owned(),
                    location_key: location_key.map(str::to_owned),
                });
                Ok(Upsert::New)
            }
            Some(row) => {
                if let (Some(old), Some(new)) = (row.location_key.as_deref(), location_key) {
                    if old != new {
                        return Err(Some(old.to_owned()));
                    }
                }
                if row.unprocessed_hash == hash {
                    return Ok(Upsert::Same);
                }
                row.unprocessed_hash = hash.to_owned();
                if location_key.is_some() {
                    row.location_key = location_key.map(str::to_owned);
                }
                updates.push(UnprocessedWrite {
                    entity_id: row.entity_id.clone(),
                    entity_ref: entity_ref.to_owned(),
                    unprocessed: json,
                    unprocessed_hash: hash.to_owned(),
                    location_key: row.location_key.clone(),
                });
                Ok(Upsert::Changed)
            }
        }
    }

    /// Plans the rows of the children `o` emitted (nothing when its processing failed) and
    /// returns the refs it emits. New and changed children are queued for processing.
    fn plan_children(
        &self,
        o: &mut Outcome,
        existing: &mut HashMap<String, ExistingRow>,
        plan: &mut ChildPlan,
        queue: &mut VecDeque<String>,
    ) -> Vec<String> {
        let mut refs = Vec::new();
        if !o.succeeded() {
            return refs;
        }
        let mut seen = HashSet::new();
        for c in &mut o.children {
            if !seen.insert(c.entity_ref.clone()) {
                continue;
            }
            // The text moves to the write; the ref and hash stay for the result hash.
            match Self::plan_upsert(
                existing,
                &c.entity_ref,
                std::mem::take(&mut c.json),
                &c.hash,
                Some(&c.location_key),
                &mut plan.inserts,
                &mut plan.updates,
            ) {
                Ok(planned) => {
                    if planned != Upsert::Same {
                        queue.push_back(c.entity_ref.clone());
                    }
                    refs.push(c.entity_ref.clone());
                }
                Err(other) => {
                    let message = format!(
                        "entity {} from {} conflicts with the same entity from {}; the first one is kept",
                        c.entity_ref,
                        c.location_key,
                        other.unwrap_or_default()
                    );
                    self.logger.log(
                        LogLevel::Warn,
                        &message,
                        &[("entity", &c.entity_ref), ("location", &c.location_key)],
                    );
                    o.errors
                        .push(ProcessingError::new("ConflictError", message));
                    // The error is part of the result hash.
                    o.hash = None;
                }
            }
        }
        refs
    }

    /// Writes a batch of sealed outcomes ([`Outcome::seal`]) in `tx`, after the entities in
    /// `fresh` that still have no row (the others are dropped: the write of the outcome that
    /// emitted them plans them as usual).
    ///
    /// A fresh entity's row is inserted processed, with its relations and references, but it
    /// is not marked for stitching: until the outcome that emitted it is written, with the
    /// reference that keeps it from being an orphan, no drain may stitch it. That write marks
    /// every child of an entity processed for the first time. Should the process stop
    /// between the two, the parent is still due, never processed, and its next processing
    /// finds the rows and marks them.
    async fn write_batch(
        &self,
        tx: &mut DbTransaction,
        mut outcomes: Vec<Outcome>,
        fresh: Vec<Fresh>,
        queue: &mut VecDeque<String>,
        lock_late: bool,
    ) -> Result<(), CatalogError> {
        let now = now_ms();
        // Another process may have deleted a row since it was read: that outcome is dropped,
        // since writing it would leave relations and references that nothing deletes.
        let ids: Vec<String> = outcomes.iter().map(|o| o.entity_id.clone()).collect();
        let gone = store::gone(tx, &ids).await?;
        drop(ids);
        outcomes.retain(|o| !gone.contains(&o.entity_id));
        // What this batch changes for stitching, queued in the same transaction.
        let mut marks = StitchMarks::default();
        // The fresh entities, the children of every outcome.
        let child_refs: Vec<String> = fresh
            .iter()
            .map(|f| &f.row.entity_ref)
            .chain(
                outcomes
                    .iter()
                    .chain(fresh.iter().map(|f| &f.outcome))
                    .flat_map(|o| &o.children)
                    .map(|c| &c.entity_ref),
            )
            .cloned()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut existing = store::existing_rows(tx, &child_refs).await?;
        drop(child_refs);
        // Fresh entities first: they come before the outcome that emitted them.
        let mut fresh_rows = Vec::with_capacity(fresh.len());
        let first_fresh = outcomes.len();
        for f in fresh {
            if existing.contains_key(&f.row.entity_ref) {
                continue;
            }
            existing.insert(
                f.row.entity_ref.clone(),
                ExistingRow {
                    entity_id: f.row.entity_id.clone(),
                    location_key: f.row.location_key.clone(),
                    unprocessed_hash: f.row.unprocessed_hash.clone(),
                },
            );
            fresh_rows.push(f.row);
            outcomes.push(f.outcome);
        }
        let mut plan = ChildPlan::default();
        let mut accepted: Vec<Vec<String>> = Vec::with_capacity(outcomes.len());
        // In queue order (earlier emitters win conflicts), then the fresh ones.
        for o in &mut outcomes {
            accepted.push(self.plan_children(o, &mut existing, &mut plan, queue));
        }
        drop(existing);
        store::insert_unprocessed(tx, plan.inserts, now).await?;
        store::update_unprocessed(tx, plan.updates, now).await?;
        let mut fresh_rows = fresh_rows.into_iter();
        let mut fresh_writes = Vec::new();

        let mut changed_ok_ids = Vec::new();
        let mut changed_ok_refs = Vec::new();
        let mut new_relations = Vec::new();
        let mut new_references = Vec::new();
        let mut new_targets: HashMap<String, HashSet<String>> = HashMap::new();
        let mut keep_old: HashSet<String> = HashSet::new();
        let mut processed_rows = Vec::new();
        // Succeeded outcomes of entities processed for the first time.
        let mut first_refs: Vec<String> = Vec::new();
        // Outcomes that changed nothing only become due again; the rest do in their update.
        let mut unchanged_ids = Vec::new();
        for (i, (o, refs)) in outcomes.iter_mut().zip(accepted).enumerate() {
            let is_fresh = i >= first_fresh;
            let processed = o.processed_json.take();
            // Cleared above when a conflict added an error.
            let hash = match o.hash.take() {
                Some(hash) => hash,
                None => o.result_hash(processed.as_deref()),
            };
            if o.old_hash.as_deref() == Some(hash.as_str()) {
                unchanged_ids.push(o.entity_id.clone());
                continue;
            }
            let errors = if o.errors.is_empty() {
                None
            } else {
                Some(o.errors_json())
            };
            let succeeded = processed.is_some();
            let mut own = Vec::new();
            if !is_fresh {
                marks.stitch(o.entity_ref.clone());
            }
            if succeeded {
                // A row new in this batch has no relations or references to replace.
                if is_fresh {
                    first_refs.push(o.entity_ref.clone());
                } else {
                    changed_ok_ids.push(o.entity_id.clone());
                    changed_ok_refs.push(o.entity_ref.clone());
                }
                // Relations about the entity itself are stored with it; the rest get a row
                // each, found by their source when that entity is stitched.
                for r in &o.relations {
                    if r.source == o.entity_ref {
                        own.push((r.relation_type.as_str(), r.target.as_str()));
                        continue;
                    }
                    marks.stitch(r.source.clone());
                    new_relations.push((
                        o.entity_id.clone(),
                        r.source.clone(),
                        r.relation_type.clone(),
                        r.target.clone(),
                    ));
                }
                if o.read_failed {
                    keep_old.insert(o.entity_ref.clone());
                }
                new_targets.insert(o.entity_ref.clone(), refs.into_iter().collect());
            }
            // `[[type, target], …]`: a pair serialises as a two-item array.
            let relations = if own.is_empty() {
                None
            } else {
                serde_json::to_string(&own).ok()
            };
            let row = ProcessedWrite {
                entity_id: o.entity_id.clone(),
                processed,
                result_hash: hash,
                errors,
                relations,
            };
            // One row for each fresh outcome, in their order.
            let unprocessed = if is_fresh { fresh_rows.next() } else { None };
            match unprocessed {
                Some(unprocessed) => fresh_writes.push((unprocessed, row)),
                None => processed_rows.push(row),
            }
        }
        // Entities processed for the first time (all of a first ingestion) have no relations
        // or references to replace: one read spares the four statements that would find none.
        let before = store::processed_before(tx, &changed_ok_ids).await?;
        let (mut old_ids, mut old_refs) = (Vec::new(), Vec::new());
        for (id, r) in changed_ok_ids.iter().zip(&changed_ok_refs) {
            if before.contains(id) {
                old_ids.push(id.clone());
                old_refs.push(r.clone());
            } else {
                first_refs.push(r.clone());
            }
        }
        drop(before);
        // An entity processed for the first time has every child stitched: a child written
        // fresh is stitched only from here (see above), and one an earlier parent left as an
        // orphan is one no longer.
        for r in &first_refs {
            if let Some(targets) = new_targets.get(r) {
                marks.stitch_all(targets.iter().cloned());
            }
        }
        let next_update = self.next_update();
        store::insert_processed(tx, fresh_writes, next_update).await?;
        store::update_processed_many(tx, processed_rows, next_update).await?;
        if !new_targets.is_empty() {
            marks.stitch_all(store::relation_sources_of(tx, &old_ids).await?);
            store::delete_where_in(
                tx,
                "relations",
                "originating_entity_id",
                &old_ids,
                "replace relations",
            )
            .await?;
            store::insert_relations(tx, new_relations).await?;
            for (source, target) in store::reference_targets(tx, &old_refs).await? {
                let Some(targets) = new_targets.get_mut(&source) else {
                    continue;
                };
                if keep_old.contains(&source) {
                    targets.insert(target);
                } else if !targets.contains(&target) {
                    // No longer emitted: an orphan unless another parent emits it.
                    marks.stitch(target);
                }
            }
            for (source, targets) in new_targets {
                for target in targets {
                    new_references.push((None, Some(source.clone()), target));
                }
            }
            store::delete_where_in(
                tx,
                "refresh_state_references",
                "source_entity_ref",
                &old_refs,
                "replace references",
            )
            .await?;
            store::insert_references(tx, new_references).await?;
        }
        store::set_next_update(tx, &unchanged_ids, next_update).await?;
        if lock_late {
            store::lock_writers(tx).await?;
        }
        marks.write(tx).await
    }

    /// Writes outcomes in a transaction of their own; returns the refs whose unprocessed
    /// entity changed (to process next).
    pub(super) async fn write_outcomes(
        &self,
        outcomes: Vec<Outcome>,
        fresh: Vec<Fresh>,
    ) -> Result<VecDeque<String>, CatalogError> {
        let mut changed = VecDeque::new();
        if outcomes.is_empty() && fresh.is_empty() {
            return Ok(changed);
        }
        // Outcomes come sealed from the pass; sealing again only guards the invariant.
        let outcomes: Vec<Outcome> = outcomes.into_iter().map(Outcome::seal).collect();
        let fresh = seal_fresh(fresh);
        let mut tx = self.begin().await?;
        if outcomes.is_empty() {
            // Only children processed ahead of their parent: see `store::commit_lazily`.
            store::commit_lazily(&mut tx).await?;
        }
        self.write_batch(&mut tx, outcomes, fresh, &mut changed, false)
            .await?;
        tx.commit().await.map_err(CatalogError::db("commit"))?;
        self.checkpoint_beside_writer();
        Ok(changed)
    }

    /// Whether a write of `outcomes` and `fresh` may run beside another such write (see
    /// [`Engine::write_fresh_beside`]): on PostgreSQL, for children processed ahead of their
    /// parent that emit nothing themselves (nearly every entity of a location file).
    pub(super) fn writes_beside(&self, outcomes: &[Outcome], fresh: &[Fresh]) -> bool {
        outcomes.is_empty()
            && !fresh.is_empty()
            && self.db.dialect() == Dialect::Postgres
            && fresh.iter().all(|f| f.outcome.children.is_empty())
    }

    /// Writes children processed ahead of their parent that emit nothing, taking the writer
    /// lock only for their stitch marks, last: the rows, relations and references, most of
    /// the work, go in beside the writes of other transactions (two such writes of a pass at
    /// a time, on two server processes).
    ///
    /// Without the lock, what it read of other rows (which of its refs are stored already)
    /// may change before it commits. A row another transaction inserts for one of its refs
    /// makes its own insert fail on the unique ref. A row deleted meanwhile only means a
    /// child it left to its parent's write, which plans it under the lock as before. The
    /// relations and references it inserts are its own entities', which nothing else writes,
    /// and the marks of the entities its relations point at are written under the lock, as
    /// everywhere: a drain that stitched one of them before this commit did not see the new
    /// relations, and the mark queues it again.
    ///
    /// Any failure (that conflict, a lock it waited for too long, a deadlock) leaves these
    /// children to the usual path: the write is rolled back and nothing is returned, and the
    /// parent's write, which comes after, inserts each child that has no row unprocessed and
    /// queues it, as for a parent with few children.
    pub(super) async fn write_fresh_beside(
        &self,
        fresh: Vec<Fresh>,
    ) -> Result<VecDeque<String>, CatalogError> {
        let fresh = seal_fresh(fresh);
        let count = fresh.len();
        let mut changed = VecDeque::new();
        let written = async {
            let mut tx = self.begin_unlocked().await?;
            store::commit_lazily(&mut tx).await?;
            self.write_batch(&mut tx, Vec::new(), fresh, &mut changed, true)
                .await?;
            tx.commit().await.map_err(CatalogError::db("commit"))
        };
        if let Err(e) = written.await {
            self.logger.log(
                LogLevel::Info,
                "children processed ahead of their parent were not written; they take the usual path",
                &[("children", &count.to_string()), ("error", &e.to_string())],
            );
            return Ok(VecDeque::new());
        }
        Ok(changed)
    }

    /// How many children an entity processed for the first time must emit for the pass to
    /// store them processed ([`Engine::write_ahead`]): a quarter of a batch. Each batch of
    /// children is a write of its own, and the outcomes held before them are written first,
    /// so below that the transactions it adds would cost more than the rows it saves (a
    /// catalog of many small location files, one or two entities each, takes the usual
    /// path: children inserted unprocessed with their parent's outcome).
    fn ahead_min_children(&self) -> usize {
        (self.options.batch_size / 4).max(1)
    }

    /// Processes the children of `parent`, an entity processed for the first time, and
    /// writes them processed, a batch (`catalog.processing.batchSize`) per transaction: each
    /// batch is written while the next one is processed (on PostgreSQL, up to two batches
    /// are written at a time: [`Engine::write_fresh_beside`]). The children are distinct refs in
    /// the order `parent` emitted them. `parent`'s own outcome is written after them (see
    /// [`Engine::write_batch`]). Returns how many were processed.
    async fn write_ahead(
        &self,
        parent: &Outcome,
        writer: &mut Writer,
        queue: &mut VecDeque<String>,
    ) -> Result<usize, CatalogError> {
        if !parent.succeeded() {
            return Ok(0);
        }
        let mut seen = HashSet::new();
        let children: Vec<&Child> = parent
            .children
            .iter()
            .filter(|c| seen.insert(c.entity_ref.as_str()))
            .collect();
        // The first batch is a quarter of the others (the least a parent takes this path
        // for), so that the first write starts after a quarter of a batch's processing
        // instead of a whole one's.
        let size = self.options.batch_size.max(1);
        let (first, rest) = children.split_at(self.ahead_min_children().min(children.len()));
        for chunk in std::iter::once(first).chain(rest.chunks(size)) {
            let fresh = self.process_ahead(chunk).await;
            writer.start(self, Vec::new(), fresh, queue).await?;
        }
        Ok(children.len())
    }

    // ---------------------------------------------------------------- passes

    /// Processes `initial` and everything that changes because of it, then drains the stitch
    /// queue (orphans, deletions, final entities). Callers hold the lock.
    ///
    /// Nothing of a pass lives only in memory: each batch commits its results together with
    /// the stitch marks they call for and the children it found (due at once), so a pass cut
    /// short anywhere is finished by the next one.
    pub(super) async fn pass_locked(&self, initial: Vec<String>) -> Result<(), CatalogError> {
        let started = std::time::Instant::now();
        let (mut process_time, mut write_time, mut processed) =
            (Duration::ZERO, Duration::ZERO, 0usize);
        let mut queue: VecDeque<String> = initial.into();
        let mut visits: HashMap<String, u32> = HashMap::new();
        let mut writer = Writer::default();
        loop {
            if queue.is_empty() {
                // What the write in flight changes is the rest of the pass.
                let w = std::time::Instant::now();
                writer.wait(&mut queue).await?;
                write_time += w.elapsed();
                if queue.is_empty() {
                    break;
                }
            }
            let batch_size = self.options.batch_size.max(1);
            let mut batch = Vec::with_capacity(batch_size);
            let mut in_batch = HashSet::new();
            while batch.len() < batch_size {
                let Some(r) = queue.pop_front() else { break };
                let v = visits.entry(r.clone()).or_insert(0);
                if *v >= MAX_VISITS || !in_batch.insert(r.clone()) {
                    continue;
                }
                *v += 1;
                batch.push(r);
            }
            if batch.is_empty() {
                continue;
            }
            // A read: it does not wait for the write in flight.
            let mut tx = self.begin_read().await?;
            let mut rows: Vec<StateRow> = store::load_state_rows(&mut tx, &batch).await?;
            // Keep queue order: earlier emitters win conflicts.
            let position: HashMap<&String, usize> =
                batch.iter().enumerate().map(|(i, r)| (r, i)).collect();
            rows.sort_by_key(|r| position.get(&r.entity_ref).copied().unwrap_or(usize::MAX));
            tx.commit().await.map_err(CatalogError::db("commit"))?;
            let mut t = std::time::Instant::now();
            processed += rows.len();
            // Outcomes are written in order, and as soon as the children they emitted reach
            // the budget. Entities run up to CONCURRENCY at a time, but the window starts at
            // one and only widens while outcomes emit few children: a batch of locations
            // that emit thousands of entities each is read one location at a time, so it
            // never holds them all.
            let mut outcomes: Vec<Outcome> = Vec::new();
            let mut buffered = 0usize;
            let mut window = 1usize;
            let few = (self.options.max_buffered_children / CONCURRENCY).max(1);
            let mut rows = rows.into_iter();
            let mut running = futures::stream::FuturesOrdered::new();
            loop {
                while running.len() < window {
                    let Some(r) = rows.next() else { break };
                    running.push_back(async move {
                        let o = self
                            .process(&r.entity_id, &r.entity_ref, &r.unprocessed, r.result_hash)
                            .await
                            .seal();
                        (o, r.first)
                    });
                }
                let Some((o, first)) = running.next().await else {
                    break;
                };
                if first && o.children.len() >= self.ahead_min_children() {
                    // Earlier outcomes first: they win conflicts over these children.
                    writer
                        .start(self, std::mem::take(&mut outcomes), Vec::new(), &mut queue)
                        .await?;
                    buffered = 0;
                    // Mostly processing: each batch's write runs beside the next one's.
                    processed += self.write_ahead(&o, &mut writer, &mut queue).await?;
                }
                buffered += o.children.len();
                window = if o.children.len() >= few {
                    1
                } else {
                    (window * 2).min(CONCURRENCY)
                };
                outcomes.push(o);
                if buffered >= self.options.max_buffered_children {
                    process_time += t.elapsed();
                    let w = std::time::Instant::now();
                    writer
                        .start(self, std::mem::take(&mut outcomes), Vec::new(), &mut queue)
                        .await?;
                    // At the budget: finish the write before holding more.
                    writer.wait(&mut queue).await?;
                    write_time += w.elapsed();
                    buffered = 0;
                    t = std::time::Instant::now();
                }
            }
            drop(running);
            process_time += t.elapsed();
            let t = std::time::Instant::now();
            writer.start(self, outcomes, Vec::new(), &mut queue).await?;
            if buffered * 2 >= self.options.max_buffered_children {
                // The next batch would hold another budget's worth beside this one.
                writer.wait(&mut queue).await?;
            }
            write_time += t.elapsed();
        }
        // No write is in flight here: the loop ends only after waiting for the last one.
        // Free the per-pass bookkeeping before stitching grows the index.
        drop(visits);
        drop(queue);
        let t = std::time::Instant::now();
        let stitched = self.drain_stitch_queue().await?;
        if processed > 0 || stitched > 0 {
            let ms = |d: Duration| d.as_millis().to_string();
            self.logger.log(
                LogLevel::Debug,
                "catalog processing pass finished",
                &[
                    ("processed", &processed.to_string()),
                    ("stitched", &stitched.to_string()),
                    ("process_ms", &ms(process_time)),
                    ("write_ms", &ms(write_time)),
                    ("stitch_ms", &ms(t.elapsed())),
                    ("total_ms", &ms(started.elapsed())),
                ],
            );
        }
        Ok(())
    }
}
