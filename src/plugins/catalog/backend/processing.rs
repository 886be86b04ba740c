//! The processing engine: provider mutations, processing passes, conflicts, orphans, and the
//! hand-over to stitching.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures::StreamExt as _;
use serde_json::{Value, json};

use crate::backend::BoxError;
use crate::plugins::catalog::common::{
    ANNOTATION_LOCATION, ANNOTATION_ORIGIN_LOCATION, Entity, KnownKind,
    STATUS_TYPE_CATALOG_PROCESSING, relations_from_spec, sort_spec_ref_lists, validate_entity,
    validate_envelope,
};
use crate::plugins::catalog::node::Emitter;
use crate::plugins::catalog::node::{
    CatalogProcessor, EntityMutationSink, EntityProviderMutation, LocationSpec, ProcessingOutput,
    ProcessorError,
};
use crate::services::database::{DbTransaction, PluginDatabase};

use super::error::{CatalogError, chain};
use super::index::EntityIndex;
use super::locations::{RulesEnforcer, location_entity_targets, sha1_hex};
use super::read::{LocationReader, YamlLocationProcessor, resolve_placeholders};
use super::stitch_queue::StitchMarks;
use super::store::{self, ExistingRow, StateRow, UnprocessedWrite};

/// Entities processed per batch (one transaction each).
const BATCH: usize = 1000;
/// How many times one entity may be processed in one pass (guards against emit loops).
const MAX_VISITS: u32 = 3;
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
}

/// A child entity emitted while processing.
#[derive(Debug, Clone)]
struct Child {
    entity_ref: String,
    json: String,
    hash: String,
    location_key: String,
}

/// The outcome of processing one entity.
#[derive(Debug)]
pub(crate) struct Outcome {
    entity_id: String,
    entity_ref: String,
    old_hash: Option<String>,
    /// The processed entity, `None` when processing failed.
    pub(crate) processed: Option<Value>,
    errors: Vec<Value>,
    relations: Vec<(String, String, String)>,
    children: Vec<Child>,
    /// A location could not be read completely: earlier children are kept, not orphaned.
    read_failed: bool,
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
    me: Weak<Engine>,
    /// The in-memory read model every query is answered from.
    pub(crate) index: Arc<EntityIndex>,
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

fn status_error(name: &str, message: &str) -> Value {
    json!({
        "type": STATUS_TYPE_CATALOG_PROCESSING,
        "level": "error",
        "message": format!("{name}: {message}"),
        "error": { "name": name, "message": message },
    })
}

fn processor_error_item(err: &ProcessorError) -> Value {
    let name = match err {
        ProcessorError::Invalid { .. } => "InputError",
        ProcessorError::NotFound { .. } => "NotFoundError",
        _ => "Error",
    };
    status_error(name, &chain(err))
}

/// The order processors run in (Backstage's `CatalogBuilder` sorts the same way): by
/// [`CatalogProcessor::priority`], lowest first; the sort is stable, so equal priorities keep
/// their order, built-in processors before the ones modules added.
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
        })
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

    pub(super) async fn begin(&self) -> Result<DbTransaction, CatalogError> {
        let mut tx = self
            .db
            .begin()
            .await
            .map_err(CatalogError::db("begin transaction"))?;
        store::tune(&mut tx).await?;
        Ok(tx)
    }

    // ---------------------------------------------------------------- processing one entity

    /// Processes one unprocessed entity: placeholders, processors, validation, location
    /// reading, relations.
    pub(crate) async fn process(
        &self,
        entity_id: &str,
        entity_ref: &str,
        unprocessed: &str,
        old_hash: Option<String>,
    ) -> Outcome {
        let mut out = Outcome {
            entity_id: entity_id.to_owned(),
            entity_ref: entity_ref.to_owned(),
            old_hash,
            processed: None,
            errors: Vec::new(),
            relations: Vec::new(),
            children: Vec::new(),
            read_failed: false,
        };
        let mut value: Value = match serde_json::from_str(unprocessed) {
            Ok(v) => v,
            Err(e) => {
                out.errors.push(status_error(
                    "InputError",
                    &format!("stored entity is not JSON: {e}"),
                ));
                return out;
            }
        };
        let own_location = value
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(ANNOTATION_LOCATION))
            .and_then(Value::as_str)
            .and_then(|l| l.split_once(':'))
            .map(|(t, target)| LocationSpec::new(t, target))
            .unwrap_or_else(|| LocationSpec::new("unknown", entity_ref));
        if let Err(message) = resolve_placeholders(&mut value, &own_location, &self.reader).await {
            out.errors.push(status_error("InputError", &message));
            return out;
        }
        let mut entity: Entity = match serde_json::from_value(value) {
            Ok(e) => e,
            Err(e) => {
                out.errors.push(status_error(
                    "InputError",
                    &format!(
                        "invalid entity {entity_ref}: {}",
                        super::yaml::redact(&e.to_string())
                    ),
                ));
                return out;
            }
        };
        let mut emit = Emitter::default();
        for p in &self.processors {
            match p
                .pre_process(entity.clone(), &own_location, &mut emit)
                .await
            {
                Ok(e) => entity = e,
                Err(err) => {
                    out.errors.push(processor_error_item(&err));
                    return out;
                }
            }
        }
        if let Err(e) = self.validate(&entity, &own_location).await {
            out.errors.push(e);
            return out;
        }
        let self_ref = entity.to_ref();
        let self_ref_string = self_ref.to_string();
        if entity.kind.eq_ignore_ascii_case("location") {
            match location_entity_targets(&entity) {
                Ok((targets, optional)) => {
                    let before = out.errors.len();
                    for target in targets {
                        match target {
                            Ok(target) => {
                                self.read_location(&target, optional, &mut emit, &mut out.errors)
                                    .await;
                            }
                            Err(message) => {
                                out.errors.push(status_error("NotAllowedError", &message));
                            }
                        }
                    }
                    out.read_failed |= out.errors.len() > before;
                }
                Err(message) => out.errors.push(status_error("InputError", &message)),
            }
        }
        match relations_from_spec(&entity) {
            Ok(rels) => {
                sort_spec_ref_lists(&mut entity);
                for r in rels {
                    let target = r.target.to_string();
                    out.relations.push((
                        self_ref_string.clone(),
                        r.relation_type.to_owned(),
                        target.clone(),
                    ));
                    out.relations.push((
                        target,
                        r.reverse_type.to_owned(),
                        self_ref_string.clone(),
                    ));
                }
            }
            Err(e) => {
                out.errors.push(status_error("InputError", &e.to_string()));
                return out;
            }
        }
        for p in &self.processors {
            match p
                .post_process(entity.clone(), &own_location, &mut emit)
                .await
            {
                Ok(e) => entity = e,
                Err(err) => {
                    out.errors.push(processor_error_item(&err));
                    return out;
                }
            }
        }
        // Everything emitted along the way.
        let origin = entity
            .metadata
            .annotation(ANNOTATION_ORIGIN_LOCATION)
            .map(str::to_owned)
            .unwrap_or_else(|| own_location.to_string());
        let mut pending: VecDeque<ProcessingOutput> = emit.take().into();
        while let Some(output) = pending.pop_front() {
            match output {
                ProcessingOutput::Entity {
                    mut entity,
                    location,
                } => {
                    if !self.options.rules.is_allowed(&entity.kind, &location) {
                        out.errors.push(status_error(
                            "NotAllowedError",
                            &format!(
                                "entity {} of kind {} is not allowed from location {location}; see catalog.rules",
                                entity.ref_string(),
                                entity.kind
                            ),
                        ));
                        continue;
                    }
                    let key = location.to_string();
                    entity
                        .metadata
                        .annotations
                        .insert(ANNOTATION_LOCATION.into(), key.clone());
                    entity
                        .metadata
                        .annotations
                        .insert(ANNOTATION_ORIGIN_LOCATION.into(), origin.clone());
                    entity.metadata.uid = None;
                    entity.metadata.etag = None;
                    entity.relations = None;
                    entity.status = None;
                    match serde_json::to_string(&entity) {
                        Ok(json) => out.children.push(Child {
                            entity_ref: entity.ref_string(),
                            hash: sha1_hex(json.as_bytes()),
                            json,
                            location_key: key,
                        }),
                        Err(e) => out.errors.push(status_error("InputError", &e.to_string())),
                    }
                }
                ProcessingOutput::Location(location) => {
                    let mut more = Emitter::default();
                    let before = out.errors.len();
                    self.read_location(&location, false, &mut more, &mut out.errors)
                        .await;
                    out.read_failed |= out.errors.len() > before;
                    pending.extend(more.take());
                }
                ProcessingOutput::Relation(r) => out.relations.push((
                    r.source.to_string(),
                    r.relation_type,
                    r.target.to_string(),
                )),
                ProcessingOutput::Error { message, location } => {
                    out.read_failed = true;
                    out.errors.push(status_error(
                        "InputError",
                        &format!("{message} (at {location})"),
                    ));
                }
            }
        }
        entity.metadata.uid = Some(entity_id.to_owned());
        entity.metadata.etag = None;
        entity.relations = None;
        entity.status = None;
        match serde_json::to_value(&entity) {
            Ok(v) => out.processed = Some(v),
            Err(e) => out.errors.push(status_error("Error", &e.to_string())),
        }
        out
    }

    async fn validate(&self, entity: &Entity, location: &LocationSpec) -> Result<(), Value> {
        let known = KnownKind::parse(&entity.kind).is_some();
        let checked = if known {
            validate_entity(entity)
        } else {
            validate_envelope(entity)
        };
        if let Err(e) = checked {
            return Err(status_error("InputError", &e.to_string()));
        }
        let mut handled = known;
        for p in &self.processors {
            match p.validate(entity, location).await {
                Ok(true) => handled = true,
                Ok(false) => {}
                Err(err) => return Err(processor_error_item(&err)),
            }
        }
        if handled {
            Ok(())
        } else {
            Err(status_error(
                "InputError",
                &format!(
                    "no processor recognized entity {} of kind {} and apiVersion {}",
                    entity.ref_string(),
                    entity.kind,
                    entity.api_version
                ),
            ))
        }
    }

    async fn read_location(
        &self,
        location: &LocationSpec,
        optional: bool,
        emit: &mut Emitter,
        errors: &mut Vec<Value>,
    ) {
        for p in &self.processors {
            match p.read_location(location, optional, emit).await {
                Ok(true) => return,
                Ok(false) => {}
                Err(err) => {
                    errors.push(processor_error_item(&err));
                    return;
                }
            }
        }
        errors.push(status_error(
            "InputError",
            &format!("no processor is able to read location {location}"),
        ));
    }

    // ---------------------------------------------------------------- writes

    /// Decides what to do with a new version of an entity.
    fn plan_upsert(
        existing: &mut HashMap<String, ExistingRow>,
        entity_ref: &str,
        json: &str,
        hash: &str,
        location_key: Option<&str>,
        inserts: &mut Vec<UnprocessedWrite>,
        updates: &mut Vec<UnprocessedWrite>,
    ) -> Result<bool, Option<String>> {
        match existing.get_mut(entity_ref) {
            None => {
                let entity_id = uuid::Uuid::new_v4().to_string();
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
                    unprocessed: json.to_owned(),
                    unprocessed_hash: hash.to_owned(),
                    location_key: location_key.map(str::to_owned),
                });
                Ok(true)
            }
            Some(row) => {
                if let (Some(old), Some(new)) = (row.location_key.as_deref(), location_key) {
                    if old != new {
                        return Err(Some(old.to_owned()));
                    }
                }
                if row.unprocessed_hash == hash {
                    return Ok(false);
                }
                row.unprocessed_hash = hash.to_owned();
                if location_key.is_some() {
                    row.location_key = location_key.map(str::to_owned);
                }
                updates.push(UnprocessedWrite {
                    entity_id: row.entity_id.clone(),
                    entity_ref: entity_ref.to_owned(),
                    unprocessed: json.to_owned(),
                    unprocessed_hash: hash.to_owned(),
                    location_key: row.location_key.clone(),
                });
                Ok(true)
            }
        }
    }

    fn result_hash(o: &Outcome) -> String {
        let mut s = String::new();
        if let Some(p) = &o.processed {
            s.push_str(&p.to_string());
        }
        s.push('\u{1}');
        s.push_str(&Value::Array(o.errors.clone()).to_string());
        for (a, b, c) in &o.relations {
            s.push_str(&format!("\u{1}{a} {b} {c}"));
        }
        for c in &o.children {
            s.push_str(&format!("\u{2}{} {}", c.entity_ref, c.hash));
        }
        sha1_hex(s.as_bytes())
    }

    async fn write_batch(
        &self,
        tx: &mut DbTransaction,
        mut outcomes: Vec<Outcome>,
        queue: &mut VecDeque<String>,
    ) -> Result<(), CatalogError> {
        let now = now_ms();
        // What this batch changes for stitching, queued in the same transaction.
        let mut marks = StitchMarks::default();
        let child_refs: Vec<String> = outcomes
            .iter()
            .flat_map(|o| o.children.iter().map(|c| c.entity_ref.clone()))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut existing = store::existing_rows(tx, &child_refs).await?;
        let (mut inserts, mut updates) = (Vec::new(), Vec::new());
        let mut accepted: Vec<Vec<String>> = Vec::with_capacity(outcomes.len());
        for o in &mut outcomes {
            let mut refs = Vec::new();
            let mut seen = HashSet::new();
            if o.processed.is_some() {
                for c in &o.children {
                    if !seen.insert(c.entity_ref.clone()) {
                        continue;
                    }
                    match Self::plan_upsert(
                        &mut existing,
                        &c.entity_ref,
                        &c.json,
                        &c.hash,
                        Some(&c.location_key),
                        &mut inserts,
                        &mut updates,
                    ) {
                        Ok(changed) => {
                            if changed {
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
                            tracing::warn!(entity = %c.entity_ref, location = %c.location_key, "{message}");
                            o.errors.push(status_error("ConflictError", &message));
                        }
                    }
                }
            }
            accepted.push(refs);
        }
        store::insert_unprocessed(tx, inserts, now).await?;
        store::update_unprocessed(tx, updates, now).await?;

        let mut changed_ok_ids = Vec::new();
        let mut changed_ok_refs = Vec::new();
        let mut new_relations = Vec::new();
        let mut new_references = Vec::new();
        let mut new_targets: HashMap<String, HashSet<String>> = HashMap::new();
        let mut keep_old: HashSet<String> = HashSet::new();
        let mut processed_rows = Vec::new();
        for (o, refs) in outcomes.iter().zip(accepted) {
            let hash = Self::result_hash(o);
            if o.old_hash.as_deref() == Some(hash.as_str()) {
                continue;
            }
            let errors = if o.errors.is_empty() {
                None
            } else {
                Some(Value::Array(o.errors.clone()).to_string())
            };
            let processed = o.processed.as_ref().map(Value::to_string);
            processed_rows.push((o.entity_id.clone(), processed, hash, errors));
            marks.stitch(o.entity_ref.clone());
            if o.processed.is_some() {
                changed_ok_ids.push(o.entity_id.clone());
                changed_ok_refs.push(o.entity_ref.clone());
                for (s, t, g) in &o.relations {
                    marks.stitch(s.clone());
                    new_relations.push((o.entity_id.clone(), s.clone(), t.clone(), g.clone()));
                }
                if o.read_failed {
                    keep_old.insert(o.entity_ref.clone());
                }
                new_targets.insert(o.entity_ref.clone(), refs.into_iter().collect());
            }
        }
        store::update_processed_many(tx, processed_rows).await?;
        if !changed_ok_ids.is_empty() {
            marks.stitch_all(store::relation_sources_of(tx, &changed_ok_ids).await?);
            store::delete_where_in(
                tx,
                "relations",
                "originating_entity_id",
                &changed_ok_ids,
                "replace relations",
            )
            .await?;
            store::insert_relations(tx, new_relations).await?;
            for (source, target) in store::reference_targets(tx, &changed_ok_refs).await? {
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
                &changed_ok_refs,
                "replace references",
            )
            .await?;
            store::insert_references(tx, new_references).await?;
        }
        let ids: Vec<String> = outcomes.iter().map(|o| o.entity_id.clone()).collect();
        store::set_next_update(tx, &ids, self.next_update()).await?;
        marks.write(tx).await
    }

    // ---------------------------------------------------------------- passes

    /// Processes `initial` and everything that changes because of it, then drains the stitch
    /// queue (orphans, deletions, final entities). Callers hold the lock.
    ///
    /// Nothing of a pass lives only in memory: each batch commits its results together with
    /// the stitch marks they call for and the children it found (due at once), so a pass cut
    /// short anywhere is finished by the next one.
    async fn pass_locked(&self, initial: Vec<String>) -> Result<(), CatalogError> {
        let started = std::time::Instant::now();
        let (mut process_time, mut write_time, mut processed) =
            (Duration::ZERO, Duration::ZERO, 0usize);
        let mut queue: VecDeque<String> = initial.into();
        let mut visits: HashMap<String, u32> = HashMap::new();
        while !queue.is_empty() {
            let mut batch = Vec::with_capacity(BATCH);
            let mut in_batch = HashSet::new();
            while batch.len() < BATCH {
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
            let mut tx = self.begin().await?;
            let mut rows: Vec<StateRow> = store::load_state_rows(&mut tx, &batch).await?;
            // Keep queue order: earlier emitters win conflicts.
            let position: HashMap<&String, usize> =
                batch.iter().enumerate().map(|(i, r)| (r, i)).collect();
            rows.sort_by_key(|r| position.get(&r.entity_ref).copied().unwrap_or(usize::MAX));
            tx.commit().await.map_err(CatalogError::db("commit"))?;
            let t = std::time::Instant::now();
            processed += rows.len();
            let mut outcomes: Vec<Outcome> = Vec::with_capacity(rows.len());
            for chunk in rows.chunks(16) {
                let mut running = futures::stream::FuturesOrdered::new();
                for r in chunk {
                    running.push_back(self.process(
                        &r.entity_id,
                        &r.entity_ref,
                        &r.unprocessed,
                        r.result_hash.clone(),
                    ));
                }
                while let Some(o) = running.next().await {
                    outcomes.push(o);
                }
            }
            process_time += t.elapsed();
            let t = std::time::Instant::now();
            let mut tx = self.begin().await?;
            self.write_batch(&mut tx, outcomes, &mut queue).await?;
            tx.commit().await.map_err(CatalogError::db("commit"))?;
            write_time += t.elapsed();
        }
        // Free the per-pass bookkeeping before stitching grows the index.
        drop(visits);
        drop(queue);
        let t = std::time::Instant::now();
        let stitched = self.drain_stitch_queue().await?;
        if processed > 0 || stitched > 0 {
            tracing::debug!(
                processed,
                stitched,
                process_ms = process_time.as_millis() as u64,
                write_ms = write_time.as_millis() as u64,
                stitch_ms = t.elapsed().as_millis() as u64,
                total_ms = started.elapsed().as_millis() as u64,
                "catalog processing pass finished"
            );
        }
        Ok(())
    }

    /// Processes every entity whose refresh time has come, and finishes the stitching of any
    /// pass that was cut short (here or in another process sharing the database).
    pub(crate) async fn process_due(&self) -> Result<usize, CatalogError> {
        let _guard = self.lock.lock().await;
        // Catch up with what other processes sharing the database wrote.
        self.index.sync(&self.db).await?;
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

    async fn apply_mutation_now(
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
            entity.metadata.uid = None;
            entity.metadata.etag = None;
            entity.relations = None;
            entity.status = None;
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
        for (entity_ref, hash, json, key) in &prepared {
            if !seen.insert(entity_ref.clone()) {
                continue;
            }
            match Self::plan_upsert(
                &mut existing,
                entity_ref,
                json,
                hash,
                key.as_deref(),
                &mut inserts,
                &mut updates,
            ) {
                Ok(changed) => {
                    if changed {
                        queue.push(entity_ref.clone());
                    }
                    accepted.push(entity_ref.clone());
                }
                Err(other) => tracing::warn!(
                    provider,
                    entity = %entity_ref,
                    "entity conflicts with the same entity from {}; the first one is kept",
                    other.unwrap_or_default()
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
        let generation = store::bump_generation(&mut tx).await?;
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
            errors.extend(o.errors);
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

#[cfg(test)]
mod tests {
    use super::*;

    struct Named(&'static str, Option<i32>);

    #[async_trait::async_trait]
    impl CatalogProcessor for Named {
        fn name(&self) -> &str {
            self.0
        }
        fn priority(&self) -> i32 {
            self.1
                .unwrap_or(crate::plugins::catalog::node::DEFAULT_PROCESSOR_PRIORITY)
        }
    }

    fn names(list: &[Arc<dyn CatalogProcessor>]) -> Vec<&str> {
        list.iter().map(|p| p.name()).collect()
    }

    fn p(name: &'static str, priority: Option<i32>) -> Arc<dyn CatalogProcessor> {
        Arc::new(Named(name, priority))
    }

    #[test]
    fn processors_run_by_priority_then_in_the_order_they_were_added() {
        let builtin = vec![p("builtin", None)];
        let added = vec![
            p("late", Some(30)),
            p("default-a", None),
            p("early", Some(10)),
            p("default-b", Some(20)),
            p("negative", Some(-5)),
            p("late-2", Some(30)),
        ];
        assert_eq!(
            names(&ordered_processors(builtin, added)),
            [
                "negative",
                "early",
                "builtin",
                "default-a",
                "default-b",
                "late",
                "late-2"
            ]
        );
    }

    #[tokio::test]
    async fn a_processor_with_a_lower_priority_reads_file_locations_first() {
        /// Reads `file` locations itself, emitting one fixed entity.
        struct FileOverride(i32);

        #[async_trait::async_trait]
        impl CatalogProcessor for FileOverride {
            fn name(&self) -> &str {
                "file-override"
            }
            fn priority(&self) -> i32 {
                self.0
            }
            async fn read_location(
                &self,
                location: &LocationSpec,
                _optional: bool,
                emit: &mut Emitter,
            ) -> Result<bool, ProcessorError> {
                if location.location_type != "file" {
                    return Ok(false);
                }
                emit.entity(
                    Entity::new("backstage.io/v1alpha1", "Group", "from-override"),
                    location.clone(),
                );
                Ok(true)
            }
        }

        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("catalog.yaml");
        std::fs::write(
            &file,
            "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: from-file\nspec:\n  type: team\n  children: []\n",
        )
        .expect("write");
        let location = LocationSpec::new("file", file.display().to_string());
        for (priority, expected) in [(10, "from-override"), (20, "from-file"), (30, "from-file")] {
            let db = crate::services::database::DatabaseManager::in_memory()
                .for_plugin("catalog")
                .await
                .expect("database");
            let engine = Engine::new(
                db,
                vec![Arc::new(FileOverride(priority))],
                EngineOptions {
                    orphan_strategy: OrphanStrategy::Delete,
                    interval: Duration::from_secs(100),
                    rules: RulesEnforcer::default(),
                },
                LocationReader::new(
                    Arc::new(
                        crate::services::url_reader::UrlReaders::builder()
                            .build()
                            .expect("url readers"),
                    ),
                    crate::services::url_reader::FileUrlReader::new([dir.path()]),
                    1 << 20,
                ),
            );
            let mut emit = Emitter::default();
            let mut errors = Vec::new();
            engine
                .read_location(&location, false, &mut emit, &mut errors)
                .await;
            assert!(errors.is_empty(), "{errors:?}");
            let read: Vec<String> = emit
                .take()
                .into_iter()
                .filter_map(|o| match o {
                    ProcessingOutput::Entity { entity, .. } => Some(entity.metadata.name),
                    _ => None,
                })
                .collect();
            assert_eq!(read, [expected], "priority {priority}");
        }
    }
}
