//! Which spec fields of which kinds become relations, and deriving them.

use serde_json::Value;

use super::entity::Entity;
use super::entity_ref::{EntityRef, RefDefaults};
use super::error::{ValidationError, ValidationErrors};
use super::kinds::KnownKind;
use super::relations::*;

/// One rule: `kinds` with spec field `field` emit `relation` to targets of `default_kind`
/// (when the reference names none), and the target gets `reverse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RelationRule {
    /// The source kinds this rule applies to.
    pub kinds: &'static [KnownKind],
    /// The spec field (a reference or an array of references).
    pub field: &'static str,
    /// Kind of targets that do not name one; `None` means the kind must be written.
    pub default_kind: Option<&'static str>,
    /// The relation type on the source entity.
    pub relation: &'static str,
    /// The relation type on the target entity.
    pub reverse: &'static str,
}

const OWNED: &[KnownKind] = &[
    KnownKind::Component,
    KnownKind::Api,
    KnownKind::Resource,
    KnownKind::System,
    KnownKind::Domain,
    KnownKind::Template,
];

const fn rule(
    kinds: &'static [KnownKind],
    field: &'static str,
    default_kind: Option<&'static str>,
    relation: &'static str,
    reverse: &'static str,
) -> RelationRule {
    RelationRule {
        kinds,
        field,
        default_kind,
        relation,
        reverse,
    }
}

/// Every built-in rule, in the order relations are derived (Backstage's
/// `BuiltinKindsEntityProcessor` order for each kind). `dependsOn` / `dependencyOf` have no
/// default kind: their references must name one (`resource:artists-db`).
pub const RELATION_RULES: &[RelationRule] = &[
    rule(
        OWNED,
        "owner",
        Some("Group"),
        RELATION_OWNED_BY,
        RELATION_OWNER_OF,
    ),
    rule(
        &[KnownKind::Component],
        "subcomponentOf",
        Some("Component"),
        RELATION_PART_OF,
        RELATION_HAS_PART,
    ),
    rule(
        &[KnownKind::Component],
        "providesApis",
        Some("API"),
        RELATION_PROVIDES_API,
        RELATION_API_PROVIDED_BY,
    ),
    rule(
        &[KnownKind::Component],
        "consumesApis",
        Some("API"),
        RELATION_CONSUMES_API,
        RELATION_API_CONSUMED_BY,
    ),
    rule(
        &[KnownKind::Component, KnownKind::Resource],
        "dependsOn",
        None,
        RELATION_DEPENDS_ON,
        RELATION_DEPENDENCY_OF,
    ),
    rule(
        &[KnownKind::Component, KnownKind::Resource],
        "dependencyOf",
        None,
        RELATION_DEPENDENCY_OF,
        RELATION_DEPENDS_ON,
    ),
    rule(
        &[KnownKind::Component, KnownKind::Api, KnownKind::Resource],
        "system",
        Some("System"),
        RELATION_PART_OF,
        RELATION_HAS_PART,
    ),
    rule(
        &[KnownKind::System],
        "domain",
        Some("Domain"),
        RELATION_PART_OF,
        RELATION_HAS_PART,
    ),
    rule(
        &[KnownKind::Domain],
        "subdomainOf",
        Some("Domain"),
        RELATION_PART_OF,
        RELATION_HAS_PART,
    ),
    rule(
        &[KnownKind::User],
        "memberOf",
        Some("Group"),
        RELATION_MEMBER_OF,
        RELATION_HAS_MEMBER,
    ),
    rule(
        &[KnownKind::Group],
        "parent",
        Some("Group"),
        RELATION_CHILD_OF,
        RELATION_PARENT_OF,
    ),
    rule(
        &[KnownKind::Group],
        "children",
        Some("Group"),
        RELATION_PARENT_OF,
        RELATION_CHILD_OF,
    ),
    rule(
        &[KnownKind::Group],
        "members",
        Some("User"),
        RELATION_HAS_MEMBER,
        RELATION_MEMBER_OF,
    ),
];

/// A relation derived from a spec field, in both directions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SpecRelation {
    /// The spec field it came from, e.g. `owner`.
    pub field: &'static str,
    /// The relation type on the source entity, e.g. `ownedBy`.
    pub relation_type: &'static str,
    /// The relation type on the target entity, e.g. `ownerOf`.
    pub reverse_type: &'static str,
    /// The target entity.
    pub target: EntityRef,
}

impl SpecRelation {
    /// The relation as stored on the source entity.
    pub fn outgoing(&self) -> EntityRelation {
        EntityRelation::new(self.relation_type, &self.target)
    }

    /// The relation as stored on the target entity, pointing back at `source`.
    pub fn incoming(&self, source: &EntityRef) -> EntityRelation {
        EntityRelation::new(self.reverse_type, source)
    }
}

/// Visits every reference string of the rules that apply to `kind`, with its field path.
fn for_each_ref<'a>(
    kind: KnownKind,
    spec: &'a serde_json::Map<String, Value>,
    mut f: impl FnMut(&'static RelationRule, &'a str, Option<usize>),
) {
    for rule in RELATION_RULES.iter().filter(|r| r.kinds.contains(&kind)) {
        match spec.get(rule.field) {
            Some(Value::String(s)) => f(rule, s, None),
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    if let Value::String(s) = item {
                        f(rule, s, Some(i));
                    }
                }
            }
            _ => {} // absent, or a type problem the spec check reports
        }
    }
}

fn parse_target(
    rule: &RelationRule,
    value: &str,
    namespace: &str,
) -> Result<EntityRef, super::error::EntityRefError> {
    let defaults = RefDefaults {
        default_kind: rule.default_kind,
        default_namespace: Some(namespace),
    };
    EntityRef::parse(value, defaults)
}

/// Records an [`InvalidRef`](ValidationError::InvalidRef) for every spec reference of a
/// built-in kind that cannot be parsed (empty strings are left to the spec check).
pub(crate) fn check_refs(
    kind: KnownKind,
    spec: &serde_json::Map<String, Value>,
    namespace: &str,
    errors: &mut Vec<ValidationError>,
) {
    for_each_ref(kind, spec, |rule, value, index| {
        if value.is_empty() {
            return;
        }
        if let Err(source) = parse_target(rule, value, namespace) {
            let field = match index {
                Some(i) => format!("spec.{}.{i}", rule.field),
                None => format!("spec.{}", rule.field),
            };
            errors.push(ValidationError::InvalidRef {
                field,
                value: value.to_owned(),
                source,
            });
        }
    });
}

/// Derives the relations an entity's spec declares: for each rule of its kind, one
/// [`SpecRelation`] per reference, the target's kind defaulted per field and its namespace
/// defaulted to the entity's own namespace. Entities of other kinds yield none.
///
/// Fails with every reference that cannot be parsed (e.g. a `dependsOn` entry without kind).
///
/// ```
/// use backlot::plugins::catalog::common::{relations_from_spec, Entity, EntityRef};
/// use serde_json::json;
///
/// let mut entity = Entity::new("backstage.io/v1alpha1", "Component", "artist-web").with_spec(json!({
///     "type": "website", "lifecycle": "production", "owner": "team-a",
///     "dependsOn": ["resource:artists-db"]
/// }));
/// entity.metadata.namespace = Some("music".into());
/// let rels = relations_from_spec(&entity)?;
/// assert_eq!(rels[0].relation_type, "ownedBy");
/// assert_eq!(rels[0].target.to_string(), "group:music/team-a");
/// assert_eq!(rels[1].relation_type, "dependsOn");
/// assert_eq!(rels[1].reverse_type, "dependencyOf");
/// let back = rels[1].incoming(&entity.to_ref());
/// assert_eq!(back.target_ref, "component:music/artist-web");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn relations_from_spec(entity: &Entity) -> Result<Vec<SpecRelation>, ValidationErrors> {
    let (Some(kind), Some(spec)) = (KnownKind::parse(&entity.kind), entity.spec.as_ref()) else {
        return Ok(Vec::new());
    };
    let namespace = entity.metadata.namespace();
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for_each_ref(kind, spec, |rule, value, index| {
        match parse_target(rule, value, namespace) {
            Ok(target) => out.push(SpecRelation {
                field: rule.field,
                relation_type: rule.relation,
                reverse_type: rule.reverse,
                target,
            }),
            Err(source) => errors.push(ValidationError::InvalidRef {
                field: match index {
                    Some(i) => format!("spec.{}.{i}", rule.field),
                    None => format!("spec.{}", rule.field),
                },
                value: value.to_owned(),
                source,
            }),
        }
    });
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ValidationErrors::new(entity.ref_string(), errors))
    }
}
