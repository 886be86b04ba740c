//! Entity validation: the envelope's field formats, the kind's apiVersion and spec, and the
//! references in the spec. Every problem is reported, not just the first.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::entity::{DEFAULT_NAMESPACE, Entity, EntityStatus};
use super::entity_ref::{EntityRef, RefDefaults};
use super::error::{ValidationError, ValidationErrors};
use super::kinds::KnownKind;
use super::relation_rules::check_refs;
use super::relations::EntityRelation;
use super::spec_reader::json_type;
use super::specs::check_spec;
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

/// A string value, or the JSON type found instead of one.
#[derive(Clone, Copy)]
enum Sv<'a> {
    Str(&'a str),
    Wrong(&'static str),
}

impl<'a> Sv<'a> {
    fn of(value: &'a Value) -> Self {
        match value {
            Value::String(s) => Self::Str(s),
            other => Self::Wrong(json_type(other)),
        }
    }
}

/// One link, in either representation.
struct LinkView<'a> {
    url: Option<Sv<'a>>,
    title: Option<Sv<'a>>,
    icon: Option<Sv<'a>>,
    link_type: Option<Sv<'a>>,
}

struct Checker {
    errors: Vec<ValidationError>,
}

impl Checker {
    fn new() -> Self {
        Self { errors: Vec::new() }
    }

    /// Checks a present string against a rule.
    fn format(
        &mut self,
        field: impl FnOnce() -> String,
        value: &str,
        ok: fn(&str) -> bool,
        expected: &'static str,
    ) {
        if !ok(value) {
            self.errors.push(ValidationError::Invalid {
                field: field(),
                value: value.to_owned(),
                expected,
            });
        }
    }

    /// A string field: `None` is absent, `Some(Sv)` present. Returns the string if its type is
    /// right.
    fn string<'a>(
        &mut self,
        field: impl FnOnce() -> String,
        value: Option<Sv<'a>>,
        required: bool,
    ) -> Option<&'a str> {
        match value {
            None if required => {
                self.errors
                    .push(ValidationError::Missing { field: field() });
                None
            }
            None => None,
            Some(Sv::Wrong("null")) if required => {
                self.errors
                    .push(ValidationError::Missing { field: field() });
                None
            }
            Some(Sv::Wrong(found)) => {
                self.errors.push(ValidationError::WrongType {
                    field: field(),
                    expected: "a string",
                    found,
                });
                None
            }
            Some(Sv::Str(s)) => Some(s),
        }
    }

    fn checked(
        &mut self,
        field: &'static str,
        value: Option<Sv<'_>>,
        required: bool,
        ok: fn(&str) -> bool,
        expected: &'static str,
    ) {
        if let Some(s) = self.string(|| field.to_owned(), value, required) {
            if required && s.is_empty() {
                self.errors.push(ValidationError::Missing {
                    field: field.to_owned(),
                });
            } else {
                self.format(|| field.to_owned(), s, ok, expected);
            }
        }
    }

    fn labels<'a>(&mut self, labels: impl Iterator<Item = (&'a str, Sv<'a>)>) {
        for (key, value) in labels {
            let field = || format!("metadata.labels.{key}");
            self.format(field, key, is_valid_label_key, EXPECT_KEY);
            if let Some(v) = self.string(field, Some(value), true) {
                self.format(field, v, is_valid_label_value, EXPECT_NAME);
            }
        }
    }

    fn annotations<'a>(&mut self, annotations: impl Iterator<Item = (&'a str, Sv<'a>)>) {
        for (key, value) in annotations {
            let field = || format!("metadata.annotations.{key}");
            self.format(field, key, is_valid_annotation_key, EXPECT_KEY);
            self.string(field, Some(value), true);
        }
    }

    fn tags<'a>(&mut self, tags: impl Iterator<Item = Sv<'a>>) {
        for (i, tag) in tags.enumerate() {
            let field = || format!("metadata.tags.{i}");
            if let Some(t) = self.string(field, Some(tag), true) {
                self.format(field, t, is_valid_tag, EXPECT_TAG);
            }
        }
    }

    fn link(&mut self, i: usize, link: LinkView<'_>) {
        let path = |key: &str| format!("metadata.links.{i}.{key}");
        if let Some(url) = self.string(|| path("url"), link.url, true) {
            self.format(|| path("url"), url, is_valid_url, EXPECT_URL);
        }
        if let Some(title) = self.string(|| path("title"), link.title, false) {
            self.format(|| path("title"), title, is_valid_string, EXPECT_NON_EMPTY);
        }
        if let Some(icon) = self.string(|| path("icon"), link.icon, false) {
            self.format(|| path("icon"), icon, is_valid_entity_name, EXPECT_NAME);
        }
        if let Some(t) = self.string(|| path("type"), link.link_type, false) {
            self.format(|| path("type"), t, is_valid_string, EXPECT_NON_EMPTY);
        }
    }

    fn generated(&mut self, field: &'static str, value: Option<Sv<'_>>) {
        if let Some(s) = self.string(|| field.to_owned(), value, false) {
            self.format(|| field.to_owned(), s, is_valid_string, EXPECT_NON_EMPTY);
        }
    }

    fn relations(&mut self, relations: &[EntityRelation]) {
        for (i, rel) in relations.iter().enumerate() {
            self.format(
                || format!("relations.{i}.type"),
                &rel.relation_type,
                |t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                "a non empty string of word characters",
            );
            if let Err(source) = EntityRef::parse(&rel.target_ref, RefDefaults::none()) {
                self.errors.push(ValidationError::InvalidRef {
                    field: format!("relations.{i}.targetRef"),
                    value: rel.target_ref.clone(),
                    source,
                });
            }
        }
    }

    fn status(&mut self, status: &EntityStatus) {
        for (i, item) in status.items.iter().flatten().enumerate() {
            self.format(
                || format!("status.items.{i}.level"),
                &item.level,
                |l| matches!(l, "info" | "warning" | "error"),
                "one of info, warning, error",
            );
        }
    }

    /// apiVersion support and the spec of a built-in kind; unknown kinds are an error when
    /// `strict`.
    fn kind_rules(
        &mut self,
        kind: &str,
        api_version: Option<&str>,
        spec: Option<&Value>,
        typed_spec: Option<&Map<String, Value>>,
        namespace: &str,
    ) {
        let Some(known) = KnownKind::parse(kind) else {
            if is_valid_kind(kind) {
                self.errors.push(ValidationError::UnknownKind {
                    kind: kind.to_owned(),
                });
            }
            return;
        };
        if let Some(v) = api_version {
            if is_valid_api_version(v) && !known.accepts_api_version(v) {
                self.errors.push(ValidationError::UnsupportedApiVersion {
                    kind: kind.to_owned(),
                    api_version: v.to_owned(),
                    supported: known.api_versions_text(),
                });
            }
        }
        let spec = match (typed_spec, spec) {
            (Some(m), _) | (None, Some(Value::Object(m))) => m,
            (None, None) | (None, Some(Value::Null)) => {
                self.errors.push(ValidationError::Missing {
                    field: "spec".to_owned(),
                });
                return;
            }
            (None, Some(_)) => return, // wrong type, reported with the envelope
        };
        check_spec(known, spec, &mut self.errors);
        let namespace = if is_valid_namespace(namespace) {
            namespace
        } else {
            DEFAULT_NAMESPACE
        };
        check_refs(known, spec, namespace, &mut self.errors);
    }

    fn finish(self, entity: impl FnOnce() -> String) -> Result<(), ValidationErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors::new(entity(), self.errors))
        }
    }
}

fn typed_envelope(c: &mut Checker, entity: &Entity) {
    c.checked(
        "apiVersion",
        Some(Sv::Str(&entity.api_version)),
        true,
        is_valid_api_version,
        EXPECT_API_VERSION,
    );
    c.checked(
        "kind",
        Some(Sv::Str(&entity.kind)),
        true,
        is_valid_kind,
        EXPECT_KIND,
    );
    let m = &entity.metadata;
    c.checked(
        "metadata.name",
        Some(Sv::Str(&m.name)),
        true,
        is_valid_entity_name,
        EXPECT_NAME,
    );
    c.checked(
        "metadata.namespace",
        m.namespace.as_deref().map(Sv::Str),
        false,
        is_valid_namespace,
        EXPECT_NAMESPACE,
    );
    c.labels(m.labels.iter().map(|(k, v)| (k.as_str(), Sv::Str(v))));
    c.annotations(m.annotations.iter().map(|(k, v)| (k.as_str(), Sv::Str(v))));
    c.tags(m.tags.iter().map(|t| Sv::Str(t)));
    for (i, link) in m.links.iter().enumerate() {
        c.link(
            i,
            LinkView {
                url: Some(Sv::Str(&link.url)),
                title: link.title.as_deref().map(Sv::Str),
                icon: link.icon.as_deref().map(Sv::Str),
                link_type: link.link_type.as_deref().map(Sv::Str),
            },
        );
    }
    c.generated("metadata.uid", m.uid.as_deref().map(Sv::Str));
    c.generated("metadata.etag", m.etag.as_deref().map(Sv::Str));
    if let Some(relations) = &entity.relations {
        c.relations(relations);
    }
    if let Some(status) = &entity.status {
        c.status(status);
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn component() -> Value {
        json!({
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Component",
            "metadata": {
                "name": "artist-web",
                "namespace": "music",
                "title": "Artist Web",
                "labels": { "example.com/custom": "custom_label_value", "plain": "" },
                "annotations": { "backstage.io/techdocs-ref": "dir:.", "note": "" },
                "tags": ["java", "c++"],
                "links": [{ "url": "https://admin.example-org.com", "title": "Admin", "icon": "dashboard", "type": "admin" }]
            },
            "spec": { "type": "website", "lifecycle": "production", "owner": "team-a", "system": "portal",
                      "dependsOn": ["resource:db"], "providesApis": ["artist-api"] }
        })
    }

    /// Runs both validation paths on `value` (the typed one only when it deserializes) and
    /// returns the failing field paths of the raw one, checking the typed one agrees.
    fn fields(value: &Value) -> Vec<String> {
        let raw = match validate_entity_value(value) {
            Ok(()) => Vec::new(),
            Err(e) => e.errors().iter().map(|e| e.field().to_owned()).collect(),
        };
        if let Ok(entity) = serde_json::from_value::<Entity>(value.clone()) {
            let typed: Vec<String> = match validate_entity(&entity) {
                Ok(()) => Vec::new(),
                Err(e) => e.errors().iter().map(|e| e.field().to_owned()).collect(),
            };
            assert_eq!(typed, raw, "typed and raw validation disagree for {value}");
        }
        raw
    }

    fn with(mut value: Value, pointer: &str, new: Value) -> Value {
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        value
            .pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .insert(key.to_owned(), new);
        value
    }

    fn without(mut value: Value, pointer: &str) -> Value {
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        value
            .pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove(key);
        value
    }

    #[test]
    fn a_valid_entity_passes() {
        assert!(fields(&component()).is_empty());
    }

    #[test]
    fn api_version_and_kind() {
        assert_eq!(
            fields(&with(component(), "/apiVersion", json!("not a version"))),
            ["apiVersion"]
        );
        assert_eq!(
            fields(&with(component(), "/apiVersion", json!("backstage.io/v2"))),
            ["apiVersion"]
        );
        assert_eq!(
            fields(&with(component(), "/apiVersion", json!(1))),
            ["apiVersion"]
        );
        assert_eq!(fields(&without(component(), "/apiVersion")), ["apiVersion"]);
        assert_eq!(
            fields(&with(component(), "/kind", json!("Comp-onent"))),
            ["kind"]
        );
        assert_eq!(
            fields(&with(component(), "/kind", json!("Widget"))),
            ["kind"]
        );
        // kinds are matched case-sensitively
        assert_eq!(
            fields(&with(component(), "/kind", json!("component"))),
            ["kind"]
        );
        assert_eq!(fields(&without(component(), "/kind")), ["kind"]);
    }

    #[test]
    fn unsupported_api_version_names_the_kind() {
        let v = with(
            component(),
            "/apiVersion",
            json!("scaffolder.backstage.io/v1beta3"),
        );
        let err = validate_entity_value(&v).unwrap_err();
        assert!(
            matches!(&err.errors()[0], ValidationError::UnsupportedApiVersion { kind, .. } if kind == "Component")
        );
        assert!(
            err.to_string()
                .contains("backstage.io/v1alpha1, backstage.io/v1beta1")
        );
        assert!(
            fields(&with(
                component(),
                "/apiVersion",
                json!("backstage.io/v1beta1")
            ))
            .is_empty()
        );
    }

    #[test]
    fn metadata_name() {
        for ok in ["a", "Artist_Web.v2", "x".repeat(63).as_str()] {
            assert!(
                fields(&with(component(), "/metadata/name", json!(ok))).is_empty(),
                "{ok}"
            );
        }
        for bad in [
            json!("Foo Bar!"),
            json!("-a"),
            json!("x".repeat(64)),
            json!(""),
            json!(5),
            json!(null),
        ] {
            assert_eq!(
                fields(&with(component(), "/metadata/name", bad.clone())),
                ["metadata.name"],
                "{bad}"
            );
        }
        assert_eq!(
            fields(&without(component(), "/metadata/name")),
            ["metadata.name"]
        );
    }

    #[test]
    fn message_names_field_value_and_rule() {
        let err = validate_entity_value(&with(component(), "/metadata/name", json!("Foo Bar!")))
            .unwrap_err();
        assert_eq!(
            err.errors()[0].to_string(),
            "metadata.name \"Foo Bar!\" is not valid; expected a string that is sequences of [a-zA-Z0-9] \
             separated by any of [-_.], at most 63 characters in total"
        );
        assert!(
            err.to_string()
                .starts_with("entity component:music/foo bar! is invalid: ")
        );
    }

    #[test]
    fn namespace() {
        assert!(fields(&without(component(), "/metadata/namespace")).is_empty());
        for bad in [json!("Music"), json!("mu_sic"), json!(""), json!(1)] {
            assert_eq!(
                fields(&with(component(), "/metadata/namespace", bad.clone())),
                ["metadata.namespace"],
                "{bad}"
            );
        }
    }

    #[test]
    fn labels() {
        let v = with(
            component(),
            "/metadata/labels",
            json!({
                "ok.io/fine": "Value_1", "bad key": "v", "a/b/c": "v", "k": "bad value", "n": 3
            }),
        );
        assert_eq!(
            fields(&v),
            [
                "metadata.labels.a/b/c",
                "metadata.labels.bad key",
                "metadata.labels.k",
                "metadata.labels.n"
            ]
        );
        assert_eq!(
            fields(&with(component(), "/metadata/labels", json!(["x"]))),
            ["metadata.labels"]
        );
    }

    #[test]
    fn annotations() {
        let v = with(
            component(),
            "/metadata/annotations",
            json!({
                "backstage.io/orphan": true, "github.com/project-slug": "o/r", "UPPER.io/x": "v", "any": "any value at all: ok"
            }),
        );
        assert_eq!(
            fields(&v),
            [
                "metadata.annotations.UPPER.io/x",
                "metadata.annotations.backstage.io/orphan"
            ]
        );
    }

    #[test]
    fn tags() {
        let v = with(
            component(),
            "/metadata/tags",
            json!(["ok", "Java", "a_b", 7, "c#", ""]),
        );
        assert_eq!(
            fields(&v),
            [
                "metadata.tags.1",
                "metadata.tags.2",
                "metadata.tags.3",
                "metadata.tags.5"
            ]
        );
        assert_eq!(
            fields(&with(component(), "/metadata/tags", json!("java"))),
            ["metadata.tags"]
        );
    }

    #[test]
    fn links() {
        let v = with(
            component(),
            "/metadata/links",
            json!([
                { "url": "https://ok.example" },
                { "title": "no url" },
                { "url": "not a url" },
                { "url": "https://x", "title": " ", "icon": "not an icon!", "type": 3 },
                "just a string"
            ]),
        );
        assert_eq!(
            fields(&v),
            [
                "metadata.links.1.url",
                "metadata.links.2.url",
                "metadata.links.3.title",
                "metadata.links.3.icon",
                "metadata.links.3.type",
                "metadata.links.4"
            ]
        );
    }

    #[test]
    fn generated_fields_and_free_text() {
        let v = with(component(), "/metadata/uid", json!(""));
        assert_eq!(fields(&v), ["metadata.uid"]);
        let v = with(component(), "/metadata/etag", json!(1));
        assert_eq!(fields(&v), ["metadata.etag"]);
        let v = with(component(), "/metadata/description", json!(["x"]));
        assert_eq!(fields(&v), ["metadata.description"]);
        let v = with(
            component(),
            "/metadata/x-anything",
            json!({ "is": "allowed" }),
        );
        assert!(fields(&v).is_empty());
    }

    #[test]
    fn envelope_shape() {
        assert_eq!(fields(&with(component(), "/foo", json!(1))), ["foo"]);
        assert_eq!(
            fields(&with(component(), "/metadata", json!("x"))),
            ["metadata"]
        );
        assert_eq!(fields(&without(component(), "/metadata")), ["metadata"]);
        assert_eq!(fields(&with(component(), "/spec", json!([]))), ["spec"]);
        assert_eq!(fields(&without(component(), "/spec")), ["spec"]);
        assert_eq!(fields(&json!("entity")), ["entity"]);
    }

    #[test]
    fn relations_and_status() {
        let v = with(
            component(),
            "/relations",
            json!([
                { "type": "ownedBy", "targetRef": "group:music/team-a" },
                { "type": "owned by", "targetRef": "team-a" }
            ]),
        );
        assert_eq!(fields(&v), ["relations.1.type", "relations.1.targetRef"]);
        assert_eq!(
            fields(&with(component(), "/relations", json!({}))),
            ["relations"]
        );
        let v = with(
            component(),
            "/status",
            json!({ "items": [{ "type": "t", "level": "fatal", "message": "m" }] }),
        );
        assert_eq!(fields(&v), ["status.items.0.level"]);
        assert_eq!(
            fields(&with(component(), "/status", json!({ "items": [{}] }))),
            ["status"]
        );
    }

    #[test]
    fn spec_references() {
        let v = with(
            component(),
            "/spec/dependsOn",
            json!(["artists-db", "resource:db", "component:"]),
        );
        assert_eq!(fields(&v), ["spec.dependsOn.0", "spec.dependsOn.2"]);
        let v = with(component(), "/spec/owner", json!("group:"));
        assert_eq!(fields(&v), ["spec.owner"]);
    }

    #[test]
    fn returns_all_problems_at_once() {
        let v = json!({
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Group",
            "metadata": { "name": "Bad Name", "namespace": "Bad", "tags": ["UP"], "labels": { "k": "v v" } },
            "spec": { "type": 1, "children": "x", "members": ["user:"] }
        });
        assert_eq!(
            fields(&v),
            [
                "metadata.name",
                "metadata.namespace",
                "metadata.labels.k",
                "metadata.tags.0",
                "spec.type",
                "spec.children",
                "spec.members.0"
            ]
        );
    }

    #[test]
    fn every_kind_requires_its_fields() {
        let cases: [(&str, &str, Value, &[&str]); 9] = [
            (
                "Component",
                "backstage.io/v1alpha1",
                json!({}),
                &["spec.type", "spec.lifecycle", "spec.owner"],
            ),
            (
                "API",
                "backstage.io/v1alpha1",
                json!({}),
                &[
                    "spec.type",
                    "spec.lifecycle",
                    "spec.owner",
                    "spec.definition",
                ],
            ),
            (
                "Resource",
                "backstage.io/v1alpha1",
                json!({}),
                &["spec.type", "spec.owner"],
            ),
            (
                "System",
                "backstage.io/v1alpha1",
                json!({}),
                &["spec.owner"],
            ),
            (
                "Domain",
                "backstage.io/v1alpha1",
                json!({}),
                &["spec.owner"],
            ),
            (
                "Group",
                "backstage.io/v1alpha1",
                json!({}),
                &["spec.type", "spec.children"],
            ),
            (
                "User",
                "backstage.io/v1alpha1",
                json!({}),
                &["spec.memberOf"],
            ),
            ("Location", "backstage.io/v1alpha1", json!({}), &[]),
            (
                "Template",
                "scaffolder.backstage.io/v1beta3",
                json!({}),
                &["spec.type", "spec.steps"],
            ),
        ];
        for (kind, api_version, spec, expected) in cases {
            let v = json!({ "apiVersion": api_version, "kind": kind, "metadata": { "name": "x" }, "spec": spec });
            assert_eq!(fields(&v), expected, "{kind}");
        }
    }

    #[test]
    fn envelope_only_accepts_unknown_kinds() {
        let mut e: Entity = serde_json::from_value(component()).unwrap();
        e.kind = "Widget".into();
        e.spec = None;
        assert!(validate_envelope(&e).is_ok());
        assert!(validate_entity(&e).is_err());
        e.metadata.name = "bad name".into();
        assert_eq!(
            validate_envelope(&e).unwrap_err().errors()[0].field(),
            "metadata.name"
        );
    }

    #[test]
    fn from_value_converts_valid_entities() {
        let e = Entity::from_value(component()).unwrap();
        assert_eq!(e.metadata.namespace(), "music");
        assert!(Entity::from_value(with(component(), "/metadata/tags", json!([1]))).is_err());
        // kind and spec are left to validate_entity
        let widget = with(component(), "/kind", json!("Widget"));
        assert!(Entity::from_value(widget.clone()).is_ok());
        assert!(validate_envelope_value(&widget).is_ok());
        assert_eq!(fields(&widget), ["kind"]);
        let no_owner = without(component(), "/spec/owner");
        let e = Entity::from_value(no_owner).unwrap();
        assert_eq!(
            validate_entity(&e).unwrap_err().errors()[0].field(),
            "spec.owner"
        );
    }
}
