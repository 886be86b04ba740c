//! The permission registry (`PERMISSIONS_REGISTRY`), as Backstage's
//! `permissionsRegistry` service: a plugin declares its permissions, and for each resource
//! type it owns, the rules policies may use and a loader of resources by ref.
//!
//! The registry serves, under the plugin's own mount point,
//! `GET /.well-known/backstage/permissions/metadata` (`{permissions, rules}`) and
//! `POST /.well-known/backstage/permissions/apply-conditions`, through which the permission
//! backend resolves conditional decisions on single resources. When the permission backend
//! runs in the same process, it applies the conditions through the registry directly.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use super::PermissionError;
use super::rules::{PermissionRule, PermissionRuleSet};
use super::types::{AuthorizeResult, Permission, PermissionCriteria};

/// A rule as the metadata endpoint lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleMetadata {
    /// The rule's name.
    pub name: String,
    /// What it checks.
    pub description: String,
    /// The resource type it applies to.
    pub resource_type: String,
    /// The JSON schema of its parameters.
    pub params_schema: serde_json::Value,
}

/// `GET /.well-known/backstage/permissions/metadata`: a plugin's permissions and rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PermissionMetadata {
    /// The permissions the plugin declared.
    pub permissions: Vec<Permission>,
    /// The rules of its resource types.
    pub rules: Vec<RuleMetadata>,
}

/// One item of an `apply-conditions` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyConditionsRequestItem {
    /// The caller's id for the item, echoed in the answer.
    pub id: String,
    /// The resource, such as an entity ref.
    pub resource_ref: String,
    /// Its type.
    pub resource_type: String,
    /// The conditions to check on it.
    pub conditions: PermissionCriteria,
}

/// `POST /.well-known/backstage/permissions/apply-conditions` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplyConditionsRequest {
    /// The items.
    pub items: Vec<ApplyConditionsRequestItem>,
}

/// One answer of `apply-conditions`: `ALLOW` or `DENY`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyConditionsResponseItem {
    /// The item's id.
    pub id: String,
    /// `ALLOW` when the resource exists and satisfies the conditions, else `DENY`.
    pub result: AuthorizeResult,
}

/// `apply-conditions` answer, one item per request item, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyConditionsResponse {
    /// The items.
    pub items: Vec<ApplyConditionsResponseItem>,
}

type LoaderFn<R> = dyn Fn(Vec<String>) -> BoxFuture<'static, Result<Vec<Option<R>>, PermissionError>>
    + Send
    + Sync;

/// A resource type a plugin owns: its rules and a loader of resources by ref.
///
/// The loader gets refs and answers one `Option` per ref, in order (`None` for a resource
/// that does not exist, which is then `DENY`).
///
/// ```
/// use backlot::services::permissions::{PermissionResourceType, create_permission_rule};
/// use serde_json::json;
///
/// #[derive(Clone)]
/// struct Todo { id: String, author: String }
///
/// let todos = vec![Todo { id: "1".into(), author: "user:default/jane".into() }];
/// let resource_type = PermissionResourceType::new("todo-item", move |refs: Vec<String>| {
///     let todos = todos.clone();
///     async move {
///         Ok(refs.iter().map(|r| todos.iter().find(|t| &t.id == r).cloned()).collect())
///     }
/// })
/// .rule(create_permission_rule::<Todo, _>(
///     "IS_AUTHOR", "Written by one of `authors`", "todo-item", json!({"type": "object"}),
///     |t, p| p["authors"].as_array().is_some_and(|a| a.iter().any(|v| v == t.author.as_str())),
/// ))?;
/// assert_eq!(resource_type.resource_type(), "todo-item");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct PermissionResourceType<R> {
    rules: PermissionRuleSet<R>,
    loader: Arc<LoaderFn<R>>,
}

impl<R> fmt::Debug for PermissionResourceType<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PermissionResourceType")
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

impl<R: Send + Sync + 'static> PermissionResourceType<R> {
    /// The resource type `resource_type`, whose resources `loader` reads by ref.
    pub fn new<F, Fut>(resource_type: &str, loader: F) -> Self
    where
        F: Fn(Vec<String>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<Vec<Option<R>>, PermissionError>> + Send + 'static,
    {
        Self {
            rules: PermissionRuleSet::new(resource_type),
            loader: Arc::new(move |refs| Box::pin(loader(refs))),
        }
    }

    /// Adds a rule (of this resource type, with a name not used yet).
    pub fn rule(mut self, rule: Arc<dyn PermissionRule<R>>) -> Result<Self, PermissionError> {
        self.rules.add_rule(rule)?;
        Ok(self)
    }

    /// Adds rules.
    pub fn rules(
        mut self,
        rules: impl IntoIterator<Item = Arc<dyn PermissionRule<R>>>,
    ) -> Result<Self, PermissionError> {
        for rule in rules {
            self.rules.add_rule(rule)?;
        }
        Ok(self)
    }

    /// The resource type.
    pub fn resource_type(&self) -> &str {
        self.rules.resource_type()
    }

    /// The rules.
    pub fn rule_set(&self) -> &PermissionRuleSet<R> {
        &self.rules
    }
}

/// A resource type with its resource type parameter erased.
trait ErasedResourceType: Send + Sync {
    fn rules_metadata(&self) -> Vec<RuleMetadata>;
    fn validate(&self, criteria: &PermissionCriteria) -> Result<(), PermissionError>;
    fn apply<'a>(
        &'a self,
        items: Vec<(String, &'a PermissionCriteria)>,
    ) -> BoxFuture<'a, Result<Vec<bool>, PermissionError>>;
}

impl<R: Send + Sync + 'static> ErasedResourceType for PermissionResourceType<R> {
    fn rules_metadata(&self) -> Vec<RuleMetadata> {
        self.rules
            .rules()
            .into_iter()
            .map(|r| RuleMetadata {
                name: r.name().to_string(),
                description: r.description().to_string(),
                resource_type: r.resource_type().to_string(),
                params_schema: r.params_schema(),
            })
            .collect()
    }

    fn validate(&self, criteria: &PermissionCriteria) -> Result<(), PermissionError> {
        self.rules.validate(criteria)
    }

    fn apply<'a>(
        &'a self,
        items: Vec<(String, &'a PermissionCriteria)>,
    ) -> BoxFuture<'a, Result<Vec<bool>, PermissionError>> {
        Box::pin(async move {
            let mut unique: Vec<String> = Vec::new();
            let mut index: HashMap<&str, usize> = HashMap::new();
            for (r, _) in &items {
                if !index.contains_key(r.as_str()) {
                    index.insert(r.as_str(), unique.len());
                    unique.push(r.clone());
                }
            }
            let count = unique.len();
            let resources = (self.loader)(unique).await?;
            if resources.len() != count {
                return Err(PermissionError::Internal(format!(
                    "the resource loader of {} answered {} resources for {count} refs",
                    self.rules.resource_type(),
                    resources.len()
                )));
            }
            Ok(items
                .iter()
                .map(|(r, criteria)| {
                    index
                        .get(r.as_str())
                        .and_then(|i| resources[*i].as_ref())
                        .is_some_and(|resource| self.rules.apply(criteria, resource))
                })
                .collect())
        })
    }
}

/// What one plugin registered; shared between its registry service, its routes and the
/// in-process permission evaluator.
#[derive(Default)]
pub(crate) struct PluginPermissions {
    permissions: RwLock<Vec<Permission>>,
    resource_types: RwLock<HashMap<String, Arc<dyn ErasedResourceType>>>,
}

impl fmt::Debug for PluginPermissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginPermissions")
            .field("permissions", &self.permissions.read().len())
            .field(
                "resource_types",
                &self
                    .resource_types
                    .read()
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl PluginPermissions {
    pub(crate) fn owns_resource_type(&self, resource_type: &str) -> bool {
        self.resource_types.read().contains_key(resource_type)
    }

    pub(crate) fn metadata(&self) -> PermissionMetadata {
        let mut types: Vec<(String, Arc<dyn ErasedResourceType>)> = self
            .resource_types
            .read()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        types.sort_by(|a, b| a.0.cmp(&b.0));
        PermissionMetadata {
            permissions: self.permissions.read().clone(),
            rules: types.iter().flat_map(|(_, t)| t.rules_metadata()).collect(),
        }
    }

    /// Validates every item, then applies the conditions; answers in request order.
    pub(crate) async fn apply_conditions(
        &self,
        items: &[ApplyConditionsRequestItem],
    ) -> Result<Vec<ApplyConditionsResponseItem>, PermissionError> {
        let mut by_type: HashMap<&str, (Arc<dyn ErasedResourceType>, Vec<usize>)> = HashMap::new();
        {
            let types = self.resource_types.read();
            let mut unknown: Vec<&str> = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match types.get(&item.resource_type) {
                    Some(t) => {
                        t.validate(&item.conditions)?;
                        by_type
                            .entry(item.resource_type.as_str())
                            .or_insert_with(|| (t.clone(), Vec::new()))
                            .1
                            .push(i);
                    }
                    None => unknown.push(&item.resource_type),
                }
            }
            if !unknown.is_empty() {
                unknown.sort_unstable();
                unknown.dedup();
                return Err(PermissionError::Input(format!(
                    "unexpected resource types: {}",
                    unknown.join(", ")
                )));
            }
        }
        let mut results = vec![false; items.len()];
        for (_, (t, indices)) in by_type {
            let batch = indices
                .iter()
                .map(|i| (items[*i].resource_ref.clone(), &items[*i].conditions))
                .collect();
            let answers = t.apply(batch).await?;
            for (i, ok) in indices.into_iter().zip(answers) {
                results[i] = ok;
            }
        }
        Ok(items
            .iter()
            .zip(results)
            .map(|(item, ok)| ApplyConditionsResponseItem {
                id: item.id.clone(),
                result: if ok {
                    AuthorizeResult::Allow
                } else {
                    AuthorizeResult::Deny
                },
            })
            .collect())
    }
}

/// One plugin's permission registry (`core.permissionsRegistry`): get it in `init` through
/// [`PERMISSIONS_REGISTRY`](super::PERMISSIONS_REGISTRY). Depending on it mounts the plugin's
/// `/.well-known/backstage/permissions/{metadata,apply-conditions}` routes.
///
/// ```
/// use backlot::backend::Feature;
/// use backlot::services::permissions::{
///     PERMISSIONS_REGISTRY, Permission, PermissionResourceType, create_permission_rule,
/// };
/// use serde_json::json;
///
/// struct Todo { author: String }
///
/// let plugin = Feature::plugin_fn("todo", |reg| {
///     reg.init(&PERMISSIONS_REGISTRY, |registry| async move {
///         registry.add_permissions(&[
///             Permission::basic("todo.item.create", Some("create")),
///             Permission::resource("todo.item.update", "todo-item", Some("update")),
///         ]);
///         registry.add_resource_type(
///             PermissionResourceType::new("todo-item", |refs: Vec<String>| async move {
///                 Ok(refs.iter().map(|_| Some(Todo { author: "user:default/jane".into() })).collect())
///             })
///             .rule(create_permission_rule::<Todo, _>(
///                 "IS_AUTHOR", "Written by one of `authors`", "todo-item", json!({"type": "object"}),
///                 |t, p| p["authors"].as_array().is_some_and(|a| a.iter().any(|v| v == t.author.as_str())),
///             ))?,
///         )?;
///         Ok(())
///     })
/// });
/// # let _ = plugin;
/// ```
#[derive(Debug)]
pub struct PermissionsRegistry {
    plugin_id: String,
    inner: Arc<PluginPermissions>,
}

impl PermissionsRegistry {
    pub(crate) fn new(plugin_id: &str, inner: Arc<PluginPermissions>) -> Self {
        Self {
            plugin_id: plugin_id.to_string(),
            inner,
        }
    }

    /// The plugin this registry belongs to.
    pub fn plugin_id(&self) -> &str {
        &self.plugin_id
    }

    /// Declares permissions of the plugin (listed in its metadata); a name declared twice is
    /// kept once.
    pub fn add_permissions(&self, permissions: &[Permission]) {
        let mut list = self.inner.permissions.write();
        for p in permissions {
            if !list.iter().any(|q| q.name == p.name) {
                list.push(p.clone());
            }
        }
    }

    /// Declares a resource type the plugin owns, with its rules and resource loader. A type
    /// registered twice is an [`PermissionError::Input`].
    pub fn add_resource_type<R: Send + Sync + 'static>(
        &self,
        resource_type: PermissionResourceType<R>,
    ) -> Result<(), PermissionError> {
        let mut types = self.inner.resource_types.write();
        let name = resource_type.resource_type().to_string();
        if types.contains_key(&name) {
            return Err(PermissionError::Input(format!(
                "resource type {name} is already registered by plugin {}",
                self.plugin_id
            )));
        }
        types.insert(name, Arc::new(resource_type));
        Ok(())
    }

    /// What the metadata endpoint serves.
    pub fn metadata(&self) -> PermissionMetadata {
        self.inner.metadata()
    }

    /// Applies conditions to resources of this plugin, as the `apply-conditions` endpoint
    /// does: an unknown resource type or rule, or a tree deeper than
    /// [`MAX_CRITERIA_DEPTH`](super::MAX_CRITERIA_DEPTH), is an [`PermissionError::Input`].
    pub async fn apply_conditions(
        &self,
        request: &ApplyConditionsRequest,
    ) -> Result<ApplyConditionsResponse, PermissionError> {
        Ok(ApplyConditionsResponse {
            items: self.inner.apply_conditions(&request.items).await?,
        })
    }
}
