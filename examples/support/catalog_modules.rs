//! Two catalog modules, shared by `examples/catalog_modules.rs` and `tests/catalog_modules.rs`:
//!
//! - `org-chart`: an entity provider that turns an org chart file (`examples/org/people.yaml`)
//!   into Group and User entities. It applies a full mutation when the catalog connects it,
//!   then re-reads the file from a task on the catalog's scheduler and applies a delta
//!   mutation when the file changed.
//! - `on-call`: a processor that checks the `example.com/on-call` annotation. A user
//!   reference becomes an `onCall` relation (and `onCallFor` on the user); anything else is an
//!   error in the entity's `status.items`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use backlot::backend::{BoxError, Feature};
use backlot::plugins::catalog::common::{
    ANNOTATION_LOCATION, ANNOTATION_ORIGIN_LOCATION, Entity, EntityRef, RefDefaults,
    is_valid_entity_name,
};
use backlot::plugins::catalog::node::{
    CATALOG_PROCESSING, CatalogProcessor, DeferredEntity, Emitter, EntityProvider,
    EntityProviderConnection, EntityProviderMutation, LocationSpec, ProcessorError,
};
use backlot::services::core_services::{LOGGER, SCHEDULER};
use backlot::services::logger::{LoggerService, LoggerServiceExt};
use backlot::services::scheduler::{PluginScheduler, TaskDefinition, TaskFrequency};
use serde::Deserialize;

/// The id of the scheduler task that re-reads the org chart; trigger it with
/// `POST /api/catalog/.backstage/scheduler/v1/tasks/org-chart-refresh/trigger`.
pub(crate) const ORG_CHART_TASK: &str = "org-chart-refresh";
/// The annotation the `on-call` processor reads.
pub(crate) const ON_CALL_ANNOTATION: &str = "example.com/on-call";
/// The relation from an entity to its on-call user.
pub(crate) const RELATION_ON_CALL: &str = "onCall";
/// The relation from a user to the entities they are on call for.
pub(crate) const RELATION_ON_CALL_FOR: &str = "onCallFor";

const API_VERSION: &str = "backstage.io/v1alpha1";

// ------------------------------------------------------------------ the org chart file

/// The org chart file: groups and users.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgChart {
    #[serde(default)]
    groups: Vec<OrgGroup>,
    #[serde(default)]
    users: Vec<OrgUser>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct OrgGroup {
    name: String,
    #[serde(rename = "type")]
    group_type: String,
    display_name: Option<String>,
    description: Option<String>,
    email: Option<String>,
    parent: Option<String>,
    on_call: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct OrgUser {
    name: String,
    display_name: Option<String>,
    email: Option<String>,
    #[serde(default)]
    member_of: Vec<String>,
}

fn profile(display_name: &Option<String>, email: &Option<String>) -> serde_json::Value {
    let mut profile = serde_json::Map::new();
    if let Some(d) = display_name {
        profile.insert("displayName".into(), d.clone().into());
    }
    if let Some(e) = email {
        profile.insert("email".into(), e.clone().into());
    }
    profile.into()
}

/// Reads the org chart at `path` and turns it into entities, keyed by entity reference.
/// Every problem of the file is an error naming the field (`groups[2].parent`).
fn read_org_chart(path: &Path) -> Result<BTreeMap<String, Entity>, BoxError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read org chart {}: {e}", path.display()))?;
    let chart: OrgChart = serde_yaml::from_str(&text)
        .map_err(|e| format!("org chart {} is not valid: {e}", path.display()))?;

    let mut problems = Vec::new();
    let mut group_names = BTreeSet::new();
    for (i, g) in chart.groups.iter().enumerate() {
        if !is_valid_entity_name(&g.name) {
            problems.push(format!(
                "groups[{i}].name: {:?} is not an entity name",
                g.name
            ));
        } else if !group_names.insert(g.name.to_lowercase()) {
            problems.push(format!("groups[{i}].name: {:?} appears twice", g.name));
        }
    }
    for (i, g) in chart.groups.iter().enumerate() {
        if let Some(parent) = &g.parent {
            if !group_names.contains(&parent.to_lowercase()) {
                problems.push(format!("groups[{i}].parent: no group named {parent:?}"));
            } else if parent.eq_ignore_ascii_case(&g.name) {
                problems.push(format!(
                    "groups[{i}].parent: a group cannot be its own parent"
                ));
            }
        }
    }
    let mut user_names = BTreeSet::new();
    for (i, u) in chart.users.iter().enumerate() {
        if !is_valid_entity_name(&u.name) {
            problems.push(format!(
                "users[{i}].name: {:?} is not an entity name",
                u.name
            ));
        } else if !user_names.insert(u.name.to_lowercase()) {
            problems.push(format!("users[{i}].name: {:?} appears twice", u.name));
        }
        for (j, group) in u.member_of.iter().enumerate() {
            if !group_names.contains(&group.to_lowercase()) {
                problems.push(format!(
                    "users[{i}].memberOf[{j}]: no group named {group:?}"
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(format!(
            "org chart {} is not valid: {}",
            path.display(),
            problems.join("; ")
        )
        .into());
    }

    let location = format!("file:{}", path.display());
    let annotate = |entity: &mut Entity| {
        for key in [ANNOTATION_LOCATION, ANNOTATION_ORIGIN_LOCATION] {
            entity
                .metadata
                .annotations
                .insert(key.into(), location.clone());
        }
    };
    let mut entities = BTreeMap::new();
    for g in &chart.groups {
        let children: Vec<&str> = chart
            .groups
            .iter()
            .filter(|c| {
                c.parent
                    .as_deref()
                    .is_some_and(|p| p.eq_ignore_ascii_case(&g.name))
            })
            .map(|c| c.name.as_str())
            .collect();
        let mut spec = serde_json::json!({
            "type": g.group_type,
            "profile": profile(&g.display_name, &g.email),
            "children": children,
        });
        if let Some(parent) = &g.parent {
            spec["parent"] = parent.as_str().into();
        }
        let mut entity = Entity::new(API_VERSION, "Group", g.name.as_str()).with_spec(spec);
        entity.metadata.description = g.description.clone();
        annotate(&mut entity);
        if let Some(on_call) = &g.on_call {
            entity
                .metadata
                .annotations
                .insert(ON_CALL_ANNOTATION.into(), on_call.clone());
        }
        entities.insert(entity.ref_string(), entity);
    }
    for u in &chart.users {
        let mut entity =
            Entity::new(API_VERSION, "User", u.name.as_str()).with_spec(serde_json::json!({
                "profile": profile(&u.display_name, &u.email),
                "memberOf": u.member_of,
            }));
        annotate(&mut entity);
        entities.insert(entity.ref_string(), entity);
    }
    Ok(entities)
}

// ------------------------------------------------------------------ the entity provider

/// Provides the groups and users of an org chart file.
struct OrgChartProvider {
    path: PathBuf,
    frequency: TaskFrequency,
    scheduler: Arc<PluginScheduler>,
    logger: Arc<dyn LoggerService>,
}

impl OrgChartProvider {
    fn location_key(&self) -> String {
        format!("org-chart:{}", self.path.display())
    }
}

fn deferred(entity: Entity, location_key: &str) -> DeferredEntity {
    DeferredEntity::new(entity, Some(location_key.to_owned()))
}

/// What the provider last gave the catalog, to tell what changed.
type Applied = Arc<tokio::sync::Mutex<BTreeMap<String, Entity>>>;

/// Re-reads the file and sends what changed since the last mutation as a delta.
async fn refresh(
    path: &Path,
    location_key: &str,
    connection: &EntityProviderConnection,
    applied: &Applied,
    logger: &dyn LoggerService,
) -> Result<(), BoxError> {
    let now = match read_org_chart(path) {
        Ok(now) => now,
        Err(e) => {
            // The catalog keeps what it has; the task's last run shows the error.
            logger.error(&format!("{e}; keeping the previous org chart"));
            return Err(e);
        }
    };
    let mut before = applied.lock().await;
    let added: Vec<DeferredEntity> = now
        .iter()
        .filter(|(r, e)| before.get(*r) != Some(*e))
        .map(|(_, e)| deferred(e.clone(), location_key))
        .collect();
    let removed: Vec<DeferredEntity> = before
        .iter()
        .filter(|(r, _)| !now.contains_key(*r))
        .map(|(_, e)| deferred(e.clone(), location_key))
        .collect();
    if added.is_empty() && removed.is_empty() {
        logger.debug("org chart unchanged");
        return Ok(());
    }
    logger.info(&format!(
        "org chart changed: {} added or updated, {} removed",
        added.len(),
        removed.len()
    ));
    connection
        .apply_mutation(EntityProviderMutation::Delta { added, removed })
        .await?;
    *before = now;
    Ok(())
}

#[async_trait::async_trait]
impl EntityProvider for OrgChartProvider {
    fn name(&self) -> &str {
        "org-chart"
    }

    async fn connect(&self, connection: EntityProviderConnection) -> Result<(), BoxError> {
        let key = self.location_key();
        let entities = read_org_chart(&self.path)?;
        self.logger.info(&format!(
            "org chart {}: {} groups and users",
            self.path.display(),
            entities.len()
        ));
        connection
            .apply_mutation(EntityProviderMutation::Full {
                entities: entities
                    .values()
                    .map(|e| deferred(e.clone(), &key))
                    .collect(),
            })
            .await?;
        let applied: Applied = Arc::new(tokio::sync::Mutex::new(entities));
        let (path, logger) = (self.path.clone(), Arc::clone(&self.logger));
        let task = TaskDefinition::builder(ORG_CHART_TASK)
            .frequency(self.frequency.clone())
            .timeout(Duration::from_secs(60))
            .run(move |_cancel| {
                let (path, key, connection) = (path.clone(), key.clone(), connection.clone());
                let (applied, logger) = (Arc::clone(&applied), Arc::clone(&logger));
                async move { refresh(&path, &key, &connection, &applied, logger.as_ref()).await }
            })
            .build()?;
        self.scheduler.schedule_task(task).await?;
        Ok(())
    }
}

/// The `org-chart` module: provides the groups and users of the org chart at `path`, checking
/// the file for changes at `frequency` (`TaskFrequency::Manual`: only when the task
/// `org-chart-refresh` is triggered).
pub(crate) fn org_chart_module(path: PathBuf, frequency: TaskFrequency) -> Feature {
    Feature::module_fn("catalog", "org-chart", move |reg| {
        let (path, frequency) = (path.clone(), frequency.clone());
        reg.init(
            (&CATALOG_PROCESSING, &SCHEDULER, &LOGGER),
            move |(processing, scheduler, logger)| async move {
                processing.get()?.add_entity_provider(OrgChartProvider {
                    path,
                    frequency,
                    scheduler,
                    logger,
                });
                Ok(())
            },
        )
    })
}

// ------------------------------------------------------------------ the processor

/// Reads `example.com/on-call`: a user reference (`ada`, `user:ada`, `user:default/ada`)
/// becomes `onCall` / `onCallFor` relations; anything else is reported in `status.items`.
struct OnCallProcessor;

/// The user `value` names, resolved against the entity's namespace.
fn on_call_user(value: &str, namespace: &str) -> Result<EntityRef, String> {
    let user = EntityRef::parse(
        value.trim(),
        RefDefaults::kind("User").with_namespace(namespace),
    )
    .map_err(|e| format!("{value:?} is not an entity reference: {e}"))?;
    if !user.kind().eq_ignore_ascii_case("user") {
        return Err(format!(
            "{value:?} is a {}, not a User; write a user like `user:ada`",
            user.kind()
        ));
    }
    if !is_valid_entity_name(user.name()) {
        return Err(format!("{:?} is not a valid user name", user.name()));
    }
    Ok(user)
}

#[async_trait::async_trait]
impl CatalogProcessor for OnCallProcessor {
    fn name(&self) -> &str {
        "on-call"
    }

    async fn post_process(
        &self,
        entity: Entity,
        location: &LocationSpec,
        emit: &mut Emitter,
    ) -> Result<Entity, ProcessorError> {
        let Some(value) = entity.metadata.annotation(ON_CALL_ANNOTATION) else {
            return Ok(entity);
        };
        match on_call_user(value, entity.metadata.namespace()) {
            Ok(user) => {
                emit.relation(entity.to_ref(), RELATION_ON_CALL, user.clone());
                emit.relation(user, RELATION_ON_CALL_FOR, entity.to_ref());
            }
            // An emitted error keeps the entity (without the relation) and shows the message
            // in its status.items; returning Err would keep the previous version instead.
            Err(message) => emit.error(
                format!(
                    "annotation {ON_CALL_ANNOTATION} of {}: {message}",
                    entity.ref_string()
                ),
                location.clone(),
            ),
        }
        Ok(entity)
    }
}

/// The `on-call` module: adds the processor.
pub(crate) fn on_call_module() -> Feature {
    Feature::module_fn("catalog", "on-call", |reg| {
        reg.init(&CATALOG_PROCESSING, |processing| async move {
            processing.get()?.add_processor(OnCallProcessor);
            Ok(())
        })
    })
}
