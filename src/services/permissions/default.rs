//! The default `PERMISSIONS` service, as Backstage's `ServerPermissionClient`.
//!
//! - `permission.enabled` off: everything is allowed.
//! - Service principals are allowed (plugins trust each other), except those with access
//!   restrictions (external access tokens), which are allowed only what their restriction for
//!   this plugin names.
//! - Users (and nobody) get the policy's decision: evaluated in process when the `permission`
//!   plugin runs in this backend and installed its policy (no HTTP, no token, a few
//!   microseconds), else asked of the permission backend found through discovery
//!   (`POST /authorize`, with a plugin token on behalf of the caller).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::evaluate::{EvalItem, Remote, definitive, evaluate};
use super::root::RootPermissions;
use super::types::{
    AuthorizeDecision, AuthorizePermissionRequest, AuthorizeResult, Permission, PolicyDecision,
    QueryPermissionRequest,
};
use super::{PermissionError, PermissionsService};
use crate::services::auth::{AccessRestriction, Credentials, PrincipalKind, UserInfoService};

/// The permission backend's plugin id.
pub(crate) const PERMISSION_PLUGIN_ID: &str = "permission";

/// The default [`PermissionsService`] of one plugin.
#[derive(Debug)]
pub(crate) struct DefaultPermissions {
    plugin_id: String,
    root: Arc<RootPermissions>,
    remote: Remote,
    user_info: Arc<dyn UserInfoService>,
}

impl DefaultPermissions {
    pub(crate) fn new(
        plugin_id: &str,
        root: Arc<RootPermissions>,
        remote: Remote,
        user_info: Arc<dyn UserInfoService>,
    ) -> Self {
        Self {
            plugin_id: plugin_id.to_string(),
            root,
            remote,
            user_info,
        }
    }

    /// Decisions for every item, `None` where the policy must be asked.
    fn short_circuit(
        &self,
        permissions: &[&Permission],
        credentials: &Credentials,
    ) -> Option<Vec<bool>> {
        if !self.root.enabled() {
            return Some(vec![true; permissions.len()]);
        }
        if credentials.kind() != PrincipalKind::Service {
            return None;
        }
        Some(service_decisions(credentials, &self.plugin_id, permissions))
    }

    async fn decide(
        &self,
        items: &[EvalItem<'_>],
        credentials: &Credentials,
    ) -> Result<Vec<PolicyDecision>, PermissionError> {
        match self.root.policy() {
            Some(policy) => {
                evaluate(
                    &self.root,
                    Some(&self.remote),
                    self.user_info.as_ref(),
                    policy.as_ref(),
                    items,
                    credentials,
                )
                .await
            }
            None => self.ask_permission_backend(items, credentials).await,
        }
    }

    async fn ask_permission_backend(
        &self,
        items: &[EvalItem<'_>],
        credentials: &Credentials,
    ) -> Result<Vec<PolicyDecision>, PermissionError> {
        let body = WireRequest {
            items: items
                .iter()
                .enumerate()
                .map(|(i, item)| WireRequestItem {
                    id: i.to_string(),
                    permission: item.permission,
                    resource_ref: item.resource_ref,
                })
                .collect(),
        };
        let url = format!(
            "{}/authorize",
            self.remote.discovery.base_url(PERMISSION_PLUGIN_ID)
        );
        let mut req = self.remote.http.post(&url).json(&body);
        if credentials.kind() != PrincipalKind::None {
            let token = self
                .remote
                .auth
                .plugin_request_token(credentials, PERMISSION_PLUGIN_ID)
                .await
                .map_err(|e| PermissionError::Authentication(e.to_string()))?;
            req = req.bearer_auth(token);
        }
        let res = req.send().await.map_err(|e| {
            PermissionError::Internal(format!("the permission backend could not be reached: {e}"))
        })?;
        let status = res.status();
        if !status.is_success() {
            return Err(PermissionError::Internal(format!(
                "the permission backend answered status {status}"
            )));
        }
        let answer: WireResponse = res.json().await.map_err(|e| {
            PermissionError::Internal(format!("invalid answer from the permission backend: {e}"))
        })?;
        let mut by_id: HashMap<String, PolicyDecision> = answer
            .items
            .into_iter()
            .map(|i| (i.id, i.decision))
            .collect();
        (0..items.len())
            .map(|i| {
                by_id.remove(&i.to_string()).ok_or_else(|| {
                    PermissionError::Internal(format!(
                        "the permission backend answered no decision for item {i}"
                    ))
                })
            })
            .collect()
    }
}

#[derive(Serialize)]
struct WireRequest<'a> {
    items: Vec<WireRequestItem<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireRequestItem<'a> {
    id: String,
    permission: &'a Permission,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_ref: Option<&'a str>,
}

#[derive(Deserialize)]
struct WireResponse {
    items: Vec<WireResponseItem>,
}

#[derive(Deserialize)]
struct WireResponseItem {
    id: String,
    #[serde(flatten)]
    decision: PolicyDecision,
}

/// For services: everything allowed without access restrictions; with them, what the
/// restrictions for `plugin_id` name.
pub(crate) fn service_decisions(
    credentials: &Credentials,
    plugin_id: &str,
    permissions: &[&Permission],
) -> Vec<bool> {
    match credentials.access_restrictions() {
        None => vec![true; permissions.len()],
        Some(restrictions) => permissions
            .iter()
            .map(|p| restriction_allows(restrictions, plugin_id, p))
            .collect(),
    }
}

/// Whether an access-restricted service may use `permission` on plugin `plugin_id`: some
/// restriction for that plugin names it (or names no permissions) and its action (or names
/// no actions).
pub(crate) fn restriction_allows(
    restrictions: &[AccessRestriction],
    plugin_id: &str,
    permission: &Permission,
) -> bool {
    restrictions
        .iter()
        .filter(|r| r.plugin == plugin_id)
        .any(|r| {
            let name_ok = r
                .permission_names
                .as_ref()
                .is_none_or(|names| names.contains(&permission.name));
            let action_ok = r.actions.as_ref().is_none_or(|actions| {
                permission
                    .attributes
                    .action
                    .as_ref()
                    .is_some_and(|a| actions.contains(a))
            });
            name_ok && action_ok
        })
}

pub(crate) fn allow_or_deny(allowed: bool) -> AuthorizeResult {
    if allowed {
        AuthorizeResult::Allow
    } else {
        AuthorizeResult::Deny
    }
}

#[async_trait]
impl PermissionsService for DefaultPermissions {
    async fn authorize(
        &self,
        requests: &[AuthorizePermissionRequest],
        credentials: &Credentials,
    ) -> Result<Vec<AuthorizeDecision>, PermissionError> {
        let permissions: Vec<&Permission> = requests.iter().map(|r| &r.permission).collect();
        if let Some(allowed) = self.short_circuit(&permissions, credentials) {
            return Ok(allowed
                .into_iter()
                .map(|a| AuthorizeDecision {
                    result: allow_or_deny(a),
                })
                .collect());
        }
        let items = EvalItem::of_authorize(requests);
        Ok(definitive(self.decide(&items, credentials).await?))
    }

    async fn authorize_conditional(
        &self,
        requests: &[QueryPermissionRequest],
        credentials: &Credentials,
    ) -> Result<Vec<PolicyDecision>, PermissionError> {
        let permissions: Vec<&Permission> = requests.iter().map(|r| &r.permission).collect();
        if let Some(allowed) = self.short_circuit(&permissions, credentials) {
            return Ok(allowed
                .into_iter()
                .map(|a| {
                    if a {
                        PolicyDecision::Allow
                    } else {
                        PolicyDecision::Deny
                    }
                })
                .collect());
        }
        let items = EvalItem::of_queries(requests);
        self.decide(&items, credentials).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restrictions_by_plugin_name_and_action() {
        let r = vec![AccessRestriction {
            plugin: "catalog".into(),
            permission_names: Some(vec!["catalog.entity.read".into()]),
            actions: None,
        }];
        let read = Permission::resource("catalog.entity.read", "catalog-entity", Some("read"));
        let delete = Permission::basic("catalog.entity.delete", Some("delete"));
        assert!(restriction_allows(&r, "catalog", &read));
        assert!(!restriction_allows(&r, "catalog", &delete));
        assert!(!restriction_allows(&r, "scaffolder", &read));
        let by_action = vec![AccessRestriction {
            plugin: "catalog".into(),
            permission_names: None,
            actions: Some(vec!["read".into()]),
        }];
        assert!(restriction_allows(&by_action, "catalog", &read));
        assert!(!restriction_allows(&by_action, "catalog", &delete));
        assert!(!restriction_allows(
            &by_action,
            "catalog",
            &Permission::basic("x", None)
        ));
    }
}
