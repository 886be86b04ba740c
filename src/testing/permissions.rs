//! Mock permissions for plugin tests: a `PERMISSIONS` service that decides with a closure as
//! the policy, in process, whatever `permission.enabled` says.
//!
//! Services are allowed as in production (unless access-restricted); users and nobody get the
//! closure's decision. Conditional decisions on a resource are resolved through the rules the
//! owning plugin registered in the same backend, so a plugin's own rules are exercised too.
//!
//! ```
//! use backlot::backend::Feature;
//! use backlot::services::auth::Credentials;
//! use backlot::services::permissions::{AuthorizePermissionRequest, AuthorizeResult, PERMISSIONS, Permission, PolicyDecision};
//! use backlot::testing::permissions::mock_permissions_policy;
//! use backlot::testing::TestBackend;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let plugin = Feature::plugin_fn("todo", |reg| {
//!     reg.init(&PERMISSIONS, |permissions| async move {
//!         let jane = Credentials::user("user:default/jane");
//!         let joe = Credentials::user("user:default/joe");
//!         let request = [AuthorizePermissionRequest { permission: Permission::basic("todo.item.create", Some("create")), resource_ref: None }];
//!         assert_eq!(permissions.authorize(&request, &jane).await?[0].result, AuthorizeResult::Allow);
//!         assert_eq!(permissions.authorize(&request, &joe).await?[0].result, AuthorizeResult::Deny);
//!         Ok(())
//!     })
//! });
//! let backend = TestBackend::builder()
//!     .service(mock_permissions_policy(|_request, user| match user {
//!         Some(u) if u.info.user_entity_ref == "user:default/jane" => PolicyDecision::Allow,
//!         _ => PolicyDecision::Deny,
//!     }))
//!     .feature(plugin)
//!     .start()
//!     .await?;
//! backend.stop().await?;
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;

use async_trait::async_trait;

use crate::backend::ServiceFactory;
use crate::services::auth::{Credentials, PrincipalKind, USER_INFO, UserInfoService};
use crate::services::permissions::default::service_decisions;
use crate::services::permissions::evaluate::{EvalItem, definitive, evaluate};
use crate::services::permissions::{
    AllowAllPolicy, AuthorizeDecision, AuthorizePermissionRequest, DenyAllPolicy, PERMISSIONS,
    Permission, PermissionError, PermissionPolicy, PermissionsService, PolicyDecision, PolicyQuery,
    PolicyQueryUser, QueryPermissionRequest, ROOT_PERMISSIONS, RootPermissions, policy_fn,
};

/// A `PERMISSIONS` service deciding with a policy in process; see the [module docs](self).
#[derive(Debug)]
pub struct MockPermissions {
    plugin_id: String,
    policy: Arc<dyn PermissionPolicy>,
    root: Arc<RootPermissions>,
    user_info: Arc<dyn UserInfoService>,
}

impl MockPermissions {
    /// A `PERMISSIONS` factory deciding with `policy`.
    pub fn factory(policy: Arc<dyn PermissionPolicy>) -> ServiceFactory {
        ServiceFactory::plugin(&PERMISSIONS)
            .root_context(&ROOT_PERMISSIONS, |root| async move { Ok(Arc::new(root)) })
            .deps(&USER_INFO)
            .build(move |ctx, user_info| {
                let policy = policy.clone();
                async move {
                    let root: &Arc<RootPermissions> = ctx.root_context();
                    Ok(Arc::new(MockPermissions {
                        plugin_id: ctx.plugin_id().to_string(),
                        policy,
                        root: root.clone(),
                        user_info,
                    }) as Arc<dyn PermissionsService>)
                }
            })
    }

    async fn decide(
        &self,
        items: &[EvalItem<'_>],
        credentials: &Credentials,
    ) -> Result<Vec<PolicyDecision>, PermissionError> {
        if credentials.kind() == PrincipalKind::Service {
            let permissions: Vec<&Permission> = items.iter().map(|i| i.permission).collect();
            return Ok(
                service_decisions(credentials, &self.plugin_id, &permissions)
                    .into_iter()
                    .map(|a| {
                        if a {
                            PolicyDecision::Allow
                        } else {
                            PolicyDecision::Deny
                        }
                    })
                    .collect(),
            );
        }
        evaluate(
            &self.root,
            None,
            self.user_info.as_ref(),
            self.policy.as_ref(),
            items,
            credentials,
        )
        .await
    }
}

#[async_trait]
impl PermissionsService for MockPermissions {
    async fn authorize(
        &self,
        requests: &[AuthorizePermissionRequest],
        credentials: &Credentials,
    ) -> Result<Vec<AuthorizeDecision>, PermissionError> {
        let items = EvalItem::of_authorize(requests);
        Ok(definitive(self.decide(&items, credentials).await?))
    }

    async fn authorize_conditional(
        &self,
        requests: &[QueryPermissionRequest],
        credentials: &Credentials,
    ) -> Result<Vec<PolicyDecision>, PermissionError> {
        let items = EvalItem::of_queries(requests);
        self.decide(&items, credentials).await
    }
}

/// A `PERMISSIONS` factory whose policy is `decide` (Backstage's `mockServices.permissions`
/// with a handler).
pub fn mock_permissions_policy<F>(decide: F) -> ServiceFactory
where
    F: Fn(&PolicyQuery, Option<&PolicyQueryUser>) -> PolicyDecision + Send + Sync + 'static,
{
    MockPermissions::factory(policy_fn(decide))
}

/// A `PERMISSIONS` factory allowing everything.
pub fn mock_permissions_allow_all() -> ServiceFactory {
    MockPermissions::factory(Arc::new(AllowAllPolicy))
}

/// A `PERMISSIONS` factory denying every user (services are still allowed).
pub fn mock_permissions_deny_all() -> ServiceFactory {
    MockPermissions::factory(Arc::new(DenyAllPolicy))
}
