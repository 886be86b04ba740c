//! The declarative policy: `permission.policy` in config, so a deployment needs no code for
//! the common cases. A code policy installed through the `permission` plugin's extension
//! point replaces it. See `docs/permissions.md`.
//!
//! Roles name their members (entity refs matched against the user's ownership refs — the
//! user and its groups — or `*` for every signed-in user) and grant permissions (an exact
//! name, a prefix `catalog.*`, or `*`, optionally one action) with a decision: `allow`,
//! `deny`, or `conditional` with a condition tree whose params may hold the placeholders
//! `$userEntityRef` and `$ownershipEntityRefs`.
//!
//! Of all grants matching the request in the roles the user is a member of: any `deny` wins;
//! else any `allow`; else the conditional grants, combined with `anyOf`; else
//! `defaultDecision` (`deny` unless set to `allow`). Requests without a user (services,
//! nobody) get `defaultDecision`.

mod config;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use super::policy::{PermissionPolicy, PolicyQuery, PolicyQueryUser};
use super::types::{Permission, PermissionCondition, PermissionCriteria, PolicyDecision};
use crate::services::config::{Config, ConfigError};

/// The config key of the declarative policy.
pub const POLICY_CONFIG_KEY: &str = "permission.policy";

/// The policy of `permission.policy`; see the [module docs](self).
///
/// ```
/// use backlot::services::auth::{BackstageUserInfo, Credentials};
/// use backlot::services::config::Config;
/// use backlot::services::permissions::{
///     DeclarativePolicy, Permission, PermissionPolicy, PolicyDecision, PolicyQuery, PolicyQueryUser,
/// };
/// use serde_json::json;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let config = Config::from_value(json!({"permission": {"policy": {"roles": [
///     {"name": "admins", "members": ["group:default/admins"],
///      "permissions": [{"name": "*", "decision": "allow"}]},
///     {"name": "everyone", "members": ["*"], "permissions": [
///         {"name": "catalog.entity.read", "decision": "conditional", "conditions":
///             {"rule": "IS_ENTITY_OWNER", "params": {"claims": "$ownershipEntityRefs"}}}
///     ]}
/// ]}}}));
/// let policy = DeclarativePolicy::from_config(&config)?.expect("a policy is configured");
///
/// let jane = PolicyQueryUser {
///     credentials: Credentials::user("user:default/jane"),
///     info: BackstageUserInfo {
///         user_entity_ref: "user:default/jane".into(),
///         ownership_entity_refs: vec!["user:default/jane".into(), "group:default/team-a".into()],
///     },
/// };
/// let read = PolicyQuery { permission: Permission::resource("catalog.entity.read", "catalog-entity", Some("read")) };
/// let PolicyDecision::Conditional { plugin_id, conditions, .. } = policy.handle(&read, Some(&jane)).await else {
///     panic!("expected conditions");
/// };
/// assert_eq!(plugin_id, "catalog");
/// assert_eq!(serde_json::to_value(&conditions)?["params"]["claims"][1], "group:default/team-a");
///
/// let delete = PolicyQuery { permission: Permission::basic("catalog.entity.delete", Some("delete")) };
/// assert_eq!(policy.handle(&delete, Some(&jane)).await, PolicyDecision::Deny);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct DeclarativePolicy {
    default_allow: bool,
    roles: Arc<[Role]>,
}

#[derive(Debug, Clone)]
struct Role {
    #[allow(dead_code)]
    name: String,
    members: Vec<Member>,
    grants: Vec<Grant>,
}

#[derive(Debug, Clone)]
enum Member {
    Everyone,
    /// Lower-case `kind:namespace/name`.
    Ref(String),
}

#[derive(Debug, Clone)]
enum NamePattern {
    Any,
    /// `catalog.` for `catalog.*`.
    Prefix(String),
    Exact(String),
}

#[derive(Debug, Clone)]
struct Grant {
    name: NamePattern,
    action: Option<String>,
    decision: GrantDecision,
}

#[derive(Debug, Clone)]
enum GrantDecision {
    Allow,
    Deny,
    Conditional {
        plugin_id: Option<String>,
        resource_type: Option<String>,
        conditions: Template,
    },
}

#[derive(Debug, Clone)]
enum Template {
    AllOf(Vec<Template>),
    AnyOf(Vec<Template>),
    Not(Box<Template>),
    Condition {
        rule: String,
        resource_type: Option<String>,
        params: Option<ParamTemplate>,
    },
}

#[derive(Debug, Clone)]
enum ParamTemplate {
    UserEntityRef,
    OwnershipEntityRefs,
    Literal(Value),
    Array(Vec<ParamTemplate>),
    Object(Vec<(String, ParamTemplate)>),
}

impl DeclarativePolicy {
    /// The policy of `permission.policy`, or `None` when the key is absent. Every mistake is
    /// a [`ConfigError`] naming the key (`permission.policy.roles[0].permissions[1].decision`).
    pub fn from_config(config: &Config) -> Result<Option<Self>, ConfigError> {
        let Some(raw) = config.opt_get_as::<config::PolicyConfig>(POLICY_CONFIG_KEY)? else {
            return Ok(None);
        };
        let default_allow =
            config::parse_default(raw.default_decision.as_deref(), POLICY_CONFIG_KEY)?;
        let roles = raw
            .roles
            .into_iter()
            .enumerate()
            .map(|(i, r)| config::compile_role(r, &format!("{POLICY_CONFIG_KEY}.roles[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(Self {
            default_allow,
            roles: roles.into(),
        }))
    }

    fn default_decision(&self) -> PolicyDecision {
        if self.default_allow {
            PolicyDecision::Allow
        } else {
            PolicyDecision::Deny
        }
    }

    /// The decision for `permission` and `user`, synchronously.
    pub fn decide(
        &self,
        permission: &Permission,
        user: Option<&PolicyQueryUser>,
    ) -> PolicyDecision {
        let Some(user) = user else {
            return self.default_decision();
        };
        let refs = &user.info.ownership_entity_refs;
        let mut allowed = false;
        let mut conditional: Vec<&Grant> = Vec::new();
        for role in self
            .roles
            .iter()
            .filter(|r| is_member(r, refs, &user.info.user_entity_ref))
        {
            for grant in role.grants.iter().filter(|g| matches(g, permission)) {
                match grant.decision {
                    GrantDecision::Deny => return PolicyDecision::Deny,
                    GrantDecision::Allow => allowed = true,
                    GrantDecision::Conditional { .. } => conditional.push(grant),
                }
            }
        }
        if allowed {
            return PolicyDecision::Allow;
        }
        if conditional.is_empty() {
            return self.default_decision();
        }
        // Conditions apply to resource permissions only.
        let Some(resource_type) = permission.resource_type.as_deref() else {
            return PolicyDecision::Deny;
        };
        let mut plugin = None;
        let mut trees = Vec::with_capacity(conditional.len());
        for grant in conditional {
            if let GrantDecision::Conditional {
                plugin_id,
                resource_type: declared,
                conditions,
            } = &grant.decision
            {
                if declared.as_deref().is_some_and(|t| t != resource_type) {
                    continue;
                }
                let owner = plugin_id.clone().unwrap_or_else(|| owner_of(resource_type));
                if plugin.get_or_insert_with(|| owner.clone()) != &owner {
                    continue;
                }
                trees.push(render(
                    conditions,
                    resource_type,
                    &user.info.user_entity_ref,
                    refs,
                ));
            }
        }
        let (Some(plugin_id), Some(first)) = (plugin, trees.first().cloned()) else {
            return PolicyDecision::Deny;
        };
        PolicyDecision::Conditional {
            plugin_id,
            resource_type: resource_type.to_string(),
            conditions: if trees.len() == 1 {
                first
            } else {
                PermissionCriteria::AnyOf { any_of: trees }
            },
        }
    }
}

#[async_trait]
impl PermissionPolicy for DeclarativePolicy {
    async fn handle(
        &self,
        request: &PolicyQuery,
        user: Option<&PolicyQueryUser>,
    ) -> PolicyDecision {
        self.decide(&request.permission, user)
    }
}

/// The plugin owning a resource type by Backstage's naming convention: the part before the
/// first `-` (`catalog-entity` → `catalog`).
fn owner_of(resource_type: &str) -> String {
    resource_type
        .split_once('-')
        .map_or(resource_type, |(p, _)| p)
        .to_string()
}

fn is_member(role: &Role, refs: &[String], user: &str) -> bool {
    role.members.iter().any(|m| match m {
        Member::Everyone => true,
        Member::Ref(r) => {
            user.eq_ignore_ascii_case(r) || refs.iter().any(|o| o.eq_ignore_ascii_case(r))
        }
    })
}

fn matches(grant: &Grant, permission: &Permission) -> bool {
    let name_ok = match &grant.name {
        NamePattern::Any => true,
        NamePattern::Prefix(p) => permission.name.starts_with(p.as_str()),
        NamePattern::Exact(n) => permission.name == *n,
    };
    name_ok
        && grant
            .action
            .as_ref()
            .is_none_or(|a| permission.attributes.action.as_ref() == Some(a))
}

fn render(t: &Template, resource_type: &str, user: &str, refs: &[String]) -> PermissionCriteria {
    match t {
        Template::AllOf(v) => PermissionCriteria::AllOf {
            all_of: v
                .iter()
                .map(|c| render(c, resource_type, user, refs))
                .collect(),
        },
        Template::AnyOf(v) => PermissionCriteria::AnyOf {
            any_of: v
                .iter()
                .map(|c| render(c, resource_type, user, refs))
                .collect(),
        },
        Template::Not(c) => PermissionCriteria::Not {
            not: Box::new(render(c, resource_type, user, refs)),
        },
        Template::Condition {
            rule,
            resource_type: declared,
            params,
        } => PermissionCriteria::Condition(PermissionCondition {
            rule: rule.clone(),
            resource_type: declared
                .clone()
                .unwrap_or_else(|| resource_type.to_string()),
            params: params.as_ref().map(|p| render_params(p, user, refs)),
        }),
    }
}

fn render_params(p: &ParamTemplate, user: &str, refs: &[String]) -> Value {
    match p {
        ParamTemplate::UserEntityRef => Value::String(user.to_string()),
        ParamTemplate::OwnershipEntityRefs => {
            Value::Array(refs.iter().map(|r| Value::String(r.clone())).collect())
        }
        ParamTemplate::Literal(v) => v.clone(),
        ParamTemplate::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    // `[$ownershipEntityRefs, group:default/x]` splices the refs in.
                    ParamTemplate::OwnershipEntityRefs => {
                        out.extend(refs.iter().map(|r| Value::String(r.clone())));
                    }
                    other => out.push(render_params(other, user, refs)),
                }
            }
            Value::Array(out)
        }
        ParamTemplate::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), render_params(v, user, refs)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests;
