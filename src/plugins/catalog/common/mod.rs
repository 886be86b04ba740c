//! The catalog's model, shared by the catalog backend, its clients and other plugins
//! (Backstage's `@backstage/catalog-model`).
//!
//! - [`Entity`]: the envelope (`apiVersion`, `kind`, `metadata`, `spec`, `relations`,
//!   `status`), keeping unknown metadata keys and all of `spec` unchanged.
//! - [`EntityRef`]: `[<kind>:][<namespace>/]<name>` references, compared case-insensitively
//!   and printed in canonical lowercase form.
//! - [`Entity::from_value`] + [`validate_entity`] (or [`validate_entity_value`] on raw JSON):
//!   every format rule and kind schema, reporting all problems of an entity with their field
//!   paths; [`validate_envelope`] / [`validate_envelope_value`] for kinds of other plugins.
//! - Typed spec views per built-in kind: [`ComponentSpec`], [`ApiSpec`], [`ResourceSpec`],
//!   [`SystemSpec`], [`DomainSpec`], [`GroupSpec`], [`UserSpec`], [`LocationEntitySpec`],
//!   [`TemplateSpec`].
//! - Relations: the well-known types ([`RELATION_OWNED_BY`], ...), their reverses, the
//!   `relations[]` wire shape, and [`relations_from_spec`].
//! - Well-known [annotation](ANNOTATION_LOCATION) keys and [`LocationRef`].
//! - [`permissions`]: the catalog's permissions (`catalog.entity.read`, ...) and the
//!   conditions of its rules, for permission policies.
//!
//! ```
//! use backlot::plugins::catalog::common::{relations_from_spec, validate_entity, Entity};
//!
//! let entity: Entity = serde_yaml::from_str(r#"
//! apiVersion: backstage.io/v1alpha1
//! kind: Component
//! metadata:
//!   name: artist-lookup
//!   tags: [java, data]
//! spec:
//!   type: service
//!   lifecycle: experimental
//!   owner: team-a
//!   system: artist-engagement-portal
//! "#)?;
//! validate_entity(&entity)?;
//! let targets: Vec<String> = relations_from_spec(&entity)?
//!     .iter()
//!     .map(|r| format!("{} {}", r.relation_type, r.target))
//!     .collect();
//! assert_eq!(targets, [
//!     "ownedBy group:default/team-a",
//!     "partOf system:default/artist-engagement-portal",
//! ]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod annotations;
mod client;
mod entity;
mod entity_ref;
mod error;
mod identity;
mod kinds;
pub mod permissions;
mod relation_rules;
mod relations;
mod spec_reader;
mod specs;
mod validation;
mod validators;

pub use annotations::*;
pub use client::{
    AddLocationResponse, CatalogClient, CatalogClientError, EntityFilter, FacetValue,
    GetEntitiesRequest, Location, PageInfo, QueryEntitiesRequest, QueryEntitiesResponse,
    QueryLocationsRequest, QueryLocationsResponse,
};
pub use entity::{
    DEFAULT_NAMESPACE, Entity, EntityLink, EntityMeta, EntityStatus, EntityStatusItem,
    STATUS_TYPE_CATALOG_PROCESSING,
};
pub use entity_ref::{EntityRef, RefDefaults};
pub use error::{EntityRefError, SpecError, ValidationError, ValidationErrors};
pub use identity::{entity_has_changes, generate_entity_etag, generate_entity_uid};
pub use kinds::{BACKSTAGE_API_VERSIONS, KnownKind, TEMPLATE_API_VERSION};
pub use relation_rules::{
    RELATION_RULES, RelationRule, SpecRelation, relations_from_spec, sort_spec_ref_lists,
};
pub use relations::*;
pub use specs::{
    API_TYPE_MCP_SERVER, ApiRemote, ApiSpec, ComponentSpec, DomainSpec, GroupSpec,
    LocationEntitySpec, Profile, ResourceSpec, SystemSpec, TemplateSpec, TemplateStep, UserSpec,
};
pub use validation::{
    ROOT_FIELDS, validate_entity, validate_entity_value, validate_envelope, validate_envelope_value,
};
pub use validators::{
    is_valid_annotation_key, is_valid_api_version, is_valid_dns_label, is_valid_dns_subdomain,
    is_valid_entity_name, is_valid_kind, is_valid_label_key, is_valid_label_value,
    is_valid_namespace, is_valid_string, is_valid_tag, is_valid_url,
};
