//! A plugin's `/.well-known/backstage/permissions/*` routes, served for the permission
//! backend by [`PermissionsRegistry`](super::PermissionsRegistry).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::registry::{
    ApplyConditionsRequest, ApplyConditionsResponse, PermissionMetadata, PluginPermissions,
};
use crate::backend::http::ApiError;
use crate::services::auth::{CredentialsOptions, HttpAuthService};

/// The path of the metadata route, under the plugin's mount point.
pub const METADATA_PATH: &str = "/.well-known/backstage/permissions/metadata";
/// The path of the apply-conditions route, under the plugin's mount point.
pub const APPLY_CONDITIONS_PATH: &str = "/.well-known/backstage/permissions/apply-conditions";

#[derive(Clone)]
struct RouteState {
    permissions: Arc<PluginPermissions>,
    http_auth: Arc<dyn HttpAuthService>,
    max_items: usize,
}

pub(crate) fn router(
    permissions: Arc<PluginPermissions>,
    http_auth: Arc<dyn HttpAuthService>,
    max_items: usize,
) -> Router {
    Router::new()
        .route(METADATA_PATH, get(metadata))
        .route(APPLY_CONDITIONS_PATH, post(apply_conditions))
        .with_state(RouteState {
            permissions,
            http_auth,
            max_items,
        })
}

async fn metadata(State(s): State<RouteState>) -> Json<PermissionMetadata> {
    Json(s.permissions.metadata())
}

async fn apply_conditions(
    State(s): State<RouteState>,
    request: Request,
) -> Result<Json<ApplyConditionsResponse>, ApiError> {
    let (parts, body) = request.into_parts();
    s.http_auth
        .credentials(&parts, CredentialsOptions::SERVICE)
        .await?;
    let bytes: Bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(|e| ApiError::input(format!("invalid request body: {e}")))?;
    let request: ApplyConditionsRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::input(format!("invalid request body: {e}")))?;
    if request.items.len() > s.max_items {
        return Err(ApiError::input(format!(
            "too many items: {} (at most {} per request, permission.maxItemsPerRequest)",
            request.items.len(),
            s.max_items
        )));
    }
    let items = s.permissions.apply_conditions(&request.items).await?;
    Ok(Json(ApplyConditionsResponse { items }))
}
