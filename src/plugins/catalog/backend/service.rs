//! The catalog's operations, behind the HTTP router.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::plugins::catalog::common::{
    ANNOTATION_LOCATION, ANNOTATION_ORIGIN_LOCATION, Entity, EntityRef, KnownKind, RefDefaults,
    validate_entity, validate_entity_value, validate_envelope,
};
use crate::plugins::catalog::node::{DeferredEntity, EntityProviderMutation, LocationSpec};
use crate::services::database::Sql;

use crate::plugins::catalog::common::permissions::{
    CATALOG_ENTITY_DELETE, CATALOG_ENTITY_REFRESH, CATALOG_ENTITY_VALIDATE,
    CATALOG_LOCATION_ANALYZE, CATALOG_LOCATION_CREATE, CATALOG_LOCATION_DELETE,
    CATALOG_LOCATION_READ,
};

use super::error::CatalogError;
use super::index::{Position, SortKey};
use super::locations::{absolute_file_target, generated_location_entity};
use super::permissions::{Authorizer, Caller, ReadScope};
use super::predicate::Predicate;
use super::processing::Engine;
use super::query::{Cursor, Filter, FullText, Order, project};
use super::read::ReadOutcome;
use super::store::{self, LocationRow};
use super::yaml::parse_documents;

/// The name of the provider that owns registered locations.
mod location_ops;

pub(crate) const LOCATION_STORE_PROVIDER: &str = "DefaultLocationStore";
/// Default page size of `by-query`.
const DEFAULT_QUERY_LIMIT: u64 = 20;
/// The default of `catalog.maxPageLimit`.
pub(crate) const DEFAULT_MAX_PAGE_LIMIT: u64 = 10_000;

/// A `GET /entities` request.
#[derive(Debug, Clone, Default)]
pub(crate) struct EntitiesRequest {
    pub(crate) filter: Filter,
    pub(crate) fields: Vec<String>,
    pub(crate) order: Vec<Order>,
    pub(crate) offset: u64,
    pub(crate) limit: Option<u64>,
}

/// A `by-query` request.
#[derive(Debug, Clone)]
pub(crate) struct QueryRequest {
    pub(crate) query: Predicate,
    pub(crate) fields: Vec<String>,
    pub(crate) order: Vec<Order>,
    pub(crate) full_text: Option<FullText>,
    pub(crate) position: Position,
    pub(crate) limit: Option<u64>,
}

impl QueryRequest {
    /// The request that continues at `cursor` (its query, order and position).
    pub(crate) fn from_cursor(cursor: Cursor, fields: Vec<String>, limit: Option<u64>) -> Self {
        Self {
            position: cursor.position(),
            query: cursor.query,
            fields,
            order: cursor.order,
            full_text: cursor.full_text,
            limit,
        }
    }
}

/// The software catalog's operations: entity queries, locations, refresh and validation.
///
/// The catalog plugin's HTTP router is a thin layer over this. Other plugins read the catalog
/// through the [`CATALOG`](crate::plugins::catalog::node::CATALOG) service ref, with typed
/// answers.
#[derive(Clone, Debug)]
pub struct CatalogService {
    pub(crate) engine: Arc<Engine>,
    pub(crate) readonly: bool,
    /// The location types the API may register (`catalog.allowedLocationTypes`).
    pub(crate) allowed_location_types: Arc<[String]>,
    /// The largest page a `limit` may ask for (`catalog.maxPageLimit`); larger limits are
    /// lowered to it.
    pub(crate) max_page_limit: u64,
    /// Asks the plugin's permission service.
    pub(crate) authorizer: Authorizer,
    /// The ingestion figures of `GET /status`, counted at most once a second.
    pub(crate) progress: Arc<super::progress::ProgressCache>,
}

fn parse_json(text: &str) -> Result<Value, CatalogError> {
    serde_json::from_str(text).map_err(|e| CatalogError::input("stored entity", e.to_string()))
}

/// Rejects an empty location type or target.
pub(crate) fn check_location_spec(location_type: &str, target: &str) -> Result<(), CatalogError> {
    if location_type.trim().is_empty() {
        return Err(CatalogError::input(
            "type",
            "location type must not be empty",
        ));
    }
    if target.trim().is_empty() {
        return Err(CatalogError::input(
            "target",
            "location target must not be empty",
        ));
    }
    Ok(())
}

fn ref_string(kind: &str, namespace: &str, name: &str) -> String {
    EntityRef::new(kind, namespace, name).to_string()
}

impl CatalogService {
    /// Refuses a location type the API may not register (Backstage's message).
    pub(crate) fn check_location_type(&self, location_type: &str) -> Result<(), CatalogError> {
        if self
            .allowed_location_types
            .iter()
            .any(|t| t == location_type)
        {
            return Ok(());
        }
        Err(CatalogError::input(
            "type",
            format!(
                "registered locations must be of an allowed type {:?}; '{location_type}' is not \
                 (see catalog.allowedLocationTypes)",
                self.allowed_location_types
            ),
        ))
    }

    fn db(&self) -> &crate::services::database::PluginDatabase {
        &self.engine.db
    }

    /// The entities `caller` may read.
    pub(crate) async fn read_scope(&self, caller: &Caller) -> Result<ReadScope, CatalogError> {
        self.authorizer.read_scope(caller).await
    }

    /// The entity `kind:namespace/name` as the JSON text the router serves as is, or `None`.
    /// Matching is case-insensitive.
    pub(crate) async fn entity_by_name(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
        scope: &ReadScope,
    ) -> Result<Option<String>, CatalogError> {
        self.entity_by_ref(&ref_string(kind, namespace, name), scope)
            .await
    }

    /// The entity `entity_ref` (canonical), or `None` when missing or outside `scope`.
    pub(crate) async fn entity_by_ref(
        &self,
        entity_ref: &str,
        scope: &ReadScope,
    ) -> Result<Option<String>, CatalogError> {
        Ok(self.engine.index.by_ref(entity_ref, scope.predicate()))
    }

    /// The entity with `uid` as the JSON text the router serves as is, or `None` when missing
    /// or outside `scope`.
    pub(crate) async fn entity_by_uid(
        &self,
        uid: &str,
        scope: &ReadScope,
    ) -> Result<Option<String>, CatalogError> {
        Ok(self.engine.index.by_uid(uid, scope.predicate()))
    }

    /// `GET /entities`: the entity texts and whether more follow.
    pub(crate) async fn entities(
        &self,
        r: &EntitiesRequest,
        scope: &ReadScope,
    ) -> Result<(Vec<String>, bool), CatalogError> {
        let page = self.engine.index.page(
            &scope.restrict(&Predicate::from_filter(&r.filter)),
            None,
            &r.order,
            &Position::Offset(r.offset),
            r.limit
                .map(|l| usize::try_from(l.min(self.max_page_limit)).unwrap_or(usize::MAX)),
        );
        let mut items = page.items;
        if !r.fields.is_empty() {
            items = items
                .into_iter()
                .map(|t| parse_json(&t).map(|v| project(&v, &r.fields).to_string()))
                .collect::<Result<_, _>>()?;
        }
        Ok((items, page.more))
    }

    /// `by-query`: `{items, totalItems, pageInfo}` as JSON text. The cursors carry the
    /// request's query, never the scope: the scope comes from the caller on every page.
    pub(crate) async fn query(
        &self,
        r: &QueryRequest,
        scope: &ReadScope,
    ) -> Result<String, CatalogError> {
        let limit = r
            .limit
            .unwrap_or(DEFAULT_QUERY_LIMIT)
            .min(self.max_page_limit);
        let page = self.engine.index.page(
            &scope.restrict(&r.query),
            r.full_text.as_ref(),
            &r.order,
            &r.position,
            Some(usize::try_from(limit).unwrap_or(usize::MAX)),
        );
        let cursor = |after: Option<SortKey>, before: Option<SortKey>| {
            Cursor {
                query: r.query.clone(),
                order: r.order.clone(),
                full_text: r.full_text.clone(),
                after,
                before,
            }
            .encode()
        };
        let backwards = matches!(r.position, Position::Before(_));
        let not_first = match &r.position {
            Position::Start => false,
            Position::Offset(n) => *n > 0,
            Position::After(_) => true,
            Position::Before(_) => page.more,
        };
        let has_next = if backwards { true } else { page.more };
        let mut page_info = serde_json::Map::new();
        if has_next && let Some(last) = &page.last {
            page_info.insert(
                "nextCursor".into(),
                Value::String(cursor(Some(last.clone()), None)),
            );
        }
        if not_first && let Some(first) = &page.first {
            page_info.insert(
                "prevCursor".into(),
                Value::String(cursor(None, Some(first.clone()))),
            );
        }
        let mut body =
            String::with_capacity(page.items.iter().map(String::len).sum::<usize>() + 256);
        body.push_str("{\"items\":[");
        for (i, text) in page.items.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            if r.fields.is_empty() {
                body.push_str(text);
            } else {
                body.push_str(&project(&parse_json(text)?, &r.fields).to_string());
            }
        }
        body.push_str("],\"totalItems\":");
        body.push_str(&page.total.to_string());
        body.push_str(",\"pageInfo\":");
        body.push_str(&Value::Object(page_info).to_string());
        body.push('}');
        Ok(body)
    }

    /// `POST /entities/by-refs`.
    pub(crate) async fn by_refs(
        &self,
        refs: &[String],
        fields: &[String],
        filter: &Predicate,
        scope: &ReadScope,
    ) -> Result<Value, CatalogError> {
        let mut keys = Vec::with_capacity(refs.len());
        for r in refs {
            let parsed = EntityRef::parse(r, RefDefaults::none())
                .map_err(|e| CatalogError::input("entityRefs", e.to_string()))?;
            keys.push(parsed.to_string());
        }
        let items: Vec<Value> = self
            .engine
            .index
            .by_refs(&keys, &scope.restrict(filter))
            .into_iter()
            .map(|found| match found {
                None => Ok(Value::Null),
                Some(t) => parse_json(&t).map(|v| {
                    if fields.is_empty() {
                        v
                    } else {
                        project(&v, fields)
                    }
                }),
            })
            .collect::<Result<_, _>>()?;
        Ok(json!({ "items": items }))
    }

    /// `GET /entity-facets`.
    pub(crate) async fn facets(
        &self,
        facets: &[String],
        filter: &Predicate,
        scope: &ReadScope,
    ) -> Result<Value, CatalogError> {
        let filter = scope.restrict(filter);
        let mut out = serde_json::Map::new();
        for facet in facets {
            let counts = self.engine.index.facet(facet, &filter);
            out.insert(
                facet.clone(),
                Value::Array(
                    counts
                        .into_iter()
                        .map(|(value, count)| json!({ "value": value, "count": count }))
                        .collect(),
                ),
            );
        }
        Ok(json!({ "facets": out }))
    }

    /// `GET /entities/by-name/.../ancestry`: the entity and its ancestors within `scope`; the
    /// root outside it is 404, ancestors outside it are left out (and out of
    /// `parentEntityRefs`).
    pub(crate) async fn ancestry(
        &self,
        entity_ref: &str,
        scope: &ReadScope,
    ) -> Result<Value, CatalogError> {
        let mut items = Vec::new();
        let mut todo = vec![entity_ref.to_owned()];
        let mut seen = std::collections::HashSet::new();
        while let Some(r) = todo.pop() {
            if !seen.insert(r.clone()) {
                continue;
            }
            let Some(text) = self.entity_by_ref(&r, scope).await? else {
                if r == entity_ref {
                    return Err(CatalogError::not_found("entity", entity_ref));
                }
                continue;
            };
            let parents: Vec<String> = store::parents_of(self.db(), &r)
                .await?
                .into_iter()
                .flatten()
                .filter(|p| {
                    scope.predicate().is_none() || self.engine.index.contains(p, scope.predicate())
                })
                .collect();
            todo.extend(parents.iter().cloned());
            items.push(json!({ "entity": parse_json(&text)?, "parentEntityRefs": parents }));
        }
        Ok(json!({ "rootEntityRef": entity_ref, "items": items }))
    }

    /// 404 for an entity `caller` may not read (exactly as for a missing one), then 403
    /// unless it holds the resource `permission` on it.
    async fn authorize_entity(
        &self,
        caller: &Caller,
        entity_ref: &str,
        permission: &crate::services::permissions::Permission,
        not_found: impl FnOnce() -> CatalogError,
    ) -> Result<(), CatalogError> {
        let scope = self.read_scope(caller).await?;
        if scope.predicate().is_some() && !self.engine.index.contains(entity_ref, scope.predicate())
        {
            return Err(not_found());
        }
        self.authorizer
            .require(caller, permission, Some(entity_ref))
            .await
    }

    /// `DELETE /entities/by-uid/:uid`: needs a user or service that may read the entity (404
    /// otherwise) and holds `catalog.entity.delete` on it (403 otherwise).
    pub(crate) async fn delete_by_uid(
        &self,
        uid: &str,
        caller: &Caller,
    ) -> Result<(), CatalogError> {
        caller.user_or_service("deleting entities")?;
        if self.readonly {
            return Err(CatalogError::ReadOnly {
                operation: "deleting entities",
            });
        }
        let row: Option<(String,)> =
            Sql::new("SELECT entity_ref FROM refresh_state WHERE entity_id = ?")
                .bind(uid)
                .fetch_optional(self.db())
                .await
                .map_err(CatalogError::db("find entity by uid"))?;
        let not_found = || CatalogError::not_found("entity with uid", uid);
        let Some((entity_ref,)) = row else {
            return Err(not_found());
        };
        self.authorize_entity(caller, &entity_ref, &CATALOG_ENTITY_DELETE, not_found)
            .await?;
        self.engine.delete_entity(&entity_ref).await
    }

    /// `POST /refresh`: needs a user or service that may read the entity (404 otherwise) and
    /// holds `catalog.entity.refresh` on it (403 otherwise).
    pub(crate) async fn refresh(
        &self,
        entity_ref: &str,
        caller: &Caller,
    ) -> Result<(), CatalogError> {
        caller.user_or_service("refreshing entities")?;
        let parsed = EntityRef::parse(entity_ref, RefDefaults::none())
            .map_err(|e| CatalogError::input("entityRef", e.to_string()))?
            .to_string();
        let not_found = || CatalogError::not_found("entity", parsed.clone());
        self.authorize_entity(caller, &parsed, &CATALOG_ENTITY_REFRESH, not_found)
            .await?;
        if self.engine.refresh(&parsed).await? {
            Ok(())
        } else {
            Err(CatalogError::not_found("entity", parsed))
        }
    }

    // ------------------------------------------------------------------ locations

    /// `POST /validate-entity`: the broken rules, empty when valid; needs
    /// `catalog.entity.validate`.
    pub(crate) async fn validate(
        &self,
        entity: &Value,
        location: &str,
        caller: &Caller,
    ) -> Result<Vec<String>, CatalogError> {
        self.authorizer
            .require(caller, &CATALOG_ENTITY_VALIDATE, None)
            .await?;
        let spec = location
            .split_once(':')
            .filter(|(t, target)| !t.is_empty() && !target.is_empty())
            .map(|(t, target)| LocationSpec::new(t, target))
            .ok_or_else(|| {
                CatalogError::input(
                    "location",
                    format!("{location} is not on the form <type>:<target>"),
                )
            })?;
        let parsed = match serde_json::from_value::<Entity>(entity.clone()) {
            Ok(e) => e,
            Err(_) => {
                let errors = match validate_entity_value(entity) {
                    Err(e) => e.errors().iter().map(ToString::to_string).collect(),
                    Ok(()) => vec!["entity is not a valid catalog entity".to_owned()],
                };
                return Ok(errors);
            }
        };
        let known = KnownKind::parse(&parsed.kind).is_some();
        let checked = if known {
            validate_entity(&parsed)
        } else {
            validate_envelope(&parsed)
        };
        if let Err(e) = checked {
            return Ok(e.errors().iter().map(ToString::to_string).collect());
        }
        let _ = spec;
        if !known {
            return Ok(vec![format!(
                "no processor recognized entity {} of kind {}",
                parsed.ref_string(),
                parsed.kind
            )]);
        }
        Ok(Vec::new())
    }

    /// `POST /analyze-location`: needs `catalog.location.analyze`; `isRegistered` is true
    /// only for entities the caller may read.
    pub(crate) async fn analyze(
        &self,
        location_type: &str,
        target: &str,
        catalog_file: Option<&str>,
        caller: &Caller,
    ) -> Result<Value, CatalogError> {
        self.authorizer
            .require(caller, &CATALOG_LOCATION_ANALYZE, None)
            .await?;
        let scope = self.read_scope(caller).await?;
        check_location_spec(location_type, target)?;
        self.check_location_type(location_type)?;
        let target = if location_type == "file" {
            absolute_file_target(target)
        } else {
            target.to_owned()
        };
        let mut spec = LocationSpec::new(location_type, target.clone());
        // Whether a file target is a directory is known only once it is found allowed, so
        // the answer never tells what exists outside the allowed roots.
        let direct = match self.engine.reader.read_outcome(&spec).await? {
            ReadOutcome::Text(text) => Some(text),
            ReadOutcome::NotFound | ReadOutcome::Directory => None,
        };
        let text = match direct {
            Some(t) => Some(t),
            None => {
                // A folder or repository: look for the catalog file in it.
                let file = catalog_file.unwrap_or("catalog-info.yaml");
                let joined = if location_type == "file" {
                    std::path::Path::new(&target)
                        .join(file)
                        .to_string_lossy()
                        .into_owned()
                } else {
                    format!("{}/{}", target.trim_end_matches('/'), file)
                };
                spec = LocationSpec::new(location_type, joined);
                self.engine.reader.read(&spec).await.ok().flatten()
            }
        };
        let mut existing = Vec::new();
        if let Some(text) = text {
            let budget = self.engine.reader.yaml_budget();
            for doc in parse_documents(&text, budget).into_iter().flatten() {
                let Ok(mut entity) = serde_json::from_value::<Entity>(doc) else {
                    continue;
                };
                entity.metadata.annotations.remove(ANNOTATION_LOCATION);
                let registered = self
                    .engine
                    .index
                    .contains(&entity.ref_string(), scope.predicate());
                existing.push(json!({
                    "entity": entity,
                    "isRegistered": registered,
                    "location": { "type": spec.location_type, "target": spec.target },
                }));
            }
        }
        let generate = if existing.is_empty() {
            let name = target
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or("component")
                .trim_end_matches(".git")
                .to_lowercase();
            vec![json!({
                "entity": {
                    "apiVersion": "backstage.io/v1alpha1",
                    "kind": "Component",
                    "metadata": { "name": name },
                    "spec": { "type": "service", "lifecycle": "experimental" },
                },
                "fields": [{
                    "field": "spec.owner",
                    "state": "needsUserInput",
                    "value": null,
                    "description": "Entity owner (a group or user reference)",
                }],
            })]
        } else {
            Vec::new()
        };
        Ok(json!({ "existingEntityFiles": existing, "generateEntities": generate }))
    }
}
