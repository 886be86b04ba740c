//! The scaffolder's permission rules, their registration, and how decisions apply to
//! template parameters, template steps and action runs.
//!
//! - `scaffolder-template` resources are a template's parameter steps and steps; the rule
//!   `HAS_TAG {tag}` holds when the item lists `tag` in `backstage:permissions.tags`.
//! - `scaffolder-action` resources are `{action, input}` of one action run; the rules are
//!   `HAS_ACTION_ID {actionId}` and `HAS_BOOLEAN_PROPERTY` / `HAS_NUMBER_PROPERTY` /
//!   `HAS_STRING_PROPERTY {key, value}` on a dotted path of the input.

use std::sync::{Arc, LazyLock};

use serde_json::{Value, json};

use crate::plugins::scaffolder::common::permissions::{
    self as scaffolder_permissions, RESOURCE_TYPE_SCAFFOLDER_ACTION,
    RESOURCE_TYPE_SCAFFOLDER_TEMPLATE,
};
use crate::services::permissions::{
    PermissionError, PermissionResourceType, PermissionRule, PermissionRuleSet,
    PermissionsRegistry, PolicyDecision, create_permission_rule,
};

fn has_tag() -> Arc<dyn PermissionRule<Value>> {
    create_permission_rule::<Value, _>(
        "HAS_TAG",
        "Match parameters or steps with the given tag in backstage:permissions.tags",
        RESOURCE_TYPE_SCAFFOLDER_TEMPLATE,
        json!({"type": "object", "required": ["tag"], "properties": {"tag": {"type": "string"}}}),
        |item, params| {
            let Some(tag) = params.get("tag").and_then(Value::as_str) else {
                return false;
            };
            item.pointer("/backstage:permissions/tags")
                .and_then(Value::as_array)
                .is_some_and(|tags| tags.iter().any(|t| t.as_str() == Some(tag)))
        },
    )
}

fn input_at<'a>(resource: &'a Value, key: &str) -> Option<&'a Value> {
    key.split('.')
        .try_fold(resource.get("input")?, |v, part| v.get(part))
}

fn property_rule(
    name: &str,
    description: &str,
    value_type: &'static str,
) -> Arc<dyn PermissionRule<Value>> {
    create_permission_rule::<Value, _>(
        name,
        description,
        RESOURCE_TYPE_SCAFFOLDER_ACTION,
        json!({"type": "object", "required": ["key"],
               "properties": {"key": {"type": "string"}, "value": {"type": value_type}}}),
        move |resource, params| {
            let Some(key) = params.get("key").and_then(Value::as_str) else {
                return false;
            };
            let Some(found) = input_at(resource, key) else {
                return false;
            };
            let type_ok = match value_type {
                "boolean" => found.is_boolean(),
                "number" => found.is_number(),
                _ => found.is_string(),
            };
            type_ok && params.get("value").is_none_or(|v| v == found)
        },
    )
}

fn action_rules() -> Vec<Arc<dyn PermissionRule<Value>>> {
    vec![
        create_permission_rule::<Value, _>(
            "HAS_ACTION_ID",
            "Match actions with the given action id",
            RESOURCE_TYPE_SCAFFOLDER_ACTION,
            json!({"type": "object", "required": ["actionId"], "properties": {"actionId": {"type": "string"}}}),
            |resource, params| {
                params.get("actionId").and_then(Value::as_str).is_some()
                    && resource.get("action") == params.get("actionId")
            },
        ),
        property_rule(
            "HAS_BOOLEAN_PROPERTY",
            "Match actions whose input has the given boolean property (and value)",
            "boolean",
        ),
        property_rule(
            "HAS_NUMBER_PROPERTY",
            "Match actions whose input has the given number property (and value)",
            "number",
        ),
        property_rule(
            "HAS_STRING_PROPERTY",
            "Match actions whose input has the given string property (and value)",
            "string",
        ),
    ]
}

static TEMPLATE_RULES: LazyLock<PermissionRuleSet<Value>> = LazyLock::new(|| {
    let mut set = PermissionRuleSet::new(RESOURCE_TYPE_SCAFFOLDER_TEMPLATE);
    let _ = set.add_rule(has_tag());
    set
});

static ACTION_RULES: LazyLock<PermissionRuleSet<Value>> = LazyLock::new(|| {
    let mut set = PermissionRuleSet::new(RESOURCE_TYPE_SCAFFOLDER_ACTION);
    for rule in action_rules() {
        let _ = set.add_rule(rule);
    }
    set
});

/// Declares the scaffolder's permissions and its two resource types with their rules.
/// Single resources cannot be loaded by ref (they exist only inside templates and task
/// runs), so `apply-conditions` answers that none was found; the plugin applies conditions
/// itself.
pub(crate) fn register(registry: &PermissionsRegistry) -> Result<(), PermissionError> {
    registry.add_permissions(&scaffolder_permissions::all());
    let none = |refs: Vec<String>| async move { Ok(refs.iter().map(|_| None).collect()) };
    registry.add_resource_type(
        PermissionResourceType::<Value>::new(RESOURCE_TYPE_SCAFFOLDER_TEMPLATE, none)
            .rule(has_tag())?,
    )?;
    registry.add_resource_type(
        PermissionResourceType::<Value>::new(RESOURCE_TYPE_SCAFFOLDER_ACTION, none)
            .rules(action_rules())?,
    )
}

/// Whether `decision` allows the parameter step or step `item` of a template.
pub(crate) fn template_item_allowed(decision: &PolicyDecision, item: &Value) -> bool {
    allowed(decision, &TEMPLATE_RULES, item)
}

/// Whether `decision` allows running `action` with `input`.
pub(crate) fn action_allowed(decision: &PolicyDecision, action: &str, input: &Value) -> bool {
    allowed(
        decision,
        &ACTION_RULES,
        &json!({"action": action, "input": input}),
    )
}

fn allowed(decision: &PolicyDecision, rules: &PermissionRuleSet<Value>, resource: &Value) -> bool {
    match decision {
        PolicyDecision::Allow => true,
        PolicyDecision::Deny => false,
        PolicyDecision::Conditional {
            resource_type,
            conditions,
            ..
        } => {
            resource_type == rules.resource_type()
                && rules.validate(conditions).is_ok()
                && rules.apply(conditions, resource)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::permissions::PermissionCriteria;

    fn conditional(resource_type: &str, criteria: Value) -> PolicyDecision {
        PolicyDecision::Conditional {
            plugin_id: "scaffolder".into(),
            resource_type: resource_type.into(),
            conditions: serde_json::from_value::<PermissionCriteria>(criteria).unwrap(),
        }
    }

    #[test]
    fn has_tag_filters_template_items() {
        let d = conditional(
            RESOURCE_TYPE_SCAFFOLDER_TEMPLATE,
            json!({"rule": "HAS_TAG", "resourceType": RESOURCE_TYPE_SCAFFOLDER_TEMPLATE, "params": {"tag": "public"}}),
        );
        assert!(template_item_allowed(
            &d,
            &json!({"backstage:permissions": {"tags": ["public"]}})
        ));
        assert!(!template_item_allowed(
            &d,
            &json!({"backstage:permissions": {"tags": ["secret"]}})
        ));
        assert!(!template_item_allowed(&d, &json!({})));
    }

    #[test]
    fn action_rules_match_id_and_input() {
        let d = conditional(
            RESOURCE_TYPE_SCAFFOLDER_ACTION,
            json!({"anyOf": [
                {"rule": "HAS_ACTION_ID", "resourceType": RESOURCE_TYPE_SCAFFOLDER_ACTION, "params": {"actionId": "debug:log"}},
                {"rule": "HAS_BOOLEAN_PROPERTY", "resourceType": RESOURCE_TYPE_SCAFFOLDER_ACTION, "params": {"key": "a.dry", "value": true}}
            ]}),
        );
        assert!(action_allowed(&d, "debug:log", &json!({})));
        assert!(action_allowed(
            &d,
            "publish:github",
            &json!({"a": {"dry": true}})
        ));
        assert!(!action_allowed(
            &d,
            "publish:github",
            &json!({"a": {"dry": false}})
        ));
        assert!(!action_allowed(
            &PolicyDecision::Deny,
            "debug:log",
            &json!({})
        ));
    }
}
