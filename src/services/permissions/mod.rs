//! Authorization: the `PERMISSIONS` core service, as Backstage's `permissions`.
//!
//! A plugin asks [`PermissionsService::authorize`] whether the caller may do something
//! (`ALLOW`/`DENY`), or [`PermissionsService::authorize_conditional`] for the conditions under
//! which a resource permission holds, which it turns into a query filter itself (the catalog
//! does this for `catalog.entity.read`). With `permission.enabled` unset or false every
//! request is allowed (authentication still applies). See `docs/permissions.md`.

mod types;

pub use types::{
    AuthorizeDecision, AuthorizePermissionRequest, AuthorizeResult, MAX_CRITERIA_DEPTH, Permission,
    PermissionAttributes, PermissionCondition, PermissionCriteria, PermissionType, PolicyDecision,
    QueryPermissionRequest,
};

use async_trait::async_trait;

use crate::backend::ServiceRef;
use crate::backend::http::ApiError;
use crate::services::auth::Credentials;

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
pub static PERMISSIONS: ServiceRef<dyn PermissionsService> = ServiceRef::plugin("core.permissions");
