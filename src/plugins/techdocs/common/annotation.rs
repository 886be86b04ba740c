//! The annotation that opts an entity into TechDocs, and the reader path of its docs.

use crate::plugins::catalog::common::Entity;

/// The annotation naming where an entity's docs source lives
/// (`backstage.io/techdocs-ref: dir:.`); entities carrying it have docs.
pub use crate::plugins::catalog::common::ANNOTATION_TECHDOCS_REF as TECHDOCS_REF_ANNOTATION;

/// The `<namespace>/<kind>/<name>` of an entity's docs in reader and backend URLs
/// (`/docs/…`, `…/static/docs/…`): namespace and kind lowercased, the name kept.
///
/// ```
/// use backlot::plugins::catalog::common::Entity;
/// use backlot::plugins::techdocs::common::docs_url_path;
///
/// let entity: Entity = serde_json::from_value(serde_json::json!({
///     "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
///     "metadata": { "name": "Shop", "namespace": "Retail" }
/// }))?;
/// assert_eq!(docs_url_path(&entity), "retail/component/Shop");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn docs_url_path(entity: &Entity) -> String {
    let entity_ref = entity.to_ref();
    format!(
        "{}/{}/{}",
        entity_ref.namespace().to_ascii_lowercase(),
        entity_ref.kind().to_ascii_lowercase(),
        entity_ref.name()
    )
}
