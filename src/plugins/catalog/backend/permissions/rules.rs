//! The catalog's permission rules (Backstage's `permissionRules` of
//! `@backstage/plugin-catalog-backend`): each has a name, a description, a JSON schema of its
//! parameters, and one meaning given two ways — a filter of the index (for conditional
//! decisions on lists) and a test of one entity (for decisions about one resource). Both come
//! from the same [`Predicate`], evaluated on the same search keys, so they never disagree.
//!
//! Keys and values compare case-insensitively, as the catalog's `filter` does (Backstage
//! lowercases both in its `toQuery` translation).

use serde::Deserialize;
use serde_json::{Value, json};

use crate::plugins::catalog::common::Entity;
use crate::plugins::catalog::common::permissions::RESOURCE_TYPE_CATALOG_ENTITY;
use crate::plugins::catalog::common::permissions::conditions::rule_names;
use crate::services::permissions::PermissionRule;

use super::super::error::CatalogError;
use super::super::index::entity_matches;
use super::super::predicate::Predicate;

fn lower(s: &str) -> String {
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        s.to_lowercase()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RuleKind {
    HasAnnotation,
    HasLabel,
    HasMetadata,
    HasSpec,
    IsEntityKind,
    IsEntityOwner,
}

/// A rule of the catalog about `catalog-entity` resources, usable in the conditions of a
/// permission policy's decision.
///
/// ```
/// use backlot::plugins::catalog::backend::permissions::{CatalogRule, rules};
/// use backlot::plugins::catalog::common::Entity;
/// use serde_json::json;
///
/// let kind = CatalogRule::by_name("IS_ENTITY_KIND").unwrap();
/// assert_eq!(kind.resource_type(), "catalog-entity");
/// assert_eq!(kind.params_schema()["required"], json!(["kinds"]));
///
/// let api = Entity::new("backstage.io/v1alpha1", "API", "petstore");
/// assert!(kind.apply(&api, &json!({"kinds": ["api"]}))?);
/// assert!(!kind.apply(&api, &json!({"kinds": ["Component"]}))?);
/// assert_eq!(rules().len(), 6);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogRule {
    name: &'static str,
    description: &'static str,
    kind: RuleKind,
}

const RULES: [CatalogRule; 6] = [
    CatalogRule {
        name: rule_names::HAS_ANNOTATION,
        description: "Allow entities with the specified annotation",
        kind: RuleKind::HasAnnotation,
    },
    CatalogRule {
        name: rule_names::HAS_LABEL,
        description: "Allow entities with the specified label",
        kind: RuleKind::HasLabel,
    },
    CatalogRule {
        name: rule_names::HAS_METADATA,
        description: "Allow entities with the specified metadata subfield",
        kind: RuleKind::HasMetadata,
    },
    CatalogRule {
        name: rule_names::HAS_SPEC,
        description: "Allow entities with the specified spec subfield",
        kind: RuleKind::HasSpec,
    },
    CatalogRule {
        name: rule_names::IS_ENTITY_KIND,
        description: "Allow entities matching a specified kind",
        kind: RuleKind::IsEntityKind,
    },
    CatalogRule {
        name: rule_names::IS_ENTITY_OWNER,
        description: "Allow entities owned by a specified claim",
        kind: RuleKind::IsEntityOwner,
    },
];

/// Every rule of the catalog, in Backstage's order.
pub fn rules() -> &'static [CatalogRule] {
    &RULES
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnnotationParams {
    annotation: String,
    #[serde(default)]
    value: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelParams {
    label: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PropertyParams {
    key: String,
    #[serde(default)]
    value: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KindParams {
    kinds: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OwnerParams {
    claims: Vec<String>,
}

fn string_prop(description: &str) -> Value {
    json!({ "type": "string", "description": description })
}

fn array_prop(description: &str) -> Value {
    json!({ "type": "array", "items": { "type": "string" }, "description": description })
}

fn schema(properties: Value, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
        "$schema": "http://json-schema.org/draft-07/schema#",
    })
}

/// The key exists, or has `value` when given.
fn key_predicate(key: String, value: Option<String>) -> Predicate {
    match value {
        None => Predicate::Exists { key, exists: true },
        Some(v) => Predicate::In {
            key,
            values: vec![lower(&v)],
        },
    }
}

impl CatalogRule {
    /// The rule named `name` (`IS_ENTITY_OWNER`, ...).
    pub fn by_name(name: &str) -> Option<&'static CatalogRule> {
        RULES.iter().find(|r| r.name == name)
    }

    /// The rule's name, such as `IS_ENTITY_OWNER`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// What the rule allows, for people writing policies.
    pub fn description(&self) -> &'static str {
        self.description
    }

    /// The resource type the rule is about (`catalog-entity`).
    pub fn resource_type(&self) -> &'static str {
        RESOURCE_TYPE_CATALOG_ENTITY
    }

    /// The JSON schema (draft 7) of the rule's parameters, as Backstage's permission metadata
    /// endpoint publishes it.
    pub fn params_schema(&self) -> Value {
        let key = |what: &str| {
            schema(
                json!({
                    "key": string_prop(&format!("Property within the entities {what} to match on")),
                    "value": string_prop("Value of the given property to match on"),
                }),
                &["key"],
            )
        };
        match self.kind {
            RuleKind::HasAnnotation => schema(
                json!({
                    "annotation": string_prop("Name of the annotation to match on"),
                    "value": string_prop("Value of the annotation to match on"),
                }),
                &["annotation"],
            ),
            RuleKind::HasLabel => schema(
                json!({ "label": string_prop("Name of the label to match on") }),
                &["label"],
            ),
            RuleKind::HasMetadata => key("metadata"),
            RuleKind::HasSpec => key("spec"),
            RuleKind::IsEntityKind => schema(
                json!({ "kinds": array_prop("List of kinds to match at least one of") }),
                &["kinds"],
            ),
            RuleKind::IsEntityOwner => schema(
                json!({ "claims": array_prop("List of claims to match at least one on within ownedBy") }),
                &["claims"],
            ),
        }
    }

    /// Whether `entity` satisfies the rule with `params`; an error for parameters that do not
    /// fit [`params_schema`](Self::params_schema).
    pub fn apply(&self, entity: &Entity, params: &Value) -> Result<bool, CatalogError> {
        let predicate = self.to_predicate(params)?;
        let value = serde_json::to_value(entity).map_err(|e| CatalogError::Conditions {
            message: format!("entity cannot be read: {e}"),
        })?;
        Ok(entity_matches(&value, &predicate))
    }

    /// The rule with `params` as a filter of the index (Backstage's `toQuery`).
    pub(crate) fn to_predicate(self, params: &Value) -> Result<Predicate, CatalogError> {
        let bad = |e: serde_json::Error| CatalogError::Conditions {
            message: format!("parameters of rule {}: {e}", self.name),
        };
        let params = if params.is_null() {
            &Value::Object(serde_json::Map::new())
        } else {
            params
        };
        Ok(match self.kind {
            RuleKind::HasAnnotation => {
                let p = AnnotationParams::deserialize(params).map_err(bad)?;
                key_predicate(
                    format!("metadata.annotations.{}", lower(&p.annotation)),
                    p.value,
                )
            }
            RuleKind::HasLabel => {
                let p = LabelParams::deserialize(params).map_err(bad)?;
                key_predicate(format!("metadata.labels.{}", lower(&p.label)), None)
            }
            RuleKind::HasMetadata => {
                let p = PropertyParams::deserialize(params).map_err(bad)?;
                key_predicate(format!("metadata.{}", lower(&p.key)), p.value)
            }
            RuleKind::HasSpec => {
                let p = PropertyParams::deserialize(params).map_err(bad)?;
                key_predicate(format!("spec.{}", lower(&p.key)), p.value)
            }
            RuleKind::IsEntityKind => {
                let p = KindParams::deserialize(params).map_err(bad)?;
                Predicate::In {
                    key: "kind".into(),
                    values: p.kinds.iter().map(|k| lower(k)).collect(),
                }
            }
            RuleKind::IsEntityOwner => {
                let p = OwnerParams::deserialize(params).map_err(bad)?;
                Predicate::In {
                    key: "relations.ownedby".into(),
                    values: p.claims.iter().map(|c| lower(c)).collect(),
                }
            }
        })
    }
}

/// The rule as the permission framework applies it: to a final entity's JSON, when the
/// permission backend resolves a conditional decision about one entity (`apply-conditions`).
impl PermissionRule<Value> for CatalogRule {
    fn name(&self) -> &str {
        self.name
    }

    fn description(&self) -> &str {
        self.description
    }

    fn resource_type(&self) -> &str {
        RESOURCE_TYPE_CATALOG_ENTITY
    }

    fn params_schema(&self) -> Value {
        CatalogRule::params_schema(self)
    }

    fn validate_params(&self, params: &Value) -> Result<(), String> {
        self.to_predicate(params)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn apply(&self, entity: &Value, params: &Value) -> bool {
        self.to_predicate(params)
            .is_ok_and(|p| entity_matches(entity, &p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::catalog::common::{EntityRef, EntityRelation, RELATION_OWNED_BY};

    fn entity() -> Entity {
        let mut e: Entity = serde_json::from_value(json!({
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Component",
            "metadata": {
                "name": "petstore",
                "annotations": { "backstage.io/techdocs-ref": "dir:." },
                "labels": { "tier": "Gold" },
                "tags": ["java", "web"],
            },
            "spec": { "type": "service", "lifecycle": "production", "owner": "team-a" },
        }))
        .unwrap();
        e.relations = Some(vec![EntityRelation::new(
            RELATION_OWNED_BY,
            &EntityRef::new("Group", "default", "Team-A"),
        )]);
        e
    }

    fn apply(rule: &str, params: Value) -> bool {
        CatalogRule::by_name(rule)
            .unwrap()
            .apply(&entity(), &params)
            .unwrap()
    }

    #[test]
    fn every_rule_holds_and_fails_where_backstage_does() {
        let e = "HAS_ANNOTATION";
        assert!(apply(
            e,
            json!({ "annotation": "backstage.io/techdocs-ref" })
        ));
        assert!(apply(
            e,
            json!({ "annotation": "Backstage.io/TechDocs-Ref", "value": "DIR:." })
        ));
        assert!(!apply(
            e,
            json!({ "annotation": "backstage.io/techdocs-ref", "value": "url:x" })
        ));
        assert!(!apply(e, json!({ "annotation": "backstage.io/orphan" })));
        assert!(apply("HAS_LABEL", json!({ "label": "tier" })));
        assert!(!apply("HAS_LABEL", json!({ "label": "team" })));
        assert!(apply(
            "HAS_METADATA",
            json!({ "key": "tags", "value": "java" })
        ));
        assert!(apply("HAS_METADATA", json!({ "key": "labels.tier" })));
        assert!(!apply(
            "HAS_METADATA",
            json!({ "key": "tags", "value": "go" })
        ));
        assert!(apply(
            "HAS_SPEC",
            json!({ "key": "lifecycle", "value": "Production" })
        ));
        assert!(!apply("HAS_SPEC", json!({ "key": "system" })));
        assert!(apply(
            "IS_ENTITY_KIND",
            json!({ "kinds": ["API", "component"] })
        ));
        assert!(!apply("IS_ENTITY_KIND", json!({ "kinds": [] })));
        assert!(apply(
            "IS_ENTITY_OWNER",
            json!({ "claims": ["user:default/jane", "group:default/team-a"] })
        ));
        assert!(!apply(
            "IS_ENTITY_OWNER",
            json!({ "claims": ["group:default/team-b"] })
        ));
    }

    #[test]
    fn bad_params_name_the_rule() {
        let kind = CatalogRule::by_name("IS_ENTITY_KIND").unwrap();
        for params in [
            json!({}),
            json!({ "kinds": "api" }),
            json!({ "kinds": ["api"], "extra": 1 }),
            Value::Null,
        ] {
            let err = kind.apply(&entity(), &params).unwrap_err().to_string();
            assert!(err.contains("IS_ENTITY_KIND"), "{err}");
        }
    }

    #[test]
    fn schemas_list_their_parameters() {
        for rule in rules() {
            let schema = rule.params_schema();
            let props = schema["properties"].as_object().unwrap();
            for required in schema["required"].as_array().unwrap() {
                assert!(
                    props.contains_key(required.as_str().unwrap()),
                    "{}",
                    rule.name
                );
            }
            assert_eq!(schema["additionalProperties"], false);
            assert!(!rule.description().is_empty());
        }
        assert!(CatalogRule::by_name("IS_ENTITY_PROPERTY").is_none());
    }
}
