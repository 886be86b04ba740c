//! The permission framework's wire types, as `@backstage/plugin-permission-common`.

use serde::{Deserialize, Serialize};

/// `basic` or `resource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PermissionType {
    /// Not about a resource.
    Basic,
    /// About a resource of a `resourceType`.
    Resource,
}

/// A permission's attributes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PermissionAttributes {
    /// `create`, `read`, `update` or `delete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

/// A permission: `{type, name, attributes, resourceType?}`.
///
/// ```
/// use backlot::services::permissions::Permission;
///
/// let read = Permission::resource("catalog.entity.read", "catalog-entity", Some("read"));
/// let json = serde_json::to_value(&read).unwrap();
/// assert_eq!(json, serde_json::json!({
///     "type": "resource", "name": "catalog.entity.read",
///     "attributes": {"action": "read"}, "resourceType": "catalog-entity"
/// }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Permission {
    /// `basic` or `resource`.
    #[serde(rename = "type")]
    pub kind: PermissionType,
    /// The permission's name, such as `catalog.entity.read`.
    pub name: String,
    /// Its attributes.
    #[serde(default)]
    pub attributes: PermissionAttributes,
    /// For resource permissions, the resource type (`catalog-entity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
}

impl Permission {
    /// A basic permission.
    pub fn basic(name: &str, action: Option<&str>) -> Self {
        Self {
            kind: PermissionType::Basic,
            name: name.to_string(),
            attributes: PermissionAttributes {
                action: action.map(str::to_string),
            },
            resource_type: None,
        }
    }

    /// A resource permission.
    pub fn resource(name: &str, resource_type: &str, action: Option<&str>) -> Self {
        Self {
            kind: PermissionType::Resource,
            name: name.to_string(),
            attributes: PermissionAttributes {
                action: action.map(str::to_string),
            },
            resource_type: Some(resource_type.to_string()),
        }
    }

    /// Whether this is a resource permission.
    pub fn is_resource(&self) -> bool {
        self.kind == PermissionType::Resource
    }
}

/// `ALLOW`, `DENY` or `CONDITIONAL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AuthorizeResult {
    /// Allowed.
    Allow,
    /// Denied.
    Deny,
    /// Allowed for resources matching conditions.
    Conditional,
}

/// One condition: a rule of a plugin applied with parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionCondition {
    /// The rule's name, such as `IS_ENTITY_OWNER`.
    pub rule: String,
    /// The resource type the rule applies to.
    pub resource_type: String,
    /// The rule's parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<serde_json::Value>,
}

/// A tree of conditions: `{allOf: [...]}`, `{anyOf: [...]}`, `{not: ...}` or a condition.
///
/// ```
/// use backlot::services::permissions::PermissionCriteria;
///
/// let tree: PermissionCriteria = serde_json::from_value(serde_json::json!({
///     "anyOf": [
///         {"rule": "IS_ENTITY_OWNER", "resourceType": "catalog-entity",
///          "params": {"claims": ["group:default/team-a"]}},
///         {"not": {"rule": "IS_ENTITY_KIND", "resourceType": "catalog-entity",
///                  "params": {"kinds": ["user"]}}}
///     ]
/// })).unwrap();
/// assert!(matches!(tree, PermissionCriteria::AnyOf { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PermissionCriteria {
    /// Every criterion holds.
    AllOf {
        /// The criteria.
        #[serde(rename = "allOf")]
        all_of: Vec<PermissionCriteria>,
    },
    /// At least one criterion holds.
    AnyOf {
        /// The criteria.
        #[serde(rename = "anyOf")]
        any_of: Vec<PermissionCriteria>,
    },
    /// The criterion does not hold.
    Not {
        /// The criterion.
        not: Box<PermissionCriteria>,
    },
    /// A single condition.
    Condition(PermissionCondition),
}

/// The most deeply nested criteria tree accepted from the wire.
pub const MAX_CRITERIA_DEPTH: usize = 32;

impl PermissionCriteria {
    /// How deeply the tree nests (a condition is 1).
    pub fn depth(&self) -> usize {
        match self {
            Self::AllOf { all_of: v } | Self::AnyOf { any_of: v } => {
                1 + v.iter().map(Self::depth).max().unwrap_or(0)
            }
            Self::Not { not } => 1 + not.depth(),
            Self::Condition(_) => 1,
        }
    }
}

/// A policy's answer: allow, deny, or allow under conditions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result")]
pub enum PolicyDecision {
    /// Allowed.
    #[serde(rename = "ALLOW")]
    Allow,
    /// Denied.
    #[serde(rename = "DENY")]
    Deny,
    /// Allowed for the resources matching `conditions`.
    #[serde(rename = "CONDITIONAL")]
    Conditional {
        /// The plugin owning the resource type.
        #[serde(rename = "pluginId")]
        plugin_id: String,
        /// The resource type.
        #[serde(rename = "resourceType")]
        resource_type: String,
        /// The conditions.
        conditions: PermissionCriteria,
    },
}

impl PolicyDecision {
    /// `ALLOW`, `DENY` or `CONDITIONAL`.
    pub fn result(&self) -> AuthorizeResult {
        match self {
            Self::Allow => AuthorizeResult::Allow,
            Self::Deny => AuthorizeResult::Deny,
            Self::Conditional { .. } => AuthorizeResult::Conditional,
        }
    }
}

/// A definitive answer about one permission (and resource).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizeDecision {
    /// `ALLOW` or `DENY`.
    pub result: AuthorizeResult,
}

/// `authorize`: a permission, with the resource it is about for resource permissions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizePermissionRequest {
    /// The permission.
    pub permission: Permission,
    /// The resource, such as an entity ref.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_ref: Option<String>,
}

/// `authorizeConditional`: a resource permission whose conditions the caller applies itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryPermissionRequest {
    /// The permission (a resource permission).
    pub permission: Permission,
}
