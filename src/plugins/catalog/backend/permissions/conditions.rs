//! Conditional decisions as index filters: `allOf`/`anyOf`/`not` trees of rule conditions
//! become `All`/`Any`/`Not` trees of [`Predicate`]s, which the index evaluates together with
//! the caller's own query.

use crate::plugins::catalog::common::permissions::RESOURCE_TYPE_CATALOG_ENTITY;
use crate::services::permissions::{MAX_CRITERIA_DEPTH, PermissionCriteria, PolicyDecision};

use super::super::error::CatalogError;
use super::super::predicate::Predicate;
use super::rules::CatalogRule;

fn bad(message: impl Into<String>) -> CatalogError {
    CatalogError::Conditions {
        message: message.into(),
    }
}

/// The filter equal to a criteria tree; errors for unknown rules, rules of other resource
/// types, bad parameters and trees nested deeper than [`MAX_CRITERIA_DEPTH`].
pub(crate) fn criteria_predicate(criteria: &PermissionCriteria) -> Result<Predicate, CatalogError> {
    to_predicate(criteria, 1)
}

fn to_predicate(criteria: &PermissionCriteria, depth: usize) -> Result<Predicate, CatalogError> {
    if depth > MAX_CRITERIA_DEPTH {
        return Err(bad(format!(
            "conditions nested deeper than {MAX_CRITERIA_DEPTH} levels"
        )));
    }
    let all = |items: &[PermissionCriteria]| {
        items
            .iter()
            .map(|c| to_predicate(c, depth + 1))
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(match criteria {
        PermissionCriteria::AllOf { all_of } => Predicate::All(all(all_of)?),
        PermissionCriteria::AnyOf { any_of } => Predicate::Any(all(any_of)?),
        PermissionCriteria::Not { not } => Predicate::Not(Box::new(to_predicate(not, depth + 1)?)),
        PermissionCriteria::Condition(c) => {
            if c.resource_type != RESOURCE_TYPE_CATALOG_ENTITY {
                return Err(bad(format!(
                    "rule {} is about {}, not {RESOURCE_TYPE_CATALOG_ENTITY}",
                    c.rule, c.resource_type
                )));
            }
            let rule = CatalogRule::by_name(&c.rule)
                .ok_or_else(|| bad(format!("unknown rule {}", c.rule)))?;
            rule.to_predicate(c.params.as_ref().unwrap_or(&serde_json::Value::Null))?
        }
    })
}

/// Which entities a caller may read: everything, or those matching a filter (nothing: a filter
/// no entity matches).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReadScope(Option<Predicate>);

impl ReadScope {
    /// Every entity.
    pub(crate) const ALL: Self = Self(None);

    /// No entity.
    pub(crate) fn nothing() -> Self {
        Self(Some(Predicate::Any(Vec::new())))
    }

    /// The entities matching `predicate`.
    pub(crate) fn only(predicate: Predicate) -> Self {
        if predicate.is_everything() {
            Self::ALL
        } else {
            Self(Some(predicate))
        }
    }

    /// The scope of a policy's answer to `catalog.entity.read`.
    pub(crate) fn from_decision(decision: &PolicyDecision) -> Result<Self, CatalogError> {
        match decision {
            PolicyDecision::Allow => Ok(Self::ALL),
            PolicyDecision::Deny => Ok(Self::nothing()),
            PolicyDecision::Conditional {
                resource_type,
                conditions,
                ..
            } => {
                if resource_type != RESOURCE_TYPE_CATALOG_ENTITY {
                    return Err(bad(format!(
                        "a decision about {resource_type} cannot filter catalog entities"
                    )));
                }
                criteria_predicate(conditions).map(Self::only)
            }
        }
    }

    /// The filter, `None` when every entity is visible.
    pub(crate) fn predicate(&self) -> Option<&Predicate> {
        self.0.as_ref()
    }

    /// `query` limited to the scope.
    pub(crate) fn restrict(&self, query: &Predicate) -> Predicate {
        match &self.0 {
            None => query.clone(),
            Some(scope) if query.is_everything() => scope.clone(),
            Some(scope) => Predicate::All(vec![query.clone(), scope.clone()]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::catalog::common::permissions::conditions::{
        decision, has_label, is_entity_kind, is_entity_owner,
    };
    use crate::services::permissions::PermissionCondition;

    #[test]
    fn trees_become_predicates() {
        let tree = PermissionCriteria::AnyOf {
            any_of: vec![
                is_entity_owner(["User:default/Jane"]),
                PermissionCriteria::Not {
                    not: Box::new(is_entity_kind(["User"])),
                },
                PermissionCriteria::AllOf {
                    all_of: vec![has_label("public")],
                },
            ],
        };
        let scope = ReadScope::from_decision(&decision(tree)).unwrap();
        assert_eq!(
            scope.predicate(),
            Some(&Predicate::Any(vec![
                Predicate::In {
                    key: "relations.ownedby".into(),
                    values: vec!["user:default/jane".into()],
                },
                Predicate::Not(Box::new(Predicate::In {
                    key: "kind".into(),
                    values: vec!["user".into()],
                })),
                Predicate::All(vec![Predicate::Exists {
                    key: "metadata.labels.public".into(),
                    exists: true,
                }]),
            ]))
        );
        assert_eq!(
            ReadScope::from_decision(&PolicyDecision::Allow).unwrap(),
            ReadScope::ALL
        );
        let deny = ReadScope::from_decision(&PolicyDecision::Deny).unwrap();
        assert_eq!(deny.predicate(), Some(&Predicate::Any(Vec::new())));
        // An empty allOf allows everything, as in Backstage.
        let all = decision(PermissionCriteria::AllOf { all_of: vec![] });
        assert_eq!(ReadScope::from_decision(&all).unwrap(), ReadScope::ALL);
    }

    #[test]
    fn unusable_conditions_are_errors() {
        let unknown = PermissionCriteria::Condition(PermissionCondition {
            rule: "IS_ENTITY_PROPERTY".into(),
            resource_type: RESOURCE_TYPE_CATALOG_ENTITY.into(),
            params: None,
        });
        let other_type = PermissionCriteria::Condition(PermissionCondition {
            rule: "HAS_LABEL".into(),
            resource_type: "scaffolder-template".into(),
            params: Some(serde_json::json!({ "label": "x" })),
        });
        let mut deep = has_label("x");
        for _ in 0..MAX_CRITERIA_DEPTH {
            deep = PermissionCriteria::Not {
                not: Box::new(deep),
            };
        }
        for tree in [unknown, other_type, deep] {
            assert!(matches!(
                ReadScope::from_decision(&decision(tree)),
                Err(CatalogError::Conditions { .. })
            ));
        }
        let wrong = PolicyDecision::Conditional {
            plugin_id: "scaffolder".into(),
            resource_type: "scaffolder-template".into(),
            conditions: has_label("x"),
        };
        assert!(ReadScope::from_decision(&wrong).is_err());
    }

    #[test]
    fn scopes_restrict_queries() {
        let q = Predicate::In {
            key: "kind".into(),
            values: vec!["api".into()],
        };
        assert_eq!(ReadScope::ALL.restrict(&q), q);
        let only = ReadScope::only(Predicate::Exists {
            key: "spec.owner".into(),
            exists: true,
        });
        assert_eq!(
            only.restrict(&Predicate::everything()),
            only.predicate().unwrap().clone()
        );
        assert!(matches!(only.restrict(&q), Predicate::All(v) if v.len() == 2));
    }
}
