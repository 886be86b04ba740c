//! Typed, read-only views of the `spec` of each built-in kind.
//!
//! The entity keeps its spec as raw JSON (so unknown keys survive); these views read the
//! well-known fields out of it, checking the types the kind's JSON schema demands.

use serde_json::{Map, Value};

use super::entity::Entity;
use super::error::{SpecError, ValidationError, ValidationErrors};
use super::kinds::KnownKind;
use super::spec_reader::{ObjReader, json_type};

fn owned(s: &str) -> String {
    s.to_owned()
}

fn owned_opt(s: Option<&str>) -> Option<String> {
    s.map(str::to_owned)
}

fn owned_list(v: Vec<&str>) -> Vec<String> {
    v.into_iter().map(str::to_owned).collect()
}

/// Reads the spec of `entity` with `read` after checking its kind.
fn read_view<T>(
    entity: &Entity,
    kind: KnownKind,
    read: impl FnOnce(&mut ObjReader<'_, '_>) -> T,
) -> Result<T, SpecError> {
    if entity.kind != kind.as_str() {
        return Err(SpecError::WrongKind {
            entity: entity.ref_string(),
            expected: kind.as_str(),
            found: entity.kind.clone(),
        });
    }
    let mut errors = Vec::new();
    let empty = Map::new();
    let spec = match &entity.spec {
        Some(spec) => spec,
        None => {
            errors.push(ValidationError::Missing {
                field: "spec".to_owned(),
            });
            &empty
        }
    };
    let view = read(&mut ObjReader::new(spec, "spec", &mut errors));
    if errors.is_empty() {
        Ok(view)
    } else {
        Err(SpecError::Invalid(ValidationErrors::new(
            entity.ref_string(),
            errors,
        )))
    }
}

/// Checks the spec of a built-in kind, recording every problem.
pub(crate) fn check_spec(
    kind: KnownKind,
    spec: &Map<String, Value>,
    errors: &mut Vec<ValidationError>,
) {
    let mut r = ObjReader::new(spec, "spec", errors);
    match kind {
        KnownKind::Api => drop(ApiSpec::read(&mut r)),
        KnownKind::Component => drop(ComponentSpec::read(&mut r)),
        KnownKind::Domain => drop(DomainSpec::read(&mut r)),
        KnownKind::Group => drop(GroupSpec::read(&mut r)),
        KnownKind::Location => drop(LocationEntitySpec::read(&mut r)),
        KnownKind::Resource => drop(ResourceSpec::read(&mut r)),
        KnownKind::System => drop(SystemSpec::read(&mut r)),
        KnownKind::Template => drop(TemplateSpec::read(&mut r)),
        KnownKind::User => drop(UserSpec::read(&mut r)),
    }
}

macro_rules! from_entity {
    ($ty:ident, $kind:expr, $kind_name:literal) => {
        impl $ty {
            #[doc = concat!("Reads the spec of a `", $kind_name, "` entity, reporting every missing or")]
            /// mistyped field.
            pub fn from_entity(entity: &Entity) -> Result<Self, SpecError> {
                read_view(entity, $kind, Self::read)
            }
        }
    };
}

/// The spec of a `Component`.
///
/// ```
/// use backlot::plugins::catalog::common::{ComponentSpec, Entity, SpecError};
/// use serde_json::json;
///
/// let entity = Entity::new("backstage.io/v1alpha1", "Component", "artist-web").with_spec(json!({
///     "type": "website", "lifecycle": "production", "owner": "team-a",
///     "providesApis": ["artist-api"]
/// }));
/// let spec = ComponentSpec::from_entity(&entity)?;
/// assert_eq!(spec.component_type, "website");
/// assert_eq!(spec.provides_apis, ["artist-api"]);
///
/// let group = Entity::new("backstage.io/v1alpha1", "Group", "team-a");
/// assert!(matches!(ComponentSpec::from_entity(&group), Err(SpecError::WrongKind { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ComponentSpec {
    /// `type`, e.g. `service`, `website`, `library`.
    pub component_type: String,
    /// `lifecycle`, e.g. `experimental`, `production`, `deprecated`.
    pub lifecycle: String,
    /// `owner`: reference to a Group (default kind) or User.
    pub owner: String,
    /// `system`: reference to a System.
    pub system: Option<String>,
    /// `subcomponentOf`: reference to a parent Component.
    pub subcomponent_of: Option<String>,
    /// `providesApis`: references to APIs.
    pub provides_apis: Vec<String>,
    /// `consumesApis`: references to APIs.
    pub consumes_apis: Vec<String>,
    /// `dependsOn`: references with an explicit kind.
    pub depends_on: Vec<String>,
    /// `dependencyOf`: references with an explicit kind.
    pub dependency_of: Vec<String>,
}

impl ComponentSpec {
    fn read(r: &mut ObjReader<'_, '_>) -> Self {
        Self {
            component_type: owned(r.req_str("type")),
            lifecycle: owned(r.req_str("lifecycle")),
            owner: owned(r.req_str("owner")),
            system: owned_opt(r.opt_str("system")),
            subcomponent_of: owned_opt(r.opt_str("subcomponentOf")),
            provides_apis: owned_list(r.opt_list("providesApis")),
            consumes_apis: owned_list(r.opt_list("consumesApis")),
            depends_on: owned_list(r.opt_list("dependsOn")),
            dependency_of: owned_list(r.opt_list("dependencyOf")),
        }
    }
}
from_entity!(ComponentSpec, KnownKind::Component, "Component");

/// The `type` of API entities that describe an MCP (Model Context Protocol) server; such
/// APIs list `remotes` instead of a `definition`.
pub const API_TYPE_MCP_SERVER: &str = "mcp-server";

/// One transport endpoint of an API (`spec.remotes[]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiRemote {
    /// Transport type, e.g. `streamable-http`, `sse`, `stdio`.
    pub remote_type: String,
    /// Endpoint URL (or a command for `stdio`).
    pub url: String,
}

/// The spec of an `API`.
///
/// `definition` is required, except for `type: mcp-server`, which requires at least one of
/// `remotes` instead.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiSpec {
    /// `type`, e.g. `openapi`, `asyncapi`, `graphql`, `grpc`, `mcp-server`.
    pub api_type: String,
    /// `lifecycle`.
    pub lifecycle: String,
    /// `owner`: reference to a Group (default kind) or User.
    pub owner: String,
    /// `definition`: the API definition text (after `$text` substitution).
    pub definition: Option<String>,
    /// `system`: reference to a System.
    pub system: Option<String>,
    /// `remotes`: transport endpoints (required for `mcp-server`).
    pub remotes: Vec<ApiRemote>,
}

impl ApiSpec {
    fn read(r: &mut ObjReader<'_, '_>) -> Self {
        let api_type = r.req_str("type");
        let mcp = api_type == API_TYPE_MCP_SERVER;
        Self {
            api_type: owned(api_type),
            lifecycle: owned(r.req_str("lifecycle")),
            owner: owned(r.req_str("owner")),
            definition: if mcp {
                owned_opt(r.opt_str("definition"))
            } else {
                Some(owned(r.req_str("definition")))
            },
            system: owned_opt(r.opt_str("system")),
            remotes: Self::read_remotes(r, mcp),
        }
    }

    fn read_remotes<'a>(r: &mut ObjReader<'a, '_>, required: bool) -> Vec<ApiRemote> {
        match r.raw("remotes") {
            None | Some(Value::Null) => {
                if required {
                    r.push(ValidationError::Missing {
                        field: "spec.remotes".to_owned(),
                    });
                }
                Vec::new()
            }
            Some(Value::Array(items)) => {
                if required && items.is_empty() {
                    r.push(ValidationError::Invalid {
                        field: "spec.remotes".to_owned(),
                        value: "[]".to_owned(),
                        expected: "at least one remote",
                    });
                }
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let Value::Object(map) = item else {
                        r.push(ValidationError::WrongType {
                            field: format!("spec.remotes.{i}"),
                            expected: "an object",
                            found: json_type(item),
                        });
                        continue;
                    };
                    let key = format!("remotes.{i}");
                    let mut rr = r.nested(&key, map);
                    out.push(ApiRemote {
                        remote_type: owned(rr.req_str("type")),
                        url: owned(rr.req_str("url")),
                    });
                }
                out
            }
            Some(other) => {
                r.push(ValidationError::WrongType {
                    field: "spec.remotes".to_owned(),
                    expected: "an array of objects",
                    found: json_type(other),
                });
                Vec::new()
            }
        }
    }
}
from_entity!(ApiSpec, KnownKind::Api, "API");

/// The spec of a `Resource`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResourceSpec {
    /// `type`, e.g. `database`.
    pub resource_type: String,
    /// `owner`: reference to a Group (default kind) or User.
    pub owner: String,
    /// `system`: reference to a System.
    pub system: Option<String>,
    /// `dependsOn`: references with an explicit kind.
    pub depends_on: Vec<String>,
    /// `dependencyOf`: references with an explicit kind.
    pub dependency_of: Vec<String>,
}

impl ResourceSpec {
    fn read(r: &mut ObjReader<'_, '_>) -> Self {
        Self {
            resource_type: owned(r.req_str("type")),
            owner: owned(r.req_str("owner")),
            system: owned_opt(r.opt_str("system")),
            depends_on: owned_list(r.opt_list("dependsOn")),
            dependency_of: owned_list(r.opt_list("dependencyOf")),
        }
    }
}
from_entity!(ResourceSpec, KnownKind::Resource, "Resource");

/// The spec of a `System`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SystemSpec {
    /// `owner`: reference to a Group (default kind) or User.
    pub owner: String,
    /// `domain`: reference to a Domain.
    pub domain: Option<String>,
    /// `type`.
    pub system_type: Option<String>,
}

impl SystemSpec {
    fn read(r: &mut ObjReader<'_, '_>) -> Self {
        Self {
            owner: owned(r.req_str("owner")),
            domain: owned_opt(r.opt_str("domain")),
            system_type: owned_opt(r.opt_str("type")),
        }
    }
}
from_entity!(SystemSpec, KnownKind::System, "System");

/// The spec of a `Domain`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DomainSpec {
    /// `owner`: reference to a Group (default kind) or User.
    pub owner: String,
    /// `subdomainOf`: reference to a parent Domain.
    pub subdomain_of: Option<String>,
    /// `type`.
    pub domain_type: Option<String>,
}

impl DomainSpec {
    fn read(r: &mut ObjReader<'_, '_>) -> Self {
        Self {
            owner: owned(r.req_str("owner")),
            subdomain_of: owned_opt(r.opt_str("subdomainOf")),
            domain_type: owned_opt(r.opt_str("type")),
        }
    }
}
from_entity!(DomainSpec, KnownKind::Domain, "Domain");

/// The `profile` of a Group or User.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Profile {
    /// `displayName`.
    pub display_name: Option<String>,
    /// `email`.
    pub email: Option<String>,
    /// `picture`: an image URL.
    pub picture: Option<String>,
}

impl Profile {
    fn read(r: &mut ObjReader<'_, '_>) -> Option<Self> {
        let map = r.opt_object("profile")?;
        let mut p = r.nested("profile", map);
        Some(Self {
            display_name: owned_opt(p.opt_str("displayName")),
            email: owned_opt(p.opt_str("email")),
            picture: owned_opt(p.opt_str("picture")),
        })
    }
}

/// The spec of a `Group`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupSpec {
    /// `type`, e.g. `team`, `business-unit`.
    pub group_type: String,
    /// `profile`.
    pub profile: Option<Profile>,
    /// `parent`: reference to the parent Group.
    pub parent: Option<String>,
    /// `children`: references to child Groups (required, may be empty).
    pub children: Vec<String>,
    /// `members`: references to Users.
    pub members: Vec<String>,
}

impl GroupSpec {
    fn read(r: &mut ObjReader<'_, '_>) -> Self {
        Self {
            group_type: owned(r.req_str("type")),
            profile: Profile::read(r),
            parent: owned_opt(r.opt_str("parent")),
            children: owned_list(r.req_list("children")),
            members: owned_list(r.opt_list("members")),
        }
    }
}
from_entity!(GroupSpec, KnownKind::Group, "Group");

/// The spec of a `User`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserSpec {
    /// `profile`.
    pub profile: Option<Profile>,
    /// `memberOf`: references to Groups (required, may be empty).
    pub member_of: Vec<String>,
}

impl UserSpec {
    fn read(r: &mut ObjReader<'_, '_>) -> Self {
        Self {
            profile: Profile::read(r),
            member_of: owned_list(r.req_list("memberOf")),
        }
    }
}
from_entity!(UserSpec, KnownKind::User, "User");

/// The spec of a `Location` entity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LocationEntitySpec {
    /// `type`, e.g. `url` or `file`; inherited from the reading location when absent.
    pub location_type: Option<String>,
    /// `target`: one target, absolute or relative to this file.
    pub target: Option<String>,
    /// `targets`: more targets.
    pub targets: Vec<String>,
    /// `presence`: `required` (default) or `optional`, whether a missing target is an error.
    pub presence: Option<String>,
}

impl LocationEntitySpec {
    fn read(r: &mut ObjReader<'_, '_>) -> Self {
        Self {
            location_type: owned_opt(r.opt_str("type")),
            target: owned_opt(r.opt_str("target")),
            targets: owned_list(r.opt_list("targets")),
            presence: owned_opt(r.opt_str("presence")),
        }
    }

    /// `target` followed by `targets`.
    pub fn all_targets(&self) -> impl Iterator<Item = &str> {
        self.target
            .iter()
            .chain(self.targets.iter())
            .map(String::as_str)
    }
}
from_entity!(LocationEntitySpec, KnownKind::Location, "Location");

/// One step of a Template.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct TemplateStep {
    /// `id`: how later steps address this step's output.
    pub id: Option<String>,
    /// `name`: shown in the task log.
    pub name: Option<String>,
    /// `action`: the action id, e.g. `fetch:template` (required).
    pub action: String,
    /// `input`: the templated action input.
    pub input: Option<Map<String, Value>>,
    /// `if`: a templated condition (string or boolean).
    pub condition: Option<Value>,
    /// `each`: a templated collection to run the step for.
    pub each: Option<Value>,
}

/// The spec of a `Template` (`scaffolder.backstage.io/v1beta3`).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct TemplateSpec {
    /// `type`: what the template produces.
    pub template_type: String,
    /// `owner`: reference to a Group (default kind) or User.
    pub owner: Option<String>,
    /// `lifecycle`.
    pub lifecycle: Option<String>,
    /// `parameters`: JSON-schema forms, one per wizard page (a single object becomes one page).
    pub parameters: Vec<Map<String, Value>>,
    /// `steps` (required).
    pub steps: Vec<TemplateStep>,
    /// `output`: links, text and templated values shown after a run.
    pub output: Option<Map<String, Value>>,
}

impl TemplateSpec {
    fn read(r: &mut ObjReader<'_, '_>) -> Self {
        let template_type = owned(r.req_str("type"));
        let owner = owned_opt(r.opt_str("owner"));
        let lifecycle = owned_opt(r.opt_str("lifecycle"));
        let parameters = match r.raw("parameters") {
            None => Vec::new(),
            Some(Value::Object(m)) => vec![m.clone()],
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::Object(m) => out.push(m.clone()),
                        other => r.push(ValidationError::WrongType {
                            field: format!("spec.parameters.{i}"),
                            expected: "an object",
                            found: json_type(other),
                        }),
                    }
                }
                out
            }
            Some(other) => {
                r.push(ValidationError::WrongType {
                    field: "spec.parameters".to_owned(),
                    expected: "an object or an array of objects",
                    found: json_type(other),
                });
                Vec::new()
            }
        };
        let steps = match r.raw("steps") {
            None | Some(Value::Null) => {
                r.push(ValidationError::Missing {
                    field: "spec.steps".to_owned(),
                });
                Vec::new()
            }
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| Self::read_step(r, i, item))
                .collect(),
            Some(other) => {
                r.push(ValidationError::WrongType {
                    field: "spec.steps".to_owned(),
                    expected: "an array",
                    found: json_type(other),
                });
                Vec::new()
            }
        };
        let output = r.opt_object("output").cloned();
        Self {
            template_type,
            owner,
            lifecycle,
            parameters,
            steps,
            output,
        }
    }

    fn read_step<'a>(r: &mut ObjReader<'a, '_>, i: usize, item: &'a Value) -> Option<TemplateStep> {
        let Value::Object(map) = item else {
            r.push(ValidationError::WrongType {
                field: format!("spec.steps.{i}"),
                expected: "an object",
                found: json_type(item),
            });
            return None;
        };
        let key = format!("steps.{i}");
        let mut s = r.nested(&key, map);
        let action = match s.raw("action") {
            None | Some(Value::Null) => {
                s.push(ValidationError::Missing {
                    field: s.path("action"),
                });
                String::new()
            }
            Some(_) => owned(s.opt_any_str("action").unwrap_or("")),
        };
        let condition = match s.raw("if") {
            None => None,
            Some(v @ (Value::String(_) | Value::Bool(_))) => Some(v.clone()),
            Some(other) => {
                s.push(ValidationError::WrongType {
                    field: s.path("if"),
                    expected: "a string or a boolean",
                    found: json_type(other),
                });
                None
            }
        };
        Some(TemplateStep {
            id: owned_opt(s.opt_any_str("id")),
            name: owned_opt(s.opt_any_str("name")),
            action,
            input: s.opt_object("input").cloned(),
            condition,
            each: s.raw("each").cloned(),
        })
    }
}
from_entity!(TemplateSpec, KnownKind::Template, "Template");

#[cfg(test)]
mod tests {
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
                ResourceSpec::from_entity(&entity("Resource", json!({ "owner": "t" })))
                    .unwrap_err()
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
                DomainSpec::from_entity(&entity("Domain", json!({ "subdomainOf": "" })))
                    .unwrap_err()
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
}
