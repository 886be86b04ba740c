//! `permission.policy` as written in config, and its validation into a compiled policy.

use serde::Deserialize;
use serde_json::Value;

use super::{Grant, GrantDecision, Member, NamePattern, ParamTemplate, Role, Template};
use crate::services::config::ConfigError;
use crate::services::permissions::MAX_CRITERIA_DEPTH;

/// `permission.policy`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct PolicyConfig {
    #[serde(default)]
    pub(super) default_decision: Option<String>,
    #[serde(default)]
    pub(super) roles: Vec<RoleConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct RoleConfig {
    pub(super) name: String,
    pub(super) members: Vec<String>,
    #[serde(default)]
    pub(super) permissions: Vec<GrantConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct GrantConfig {
    pub(super) name: String,
    #[serde(default)]
    pub(super) action: Option<String>,
    pub(super) decision: String,
    #[serde(default)]
    pub(super) plugin_id: Option<String>,
    #[serde(default)]
    pub(super) resource_type: Option<String>,
    #[serde(default)]
    pub(super) conditions: Option<Value>,
}

const ACTIONS: [&str; 4] = ["create", "read", "update", "delete"];

fn invalid(path: String, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        path,
        message: message.into(),
    }
}

pub(super) fn parse_default(value: Option<&str>, path: &str) -> Result<bool, ConfigError> {
    match value {
        None | Some("deny") => Ok(false),
        Some("allow") => Ok(true),
        Some(_) => Err(invalid(
            format!("{path}.defaultDecision"),
            "must be allow or deny",
        )),
    }
}

pub(super) fn compile_role(role: RoleConfig, path: &str) -> Result<Role, ConfigError> {
    if role.name.trim().is_empty() {
        return Err(invalid(format!("{path}.name"), "must not be empty"));
    }
    if role.members.is_empty() {
        return Err(invalid(
            format!("{path}.members"),
            "must name at least one member",
        ));
    }
    let members = role
        .members
        .iter()
        .enumerate()
        .map(|(i, m)| parse_member(m).map_err(|e| invalid(format!("{path}.members[{i}]"), e)))
        .collect::<Result<Vec<_>, _>>()?;
    let grants = role
        .permissions
        .into_iter()
        .enumerate()
        .map(|(i, g)| compile_grant(g, &format!("{path}.permissions[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Role {
        name: role.name,
        members,
        grants,
    })
}

fn parse_member(member: &str) -> Result<Member, String> {
    if member == "*" {
        return Ok(Member::Everyone);
    }
    let (kind, rest) = member
        .split_once(':')
        .ok_or("must be '*' or an entity ref such as group:default/admins")?;
    let (namespace, name) = rest.split_once('/').unwrap_or(("default", rest));
    if kind.is_empty() || namespace.is_empty() || name.is_empty() || name.contains('/') {
        return Err("must be '*' or an entity ref such as group:default/admins".into());
    }
    Ok(Member::Ref(format!(
        "{}:{}/{}",
        kind.to_ascii_lowercase(),
        namespace.to_ascii_lowercase(),
        name.to_ascii_lowercase()
    )))
}

fn parse_name(name: &str) -> Result<NamePattern, String> {
    if name == "*" {
        return Ok(NamePattern::Any);
    }
    if let Some(prefix) = name.strip_suffix(".*") {
        if !prefix.is_empty() && !prefix.contains('*') {
            return Ok(NamePattern::Prefix(format!("{prefix}.")));
        }
    } else if !name.is_empty() && !name.contains('*') {
        return Ok(NamePattern::Exact(name.to_string()));
    }
    Err("must be a permission name, a prefix ending in '.*' (catalog.*), or '*'".into())
}

fn compile_grant(grant: GrantConfig, path: &str) -> Result<Grant, ConfigError> {
    let name = parse_name(&grant.name).map_err(|e| invalid(format!("{path}.name"), e))?;
    if let Some(action) = &grant.action {
        if !ACTIONS.contains(&action.as_str()) {
            return Err(invalid(
                format!("{path}.action"),
                "must be create, read, update or delete",
            ));
        }
    }
    let decision = match (grant.decision.as_str(), grant.conditions) {
        ("allow", None) => GrantDecision::Allow,
        ("deny", None) => GrantDecision::Deny,
        ("allow" | "deny", Some(_)) => {
            return Err(invalid(
                format!("{path}.conditions"),
                "only a conditional decision takes conditions",
            ));
        }
        ("conditional", None) => {
            return Err(invalid(
                format!("{path}.conditions"),
                "a conditional decision needs conditions",
            ));
        }
        ("conditional", Some(conditions)) => GrantDecision::Conditional {
            plugin_id: grant.plugin_id,
            resource_type: grant.resource_type,
            conditions: compile_template(&conditions, &format!("{path}.conditions"), 1)?,
        },
        _ => {
            return Err(invalid(
                format!("{path}.decision"),
                "must be allow, deny or conditional",
            ));
        }
    };
    Ok(Grant {
        name,
        action: grant.action,
        decision,
    })
}

fn compile_template(value: &Value, path: &str, depth: usize) -> Result<Template, ConfigError> {
    if depth > MAX_CRITERIA_DEPTH {
        return Err(invalid(
            path.to_string(),
            format!("conditions nest deeper than {MAX_CRITERIA_DEPTH} levels"),
        ));
    }
    let Value::Object(map) = value else {
        return Err(invalid(
            path.to_string(),
            "must be a condition ({rule, params}) or allOf / anyOf / not",
        ));
    };
    let list = |key: &str, items: &Value| -> Result<Vec<Template>, ConfigError> {
        let Value::Array(items) = items else {
            return Err(invalid(
                format!("{path}.{key}"),
                "must be a list of conditions",
            ));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, v)| compile_template(v, &format!("{path}.{key}[{i}]"), depth + 1))
            .collect()
    };
    let only = |key: &str| -> Result<(), ConfigError> {
        match map.keys().find(|k| k.as_str() != key) {
            Some(other) => Err(invalid(
                format!("{path}.{other}"),
                format!("unexpected next to {key}"),
            )),
            None => Ok(()),
        }
    };
    if let Some(items) = map.get("allOf") {
        only("allOf")?;
        return Ok(Template::AllOf(list("allOf", items)?));
    }
    if let Some(items) = map.get("anyOf") {
        only("anyOf")?;
        return Ok(Template::AnyOf(list("anyOf", items)?));
    }
    if let Some(inner) = map.get("not") {
        only("not")?;
        return Ok(Template::Not(Box::new(compile_template(
            inner,
            &format!("{path}.not"),
            depth + 1,
        )?)));
    }
    let rule = match map.get("rule") {
        Some(Value::String(r)) if !r.is_empty() => r.clone(),
        _ => {
            return Err(invalid(
                format!("{path}.rule"),
                "a condition needs a rule name (or use allOf / anyOf / not)",
            ));
        }
    };
    let resource_type = match map.get("resourceType") {
        None => None,
        Some(Value::String(t)) => Some(t.clone()),
        Some(_) => return Err(invalid(format!("{path}.resourceType"), "must be a string")),
    };
    if let Some(other) = map
        .keys()
        .find(|k| !["rule", "resourceType", "params"].contains(&k.as_str()))
    {
        return Err(invalid(
            format!("{path}.{other}"),
            "unexpected key in a condition",
        ));
    }
    let params = match map.get("params") {
        None => None,
        Some(p @ Value::Object(_)) => Some(compile_params(p, &format!("{path}.params"))?),
        Some(_) => return Err(invalid(format!("{path}.params"), "must be a mapping")),
    };
    Ok(Template::Condition {
        rule,
        resource_type,
        params,
    })
}

fn compile_params(value: &Value, path: &str) -> Result<ParamTemplate, ConfigError> {
    Ok(match value {
        Value::String(s) if s.starts_with('$') => match s.as_str() {
            "$userEntityRef" => ParamTemplate::UserEntityRef,
            "$ownershipEntityRefs" => ParamTemplate::OwnershipEntityRefs,
            _ => {
                return Err(invalid(
                    path.to_string(),
                    "unknown placeholder; use $userEntityRef or $ownershipEntityRefs",
                ));
            }
        },
        Value::Array(items) => ParamTemplate::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| compile_params(v, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => ParamTemplate::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), compile_params(v, &format!("{path}.{k}"))?)))
                .collect::<Result<_, ConfigError>>()?,
        ),
        other => ParamTemplate::Literal(other.clone()),
    })
}
