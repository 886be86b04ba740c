//! Tests of the spec views of every built-in kind.

use super::*;
use serde_json::json;

fn entity(kind: &str, spec: Value) -> Entity {
    Entity::new("backstage.io/v1alpha1", kind, "x").with_spec(spec)
}

fn fields(err: SpecError) -> Vec<String> {
    match err {
        SpecError::Invalid(e) => e.errors().iter().map(|e| e.field().to_owned()).collect(),
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn component_reads_every_field() {
    let e = entity(
        "Component",
        json!({
            "type": "service", "lifecycle": "production", "owner": "user:jane",
            "system": "podcast", "subcomponentOf": "parent", "providesApis": ["a"],
            "consumesApis": ["b", "c"], "dependsOn": ["resource:db"], "dependencyOf": ["component:x"],
            "extra": { "kept": true }
        }),
    );
    let s = ComponentSpec::from_entity(&e).unwrap();
    assert_eq!(s.owner, "user:jane");
    assert_eq!(s.system.as_deref(), Some("podcast"));
    assert_eq!(s.subcomponent_of.as_deref(), Some("parent"));
    assert_eq!(s.consumes_apis, ["b", "c"]);
    assert_eq!(s.depends_on, ["resource:db"]);
    assert_eq!(s.dependency_of, ["component:x"]);
}

#[test]
fn component_reports_all_problems() {
    let e = entity(
        "Component",
        json!({ "type": "", "owner": 5, "providesApis": "a" }),
    );
    assert_eq!(
        fields(ComponentSpec::from_entity(&e).unwrap_err()),
        [
            "spec.type",
            "spec.lifecycle",
            "spec.owner",
            "spec.providesApis"
        ]
    );
    let mut no_spec = entity("Component", json!({}));
    no_spec.spec = None;
    assert_eq!(
        fields(ComponentSpec::from_entity(&no_spec).unwrap_err())[0],
        "spec"
    );
}

#[test]
fn api_requires_definition() {
    let ok = entity(
        "API",
        json!({ "type": "openapi", "lifecycle": "production", "owner": "t", "definition": "openapi: 3.0.0" }),
    );
    assert_eq!(
        ApiSpec::from_entity(&ok).unwrap().definition.as_deref(),
        Some("openapi: 3.0.0")
    );
    let placeholder = entity(
        "API",
        json!({ "type": "openapi", "lifecycle": "production", "owner": "t", "definition": { "$text": "./x" } }),
    );
    assert_eq!(
        fields(ApiSpec::from_entity(&placeholder).unwrap_err()),
        ["spec.definition"]
    );
}

#[test]
fn mcp_server_apis_need_remotes_not_a_definition() {
    let ok = entity(
        "API",
        json!({ "type": "mcp-server", "lifecycle": "experimental", "owner": "t",
                                   "remotes": [{ "type": "streamable-http", "url": "http://localhost:7007/api/mcp/v1" }] }),
    );
    let spec = ApiSpec::from_entity(&ok).unwrap();
    assert_eq!(spec.definition, None);
    assert_eq!(spec.remotes[0].remote_type, "streamable-http");
    let none = entity(
        "API",
        json!({ "type": "mcp-server", "lifecycle": "experimental", "owner": "t" }),
    );
    assert_eq!(
        fields(ApiSpec::from_entity(&none).unwrap_err()),
        ["spec.remotes"]
    );
    let bad = entity(
        "API",
        json!({ "type": "mcp-server", "lifecycle": "x", "owner": "t", "remotes": [{ "type": "sse" }, 1] }),
    );
    assert_eq!(
        fields(ApiSpec::from_entity(&bad).unwrap_err()),
        ["spec.remotes.0.url", "spec.remotes.1"]
    );
    let empty = entity(
        "API",
        json!({ "type": "mcp-server", "lifecycle": "x", "owner": "t", "remotes": [] }),
    );
    assert_eq!(
        fields(ApiSpec::from_entity(&empty).unwrap_err()),
        ["spec.remotes"]
    );
}

#[test]
fn resource_system_domain() {
    let r = ResourceSpec::from_entity(&entity(
        "Resource",
        json!({ "type": "database", "owner": "t", "dependsOn": ["component:a"] }),
    ))
    .unwrap();
    assert_eq!(r.depends_on, ["component:a"]);
    assert_eq!(
        fields(
            ResourceSpec::from_entity(&entity("Resource", json!({ "owner": "t" }))).unwrap_err()
        ),
        ["spec.type"]
    );
    let s = SystemSpec::from_entity(&entity(
        "System",
        json!({ "owner": "t", "domain": "d", "type": "product" }),
    ))
    .unwrap();
    assert_eq!(
        (s.domain.as_deref(), s.system_type.as_deref()),
        (Some("d"), Some("product"))
    );
    assert_eq!(
        fields(SystemSpec::from_entity(&entity("System", json!({ "domain": 1 }))).unwrap_err()),
        ["spec.owner", "spec.domain"]
    );
    let d = DomainSpec::from_entity(&entity(
        "Domain",
        json!({ "owner": "t", "subdomainOf": "audio" }),
    ))
    .unwrap();
    assert_eq!(d.subdomain_of.as_deref(), Some("audio"));
    assert_eq!(
        fields(
            DomainSpec::from_entity(&entity("Domain", json!({ "subdomainOf": "" }))).unwrap_err()
        ),
        ["spec.owner", "spec.subdomainOf"]
    );
}

#[test]
fn group_and_user() {
    let g = GroupSpec::from_entity(&entity("Group", json!({
        "type": "team", "profile": { "displayName": "A", "email": "a@x" }, "parent": "p", "children": [], "members": ["jane"]
    }))).unwrap();
    assert_eq!(g.profile.unwrap().email.as_deref(), Some("a@x"));
    assert!(g.children.is_empty());
    assert_eq!(
        fields(
            GroupSpec::from_entity(&entity(
                "Group",
                json!({ "type": "team", "profile": { "email": 1 } })
            ))
            .unwrap_err()
        ),
        ["spec.profile.email", "spec.children"]
    );
    let u = UserSpec::from_entity(&entity("User", json!({ "memberOf": ["team-a"] }))).unwrap();
    assert_eq!(u.member_of, ["team-a"]);
    assert_eq!(
        fields(UserSpec::from_entity(&entity("User", json!({ "profile": "x" }))).unwrap_err()),
        ["spec.profile", "spec.memberOf"]
    );
}

#[test]
fn location() {
    let l = LocationEntitySpec::from_entity(&entity(
        "Location",
        json!({ "type": "url", "target": "a", "targets": ["b", "c"], "presence": "optional" }),
    ))
    .unwrap();
    assert_eq!(l.all_targets().collect::<Vec<_>>(), ["a", "b", "c"]);
    assert_eq!(l.presence.as_deref(), Some("optional"));
    assert!(LocationEntitySpec::from_entity(&entity("Location", json!({}))).is_ok());
    assert_eq!(
        fields(
            LocationEntitySpec::from_entity(&entity("Location", json!({ "targets": [1] })))
                .unwrap_err()
        ),
        ["spec.targets.0"]
    );
}

#[test]
fn template() {
    let mut e = entity(
        "Template",
        json!({
            "type": "service", "owner": "team-a",
            "parameters": { "title": "One", "properties": {} },
            "steps": [{ "id": "fetch", "name": "Fetch", "action": "fetch:template", "input": { "url": "./skeleton" }, "if": "${{ parameters.x }}" }],
            "output": { "links": [] }
        }),
    );
    e.api_version = "scaffolder.backstage.io/v1beta3".into();
    let t = TemplateSpec::from_entity(&e).unwrap();
    assert_eq!(t.parameters.len(), 1);
    assert_eq!(t.steps[0].action, "fetch:template");
    assert_eq!(t.steps[0].condition, Some(json!("${{ parameters.x }}")));
    assert!(t.output.is_some());
    let bad = entity(
        "Template",
        json!({ "parameters": [1], "steps": [{ "id": "x" }, 2, { "action": "a", "if": 3 }] }),
    );
    assert_eq!(
        fields(TemplateSpec::from_entity(&bad).unwrap_err()),
        [
            "spec.type",
            "spec.parameters.0",
            "spec.steps.0.action",
            "spec.steps.1",
            "spec.steps.2.if"
        ]
    );
}
