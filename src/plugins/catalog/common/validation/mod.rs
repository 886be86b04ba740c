//! Entity validation: the envelope's field formats, the kind's apiVersion and spec, and the
//! references in the spec. Every problem is reported, not just the first.
//!
//! `checker` walks a typed entity; here are the public entry points and the checks of the raw
//! JSON form.

mod checker;
#[cfg(test)]
mod tests;

use checker::{Checker, LinkView, Sv, typed_envelope};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::entity::{DEFAULT_NAMESPACE, Entity, EntityStatus};
use super::error::{ValidationError, ValidationErrors};
use super::relations::EntityRelation;
use super::spec_reader::json_type;
use super::validators::*;

/// The root keys an entity may have.
pub const ROOT_FIELDS: [&str; 6] = [
    "apiVersion",
    "kind",
    "metadata",
    "spec",
    "relations",
    "status",
];

/// Validates the envelope of an entity only: apiVersion, kind, metadata formats, relations
/// and status. Use it for kinds this crate does not know, whose spec another processor
/// checks.
///
/// ```
/// use backlot::plugins::catalog::common::{validate_envelope, Entity};
/// let widget = Entity::new("example.com/v1", "Widget", "my-widget");
/// assert!(validate_envelope(&widget).is_ok());
/// ```
pub fn validate_envelope(entity: &Entity) -> Result<(), ValidationErrors> {
    let mut c = Checker::new();
    typed_envelope(&mut c, entity);
    c.finish(|| {
        entity_label(
            &entity.kind,
            entity.metadata.namespace(),
            &entity.metadata.name,
        )
    })
}

/// Validates an entity completely: the envelope (see [`validate_envelope`]), that the kind
/// is a built-in one and accepts the apiVersion, the spec fields the kind's schema requires
/// with their types, and that every reference in the spec can be parsed.
///
/// ```
/// use backlot::plugins::catalog::common::{validate_entity, Entity, ValidationError};
/// use serde_json::json;
///
/// let mut entity = Entity::new("backstage.io/v1alpha1", "Component", "Foo Bar!")
///     .with_spec(json!({ "type": "service", "lifecycle": "production", "owner": "team-a",
///                        "dependsOn": ["artists-db"] }));
/// entity.metadata.tags.push("Java".into());
///
/// let err = validate_entity(&entity).unwrap_err();
/// assert_eq!(err.errors().len(), 3);
/// assert_eq!(
///     err.errors()[0].to_string(),
///     "metadata.name \"Foo Bar!\" is not valid; expected a string that is sequences of \
///      [a-zA-Z0-9] separated by any of [-_.], at most 63 characters in total"
/// );
/// assert_eq!(err.errors()[1].field(), "metadata.tags.0");
/// // dependsOn has no default kind
/// assert!(matches!(&err.errors()[2], ValidationError::InvalidRef { field, .. } if field == "spec.dependsOn.0"));
/// ```
pub fn validate_entity(entity: &Entity) -> Result<(), ValidationErrors> {
    let mut c = Checker::new();
    typed_envelope(&mut c, entity);
    c.kind_rules(
        &entity.kind,
        Some(&entity.api_version),
        None,
        entity.spec.as_ref(),
        entity.metadata.namespace(),
    );
    c.finish(|| {
        entity_label(
            &entity.kind,
            entity.metadata.namespace(),
            &entity.metadata.name,
        )
    })
}

fn entity_label(kind: &str, namespace: &str, name: &str) -> String {
    let part = |s: &str| {
        if s.is_empty() {
            "<unknown>".to_owned()
        } else {
            s.to_lowercase()
        }
    };
    format!("{}:{}/{}", part(kind), part(namespace), part(name))
}

fn sv_field<'a>(map: &'a Map<String, Value>, key: &str) -> Option<Sv<'a>> {
    map.get(key).map(Sv::of)
}

fn object_entries<'a>(
    c: &mut Checker,
    meta: &'a Map<String, Value>,
    key: &'static str,
) -> Option<&'a Map<String, Value>> {
    match meta.get(key) {
        None => None,
        Some(Value::Object(m)) => Some(m),
        Some(other) => {
            c.errors.push(ValidationError::WrongType {
                field: format!("metadata.{key}"),
                expected: "an object",
                found: json_type(other),
            });
            None
        }
    }
}

fn array_items<'a>(
    c: &mut Checker,
    meta: &'a Map<String, Value>,
    key: &'static str,
) -> &'a [Value] {
    match meta.get(key) {
        None => &[],
        Some(Value::Array(items)) => items,
        Some(other) => {
            c.errors.push(ValidationError::WrongType {
                field: format!("metadata.{key}"),
                expected: "an array",
                found: json_type(other),
            });
            &[]
        }
    }
}

/// Validates an entity in its raw JSON form, before it is converted to [`Entity`]: besides
/// every rule of [`validate_entity`] this reports shape problems the typed form cannot hold
/// (missing `metadata`, non-string annotation values, foreign root keys, ...).
///
/// ```
/// use backlot::plugins::catalog::common::{validate_entity_value, ValidationError};
/// use serde_json::json;
///
/// let err = validate_entity_value(&json!({
///     "apiVersion": "backstage.io/v1alpha1",
///     "kind": "Group",
///     "metadata": { "name": "team-a", "tags": "java" },
///     "spec": { "type": "team" },
///     "extra": 1
/// }))
/// .unwrap_err();
/// let fields: Vec<_> = err.errors().iter().map(ValidationError::field).collect();
/// assert_eq!(fields, ["extra", "metadata.tags", "spec.children"]);
/// ```
pub fn validate_entity_value(value: &Value) -> Result<(), ValidationErrors> {
    check_value(value, true)
}

/// Validates the envelope of an entity in its raw JSON form: its shape and field formats,
/// like [`validate_envelope`], leaving kind and spec to other checks. Used by
/// [`Entity::from_value`].
///
/// ```
/// use backlot::plugins::catalog::common::validate_envelope_value;
/// use serde_json::json;
///
/// let widget = json!({ "apiVersion": "example.com/v1", "kind": "Widget", "metadata": { "name": "w" } });
/// assert!(validate_envelope_value(&widget).is_ok());
/// let broken = json!({ "apiVersion": "example.com/v1", "kind": "Widget", "metadata": { "name": 1 } });
/// assert_eq!(validate_envelope_value(&broken).unwrap_err().errors()[0].field(), "metadata.name");
/// ```
pub fn validate_envelope_value(value: &Value) -> Result<(), ValidationErrors> {
    check_value(value, false)
}

fn check_value(value: &Value, strict: bool) -> Result<(), ValidationErrors> {
    let mut c = Checker::new();
    let Value::Object(root) = value else {
        c.errors.push(ValidationError::WrongType {
            field: "entity".to_owned(),
            expected: "an object",
            found: json_type(value),
        });
        return c.finish(|| entity_label("", "", ""));
    };
    for key in root.keys() {
        if !ROOT_FIELDS.contains(&key.as_str()) {
            c.errors
                .push(ValidationError::ForeignRootField { field: key.clone() });
        }
    }
    c.checked(
        "apiVersion",
        sv_field(root, "apiVersion"),
        true,
        is_valid_api_version,
        EXPECT_API_VERSION,
    );
    c.checked(
        "kind",
        sv_field(root, "kind"),
        true,
        is_valid_kind,
        EXPECT_KIND,
    );

    let empty = Map::new();
    let meta = match root.get("metadata") {
        Some(Value::Object(m)) => m,
        None | Some(Value::Null) => {
            c.errors.push(ValidationError::Missing {
                field: "metadata".to_owned(),
            });
            &empty
        }
        Some(other) => {
            c.errors.push(ValidationError::WrongType {
                field: "metadata".to_owned(),
                expected: "an object",
                found: json_type(other),
            });
            &empty
        }
    };
    let has_meta = !std::ptr::eq(meta, &empty);
    if has_meta {
        c.checked(
            "metadata.name",
            sv_field(meta, "name"),
            true,
            is_valid_entity_name,
            EXPECT_NAME,
        );
        c.checked(
            "metadata.namespace",
            sv_field(meta, "namespace"),
            false,
            is_valid_namespace,
            EXPECT_NAMESPACE,
        );
        for key in ["title", "description"] {
            c.string(|| format!("metadata.{key}"), sv_field(meta, key), false);
        }
        if let Some(labels) = object_entries(&mut c, meta, "labels") {
            c.labels(labels.iter().map(|(k, v)| (k.as_str(), Sv::of(v))));
        }
        if let Some(annotations) = object_entries(&mut c, meta, "annotations") {
            c.annotations(annotations.iter().map(|(k, v)| (k.as_str(), Sv::of(v))));
        }
        let tags = array_items(&mut c, meta, "tags");
        c.tags(tags.iter().map(Sv::of));
        let links = array_items(&mut c, meta, "links");
        for (i, link) in links.iter().enumerate() {
            match link {
                Value::Object(l) => c.link(
                    i,
                    LinkView {
                        url: sv_field(l, "url"),
                        title: sv_field(l, "title"),
                        icon: sv_field(l, "icon"),
                        link_type: sv_field(l, "type"),
                    },
                ),
                other => c.errors.push(ValidationError::WrongType {
                    field: format!("metadata.links.{i}"),
                    expected: "an object",
                    found: json_type(other),
                }),
            }
        }
        c.generated("metadata.uid", sv_field(meta, "uid"));
        c.generated("metadata.etag", sv_field(meta, "etag"));
    }

    match root.get("spec") {
        None | Some(Value::Object(_)) => {}
        Some(other) => c.errors.push(ValidationError::WrongType {
            field: "spec".to_owned(),
            expected: "an object",
            found: json_type(other),
        }),
    }
    if let Some(relations) = root.get("relations") {
        match Vec::<EntityRelation>::deserialize(relations) {
            Ok(relations) => c.relations(&relations),
            Err(e) => c.errors.push(ValidationError::Invalid {
                field: "relations".to_owned(),
                value: e.to_string(),
                expected: "an array of { type, targetRef, target? }",
            }),
        }
    }
    if let Some(status) = root.get("status") {
        match EntityStatus::deserialize(status) {
            Ok(status) => c.status(&status),
            Err(e) => c.errors.push(ValidationError::Invalid {
                field: "status".to_owned(),
                value: e.to_string(),
                expected: "an object with items of { type, level, message, error? }",
            }),
        }
    }

    let kind = root.get("kind").and_then(Value::as_str).unwrap_or("");
    let namespace = meta
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_NAMESPACE);
    let name = meta.get("name").and_then(Value::as_str).unwrap_or("");
    if strict && !kind.is_empty() {
        let api_version = root.get("apiVersion").and_then(Value::as_str);
        c.kind_rules(kind, api_version, root.get("spec"), None, namespace);
    }
    c.finish(|| entity_label(kind, namespace, name))
}
