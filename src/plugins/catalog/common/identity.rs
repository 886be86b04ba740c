//! Server-generated identity fields: `metadata.uid` and `metadata.etag`.

use super::entity::Entity;

/// A new random entity uid (a UUID v4 string).
///
/// ```
/// use backlot::plugins::catalog::common::generate_entity_uid;
/// let a = generate_entity_uid();
/// assert_eq!(a.len(), 36);
/// assert_ne!(a, generate_entity_uid());
/// ```
pub fn generate_entity_uid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A new random etag: an opaque string of word characters.
///
/// ```
/// use backlot::plugins::catalog::common::generate_entity_etag;
/// let e = generate_entity_etag();
/// assert!(e.bytes().all(|b| b.is_ascii_alphanumeric()));
/// assert_ne!(e, generate_entity_etag());
/// ```
pub fn generate_entity_etag() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Whether `next` differs from `previous` in anything an author controls: the generated
/// `uid`, `etag` and `generation`, and the catalog-written `relations` and `status`, are not
/// compared (Backstage's `entityHasChanges`).
///
/// ```
/// use backlot::plugins::catalog::common::{entity_has_changes, Entity};
/// let a = Entity::new("backstage.io/v1alpha1", "Group", "team-a");
/// let mut b = a.clone();
/// b.metadata.etag = Some("x".into());
/// assert!(!entity_has_changes(&a, &b));
/// b.metadata.description = Some("Team A".into());
/// assert!(entity_has_changes(&a, &b));
/// ```
pub fn entity_has_changes(previous: &Entity, next: &Entity) -> bool {
    let (p, n) = (&previous.metadata, &next.metadata);
    let extra_differs = p
        .extra
        .iter()
        .filter(|(k, _)| k.as_str() != "generation")
        .ne(n.extra.iter().filter(|(k, _)| k.as_str() != "generation"));
    previous.api_version != next.api_version
        || previous.kind != next.kind
        || previous.spec != next.spec
        || p.name != n.name
        || p.namespace != n.namespace
        || p.title != n.title
        || p.description != n.description
        || p.labels != n.labels
        || p.annotations != n.annotations
        || p.tags != n.tags
        || p.links != n.links
        || extra_differs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ignores_generated_and_catalog_fields() {
        let a = Entity::new("backstage.io/v1alpha1", "Component", "x")
            .with_spec(json!({ "type": "service" }));
        let mut b = a.clone();
        b.metadata.uid = Some(generate_entity_uid());
        b.metadata.etag = Some(generate_entity_etag());
        b.metadata.extra.insert("generation".into(), json!(4));
        b.relations = Some(vec![]);
        assert!(!entity_has_changes(&a, &b));
        let mut c = b.clone();
        c.metadata.extra.insert("custom".into(), json!(1));
        assert!(entity_has_changes(&a, &c));
        let mut d = b.clone();
        d.spec = Some(json!({ "type": "website" }).as_object().unwrap().clone());
        assert!(entity_has_changes(&a, &d));
    }
}
