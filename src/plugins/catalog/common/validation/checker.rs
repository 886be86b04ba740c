//! The checker of typed entities: every field format of the envelope, collected into one
//! list of problems.

use serde_json::{Map, Value};

use super::super::entity::{DEFAULT_NAMESPACE, Entity, EntityStatus};
use super::super::entity_ref::{RefDefaults, check_ref};
use super::super::error::{ValidationError, ValidationErrors};
use super::super::kinds::KnownKind;
use super::super::relation_rules::check_refs;
use super::super::relations::EntityRelation;
use super::super::spec_reader::json_type;
use super::super::specs::check_spec;
use super::super::validators::*;

/// A string value, or the JSON type found instead of one.
#[derive(Clone, Copy)]
pub(super) enum Sv<'a> {
    Str(&'a str),
    Wrong(&'static str),
}

impl<'a> Sv<'a> {
    pub(super) fn of(value: &'a Value) -> Self {
        match value {
            Value::String(s) => Self::Str(s),
            other => Self::Wrong(json_type(other)),
        }
    }
}

/// One link, in either representation.
pub(super) struct LinkView<'a> {
    pub(super) url: Option<Sv<'a>>,
    pub(super) title: Option<Sv<'a>>,
    pub(super) icon: Option<Sv<'a>>,
    pub(super) link_type: Option<Sv<'a>>,
}

pub(super) struct Checker {
    pub(super) errors: Vec<ValidationError>,
}

impl Checker {
    pub(super) fn new() -> Self {
        Self { errors: Vec::new() }
    }

    /// Checks a present string against a rule.
    pub(super) fn format(
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
    pub(super) fn string<'a>(
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

    pub(super) fn checked(
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

    pub(super) fn labels<'a>(&mut self, labels: impl Iterator<Item = (&'a str, Sv<'a>)>) {
        for (key, value) in labels {
            let field = || format!("metadata.labels.{key}");
            self.format(field, key, is_valid_label_key, EXPECT_KEY);
            if let Some(v) = self.string(field, Some(value), true) {
                self.format(field, v, is_valid_label_value, EXPECT_NAME);
            }
        }
    }

    pub(super) fn annotations<'a>(&mut self, annotations: impl Iterator<Item = (&'a str, Sv<'a>)>) {
        for (key, value) in annotations {
            let field = || format!("metadata.annotations.{key}");
            self.format(field, key, is_valid_annotation_key, EXPECT_KEY);
            self.string(field, Some(value), true);
        }
    }

    pub(super) fn tags<'a>(&mut self, tags: impl Iterator<Item = Sv<'a>>) {
        for (i, tag) in tags.enumerate() {
            let field = || format!("metadata.tags.{i}");
            if let Some(t) = self.string(field, Some(tag), true) {
                self.format(field, t, is_valid_tag, EXPECT_TAG);
            }
        }
    }

    pub(super) fn link(&mut self, i: usize, link: LinkView<'_>) {
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

    pub(super) fn generated(&mut self, field: &'static str, value: Option<Sv<'_>>) {
        if let Some(s) = self.string(|| field.to_owned(), value, false) {
            self.format(|| field.to_owned(), s, is_valid_string, EXPECT_NON_EMPTY);
        }
    }

    pub(super) fn relations(&mut self, relations: &[EntityRelation]) {
        for (i, rel) in relations.iter().enumerate() {
            self.format(
                || format!("relations.{i}.type"),
                &rel.relation_type,
                |t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                "a non empty string of word characters",
            );
            if let Err(source) = check_ref(&rel.target_ref, RefDefaults::none()) {
                self.errors.push(ValidationError::InvalidRef {
                    field: format!("relations.{i}.targetRef"),
                    value: rel.target_ref.clone(),
                    source,
                });
            }
        }
    }

    pub(super) fn status(&mut self, status: &EntityStatus) {
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
    pub(super) fn kind_rules(
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
            (None, None) => {
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

    pub(super) fn finish(self, entity: impl FnOnce() -> String) -> Result<(), ValidationErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors::new(entity(), self.errors))
        }
    }
}

pub(super) fn typed_envelope(c: &mut Checker, entity: &Entity) {
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
