//! Running a policy over a batch of requests, and resolving conditional decisions on single
//! resources through the plugins owning them: in process when the plugin runs here and
//! registered its resource type, else over HTTP (`apply-conditions`, one call per plugin).

use std::collections::HashMap;
use std::sync::Arc;

use super::PermissionError;
use super::policy::{PermissionPolicy, PolicyQuery, PolicyQueryUser};
use super::registry::{
    ApplyConditionsRequest, ApplyConditionsRequestItem, ApplyConditionsResponse,
};
use super::root::RootPermissions;
use super::types::{
    AuthorizeDecision, AuthorizePermissionRequest, AuthorizeResult, Permission, PolicyDecision,
    QueryPermissionRequest,
};
use super::well_known::APPLY_CONDITIONS_PATH;
use crate::services::auth::{AuthService, Credentials, UserInfoService};
use crate::services::discovery::DiscoveryService;

/// One request of a batch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EvalItem<'a> {
    pub(crate) permission: &'a Permission,
    pub(crate) resource_ref: Option<&'a str>,
}

impl<'a> EvalItem<'a> {
    /// The items of `authorize` requests (with their resource refs).
    pub(crate) fn of_authorize(requests: &'a [AuthorizePermissionRequest]) -> Vec<Self> {
        requests
            .iter()
            .map(|r| Self {
                permission: &r.permission,
                resource_ref: r.resource_ref.as_deref(),
            })
            .collect()
    }

    /// The items of `authorize_conditional` requests (no resource refs: the caller applies
    /// the conditions).
    pub(crate) fn of_queries(requests: &'a [QueryPermissionRequest]) -> Vec<Self> {
        requests
            .iter()
            .map(|r| Self {
                permission: &r.permission,
                resource_ref: None,
            })
            .collect()
    }
}

/// Definitive answers from policy decisions whose conditions were resolved: only `ALLOW` is
/// allowed.
pub(crate) fn definitive(decisions: Vec<PolicyDecision>) -> Vec<AuthorizeDecision> {
    decisions
        .into_iter()
        .map(|d| AuthorizeDecision {
            result: if d == PolicyDecision::Allow {
                AuthorizeResult::Allow
            } else {
                AuthorizeResult::Deny
            },
        })
        .collect()
}

/// What resolving conditions over HTTP needs.
#[derive(Debug, Clone)]
pub(crate) struct Remote {
    pub(crate) auth: Arc<dyn AuthService>,
    pub(crate) discovery: Arc<dyn DiscoveryService>,
    pub(crate) http: reqwest::Client,
}

/// The user a policy sees for `credentials`: user principals only.
pub(crate) async fn policy_user(
    root: &RootPermissions,
    user_info: &dyn UserInfoService,
    credentials: &Credentials,
) -> Result<Option<PolicyQueryUser>, PermissionError> {
    Ok(root
        .user_info
        .user_info(credentials, user_info)
        .await?
        .map(|info| PolicyQueryUser {
            credentials: credentials.clone(),
            info: (*info).clone(),
        }))
}

/// Runs `policy` on every item (in order) and resolves the conditional decisions of items
/// with a resource ref into `ALLOW`/`DENY`. Items without one keep their conditions.
/// Without `remote`, only plugins of this backend can resolve conditions.
pub(crate) async fn evaluate(
    root: &RootPermissions,
    remote: Option<&Remote>,
    user_info: &dyn UserInfoService,
    policy: &dyn PermissionPolicy,
    items: &[EvalItem<'_>],
    credentials: &Credentials,
) -> Result<Vec<PolicyDecision>, PermissionError> {
    let user = policy_user(root, user_info, credentials).await?;
    let mut decisions = Vec::with_capacity(items.len());
    for item in items {
        let query = PolicyQuery {
            permission: item.permission.clone(),
        };
        let decision = policy.handle(&query, user.as_ref()).await;
        validate_decision(item.permission, &decision)?;
        decisions.push(decision);
    }
    resolve_conditions(root, remote, items, &mut decisions).await?;
    Ok(decisions)
}

/// A conditional decision must be about a resource permission, on its resource type.
pub(crate) fn validate_decision(
    permission: &Permission,
    decision: &PolicyDecision,
) -> Result<(), PermissionError> {
    if let PolicyDecision::Conditional { resource_type, .. } = decision {
        match &permission.resource_type {
            None => {
                return Err(PermissionError::Internal(format!(
                    "conditional decision returned by the permission policy for non-resource permission {}",
                    permission.name
                )));
            }
            Some(t) if t != resource_type => {
                return Err(PermissionError::Internal(format!(
                    "invalid resource conditions returned by the permission policy for permission {}",
                    permission.name
                )));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

async fn resolve_conditions(
    root: &RootPermissions,
    remote: Option<&Remote>,
    items: &[EvalItem<'_>],
    decisions: &mut [PolicyDecision],
) -> Result<(), PermissionError> {
    let mut by_plugin: HashMap<String, Vec<(usize, ApplyConditionsRequestItem)>> = HashMap::new();
    for (i, (item, decision)) in items.iter().zip(decisions.iter()).enumerate() {
        if let (
            Some(resource_ref),
            PolicyDecision::Conditional {
                plugin_id,
                resource_type,
                conditions,
            },
        ) = (item.resource_ref, decision)
        {
            by_plugin.entry(plugin_id.clone()).or_default().push((
                i,
                ApplyConditionsRequestItem {
                    id: i.to_string(),
                    resource_ref: resource_ref.to_string(),
                    resource_type: resource_type.clone(),
                    conditions: conditions.clone(),
                },
            ));
        }
    }
    for (plugin_id, entries) in by_plugin {
        let request = ApplyConditionsRequest {
            items: entries.iter().map(|(_, item)| item.clone()).collect(),
        };
        let local = root.local_plugin(&plugin_id).filter(|p| {
            request
                .items
                .iter()
                .all(|i| p.owns_resource_type(&i.resource_type))
        });
        let response = match local {
            Some(plugin) => ApplyConditionsResponse {
                items: plugin.apply_conditions(&request.items).await?,
            },
            None => match remote {
                Some(remote) => apply_remote(remote, &plugin_id, &request).await?,
                None => {
                    return Err(PermissionError::Internal(format!(
                        "plugin {plugin_id} registered no such resource type in this backend"
                    )));
                }
            },
        };
        let answers: HashMap<&str, AuthorizeResult> = response
            .items
            .iter()
            .map(|i| (i.id.as_str(), i.result))
            .collect();
        for (i, item) in &entries {
            decisions[*i] = match answers.get(item.id.as_str()) {
                Some(AuthorizeResult::Allow) => PolicyDecision::Allow,
                Some(_) => PolicyDecision::Deny,
                None => {
                    return Err(PermissionError::Internal(format!(
                        "plugin {plugin_id} answered no decision for item {}",
                        item.id
                    )));
                }
            };
        }
    }
    Ok(())
}

async fn apply_remote(
    remote: &Remote,
    plugin_id: &str,
    request: &ApplyConditionsRequest,
) -> Result<ApplyConditionsResponse, PermissionError> {
    let own = remote.auth.own_service_credentials();
    let token = remote
        .auth
        .plugin_request_token(&own, plugin_id)
        .await
        .map_err(|e| PermissionError::Internal(format!("no token for plugin {plugin_id}: {e}")))?;
    let url = format!(
        "{}{APPLY_CONDITIONS_PATH}",
        remote.discovery.base_url(plugin_id)
    );
    let res = remote
        .http
        .post(&url)
        .bearer_auth(token)
        .json(request)
        .send()
        .await
        .map_err(|e| {
            PermissionError::Internal(format!(
                "applying conditions at plugin {plugin_id} failed: {e}"
            ))
        })?;
    let status = res.status();
    if !status.is_success() {
        return Err(PermissionError::Internal(format!(
            "applying conditions at plugin {plugin_id} failed with status {status}"
        )));
    }
    res.json::<ApplyConditionsResponse>().await.map_err(|e| {
        PermissionError::Internal(format!(
            "invalid apply-conditions answer from plugin {plugin_id}: {e}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::permissions::ConditionFactory;
    use serde_json::json;

    #[test]
    fn conditional_decisions_must_match_the_permission() {
        let todo = ConditionFactory::new("todo", "todo-item");
        let conditional = PolicyDecision::Conditional {
            plugin_id: "todo".into(),
            resource_type: "todo-item".into(),
            conditions: todo.condition("IS_DONE", json!({})),
        };
        let read = Permission::resource("todo.item.read", "todo-item", Some("read"));
        let other = Permission::resource("notes.note.read", "notes-note", Some("read"));
        let basic = Permission::basic("todo.item.create", Some("create"));
        assert!(validate_decision(&read, &conditional).is_ok());
        assert!(matches!(
            validate_decision(&other, &conditional),
            Err(PermissionError::Internal(_))
        ));
        assert!(matches!(
            validate_decision(&basic, &conditional),
            Err(PermissionError::Internal(_))
        ));
        assert!(validate_decision(&basic, &PolicyDecision::Allow).is_ok());
    }
}
