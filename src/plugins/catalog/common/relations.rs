//! Well-known relation types and the `relations[]` wire shape.

use serde::{Deserialize, Serialize};

use super::entity_ref::EntityRef;

/// An entity is owned by a group or user (source of `spec.owner`).
pub const RELATION_OWNED_BY: &str = "ownedBy";
/// Reverse of [`RELATION_OWNED_BY`].
pub const RELATION_OWNER_OF: &str = "ownerOf";
/// A component consumes an API.
pub const RELATION_CONSUMES_API: &str = "consumesApi";
/// Reverse of [`RELATION_CONSUMES_API`].
pub const RELATION_API_CONSUMED_BY: &str = "apiConsumedBy";
/// A component provides an API.
pub const RELATION_PROVIDES_API: &str = "providesApi";
/// Reverse of [`RELATION_PROVIDES_API`].
pub const RELATION_API_PROVIDED_BY: &str = "apiProvidedBy";
/// An entity depends on another one.
pub const RELATION_DEPENDS_ON: &str = "dependsOn";
/// Reverse of [`RELATION_DEPENDS_ON`].
pub const RELATION_DEPENDENCY_OF: &str = "dependencyOf";
/// A group is the parent of another group.
pub const RELATION_PARENT_OF: &str = "parentOf";
/// Reverse of [`RELATION_PARENT_OF`].
pub const RELATION_CHILD_OF: &str = "childOf";
/// A user is a member of a group.
pub const RELATION_MEMBER_OF: &str = "memberOf";
/// Reverse of [`RELATION_MEMBER_OF`].
pub const RELATION_HAS_MEMBER: &str = "hasMember";
/// An entity is part of a system, domain or component.
pub const RELATION_PART_OF: &str = "partOf";
/// Reverse of [`RELATION_PART_OF`].
pub const RELATION_HAS_PART: &str = "hasPart";

/// Every well-known relation type with its reverse, each pair listed in both directions.
pub const RELATION_PAIRS: [(&str, &str); 14] = [
    (RELATION_OWNED_BY, RELATION_OWNER_OF),
    (RELATION_OWNER_OF, RELATION_OWNED_BY),
    (RELATION_CONSUMES_API, RELATION_API_CONSUMED_BY),
    (RELATION_API_CONSUMED_BY, RELATION_CONSUMES_API),
    (RELATION_PROVIDES_API, RELATION_API_PROVIDED_BY),
    (RELATION_API_PROVIDED_BY, RELATION_PROVIDES_API),
    (RELATION_DEPENDS_ON, RELATION_DEPENDENCY_OF),
    (RELATION_DEPENDENCY_OF, RELATION_DEPENDS_ON),
    (RELATION_PARENT_OF, RELATION_CHILD_OF),
    (RELATION_CHILD_OF, RELATION_PARENT_OF),
    (RELATION_MEMBER_OF, RELATION_HAS_MEMBER),
    (RELATION_HAS_MEMBER, RELATION_MEMBER_OF),
    (RELATION_PART_OF, RELATION_HAS_PART),
    (RELATION_HAS_PART, RELATION_PART_OF),
];

/// The reverse of a well-known relation type (`ownedBy` → `ownerOf`), or `None` for a type
/// this crate does not know.
///
/// ```
/// use backlot::plugins::catalog::common::{inverse_relation, RELATION_HAS_MEMBER};
/// assert_eq!(inverse_relation("memberOf"), Some(RELATION_HAS_MEMBER));
/// assert_eq!(inverse_relation("likes"), None);
/// ```
pub fn inverse_relation(relation_type: &str) -> Option<&'static str> {
    RELATION_PAIRS
        .iter()
        .find(|(t, _)| *t == relation_type)
        .map(|(_, r)| *r)
}

/// One entry of an entity's `relations`: `{ "type", "targetRef", "target"? }`.
///
/// `targetRef` is the canonical lowercased `kind:namespace/name`; `target` is the same
/// reference in compound form (kept for older clients).
///
/// ```
/// use backlot::plugins::catalog::common::{EntityRef, EntityRelation, RELATION_OWNED_BY};
/// let rel = EntityRelation::new(RELATION_OWNED_BY, &EntityRef::new("Group", "default", "Team-A"));
/// assert_eq!(
///     serde_json::to_value(&rel)?,
///     serde_json::json!({
///         "type": "ownedBy",
///         "targetRef": "group:default/team-a",
///         "target": { "kind": "group", "namespace": "default", "name": "team-a" }
///     })
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityRelation {
    /// The relation type, e.g. [`RELATION_OWNED_BY`].
    #[serde(rename = "type")]
    pub relation_type: String,
    /// The canonical reference of the target entity.
    pub target_ref: String,
    /// The target in compound form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<EntityRef>,
}

impl EntityRelation {
    /// A relation of `relation_type` to `target`, with both target forms filled in.
    pub fn new(relation_type: impl Into<String>, target: &EntityRef) -> Self {
        Self {
            relation_type: relation_type.into(),
            target_ref: target.to_string(),
            target: Some(target.to_lowercase()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pair_is_symmetric() {
        for (t, r) in RELATION_PAIRS {
            assert_eq!(inverse_relation(t), Some(r));
            assert_eq!(inverse_relation(r), Some(t));
            assert_ne!(t, r);
        }
    }

    #[test]
    fn relation_without_compound_target_deserializes() {
        let rel: EntityRelation = serde_json::from_value(serde_json::json!({
            "type": "partOf", "targetRef": "system:default/podcast"
        }))
        .unwrap();
        assert_eq!(rel.target, None);
        assert_eq!(rel.relation_type, RELATION_PART_OF);
        let back = serde_json::to_value(&rel).unwrap();
        assert_eq!(
            back,
            serde_json::json!({ "type": "partOf", "targetRef": "system:default/podcast" })
        );
    }
}
