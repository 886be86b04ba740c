//! Which spec fields of which kinds become relations, and deriving them.

use serde_json::Value;

use super::entity::Entity;
use super::entity_ref::{EntityRef, RefDefaults, check_ref};
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
        let defaults = RefDefaults {
            default_kind: rule.default_kind,
            default_namespace: Some(namespace),
        };
        if let Err(source) = check_ref(value, defaults) {
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

/// Sorts the reference lists of a built-in kind's `spec` (`providesApis`, `consumesApis`,
/// `dependsOn`, `dependencyOf`, `memberOf`, `children`, `members`, ...), as Backstage's
/// processing does, so the served `spec` is the same whatever order the file lists them in.
/// Lists holding anything but strings are left for validation to report.
///
/// ```
/// use backlot::plugins::catalog::common::{Entity, sort_spec_ref_lists};
///
/// let mut entity: Entity = serde_json::from_value(serde_json::json!({
///     "apiVersion": "backstage.io/v1alpha1",
///     "kind": "Component",
///     "metadata": { "name": "web" },
///     "spec": { "type": "service", "lifecycle": "production", "owner": "team-a",
///               "dependsOn": ["resource:db", "component:auth"], "tags": ["z", "a"] }
/// }))?;
/// sort_spec_ref_lists(&mut entity);
/// let spec = entity.spec.unwrap_or_default();
/// assert_eq!(spec["dependsOn"], serde_json::json!(["component:auth", "resource:db"]));
/// assert_eq!(spec["tags"], serde_json::json!(["z", "a"])); // not a reference list
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn sort_spec_ref_lists(entity: &mut Entity) {
    let (Some(kind), Some(spec)) = (KnownKind::parse(&entity.kind), entity.spec.as_mut()) else {
        return;
    };
    for rule in RELATION_RULES.iter().filter(|r| r.kinds.contains(&kind)) {
        if let Some(Value::Array(items)) = spec.get_mut(rule.field) {
            if items.iter().all(Value::is_string) {
                items.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entity(kind: &str, namespace: Option<&str>, spec: serde_json::Value) -> Entity {
        let api_version = if kind == "Template" {
            "scaffolder.backstage.io/v1beta3"
        } else {
            "backstage.io/v1alpha1"
        };
        let mut e = Entity::new(api_version, kind, "me").with_spec(spec);
        e.metadata.namespace = namespace.map(str::to_owned);
        e
    }

    fn rels(e: &Entity) -> Vec<(String, String, String)> {
        relations_from_spec(e)
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r.relation_type.to_owned(),
                    r.target.to_string(),
                    r.reverse_type.to_owned(),
                )
            })
            .collect()
    }

    fn t(a: &str, b: &str, c: &str) -> (String, String, String) {
        (a.into(), b.into(), c.into())
    }

    #[test]
    fn component() {
        let e = entity(
            "Component",
            Some("ns"),
            json!({
                "type": "service", "lifecycle": "production", "owner": "team-a",
                "subcomponentOf": "parent", "providesApis": ["p"], "consumesApis": ["c1", "other/c2"],
                "dependsOn": ["resource:db"], "dependencyOf": ["component:up"], "system": "sys"
            }),
        );
        assert_eq!(
            rels(&e),
            [
                t("ownedBy", "group:ns/team-a", "ownerOf"),
                t("partOf", "component:ns/parent", "hasPart"),
                t("providesApi", "api:ns/p", "apiProvidedBy"),
                t("consumesApi", "api:ns/c1", "apiConsumedBy"),
                t("consumesApi", "api:other/c2", "apiConsumedBy"),
                t("dependsOn", "resource:ns/db", "dependencyOf"),
                t("dependencyOf", "component:ns/up", "dependsOn"),
                t("partOf", "system:ns/sys", "hasPart"),
            ]
        );
    }

    #[test]
    fn api_resource_system_domain_template() {
        let api = entity(
            "API",
            None,
            json!({ "owner": "user:jane", "system": "sys", "definition": "x" }),
        );
        assert_eq!(
            rels(&api),
            [
                t("ownedBy", "user:default/jane", "ownerOf"),
                t("partOf", "system:default/sys", "hasPart")
            ]
        );
        let res = entity(
            "Resource",
            None,
            json!({ "owner": "t", "dependsOn": ["component:c"], "dependencyOf": ["system:s"], "system": "s" }),
        );
        assert_eq!(
            rels(&res),
            [
                t("ownedBy", "group:default/t", "ownerOf"),
                t("dependsOn", "component:default/c", "dependencyOf"),
                t("dependencyOf", "system:default/s", "dependsOn"),
                t("partOf", "system:default/s", "hasPart"),
            ]
        );
        let sys = entity("System", None, json!({ "owner": "t", "domain": "d" }));
        assert_eq!(
            rels(&sys),
            [
                t("ownedBy", "group:default/t", "ownerOf"),
                t("partOf", "domain:default/d", "hasPart")
            ]
        );
        let dom = entity(
            "Domain",
            None,
            json!({ "owner": "t", "subdomainOf": "audio" }),
        );
        assert_eq!(
            rels(&dom),
            [
                t("ownedBy", "group:default/t", "ownerOf"),
                t("partOf", "domain:default/audio", "hasPart")
            ]
        );
        let tpl = entity(
            "Template",
            None,
            json!({ "owner": "backstage/techdocs-core", "type": "service", "steps": [] }),
        );
        assert_eq!(
            rels(&tpl),
            [t("ownedBy", "group:backstage/techdocs-core", "ownerOf")]
        );
    }

    #[test]
    fn group_and_user() {
        let g = entity(
            "Group",
            Some("org"),
            json!({ "type": "team", "parent": "root", "children": ["a", "b"], "members": ["jane"] }),
        );
        assert_eq!(
            rels(&g),
            [
                t("childOf", "group:org/root", "parentOf"),
                t("parentOf", "group:org/a", "childOf"),
                t("parentOf", "group:org/b", "childOf"),
                t("hasMember", "user:org/jane", "memberOf"),
            ]
        );
        let u = entity(
            "User",
            None,
            json!({ "memberOf": ["team-a", "group:x/team-b"] }),
        );
        assert_eq!(
            rels(&u),
            [
                t("memberOf", "group:default/team-a", "hasMember"),
                t("memberOf", "group:x/team-b", "hasMember")
            ]
        );
    }

    #[test]
    fn both_directions_have_the_right_shape() {
        let e = entity("User", Some("org"), json!({ "memberOf": ["Team-A"] }));
        let r = &relations_from_spec(&e).unwrap()[0];
        let out = r.outgoing();
        assert_eq!(
            (out.relation_type.as_str(), out.target_ref.as_str()),
            ("memberOf", "group:org/team-a")
        );
        let back = r.incoming(&e.to_ref());
        assert_eq!(
            (back.relation_type.as_str(), back.target_ref.as_str()),
            ("hasMember", "user:org/me")
        );
        assert_eq!(back.target, Some(EntityRef::new("user", "org", "me")));
    }

    #[test]
    fn other_kinds_and_missing_specs_yield_nothing() {
        assert!(
            rels(&entity(
                "Location",
                None,
                json!({ "targets": ["./a.yaml"] })
            ))
            .is_empty()
        );
        assert!(rels(&entity("Widget", None, json!({ "owner": "t" }))).is_empty());
        let mut e = entity("Component", None, json!({}));
        e.spec = None;
        assert!(rels(&e).is_empty());
    }

    #[test]
    fn unparsable_refs_are_all_reported() {
        let e = entity(
            "Component",
            None,
            json!({ "owner": "group:", "dependsOn": ["db", "resource:db", "other/db"] }),
        );
        let err = relations_from_spec(&e).unwrap_err();
        let fields: Vec<_> = err.errors().iter().map(ValidationError::field).collect();
        assert_eq!(
            fields,
            ["spec.owner", "spec.dependsOn.0", "spec.dependsOn.2"]
        );
        assert!(matches!(
            &err.errors()[1],
            ValidationError::InvalidRef {
                source: super::super::error::EntityRefError::MissingKind { .. },
                ..
            }
        ));
    }

    #[test]
    fn every_rule_reverse_matches_the_pair_table() {
        for rule in RELATION_RULES {
            assert_eq!(
                inverse_relation(rule.relation),
                Some(rule.reverse),
                "{}",
                rule.field
            );
        }
    }
}
