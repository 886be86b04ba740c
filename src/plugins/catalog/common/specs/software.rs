//! The specs of the software kinds: Component, API, Resource, System and Domain.

use serde_json::Value;

use super::super::entity::Entity;
use super::super::error::{SpecError, ValidationError};
use super::super::kinds::KnownKind;
use super::super::spec_reader::{ObjReader, json_type};
use super::read_view;

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
    pub(super) fn read(r: &mut ObjReader<'_, '_>) -> Self {
        Self {
            component_type: r.req_string("type"),
            lifecycle: r.req_string("lifecycle"),
            owner: r.req_string("owner"),
            system: r.opt_string("system"),
            subcomponent_of: r.opt_string("subcomponentOf"),
            provides_apis: r.opt_strings("providesApis"),
            consumes_apis: r.opt_strings("consumesApis"),
            depends_on: r.opt_strings("dependsOn"),
            dependency_of: r.opt_strings("dependencyOf"),
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
    pub(super) fn read(r: &mut ObjReader<'_, '_>) -> Self {
        let api_type = r.req_str("type");
        let mcp = api_type == API_TYPE_MCP_SERVER;
        Self {
            api_type: r.own(api_type),
            lifecycle: r.req_string("lifecycle"),
            owner: r.req_string("owner"),
            definition: if mcp {
                r.opt_string("definition")
            } else {
                Some(r.req_string("definition"))
            },
            system: r.opt_string("system"),
            remotes: Self::read_remotes(r, mcp),
        }
    }

    pub(super) fn read_remotes<'a>(r: &mut ObjReader<'a, '_>, required: bool) -> Vec<ApiRemote> {
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
                        remote_type: rr.req_string("type"),
                        url: rr.req_string("url"),
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
    pub(super) fn read(r: &mut ObjReader<'_, '_>) -> Self {
        Self {
            resource_type: r.req_string("type"),
            owner: r.req_string("owner"),
            system: r.opt_string("system"),
            depends_on: r.opt_strings("dependsOn"),
            dependency_of: r.opt_strings("dependencyOf"),
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
    pub(super) fn read(r: &mut ObjReader<'_, '_>) -> Self {
        Self {
            owner: r.req_string("owner"),
            domain: r.opt_string("domain"),
            system_type: r.opt_string("type"),
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
    pub(super) fn read(r: &mut ObjReader<'_, '_>) -> Self {
        Self {
            owner: r.req_string("owner"),
            subdomain_of: r.opt_string("subdomainOf"),
            domain_type: r.opt_string("type"),
        }
    }
}
from_entity!(DomainSpec, KnownKind::Domain, "Domain");
