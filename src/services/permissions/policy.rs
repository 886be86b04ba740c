//! The permission policy, as Backstage's `PermissionPolicy`: one per deployment, installed in
//! the `permission` plugin, asked about every permission request.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use super::types::{Permission, PolicyDecision};
use crate::services::auth::{BackstageUserInfo, Credentials};

/// What a policy is asked: one permission (never the resource; a policy answers
/// [`PolicyDecision::Conditional`] to decide by the resource's properties).
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyQuery {
    /// The permission.
    pub permission: Permission,
}

/// The user a policy decides for, when a user (rather than a service) is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyQueryUser {
    /// The user's credentials.
    pub credentials: Credentials,
    /// The user's entity ref and ownership refs (the user and its groups).
    pub info: BackstageUserInfo,
}

/// A permission policy: decides a permission for a user (or for a service caller, `user`
/// `None`). Install one with the `permission` plugin's policy extension point
/// (`backlot::plugins::permission::node::POLICY_EXTENSION_POINT`); without one, the
/// declarative policy of `permission.policy` applies (see `docs/permissions.md`).
///
/// ```
/// use async_trait::async_trait;
/// use backlot::services::permissions::{
///     ConditionFactory, PermissionPolicy, PolicyDecision, PolicyQuery, PolicyQueryUser,
/// };
/// use serde_json::json;
///
/// /// Admins may do anything; others read the catalog entities they own, and nothing else.
/// #[derive(Debug)]
/// struct OwnersPolicy;
///
/// #[async_trait]
/// impl PermissionPolicy for OwnersPolicy {
///     async fn handle(&self, request: &PolicyQuery, user: Option<&PolicyQueryUser>) -> PolicyDecision {
///         let Some(user) = user else { return PolicyDecision::Deny };
///         if user.info.ownership_entity_refs.iter().any(|r| r == "group:default/admins") {
///             return PolicyDecision::Allow;
///         }
///         if request.permission.name == "catalog.entity.read" {
///             let catalog = ConditionFactory::new("catalog", "catalog-entity");
///             return catalog.decision(&request.permission, catalog.condition(
///                 "IS_ENTITY_OWNER",
///                 json!({"claims": user.info.ownership_entity_refs}),
///             ));
///         }
///         PolicyDecision::Deny
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use backlot::services::auth::{BackstageUserInfo, Credentials};
/// use backlot::services::permissions::Permission;
///
/// let jane = PolicyQueryUser {
///     credentials: Credentials::user("user:default/jane"),
///     info: BackstageUserInfo {
///         user_entity_ref: "user:default/jane".into(),
///         ownership_entity_refs: vec!["user:default/jane".into(), "group:default/team-a".into()],
///     },
/// };
/// let delete = PolicyQuery { permission: Permission::basic("catalog.entity.delete", Some("delete")) };
/// assert_eq!(OwnersPolicy.handle(&delete, Some(&jane)).await, PolicyDecision::Deny);
/// # }
/// ```
#[async_trait]
pub trait PermissionPolicy: Send + Sync + fmt::Debug {
    /// The decision for `request`, asked by `user` (`None` for a service or nobody).
    async fn handle(&self, request: &PolicyQuery, user: Option<&PolicyQueryUser>)
    -> PolicyDecision;
}

type PolicyFnBox = dyn Fn(&PolicyQuery, Option<&PolicyQueryUser>) -> PolicyDecision + Send + Sync;

/// A policy from a closure; see [`policy_fn`].
pub struct FnPolicy(Box<PolicyFnBox>);

impl fmt::Debug for FnPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnPolicy").finish_non_exhaustive()
    }
}

#[async_trait]
impl PermissionPolicy for FnPolicy {
    async fn handle(
        &self,
        request: &PolicyQuery,
        user: Option<&PolicyQueryUser>,
    ) -> PolicyDecision {
        (self.0)(request, user)
    }
}

/// A policy from a synchronous closure.
///
/// ```
/// use backlot::services::permissions::{PermissionPolicy, PolicyDecision, policy_fn};
///
/// let read_only = policy_fn(|request, _user| {
///     if request.permission.attributes.action.as_deref() == Some("read") {
///         PolicyDecision::Allow
///     } else {
///         PolicyDecision::Deny
///     }
/// });
/// # let _ = read_only;
/// ```
pub fn policy_fn<F>(f: F) -> Arc<dyn PermissionPolicy>
where
    F: Fn(&PolicyQuery, Option<&PolicyQueryUser>) -> PolicyDecision + Send + Sync + 'static,
{
    Arc::new(FnPolicy(Box::new(f)))
}

/// Allows everything (Backstage's `AllowAllPermissionPolicy`).
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAllPolicy;

#[async_trait]
impl PermissionPolicy for AllowAllPolicy {
    async fn handle(&self, _: &PolicyQuery, _: Option<&PolicyQueryUser>) -> PolicyDecision {
        PolicyDecision::Allow
    }
}

/// Denies everything: what applies with permissions enabled and no policy at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct DenyAllPolicy;

#[async_trait]
impl PermissionPolicy for DenyAllPolicy {
    async fn handle(&self, _: &PolicyQuery, _: Option<&PolicyQueryUser>) -> PolicyDecision {
        PolicyDecision::Deny
    }
}
