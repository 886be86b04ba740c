//! Tests of entity validation, typed and raw.

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
    let err =
        validate_entity_value(&with(component(), "/metadata/name", json!("Foo Bar!"))).unwrap_err();
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
    assert_eq!(fields(&with(component(), "/spec", json!(null))), ["spec"]);
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
