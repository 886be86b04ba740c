//! Permission rules and condition trees over a plugin's own resources, as Backstage's
//! `createPermissionRule` and `createConditionExports` (`@backstage/plugin-permission-node`).
//!
//! A plugin that owns a resource type declares [`PermissionRule`]s for it (the catalog's
//! `IS_ENTITY_OWNER`, `HAS_LABEL`, ...). Policies refer to the rules by name in conditional
//! decisions ([`ConditionFactory`]); the plugin applies them to one resource at a time
//! ([`PermissionRuleSet::apply`]) when the permission backend asks it to
//! (`apply-conditions`), or turns them into a query of its own.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use super::types::{MAX_CRITERIA_DEPTH, Permission, PermissionCondition, PermissionCriteria};
use super::{PermissionError, PolicyDecision};

/// A named predicate over resources of one type, with JSON parameters.
///
/// Implement it directly, or build one from a closure with [`create_permission_rule`].
///
/// ```
/// use backlot::services::permissions::PermissionRule;
/// use serde_json::{Value, json};
///
/// struct Todo { author: String }
///
/// /// `IS_AUTHOR {authors: [..]}`: the todo was written by one of `authors`.
/// struct IsAuthor;
///
/// impl PermissionRule<Todo> for IsAuthor {
///     fn name(&self) -> &str { "IS_AUTHOR" }
///     fn description(&self) -> &str { "Allow todos written by one of the given users" }
///     fn resource_type(&self) -> &str { "todo-item" }
///     fn params_schema(&self) -> Value {
///         json!({"type": "object", "properties": {"authors": {"type": "array", "items": {"type": "string"}}},
///                "required": ["authors"]})
///     }
///     fn apply(&self, todo: &Todo, params: &Value) -> bool {
///         params["authors"].as_array().is_some_and(|a| a.iter().any(|v| v == todo.author.as_str()))
///     }
/// }
///
/// let todo = Todo { author: "user:default/jane".into() };
/// assert!(IsAuthor.apply(&todo, &json!({"authors": ["user:default/jane"]})));
/// assert!(!IsAuthor.apply(&todo, &json!({"authors": []})));
/// ```
pub trait PermissionRule<R: ?Sized>: Send + Sync {
    /// The rule's name, such as `IS_ENTITY_OWNER`; unique within its resource type.
    fn name(&self) -> &str;
    /// What the rule checks, for people writing policies.
    fn description(&self) -> &str;
    /// The resource type the rule applies to, such as `catalog-entity`.
    fn resource_type(&self) -> &str;
    /// The JSON schema of the rule's parameters (served in the plugin's permission metadata).
    fn params_schema(&self) -> Value {
        serde_json::json!({"type": "object"})
    }
    /// Checks `params` before the rule is applied; an error is a 400 for the caller. The
    /// default accepts any object, or no parameters.
    fn validate_params(&self, params: &Value) -> Result<(), String> {
        match params {
            Value::Object(_) | Value::Null => Ok(()),
            _ => Err(format!(
                "parameters of rule {} must be an object",
                self.name()
            )),
        }
    }
    /// Whether `resource` satisfies the rule with `params`.
    fn apply(&self, resource: &R, params: &Value) -> bool;
}

type ApplyFn<R> = dyn Fn(&R, &Value) -> bool + Send + Sync;

/// A [`PermissionRule`] made from a closure; see [`create_permission_rule`].
pub struct FnRule<R: ?Sized> {
    name: String,
    description: String,
    resource_type: String,
    params_schema: Value,
    apply: Box<ApplyFn<R>>,
}

impl<R: ?Sized> fmt::Debug for FnRule<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnRule")
            .field("name", &self.name)
            .field("resource_type", &self.resource_type)
            .finish_non_exhaustive()
    }
}

impl<R: ?Sized> PermissionRule<R> for FnRule<R> {
    fn name(&self) -> &str {
        &self.name
    }
    fn description(&self) -> &str {
        &self.description
    }
    fn resource_type(&self) -> &str {
        &self.resource_type
    }
    fn params_schema(&self) -> Value {
        self.params_schema.clone()
    }
    fn apply(&self, resource: &R, params: &Value) -> bool {
        (self.apply)(resource, params)
    }
}

/// A rule from a closure, as Backstage's `createPermissionRule`.
///
/// ```
/// use backlot::services::permissions::create_permission_rule;
/// use serde_json::json;
///
/// struct Todo { done: bool }
///
/// let is_done = create_permission_rule::<Todo, _>(
///     "IS_DONE", "Allow finished todos", "todo-item", json!({"type": "object"}),
///     |todo, _params| todo.done,
/// );
/// assert!(is_done.apply(&Todo { done: true }, &json!({})));
/// ```
pub fn create_permission_rule<R: ?Sized + 'static, F>(
    name: &str,
    description: &str,
    resource_type: &str,
    params_schema: Value,
    apply: F,
) -> Arc<dyn PermissionRule<R>>
where
    F: Fn(&R, &Value) -> bool + Send + Sync + 'static,
{
    Arc::new(FnRule {
        name: name.to_string(),
        description: description.to_string(),
        resource_type: resource_type.to_string(),
        params_schema,
        apply: Box::new(apply),
    })
}

/// The rules of one resource type, by name: validates condition trees against them and
/// applies the trees to resources.
///
/// ```
/// use backlot::services::permissions::{PermissionCriteria, PermissionRuleSet, create_permission_rule};
/// use serde_json::json;
///
/// struct Todo { author: String, done: bool }
///
/// let rules = PermissionRuleSet::new("todo-item")
///     .with_rule(create_permission_rule::<Todo, _>(
///         "IS_AUTHOR", "Written by one of `authors`", "todo-item", json!({"type": "object"}),
///         |t, p| p["authors"].as_array().is_some_and(|a| a.iter().any(|v| v == t.author.as_str())),
///     ))?
///     .with_rule(create_permission_rule::<Todo, _>(
///         "IS_DONE", "Finished", "todo-item", json!({"type": "object"}), |t, _| t.done,
///     ))?;
///
/// let criteria: PermissionCriteria = serde_json::from_value(json!({"anyOf": [
///     {"rule": "IS_AUTHOR", "resourceType": "todo-item", "params": {"authors": ["user:default/jane"]}},
///     {"rule": "IS_DONE", "resourceType": "todo-item"}
/// ]}))?;
/// rules.validate(&criteria)?;
/// assert!(rules.apply(&criteria, &Todo { author: "user:default/jane".into(), done: false }));
/// assert!(!rules.apply(&criteria, &Todo { author: "user:default/joe".into(), done: false }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct PermissionRuleSet<R: ?Sized> {
    resource_type: String,
    rules: HashMap<String, Arc<dyn PermissionRule<R>>>,
}

impl<R: ?Sized> Clone for PermissionRuleSet<R> {
    fn clone(&self) -> Self {
        Self {
            resource_type: self.resource_type.clone(),
            rules: self.rules.clone(),
        }
    }
}

impl<R: ?Sized> fmt::Debug for PermissionRuleSet<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.rules.keys().collect();
        names.sort();
        f.debug_struct("PermissionRuleSet")
            .field("resource_type", &self.resource_type)
            .field("rules", &names)
            .finish()
    }
}

impl<R: ?Sized> PermissionRuleSet<R> {
    /// No rules yet, for resources of `resource_type`.
    pub fn new(resource_type: &str) -> Self {
        Self {
            resource_type: resource_type.to_string(),
            rules: HashMap::new(),
        }
    }

    /// Adds a rule; a rule of another resource type, or a second rule with one name, is an
    /// [`PermissionError::Input`].
    pub fn add_rule(&mut self, rule: Arc<dyn PermissionRule<R>>) -> Result<(), PermissionError> {
        if rule.resource_type() != self.resource_type {
            return Err(PermissionError::Input(format!(
                "rule {} is for resource type {}, not {}",
                rule.name(),
                rule.resource_type(),
                self.resource_type
            )));
        }
        if self.rules.contains_key(rule.name()) {
            return Err(PermissionError::Input(format!(
                "rule {} of resource type {} is already registered",
                rule.name(),
                self.resource_type
            )));
        }
        self.rules.insert(rule.name().to_string(), rule);
        Ok(())
    }

    /// [`add_rule`](Self::add_rule), builder style.
    pub fn with_rule(mut self, rule: Arc<dyn PermissionRule<R>>) -> Result<Self, PermissionError> {
        self.add_rule(rule)?;
        Ok(self)
    }

    /// The resource type.
    pub fn resource_type(&self) -> &str {
        &self.resource_type
    }

    /// The rule named `name`.
    pub fn rule(&self, name: &str) -> Option<&Arc<dyn PermissionRule<R>>> {
        self.rules.get(name)
    }

    /// Every rule, sorted by name.
    pub fn rules(&self) -> Vec<&Arc<dyn PermissionRule<R>>> {
        let mut rules: Vec<_> = self.rules.values().collect();
        rules.sort_by(|a, b| a.name().cmp(b.name()));
        rules
    }

    /// Checks a condition tree from a caller: at most [`MAX_CRITERIA_DEPTH`] deep, every
    /// condition of this resource type, naming a known rule, with valid parameters. Errors are
    /// [`PermissionError::Input`] (400).
    pub fn validate(&self, criteria: &PermissionCriteria) -> Result<(), PermissionError> {
        if criteria.depth() > MAX_CRITERIA_DEPTH {
            return Err(PermissionError::Input(format!(
                "conditions nest deeper than {MAX_CRITERIA_DEPTH} levels"
            )));
        }
        self.validate_node(criteria)
    }

    fn validate_node(&self, criteria: &PermissionCriteria) -> Result<(), PermissionError> {
        match criteria {
            PermissionCriteria::AllOf { all_of: v } | PermissionCriteria::AnyOf { any_of: v } => {
                v.iter().try_for_each(|c| self.validate_node(c))
            }
            PermissionCriteria::Not { not } => self.validate_node(not),
            PermissionCriteria::Condition(c) => {
                if c.resource_type != self.resource_type {
                    return Err(PermissionError::Input(format!(
                        "condition for resource type {} where {} was expected",
                        c.resource_type, self.resource_type
                    )));
                }
                let rule = self.rules.get(&c.rule).ok_or_else(|| {
                    PermissionError::Input(format!(
                        "unknown permission rule {} for resource type {}",
                        c.rule, self.resource_type
                    ))
                })?;
                rule.validate_params(c.params.as_ref().unwrap_or(&Value::Null))
                    .map_err(PermissionError::Input)
            }
        }
    }

    /// Whether `resource` satisfies `criteria` (`allOf` of nothing holds, `anyOf` of nothing
    /// does not). A condition naming an unknown rule does not hold; call
    /// [`validate`](Self::validate) first to refuse such trees.
    pub fn apply(&self, criteria: &PermissionCriteria, resource: &R) -> bool {
        match criteria {
            PermissionCriteria::AllOf { all_of } => all_of.iter().all(|c| self.apply(c, resource)),
            PermissionCriteria::AnyOf { any_of } => any_of.iter().any(|c| self.apply(c, resource)),
            PermissionCriteria::Not { not } => !self.apply(not, resource),
            PermissionCriteria::Condition(c) => match self.rules.get(&c.rule) {
                Some(rule) => rule.apply(resource, c.params.as_ref().unwrap_or(&Value::Null)),
                None => false,
            },
        }
    }
}

/// Builds conditions and conditional decisions for the resource type of one plugin, as
/// Backstage's `createConditionFactory` / `createConditionExports`. Policies use it.
///
/// ```
/// use backlot::services::permissions::{ConditionFactory, Permission, PolicyDecision};
/// use serde_json::json;
///
/// let catalog = ConditionFactory::new("catalog", "catalog-entity");
/// let read = Permission::resource("catalog.entity.read", "catalog-entity", Some("read"));
/// let decision = catalog.decision(&read, catalog.any_of(vec![
///     catalog.condition("IS_ENTITY_OWNER", json!({"claims": ["group:default/team-a"]})),
///     catalog.condition("IS_ENTITY_KIND", json!({"kinds": ["template"]})),
/// ]));
/// assert!(matches!(decision, PolicyDecision::Conditional { ref plugin_id, .. } if plugin_id == "catalog"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionFactory {
    plugin_id: String,
    resource_type: String,
}

impl ConditionFactory {
    /// Conditions on `resource_type`, owned by plugin `plugin_id`.
    pub fn new(plugin_id: &str, resource_type: &str) -> Self {
        Self {
            plugin_id: plugin_id.to_string(),
            resource_type: resource_type.to_string(),
        }
    }

    /// The plugin owning the resource type.
    pub fn plugin_id(&self) -> &str {
        &self.plugin_id
    }

    /// The resource type.
    pub fn resource_type(&self) -> &str {
        &self.resource_type
    }

    /// The condition `rule(params)`.
    pub fn condition(&self, rule: &str, params: Value) -> PermissionCriteria {
        PermissionCriteria::Condition(PermissionCondition {
            rule: rule.to_string(),
            resource_type: self.resource_type.clone(),
            params: Some(params),
        })
    }

    /// Every criterion holds.
    pub fn all_of(&self, criteria: Vec<PermissionCriteria>) -> PermissionCriteria {
        PermissionCriteria::AllOf { all_of: criteria }
    }

    /// At least one criterion holds.
    pub fn any_of(&self, criteria: Vec<PermissionCriteria>) -> PermissionCriteria {
        PermissionCriteria::AnyOf { any_of: criteria }
    }

    /// The criterion does not hold.
    pub fn not(&self, criterion: PermissionCriteria) -> PermissionCriteria {
        PermissionCriteria::Not {
            not: Box::new(criterion),
        }
    }

    /// The conditional decision for `permission` under `conditions`; `DENY` when
    /// `permission` is not a permission on this factory's resource type.
    pub fn decision(
        &self,
        permission: &Permission,
        conditions: PermissionCriteria,
    ) -> PolicyDecision {
        if permission.resource_type.as_deref() != Some(self.resource_type.as_str()) {
            return PolicyDecision::Deny;
        }
        PolicyDecision::Conditional {
            plugin_id: self.plugin_id.clone(),
            resource_type: self.resource_type.clone(),
            conditions,
        }
    }
}

/// A conditional decision for the resource permission `permission`, whose resource type
/// plugin `plugin_id` owns, as Backstage's `createConditionalDecision`. A basic permission
/// cannot be conditional: it gets `DENY`.
///
/// ```
/// use backlot::services::permissions::{Permission, PolicyDecision, create_conditional_decision};
/// use serde_json::json;
///
/// let read = Permission::resource("catalog.entity.read", "catalog-entity", Some("read"));
/// let conditions = serde_json::from_value(json!({"rule": "IS_ENTITY_KIND",
///     "resourceType": "catalog-entity", "params": {"kinds": ["component"]}}))?;
/// let decision = create_conditional_decision(&read, "catalog", conditions);
/// assert_eq!(serde_json::to_value(&decision)?["result"], "CONDITIONAL");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn create_conditional_decision(
    permission: &Permission,
    plugin_id: &str,
    conditions: PermissionCriteria,
) -> PolicyDecision {
    match &permission.resource_type {
        Some(resource_type) => PolicyDecision::Conditional {
            plugin_id: plugin_id.to_string(),
            resource_type: resource_type.clone(),
            conditions,
        },
        None => PolicyDecision::Deny,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules() -> PermissionRuleSet<i64> {
        PermissionRuleSet::new("num")
            .with_rule(create_permission_rule::<i64, _>(
                "GT",
                "greater than",
                "num",
                json!({}),
                |n, p| p["v"].as_i64().is_some_and(|v| *n > v),
            ))
            .unwrap()
    }

    fn cond(v: i64) -> PermissionCriteria {
        ConditionFactory::new("p", "num").condition("GT", json!({ "v": v }))
    }

    #[test]
    fn combinators() {
        let r = rules();
        let f = ConditionFactory::new("p", "num");
        assert!(r.apply(&f.all_of(vec![cond(1), cond(2)]), &3));
        assert!(!r.apply(&f.all_of(vec![cond(1), cond(5)]), &3));
        assert!(r.apply(&f.any_of(vec![cond(1), cond(5)]), &3));
        assert!(!r.apply(&f.any_of(vec![]), &3));
        assert!(r.apply(&f.all_of(vec![]), &3));
        assert!(r.apply(&f.not(cond(5)), &3));
    }

    #[test]
    fn validation() {
        let r = rules();
        let unknown = ConditionFactory::new("p", "num").condition("NOPE", json!({}));
        assert!(matches!(
            r.validate(&unknown),
            Err(PermissionError::Input(_))
        ));
        let other = ConditionFactory::new("p", "other").condition("GT", json!({}));
        assert!(matches!(r.validate(&other), Err(PermissionError::Input(_))));
        let mut deep = cond(1);
        for _ in 0..MAX_CRITERIA_DEPTH {
            deep = PermissionCriteria::Not {
                not: Box::new(deep),
            };
        }
        assert!(matches!(r.validate(&deep), Err(PermissionError::Input(_))));
        let bad_params = ConditionFactory::new("p", "num").condition("GT", json!([1]));
        assert!(r.validate(&bad_params).is_err());
        assert!(r.validate(&cond(1)).is_ok());
    }

    #[test]
    fn duplicate_and_foreign_rules_refused() {
        let mut r = rules();
        let dup = create_permission_rule::<i64, _>("GT", "", "num", json!({}), |_, _| true);
        assert!(r.add_rule(dup).is_err());
        let foreign = create_permission_rule::<i64, _>("X", "", "other", json!({}), |_, _| true);
        assert!(r.add_rule(foreign).is_err());
    }

    #[test]
    fn basic_permission_cannot_be_conditional() {
        let p = Permission::basic("x.create", Some("create"));
        assert_eq!(
            create_conditional_decision(&p, "x", cond(1)),
            PolicyDecision::Deny
        );
    }
}
