//! Permissions in the catalog: its rules, and how every route asks the `PERMISSIONS` service.
//!
//! - Reads ask for `catalog.entity.read` with `authorize_conditional`. `ALLOW` changes
//!   nothing; `DENY` hides every entity; a conditional decision becomes a filter of the
//!   in-memory index ([`ReadScope`]) that the index evaluates together with the request's own
//!   query. So `items`, `totalItems`, facets and cursors are computed on the allowed entities
//!   only, at the cost of a few bitmap operations. A hidden entity answers 404 exactly like a
//!   missing one, and `null` in `by-refs`.
//! - Cursors never carry the permission filter: it is derived again from the caller's
//!   decision on every page, so editing a cursor cannot widen what a caller sees.
//! - Writes ask for their basic permission (`catalog.location.create`, ...) or, about one
//!   entity, for the resource permission with the entity's ref (`catalog.entity.delete`,
//!   `catalog.entity.refresh`) after checking the caller may read it (404 otherwise).
//!
//! With permissions disabled (the default) the service answers `ALLOW` and nothing changes.

mod conditions;
mod rules;

pub(crate) use conditions::ReadScope;
pub use rules::{CatalogRule, rules};

use std::sync::Arc;

use axum::extract::FromRequestParts;
use http::request::Parts;

use serde_json::Value;

use crate::plugins::catalog::common::permissions::{
    self as catalog_permissions, CATALOG_ENTITY_READ, RESOURCE_TYPE_CATALOG_ENTITY,
};
use crate::plugins::catalog::common::{EntityRef, RefDefaults};
use crate::services::auth::{Credentials, PrincipalKind};
use crate::services::permissions::{
    AuthorizePermissionRequest, AuthorizeResult, Permission, PermissionError,
    PermissionResourceType, PermissionRule, PermissionsRegistry, PermissionsService,
    QueryPermissionRequest,
};

use super::error::CatalogError;
use super::index::EntityIndex;

/// Declares the catalog's permissions, and the `catalog-entity` resource type with its rules
/// and a loader reading final entities from the index, so that the permission backend can
/// resolve conditional decisions about single entities (`apply-conditions`).
pub(crate) fn register(
    registry: &PermissionsRegistry,
    index: Arc<EntityIndex>,
) -> Result<(), PermissionError> {
    registry.add_permissions(&catalog_permissions::all());
    let loader = move |refs: Vec<String>| {
        let index = Arc::clone(&index);
        async move {
            Ok(refs
                .iter()
                .map(|r| {
                    let canonical = EntityRef::parse(r, RefDefaults::none()).ok()?.to_string();
                    let text = index.by_ref(&canonical, None)?;
                    serde_json::from_str::<Value>(&text).ok()
                })
                .collect())
        }
    };
    let rules = rules()
        .iter()
        .map(|r| Arc::new(*r) as Arc<dyn PermissionRule<Value>>);
    registry.add_resource_type(
        PermissionResourceType::new(RESOURCE_TYPE_CATALOG_ENTITY, loader).rules(rules)?,
    )
}

/// The caller of a route: the credentials the auth layer put in the request's extensions, or
/// nobody when there are none.
#[derive(Debug, Clone)]
pub(crate) struct Caller(pub(crate) Credentials);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<Credentials>()
                .cloned()
                .unwrap_or_else(Credentials::none),
        ))
    }
}

impl Caller {
    /// Refuses nobody (401): `operation` needs a user or a service.
    pub(crate) fn user_or_service(&self, operation: &'static str) -> Result<(), CatalogError> {
        match self.0.kind() {
            PrincipalKind::User | PrincipalKind::Service => Ok(()),
            PrincipalKind::None => Err(CatalogError::Unauthenticated { operation }),
        }
    }
}

/// Asks the plugin's `PERMISSIONS` service about catalog permissions.
#[derive(Clone, Debug)]
pub(crate) struct Authorizer {
    permissions: Arc<dyn PermissionsService>,
}

fn permission_error(source: crate::services::permissions::PermissionError) -> CatalogError {
    CatalogError::Permission { source }
}

impl Authorizer {
    pub(crate) fn new(permissions: Arc<dyn PermissionsService>) -> Self {
        Self { permissions }
    }

    /// The entities `caller` may read (`catalog.entity.read`).
    pub(crate) async fn read_scope(&self, caller: &Caller) -> Result<ReadScope, CatalogError> {
        let request = QueryPermissionRequest {
            permission: Permission::clone(&CATALOG_ENTITY_READ),
        };
        let decisions = self
            .permissions
            .authorize_conditional(std::slice::from_ref(&request), &caller.0)
            .await
            .map_err(permission_error)?;
        match decisions.first() {
            Some(decision) => ReadScope::from_decision(decision),
            None => Err(CatalogError::Conditions {
                message: "the permission service answered no decision".into(),
            }),
        }
    }

    /// Whether `caller` holds `permission`, about the entity `resource_ref` when given.
    pub(crate) async fn allows(
        &self,
        caller: &Caller,
        permission: &Permission,
        resource_ref: Option<&str>,
    ) -> Result<bool, CatalogError> {
        let request = AuthorizePermissionRequest {
            permission: permission.clone(),
            resource_ref: resource_ref.map(str::to_owned),
        };
        let decisions = self
            .permissions
            .authorize(std::slice::from_ref(&request), &caller.0)
            .await
            .map_err(permission_error)?;
        Ok(decisions
            .first()
            .is_some_and(|d| d.result == AuthorizeResult::Allow))
    }

    /// Refuses with 403 unless `caller` holds `permission` (about `resource_ref`).
    pub(crate) async fn require(
        &self,
        caller: &Caller,
        permission: &Permission,
        resource_ref: Option<&str>,
    ) -> Result<(), CatalogError> {
        if self.allows(caller, permission, resource_ref).await? {
            Ok(())
        } else {
            Err(CatalogError::not_allowed(&permission.name))
        }
    }
}
