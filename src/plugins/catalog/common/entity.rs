//! The entity envelope: `apiVersion`, `kind`, `metadata`, `spec`, `relations`, `status`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::entity_ref::EntityRef;
use super::error::ValidationErrors;
use super::relations::EntityRelation;

/// The namespace of entities that do not name one.
pub const DEFAULT_NAMESPACE: &str = "default";

/// A catalog entity, as found in `catalog-info.yaml` files and returned by the catalog API.
///
/// Unknown `metadata` keys and all of `spec` are kept as they are, so an entity read and written
/// again is unchanged (empty `labels`, `annotations`, `tags` and `links` are left out when
/// written). Foreign root keys are refused, as Backstage does.
///
/// ```
/// use backlot::plugins::catalog::common::Entity;
///
/// let entity: Entity = serde_yaml::from_str(
///     "apiVersion: backstage.io/v1alpha1\n\
///      kind: Component\n\
///      metadata:\n  name: artist-web\n  x-custom: kept\n\
///      spec:\n  type: website\n  lifecycle: production\n  owner: team-a\n",
/// )?;
/// assert_eq!(entity.metadata.name, "artist-web");
/// assert_eq!(entity.metadata.namespace(), "default");
/// assert_eq!(entity.metadata.extra["x-custom"], "kept");
/// assert_eq!(entity.spec_str("owner"), Some("team-a"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Entity {
    /// Version of the format the entity is written against, e.g. `backstage.io/v1alpha1`.
    pub api_version: String,
    /// The high-level type, e.g. `Component`.
    pub kind: String,
    /// Metadata common to all kinds.
    pub metadata: EntityMeta,
    /// The kind-specific data; see the typed views such as
    /// [`ComponentSpec`](super::ComponentSpec).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<Map<String, Value>>,
    /// Relations to other entities; written by the catalog, never by authors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relations: Option<Vec<EntityRelation>>,
    /// Processing status; written by the catalog.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<EntityStatus>,
}

impl Entity {
    /// A new entity with the given envelope and an empty metadata apart from the name.
    ///
    /// ```
    /// use backlot::plugins::catalog::common::Entity;
    /// let e = Entity::new("backstage.io/v1alpha1", "Group", "team-a");
    /// assert_eq!(e.to_ref().to_string(), "group:default/team-a");
    /// ```
    pub fn new(
        api_version: impl Into<String>,
        kind: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        Self {
            api_version: api_version.into(),
            kind: kind.into(),
            metadata: EntityMeta::new(name),
            spec: None,
            relations: None,
            status: None,
        }
    }

    /// Parses a JSON value into an entity, reporting every problem of its envelope at once:
    /// missing fields, wrong JSON types (e.g. a non-string annotation value), foreign root
    /// keys and field formats ([`validate_envelope_value`](super::validate_envelope_value)).
    /// The kind and its spec are not checked here: follow with
    /// [`validate_entity`](super::validate_entity) for built-in kinds.
    ///
    /// ```
    /// use backlot::plugins::catalog::common::{validate_entity, Entity, ValidationError};
    /// use serde_json::json;
    ///
    /// let err = Entity::from_value(json!({
    ///     "apiVersion": "backstage.io/v1alpha1",
    ///     "kind": "Component",
    ///     "metadata": { "name": "Foo Bar!", "annotations": { "backstage.io/orphan": true } },
    ///     "spec": { "type": "service", "lifecycle": "production" }
    /// }))
    /// .unwrap_err();
    /// let fields: Vec<_> = err.errors().iter().map(ValidationError::field).collect();
    /// assert_eq!(fields, ["metadata.name", "metadata.annotations.backstage.io/orphan"]);
    ///
    /// let entity = Entity::from_value(json!({
    ///     "apiVersion": "backstage.io/v1alpha1",
    ///     "kind": "Component",
    ///     "metadata": { "name": "artist-web" },
    ///     "spec": { "type": "service", "lifecycle": "production" }
    /// }))?;
    /// let err = validate_entity(&entity).unwrap_err();
    /// assert_eq!(err.errors()[0].field(), "spec.owner");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_value(value: Value) -> Result<Self, ValidationErrors> {
        super::validation::validate_envelope_value(&value)?;
        serde_json::from_value(value).map_err(|e| {
            ValidationErrors::new(
                "<unknown>".to_owned(),
                vec![super::error::ValidationError::Invalid {
                    field: "entity".to_owned(),
                    value: e.to_string(),
                    expected: "a catalog entity",
                }],
            )
        })
    }

    /// The compound reference of this entity (namespace defaulted).
    pub fn to_ref(&self) -> EntityRef {
        EntityRef::from_entity(self)
    }

    /// The canonical `kind:namespace/name` string of this entity, lowercased.
    pub fn ref_string(&self) -> String {
        self.to_ref().to_string()
    }

    /// The string value of a top-level spec field, if it is a string.
    pub fn spec_str(&self, key: &str) -> Option<&str> {
        self.spec.as_ref()?.get(key)?.as_str()
    }

    /// Builder-style: sets the spec.
    #[must_use]
    pub fn with_spec(mut self, spec: Value) -> Self {
        if let Value::Object(map) = spec {
            self.spec = Some(map);
        }
        self
    }
}

/// Metadata fields common to all kinds. Keys not listed here are kept in [`extra`](Self::extra).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityMeta {
    /// The name; unique per kind and namespace (case-insensitively).
    pub name: String,
    /// The namespace; `None` means [`DEFAULT_NAMESPACE`]. See [`namespace()`](Self::namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// A display title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// A short description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Identifying key/value pairs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Non-identifying key/value pairs; see [`annotations`](super::annotations) for well-known
    /// keys.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Classification tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// External links.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<EntityLink>,
    /// Server-generated unique id; see [`generate_entity_uid`](super::generate_entity_uid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Server-generated revision tag; see [`generate_entity_etag`](super::generate_entity_etag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Every other metadata key, unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl EntityMeta {
    /// Metadata with only a name.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// The effective namespace: the given one or [`DEFAULT_NAMESPACE`].
    pub fn namespace(&self) -> &str {
        self.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE)
    }

    /// The value of an annotation.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.get(key).map(String::as_str)
    }

    /// The value of a label.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }
}

/// A link to external information about an entity.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EntityLink {
    /// The URL (required).
    pub url: String,
    /// A display title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// A key of a visual icon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    /// A semantic type of the link, e.g. `admin-dashboard`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub link_type: Option<String>,
    /// Any other key, unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `status` of an entity: problems the catalog met while processing it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EntityStatus {
    /// Status items, e.g. processing errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<EntityStatusItem>>,
    /// Any other key, unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One status item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityStatusItem {
    /// The status type, e.g. [`STATUS_TYPE_CATALOG_PROCESSING`].
    #[serde(rename = "type")]
    pub item_type: String,
    /// Severity: `info`, `warning` or `error`.
    pub level: String,
    /// A message for humans.
    pub message: String,
    /// A serialized error `{ name, message, stack? }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// Any other key, unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The status type the catalog uses for processing errors.
pub const STATUS_TYPE_CATALOG_PROCESSING: &str = "backstage.io/catalog-processing";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_unknown_fields() {
        let input = json!({
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Component",
            "metadata": {
                "name": "artist-web",
                "namespace": "music",
                "title": "Artist Web",
                "description": "The place to be",
                "labels": { "example.com/custom": "custom_label_value" },
                "annotations": { "backstage.io/techdocs-ref": "dir:." },
                "tags": ["java"],
                "links": [{ "url": "https://admin.example-org.com", "title": "Admin",
                            "icon": "dashboard", "type": "admin-dashboard", "extraLinkKey": 1 }],
                "uid": "e01199ab-08cc-44c2-8e19-5c29ded82521",
                "etag": "abc",
                "generation": 3,
                "x-custom": { "nested": [1, 2, { "deep": true }] }
            },
            "spec": {
                "type": "website",
                "lifecycle": "production",
                "owner": "artist-relations-team",
                "anything": { "goes": ["here", null, 1.5] }
            },
            "relations": [{ "type": "ownedBy", "targetRef": "group:music/artist-relations-team",
                            "target": { "kind": "group", "namespace": "music", "name": "artist-relations-team" } }],
            "status": { "items": [{ "type": STATUS_TYPE_CATALOG_PROCESSING, "level": "error",
                                    "message": "boom", "error": { "name": "Error", "message": "boom" } }],
                        "other": 1 }
        });
        let entity: Entity = serde_json::from_value(input.clone()).unwrap();
        assert_eq!(entity.metadata.namespace(), "music");
        assert_eq!(entity.metadata.extra["generation"], 3);
        assert_eq!(
            entity.metadata.links[0].link_type.as_deref(),
            Some("admin-dashboard")
        );
        let output = serde_json::to_value(&entity).unwrap();
        assert_eq!(output, input);
    }

    #[test]
    fn absent_optional_parts_stay_absent() {
        let input = json!({
            "apiVersion": "v1", "kind": "Thing", "metadata": { "name": "x" }
        });
        let entity: Entity = serde_json::from_value(input.clone()).unwrap();
        assert_eq!(entity.metadata.namespace(), DEFAULT_NAMESPACE);
        assert_eq!(serde_json::to_value(&entity).unwrap(), input);
    }

    #[test]
    fn foreign_root_fields_are_refused_by_serde() {
        let input =
            json!({ "apiVersion": "v1", "kind": "Thing", "metadata": { "name": "x" }, "extra": 1 });
        assert!(serde_json::from_value::<Entity>(input).is_err());
    }

    #[test]
    fn helpers() {
        let mut e = Entity::new("backstage.io/v1alpha1", "Component", "a")
            .with_spec(json!({ "owner": "team-a", "n": 1 }));
        e.metadata.annotations.insert("k/x".into(), "v".into());
        e.metadata.labels.insert("l".into(), "w".into());
        assert_eq!(e.spec_str("owner"), Some("team-a"));
        assert_eq!(e.spec_str("n"), None);
        assert_eq!(e.metadata.annotation("k/x"), Some("v"));
        assert_eq!(e.metadata.label("l"), Some("w"));
        assert_eq!(e.ref_string(), "component:default/a");
    }
}
