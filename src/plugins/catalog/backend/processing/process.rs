//! Processing one entity: placeholders, the processors' hooks, validation, reading the
//! locations a `Location` entity points at, relations, and what it emitted.

use std::collections::VecDeque;

use futures::StreamExt as _;

use serde_json::Value;

use crate::plugins::catalog::common::{
    ANNOTATION_LOCATION, ANNOTATION_ORIGIN_LOCATION, Entity, KnownKind, relations_from_spec,
    sort_spec_ref_lists, validate_entity, validate_envelope,
};
use crate::plugins::catalog::node::{Emitter, LocationSpec, ProcessingOutput};

use super::super::locations::{
    annotate_location, location_entity_targets, sha1_hex, strip_catalog_fields,
};
use super::super::read::resolve_placeholders;
use super::super::store::UnprocessedWrite;
use super::Engine;
use super::outcome::{Child, Outcome, ProcessingError, Relation};
use super::passes::Fresh;

/// Which processor hook runs.
#[derive(Clone, Copy)]
enum Hook {
    Pre,
    Post,
}

impl Engine {
    /// Runs one hook of every processor in order, each on what the previous one returned.
    async fn run_hooks(
        &self,
        hook: Hook,
        mut entity: Entity,
        location: &LocationSpec,
        emit: &mut Emitter,
    ) -> Result<Entity, ProcessingError> {
        for p in &self.processors {
            entity = match hook {
                Hook::Pre => p.pre_process(entity, location, emit).await,
                Hook::Post => p.post_process(entity, location, emit).await,
            }
            .map_err(|err| ProcessingError::from(&err))?;
        }
        Ok(entity)
    }

    /// Processes `children` (distinct refs) before any row of theirs is stored, each under
    /// the id its row gets should it be new, `CONCURRENCY` at a time: the pass does this for
    /// the children of an entity processed for the first time, which are nearly all new, and
    /// writes them processed (see `Engine::write_batch`).
    pub(super) async fn process_ahead(&self, children: &[&Child]) -> Vec<Fresh> {
        let mut out = Vec::with_capacity(children.len());
        let mut children = children.iter();
        let mut running = futures::stream::FuturesOrdered::new();
        loop {
            while running.len() < super::passes::CONCURRENCY {
                let Some(c) = children.next() else { break };
                // Time-ordered, as `Engine::plan_upsert` makes them.
                let id = uuid::Uuid::now_v7().to_string();
                running.push_back(async move {
                    let outcome = self.process(&id, &c.entity_ref, &c.json, None).await.seal();
                    Fresh {
                        row: UnprocessedWrite {
                            entity_id: id,
                            entity_ref: c.entity_ref.clone(),
                            unprocessed: c.json.clone(),
                            unprocessed_hash: c.hash.clone(),
                            location_key: Some(c.location_key.clone()),
                        },
                        outcome,
                    }
                });
            }
            let Some(fresh) = running.next().await else {
                break;
            };
            out.push(fresh);
        }
        out
    }

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
            processed_json: None,
            hash: None,
            errors: Vec::new(),
            relations: Vec::new(),
            children: Vec::new(),
            read_failed: false,
        };
        let mut value: Value = match serde_json::from_str(unprocessed) {
            Ok(v) => v,
            Err(e) => {
                out.errors.push(ProcessingError::input(format!(
                    "stored entity is not JSON: {e}"
                )));
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
            out.errors.push(ProcessingError::input(message));
            return out;
        }
        let mut entity: Entity = match serde_json::from_value(value) {
            Ok(e) => e,
            Err(e) => {
                out.errors.push(ProcessingError::input(format!(
                    "invalid entity {entity_ref}: {}",
                    super::super::yaml::redact(&e.to_string())
                )));
                return out;
            }
        };
        let mut emit = Emitter::default();
        entity = match self
            .run_hooks(Hook::Pre, entity, &own_location, &mut emit)
            .await
        {
            Ok(e) => e,
            Err(e) => {
                out.errors.push(e);
                return out;
            }
        };
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
                                out.errors.push(ProcessingError::not_allowed(message));
                            }
                        }
                    }
                    out.read_failed |= out.errors.len() > before;
                }
                Err(message) => out.errors.push(ProcessingError::input(message)),
            }
        }
        match relations_from_spec(&entity) {
            Ok(rels) => {
                sort_spec_ref_lists(&mut entity);
                for r in rels {
                    let target = r.target.to_string();
                    out.relations.push(Relation {
                        source: self_ref_string.clone(),
                        relation_type: r.relation_type.to_owned(),
                        target: target.clone(),
                    });
                    out.relations.push(Relation {
                        source: target,
                        relation_type: r.reverse_type.to_owned(),
                        target: self_ref_string.clone(),
                    });
                }
            }
            Err(e) => {
                out.errors.push(ProcessingError::input(e.to_string()));
                return out;
            }
        }
        entity = match self
            .run_hooks(Hook::Post, entity, &own_location, &mut emit)
            .await
        {
            Ok(e) => e,
            Err(e) => {
                out.errors.push(e);
                return out;
            }
        };
        // Everything emitted along the way.
        let origin = entity
            .metadata
            .annotation(ANNOTATION_ORIGIN_LOCATION)
            .map(str::to_owned)
            .unwrap_or_else(|| own_location.to_string());
        let mut pending: VecDeque<ProcessingOutput> = emit.take().into();
        // Emitted entities and their location keys, made children after the loop.
        let mut found: Vec<(Box<Entity>, String)> = Vec::new();
        while let Some(output) = pending.pop_front() {
            match output {
                ProcessingOutput::Entity { entity, location } => {
                    if !self.options.rules.is_allowed(&entity.kind, &location) {
                        out.errors.push(ProcessingError::not_allowed(format!(
                            "entity {} of kind {} is not allowed from location {location}; \
                             see catalog.rules",
                            entity.ref_string(),
                            entity.kind
                        )));
                        continue;
                    }
                    found.push((entity, location.to_string()));
                }
                ProcessingOutput::Location(location) => {
                    let mut more = Emitter::default();
                    let before = out.errors.len();
                    self.read_location(&location, false, &mut more, &mut out.errors)
                        .await;
                    out.read_failed |= out.errors.len() > before;
                    pending.extend(more.take());
                }
                ProcessingOutput::Relation(r) => out.relations.push(Relation {
                    source: r.source.to_string(),
                    relation_type: r.relation_type,
                    target: r.target.to_string(),
                }),
                ProcessingOutput::Error { message, location } => {
                    out.read_failed = true;
                    out.errors
                        .push(ProcessingError::input(format!("{message} (at {location})")));
                }
            }
        }
        for child in to_children(found, origin).await {
            match child {
                Ok(child) => out.children.push(child),
                Err(message) => out.errors.push(ProcessingError::input(message)),
            }
        }
        strip_catalog_fields(&mut entity);
        entity.metadata.uid = Some(entity_id.to_owned());
        match serde_json::to_value(&entity) {
            Ok(v) => out.processed = Some(v),
            Err(e) => out
                .errors
                .push(ProcessingError::new("Error", e.to_string())),
        }
        out
    }

    async fn validate(
        &self,
        entity: &Entity,
        location: &LocationSpec,
    ) -> Result<(), ProcessingError> {
        let known = KnownKind::parse(&entity.kind).is_some();
        let checked = if known {
            validate_entity(entity)
        } else {
            validate_envelope(entity)
        };
        if let Err(e) = checked {
            return Err(ProcessingError::input(e.to_string()));
        }
        let mut handled = known;
        for p in &self.processors {
            match p.validate(entity, location).await {
                Ok(true) => handled = true,
                Ok(false) => {}
                Err(err) => return Err(ProcessingError::from(&err)),
            }
        }
        if handled {
            Ok(())
        } else {
            Err(ProcessingError::input(format!(
                "no processor recognized entity {} of kind {} and apiVersion {}",
                entity.ref_string(),
                entity.kind,
                entity.api_version
            )))
        }
    }

    pub(super) async fn read_location(
        &self,
        location: &LocationSpec,
        optional: bool,
        emit: &mut Emitter,
        errors: &mut Vec<ProcessingError>,
    ) {
        for p in &self.processors {
            match p.read_location(location, optional, emit).await {
                Ok(true) => return,
                Ok(false) => {}
                Err(err) => {
                    errors.push(ProcessingError::from(&err));
                    return;
                }
            }
        }
        errors.push(ProcessingError::input(format!(
            "no processor is able to read location {location}"
        )));
    }
}

/// Emitted entities at least this many are made children in chunks, one per core.
const PARALLEL_CHILDREN: usize = 512;

/// Makes each emitted entity a child: annotated with its location and `origin`, stripped of
/// what the catalog sets, serialised and hashed; in emission order. A Location of thousands
/// of entities is done in one contiguous chunk per core, the first on the calling thread and
/// the others on blocking threads (during a first ingestion the database waits for it). The
/// entities are already all in memory, and each chunk drops its entities as it serialises
/// them, so this holds no more than doing it in turn.
async fn to_children(
    mut found: Vec<(Box<Entity>, String)>,
    origin: String,
) -> Vec<Result<Child, String>> {
    fn convert(found: Vec<(Box<Entity>, String)>, origin: &str) -> Vec<Result<Child, String>> {
        found
            .into_iter()
            .map(|(mut entity, key)| {
                annotate_location(&mut entity, key.clone(), origin.to_owned());
                strip_catalog_fields(&mut entity);
                let json = serde_json::to_string(&entity).map_err(|e| e.to_string())?;
                Ok(Child {
                    entity_ref: entity.ref_string(),
                    hash: sha1_hex(json.as_bytes()),
                    json,
                    location_key: key,
                })
            })
            .collect()
    }
    if found.len() < PARALLEL_CHILDREN {
        return convert(found, &origin);
    }
    let cores = super::super::yaml::cores();
    if cores == 1 {
        return convert(found, &origin);
    }
    let origin: std::sync::Arc<str> = origin.into();
    let size = found.len().div_ceil(cores);
    // The first chunk stays on the calling thread, the others go to blocking threads (see
    // `parse_documents_parallel` for why no more of them than needed).
    let mut rest = found.split_off(size);
    let first = found;
    let mut tasks = Vec::with_capacity(cores);
    while !rest.is_empty() {
        let tail = rest.split_off(size.min(rest.len()));
        let chunk = std::mem::replace(&mut rest, tail);
        let (origin, count) = (origin.clone(), chunk.len());
        tasks.push((
            count,
            tokio::task::spawn_blocking(move || convert(chunk, &origin)),
        ));
    }
    let mut out = convert(first, &origin);
    for (count, task) in tasks {
        match task.await {
            Ok(children) => out.extend(children),
            Err(_) => out.extend(
                (0..count).map(|_| Err("making the entity a child stopped unexpectedly".into())),
            ),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entities(n: usize) -> Vec<(Box<Entity>, String)> {
        (0..n)
            .map(|i| {
                let entity: Entity = serde_json::from_value(serde_json::json!({
                    "apiVersion": "backstage.io/v1alpha1",
                    "kind": "Component",
                    "metadata": { "name": format!("c-{i}"), "uid": "set-by-the-catalog" },
                    "spec": { "type": "service", "owner": "team-a", "lifecycle": "production" }
                }))
                .unwrap();
                (
                    Box::new(entity),
                    format!("file:/catalog/part-{}.yaml", i / 700),
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn children_made_in_chunks_match_children_made_in_turn() {
        let n = 3 * PARALLEL_CHILDREN + 17;
        let origin = "url:https://example.com/all.yaml".to_owned();
        let chunked = to_children(entities(n), origin.clone()).await;
        // Lists shorter than PARALLEL_CHILDREN are made in turn.
        let mut in_turn = Vec::new();
        let mut all = entities(n);
        while !all.is_empty() {
            let rest = all.split_off(100.min(all.len()));
            in_turn.extend(to_children(std::mem::replace(&mut all, rest), origin.clone()).await);
        }
        assert_eq!(chunked.len(), n);
        let fields = |c: &Result<Child, String>| {
            let c = c.as_ref().unwrap();
            (
                c.entity_ref.clone(),
                c.json.clone(),
                c.hash.clone(),
                c.location_key.clone(),
            )
        };
        for (i, (a, b)) in chunked.iter().zip(&in_turn).enumerate() {
            assert_eq!(fields(a), fields(b), "child {i}");
        }
        let last = chunked[n - 1].as_ref().unwrap();
        assert_eq!(last.entity_ref, format!("component:default/c-{}", n - 1));
        assert_eq!(last.hash, sha1_hex(last.json.as_bytes()));
        let json: serde_json::Value = serde_json::from_str(&last.json).unwrap();
        assert_eq!(
            json["metadata"]["annotations"][ANNOTATION_ORIGIN_LOCATION],
            "url:https://example.com/all.yaml"
        );
        assert_eq!(
            json["metadata"]["annotations"][ANNOTATION_LOCATION],
            "file:/catalog/part-2.yaml"
        );
        assert!(json["metadata"].get("uid").is_none());
    }
}
