//! The catalog's permissions and the conditions of its rules, as Backstage's
//! `@backstage/plugin-catalog-common` (`permissions.ts`) and the `catalogConditions` of
//! `@backstage/plugin-catalog-backend`.
//!
//! A permission policy answers `catalog.entity.read` with `ALLOW`, `DENY` or a conditional
//! decision built from the catalog's rules; the catalog turns the conditions into a filter of
//! its index, so lists, `totalItems`, facets and cursors only ever see the allowed entities.
//!
//! ```
//! use backlot::plugins::catalog::common::permissions::{
//!     self, CATALOG_ENTITY_READ, RESOURCE_TYPE_CATALOG_ENTITY, conditions,
//! };
//! use backlot::services::permissions::{PermissionCriteria, PolicyDecision};
//!
//! assert_eq!(CATALOG_ENTITY_READ.name, "catalog.entity.read");
//! assert_eq!(CATALOG_ENTITY_READ.resource_type.as_deref(), Some(RESOURCE_TYPE_CATALOG_ENTITY));
//! assert_eq!(permissions::all().len(), 9);
//!
//! // What a policy answers for "owned by the user's groups, or any API".
//! let decision = conditions::decision(PermissionCriteria::AnyOf {
//!     any_of: vec![
//!         conditions::is_entity_owner(["user:default/jane", "group:default/team-a"]),
//!         conditions::is_entity_kind(["API"]),
//!     ],
//! });
//! assert!(matches!(decision, PolicyDecision::Conditional { .. }));
//! ```

use std::sync::LazyLock;

use crate::services::permissions::Permission;

/// The resource type of catalog entities (`catalog-entity`).
pub const RESOURCE_TYPE_CATALOG_ENTITY: &str = "catalog-entity";

/// The plugin that owns [`RESOURCE_TYPE_CATALOG_ENTITY`] (`catalog`).
pub const CATALOG_PLUGIN_ID: &str = "catalog";

/// Reading entities (`catalog.entity.read`, resource `catalog-entity`, action `read`). Without
/// it an entity looks as if it did not exist: lists leave it out and lookups answer 404.
pub static CATALOG_ENTITY_READ: LazyLock<Permission> = LazyLock::new(|| {
    Permission::resource(
        "catalog.entity.read",
        RESOURCE_TYPE_CATALOG_ENTITY,
        Some("read"),
    )
});

/// Creating entities, including registering existing ones (`catalog.entity.create`, basic,
/// action `create`).
pub static CATALOG_ENTITY_CREATE: LazyLock<Permission> =
    LazyLock::new(|| Permission::basic("catalog.entity.create", Some("create")));

/// Deleting entities (`catalog.entity.delete`, resource `catalog-entity`, action `delete`).
pub static CATALOG_ENTITY_DELETE: LazyLock<Permission> = LazyLock::new(|| {
    Permission::resource(
        "catalog.entity.delete",
        RESOURCE_TYPE_CATALOG_ENTITY,
        Some("delete"),
    )
});

/// Refreshing entities (`catalog.entity.refresh`, resource `catalog-entity`, action
/// `update`).
pub static CATALOG_ENTITY_REFRESH: LazyLock<Permission> = LazyLock::new(|| {
    Permission::resource(
        "catalog.entity.refresh",
        RESOURCE_TYPE_CATALOG_ENTITY,
        Some("update"),
    )
});

/// Validating entities (`catalog.entity.validate`, basic, no action).
pub static CATALOG_ENTITY_VALIDATE: LazyLock<Permission> =
    LazyLock::new(|| Permission::basic("catalog.entity.validate", None));

/// Reading registered locations (`catalog.location.read`, basic, action `read`).
pub static CATALOG_LOCATION_READ: LazyLock<Permission> =
    LazyLock::new(|| Permission::basic("catalog.location.read", Some("read")));

/// Registering locations (`catalog.location.create`, basic, action `create`).
pub static CATALOG_LOCATION_CREATE: LazyLock<Permission> =
    LazyLock::new(|| Permission::basic("catalog.location.create", Some("create")));

/// Deleting registered locations (`catalog.location.delete`, basic, action `delete`).
pub static CATALOG_LOCATION_DELETE: LazyLock<Permission> =
    LazyLock::new(|| Permission::basic("catalog.location.delete", Some("delete")));

/// Analyzing locations (`catalog.location.analyze`, basic, no action).
pub static CATALOG_LOCATION_ANALYZE: LazyLock<Permission> =
    LazyLock::new(|| Permission::basic("catalog.location.analyze", None));

/// Every catalog permission, in Backstage's order (`catalogPermissions`).
///
/// ```
/// use backlot::plugins::catalog::common::permissions;
///
/// let names: Vec<String> = permissions::all().into_iter().map(|p| p.name).collect();
/// assert!(names.contains(&"catalog.location.analyze".to_string()));
/// ```
pub fn all() -> Vec<Permission> {
    [
        &CATALOG_ENTITY_READ,
        &CATALOG_ENTITY_CREATE,
        &CATALOG_ENTITY_DELETE,
        &CATALOG_ENTITY_REFRESH,
        &CATALOG_ENTITY_VALIDATE,
        &CATALOG_LOCATION_READ,
        &CATALOG_LOCATION_CREATE,
        &CATALOG_LOCATION_DELETE,
        &CATALOG_LOCATION_ANALYZE,
    ]
    .into_iter()
    .map(|p| Permission::clone(p))
    .collect()
}

/// Conditions of the catalog's rules, for policies (Backstage's `catalogConditions`) and
/// [`decision`](conditions::decision) to wrap them in a conditional decision
/// (`createCatalogConditionalDecision`).
pub mod conditions {
    use serde_json::{Value, json};

    use super::{CATALOG_PLUGIN_ID, RESOURCE_TYPE_CATALOG_ENTITY};
    use crate::services::permissions::{PermissionCondition, PermissionCriteria, PolicyDecision};

    /// The rule names, as the catalog registers them.
    pub mod rule_names {
        /// `HAS_ANNOTATION {annotation, value?}`.
        pub const HAS_ANNOTATION: &str = "HAS_ANNOTATION";
        /// `HAS_LABEL {label}`.
        pub const HAS_LABEL: &str = "HAS_LABEL";
        /// `HAS_METADATA {key, value?}`.
        pub const HAS_METADATA: &str = "HAS_METADATA";
        /// `HAS_SPEC {key, value?}`.
        pub const HAS_SPEC: &str = "HAS_SPEC";
        /// `IS_ENTITY_KIND {kinds}`.
        pub const IS_ENTITY_KIND: &str = "IS_ENTITY_KIND";
        /// `IS_ENTITY_OWNER {claims}`.
        pub const IS_ENTITY_OWNER: &str = "IS_ENTITY_OWNER";
    }

    fn condition(rule: &str, params: Value) -> PermissionCriteria {
        PermissionCriteria::Condition(PermissionCondition {
            rule: rule.to_string(),
            resource_type: RESOURCE_TYPE_CATALOG_ENTITY.to_string(),
            params: Some(params),
        })
    }

    fn strings<I, S>(items: I) -> Vec<String>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        items.into_iter().map(Into::into).collect()
    }

    /// Entities with the annotation, with `value` when given.
    ///
    /// ```
    /// use backlot::plugins::catalog::common::permissions::conditions::has_annotation;
    /// let c = serde_json::to_value(has_annotation("backstage.io/techdocs-ref", None)).unwrap();
    /// assert_eq!(c["params"], serde_json::json!({"annotation": "backstage.io/techdocs-ref"}));
    /// ```
    pub fn has_annotation(annotation: &str, value: Option<&str>) -> PermissionCriteria {
        let mut params = json!({ "annotation": annotation });
        if let Some(v) = value {
            params["value"] = Value::String(v.to_string());
        }
        condition(rule_names::HAS_ANNOTATION, params)
    }

    /// Entities with the label.
    ///
    /// ```
    /// use backlot::plugins::catalog::common::permissions::conditions::has_label;
    /// let c = serde_json::to_value(has_label("tier")).unwrap();
    /// assert_eq!(c["rule"], "HAS_LABEL");
    /// ```
    pub fn has_label(label: &str) -> PermissionCriteria {
        condition(rule_names::HAS_LABEL, json!({ "label": label }))
    }

    /// Entities with the `metadata` subfield `key` (dotted), equal to `value` when given.
    ///
    /// ```
    /// use backlot::plugins::catalog::common::permissions::conditions::has_metadata;
    /// let c = serde_json::to_value(has_metadata("tags", Some("java"))).unwrap();
    /// assert_eq!(c["params"]["key"], "tags");
    /// ```
    pub fn has_metadata(key: &str, value: Option<&str>) -> PermissionCriteria {
        let mut params = json!({ "key": key });
        if let Some(v) = value {
            params["value"] = Value::String(v.to_string());
        }
        condition(rule_names::HAS_METADATA, params)
    }

    /// Entities with the `spec` subfield `key` (dotted), equal to `value` when given.
    ///
    /// ```
    /// use backlot::plugins::catalog::common::permissions::conditions::has_spec;
    /// let c = serde_json::to_value(has_spec("lifecycle", Some("production"))).unwrap();
    /// assert_eq!(c["rule"], "HAS_SPEC");
    /// ```
    pub fn has_spec(key: &str, value: Option<&str>) -> PermissionCriteria {
        let mut params = json!({ "key": key });
        if let Some(v) = value {
            params["value"] = Value::String(v.to_string());
        }
        condition(rule_names::HAS_SPEC, params)
    }

    /// Entities of one of `kinds` (case-insensitive).
    ///
    /// ```
    /// use backlot::plugins::catalog::common::permissions::conditions::is_entity_kind;
    /// let c = serde_json::to_value(is_entity_kind(["API", "Component"])).unwrap();
    /// assert_eq!(c["params"]["kinds"][1], "Component");
    /// ```
    pub fn is_entity_kind<I, S>(kinds: I) -> PermissionCriteria
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        condition(
            rule_names::IS_ENTITY_KIND,
            json!({ "kinds": strings(kinds) }),
        )
    }

    /// Entities owned (an `ownedBy` relation) by one of `claims`, typically the user's
    /// ownership entity refs.
    ///
    /// ```
    /// use backlot::plugins::catalog::common::permissions::conditions::is_entity_owner;
    /// let c = serde_json::to_value(is_entity_owner(["group:default/team-a"])).unwrap();
    /// assert_eq!(c["params"]["claims"][0], "group:default/team-a");
    /// ```
    pub fn is_entity_owner<I, S>(claims: I) -> PermissionCriteria
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        condition(
            rule_names::IS_ENTITY_OWNER,
            json!({ "claims": strings(claims) }),
        )
    }

    /// A conditional decision of the catalog on `catalog-entity` resources.
    ///
    /// ```
    /// use backlot::plugins::catalog::common::permissions::conditions::{decision, has_label};
    /// let d = serde_json::to_value(decision(has_label("public"))).unwrap();
    /// assert_eq!(d["result"], "CONDITIONAL");
    /// assert_eq!(d["pluginId"], "catalog");
    /// assert_eq!(d["resourceType"], "catalog-entity");
    /// ```
    pub fn decision(conditions: PermissionCriteria) -> PolicyDecision {
        PolicyDecision::Conditional {
            plugin_id: CATALOG_PLUGIN_ID.to_string(),
            resource_type: RESOURCE_TYPE_CATALOG_ENTITY.to_string(),
            conditions,
        }
    }
}
