//! Authorization: the `PERMISSIONS` core service, as Backstage's `permissions`.
//!
//! A plugin asks [`PermissionsService::authorize`] whether the caller may do something
//! (`ALLOW`/`DENY`), or [`PermissionsService::authorize_conditional`] for the conditions under
//! which a resource permission holds, which it turns into a query filter itself (the catalog
//! does this for `catalog.entity.read`). With `permission.enabled` unset or false every
//! request is allowed (authentication still applies). See `docs/permissions.md`.

//!
//! Plugins declare their permissions, resource types and rules through
//! [`PERMISSIONS_REGISTRY`]; the `permission` plugin (`backlot::plugins::permission`) runs
//! the deployment's [`PermissionPolicy`].

mod declarative;
pub(crate) mod default;
pub(crate) mod evaluate;
mod policy;
mod registry;
mod root;
mod rules;
mod types;
mod user_info;
mod well_known;

pub use declarative::{DeclarativePolicy, POLICY_CONFIG_KEY};
pub use policy::{
    AllowAllPolicy, DenyAllPolicy, FnPolicy, PermissionPolicy, PolicyQuery, PolicyQueryUser,
    policy_fn,
};
pub use registry::{
    ApplyConditionsRequest, ApplyConditionsRequestItem, ApplyConditionsResponse,
    ApplyConditionsResponseItem, PermissionMetadata, PermissionResourceType, PermissionsRegistry,
    RuleMetadata,
};
pub use root::{DEFAULT_MAX_ITEMS_PER_REQUEST, RootPermissions};
pub use rules::{
    ConditionFactory, FnRule, PermissionRule, PermissionRuleSet, create_conditional_decision,
    create_permission_rule,
};
pub use types::{
    AuthorizeDecision, AuthorizePermissionRequest, AuthorizeResult, MAX_CRITERIA_DEPTH, Permission,
    PermissionAttributes, PermissionCondition, PermissionCriteria, PermissionType, PolicyDecision,
    QueryPermissionRequest,
};
pub use well_known::{APPLY_CONDITIONS_PATH, METADATA_PATH};

/// `docs/permissions.md`, rendered here so that `cargo test --doc` runs its examples (they use
/// the test kit: build with the `testing` feature).
#[cfg_attr(feature = "testing", doc = include_str!("../../../docs/permissions.md"))]
#[cfg_attr(
    not(feature = "testing"),
    doc = "Build the docs with `--features testing` to read `docs/permissions.md` here."
)]
pub mod guide {}

use std::sync::Arc;

use async_trait::async_trait;

use crate::backend::http::ApiError;
use crate::backend::{ServiceFactory, ServiceRef};
use crate::services::auth::{AUTH, Credentials, HTTP_AUTH, USER_INFO};
use crate::services::core_services::{DISCOVERY, HTTP_ROUTER, ROOT_CONFIG};
use crate::services::discovery::DiscoveryService;

/// Why a permission check could not be answered (never a denial: a denial is a decision).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PermissionError {
    /// The request was malformed (400).
    #[error("{0}")]
    Input(String),
    /// The credentials could not be used (401).
    #[error("{0}")]
    Authentication(String),
    /// The permission backend failed or could not be reached (500).
    #[error("{0}")]
    Internal(String),
}

impl From<PermissionError> for ApiError {
    fn from(e: PermissionError) -> Self {
        match e {
            PermissionError::Input(m) => ApiError::input(m),
            PermissionError::Authentication(m) => ApiError::authentication(m),
            PermissionError::Internal(m) => ApiError::internal(m),
        }
    }
}

/// Permission checks for one plugin (`core.permissions`). Both methods answer one decision
/// per request, in order.
#[async_trait]
pub trait PermissionsService: Send + Sync + std::fmt::Debug {
    /// Definitive decisions. A conditional policy decision on a request with a
    /// `resource_ref` is resolved by the plugin owning the resource type; without one it is
    /// `DENY`.
    async fn authorize(
        &self,
        requests: &[AuthorizePermissionRequest],
        credentials: &Credentials,
    ) -> Result<Vec<AuthorizeDecision>, PermissionError>;

    /// Policy decisions for resource permissions, conditions included, for the caller to
    /// apply.
    async fn authorize_conditional(
        &self,
        requests: &[QueryPermissionRequest],
        credentials: &Credentials,
    ) -> Result<Vec<PolicyDecision>, PermissionError>;
}

/// A plugin's permission service (`core.permissions`).
///
/// The default, as Backstage's `ServerPermissionClient`: everything allowed with
/// `permission.enabled` off; services allowed unless their access restrictions for this
/// plugin leave the permission out; users (and nobody) decided by the policy, in process when
/// the `permission` plugin runs in this backend, else by its `/authorize` endpoint.
pub static PERMISSIONS: ServiceRef<dyn PermissionsService> =
    ServiceRef::plugin("core.permissions").with_default(permissions_factory);

/// The backend-wide permission state (`core.rootPermissions`): `permission.*` config, the
/// registries of local plugins, the policy the local `permission` plugin installed.
pub static ROOT_PERMISSIONS: ServiceRef<RootPermissions> =
    ServiceRef::root("core.rootPermissions").with_default(root_permissions_factory);

/// A plugin's permission registry (`core.permissionsRegistry`); depending on it serves the
/// plugin's `/.well-known/backstage/permissions/*` routes.
pub static PERMISSIONS_REGISTRY: ServiceRef<PermissionsRegistry> =
    ServiceRef::plugin("core.permissionsRegistry").with_default(registry_factory);

fn root_permissions_factory() -> ServiceFactory {
    ServiceFactory::root(&ROOT_PERMISSIONS)
        .deps(&ROOT_CONFIG)
        .build(|config| async move { Ok(Arc::new(RootPermissions::from_config(&config)?)) })
}

struct PermissionsRootContext {
    root: Arc<RootPermissions>,
    discovery: Arc<dyn DiscoveryService>,
    http: reqwest::Client,
}

fn permissions_factory() -> ServiceFactory {
    ServiceFactory::plugin(&PERMISSIONS)
        .root_context(
            (&ROOT_PERMISSIONS, &DISCOVERY, &ROOT_CONFIG),
            |(root, discovery, config)| async move {
                Ok(Arc::new(PermissionsRootContext {
                    root,
                    discovery,
                    http: crate::services::http_client::http_client(&config)?,
                }))
            },
        )
        .deps((&AUTH, &USER_INFO))
        .build(|ctx, (auth, user_info)| async move {
            let c: &Arc<PermissionsRootContext> = ctx.root_context();
            let remote = evaluate::Remote {
                auth,
                discovery: c.discovery.clone(),
                http: c.http.clone(),
            };
            Ok(Arc::new(default::DefaultPermissions::new(
                ctx.plugin_id(),
                c.root.clone(),
                remote,
                user_info,
            )) as Arc<dyn PermissionsService>)
        })
}

fn registry_factory() -> ServiceFactory {
    ServiceFactory::plugin(&PERMISSIONS_REGISTRY)
        .root_context(&ROOT_PERMISSIONS, |root| async move { Ok(Arc::new(root)) })
        .deps((&HTTP_ROUTER, &HTTP_AUTH))
        .build(|ctx, (http, http_auth)| async move {
            let root: &Arc<RootPermissions> = ctx.root_context();
            let plugin = root.plugin(ctx.plugin_id());
            http.use_router(well_known::router(
                plugin.clone(),
                http_auth,
                root.max_items(),
            ));
            Ok(Arc::new(PermissionsRegistry::new(ctx.plugin_id(), plugin)))
        })
}
