//! `POST /authorize`: Backstage's permission backend API.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::backend::http::ApiError;
use crate::services::auth::{CredentialsOptions, HttpAuthService, UserInfoService};
use crate::services::permissions::evaluate::{EvalItem, Remote, evaluate};
use crate::services::permissions::{
    DenyAllPolicy, Permission, PermissionPolicy, PermissionType, PolicyDecision, RootPermissions,
};

#[derive(Clone)]
struct RouterState {
    root: Arc<RootPermissions>,
    remote: Remote,
    http_auth: Arc<dyn HttpAuthService>,
    user_info: Arc<dyn UserInfoService>,
}

pub(super) fn build(
    root: Arc<RootPermissions>,
    remote: Remote,
    http_auth: Arc<dyn HttpAuthService>,
    user_info: Arc<dyn UserInfoService>,
) -> Router {
    Router::new()
        .route("/authorize", post(authorize))
        .with_state(RouterState {
            root,
            remote,
            http_auth,
            user_info,
        })
}

#[derive(Deserialize)]
struct AuthorizeRequest {
    items: Vec<AuthorizeRequestItem>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthorizeRequestItem {
    id: String,
    permission: Permission,
    #[serde(default)]
    resource_ref: Option<String>,
}

#[derive(Serialize)]
struct AuthorizeResponse {
    items: Vec<AuthorizeResponseItem>,
}

#[derive(Serialize)]
struct AuthorizeResponseItem {
    id: String,
    #[serde(flatten)]
    decision: PolicyDecision,
}

const ACTIONS: [&str; 4] = ["create", "read", "update", "delete"];

fn validate(items: &[AuthorizeRequestItem], max: usize) -> Result<(), ApiError> {
    if items.len() > max {
        return Err(ApiError::input(format!(
            "too many items: {} (at most {max} per request, permission.maxItemsPerRequest)",
            items.len()
        )));
    }
    for (i, item) in items.iter().enumerate() {
        let p = &item.permission;
        if p.name.is_empty() {
            return Err(ApiError::input(format!(
                "items[{i}].permission.name: must not be empty"
            )));
        }
        if let Some(action) = &p.attributes.action {
            if !ACTIONS.contains(&action.as_str()) {
                return Err(ApiError::input(format!(
                    "items[{i}].permission.attributes.action: must be create, read, update or delete"
                )));
            }
        }
        match (p.kind, &p.resource_type) {
            (PermissionType::Resource, None) => {
                return Err(ApiError::input(format!(
                    "items[{i}].permission.resourceType: required for resource permissions"
                )));
            }
            (PermissionType::Basic, Some(_)) => {
                return Err(ApiError::input(format!(
                    "items[{i}].permission.resourceType: not allowed on basic permissions"
                )));
            }
            _ => {}
        }
        if p.kind == PermissionType::Basic && item.resource_ref.is_some() {
            return Err(ApiError::input(format!(
                "items[{i}].resourceRef: not allowed on basic permissions"
            )));
        }
    }
    Ok(())
}

async fn authorize(
    State(s): State<RouterState>,
    request: Request,
) -> Result<Json<AuthorizeResponse>, ApiError> {
    let (parts, body) = request.into_parts();
    let credentials = s
        .http_auth
        .credentials(&parts, CredentialsOptions::USER_OR_SERVICE)
        .await?;
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(|e| ApiError::input(format!("invalid request body: {e}")))?;
    let request: AuthorizeRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::input(format!("invalid request body: {e}")))?;
    validate(&request.items, s.root.max_items())?;
    let policy: Arc<dyn PermissionPolicy> =
        s.root.policy().unwrap_or_else(|| Arc::new(DenyAllPolicy));
    let items: Vec<EvalItem<'_>> = request
        .items
        .iter()
        .map(|i| EvalItem {
            permission: &i.permission,
            resource_ref: i.resource_ref.as_deref(),
        })
        .collect();
    let decisions = evaluate(
        &s.root,
        Some(&s.remote),
        s.user_info.as_ref(),
        policy.as_ref(),
        &items,
        &credentials,
    )
    .await?;
    Ok(Json(AuthorizeResponse {
        items: request
            .items
            .into_iter()
            .zip(decisions)
            .map(|(item, decision)| AuthorizeResponseItem {
                id: item.id,
                decision,
            })
            .collect(),
    }))
}
