//! The HTTP API under `/api/scaffolder` (Backstage's `/v2` routes), in one route table.

mod dry_run;
mod stream;
mod tasks;
mod templates;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::worker::TaskEngine;
use crate::backend::ApiError;
use crate::backend::http::RawErrorResponse;
use crate::plugins::catalog::node::CatalogApi;
use crate::plugins::scaffolder::node::{TemplatingExtensions, templating};
use crate::services::auth::{Credentials, PrincipalKind};
use crate::services::permissions::{
    AuthorizePermissionRequest, AuthorizeResult, Permission, PermissionsService, PolicyDecision,
    QueryPermissionRequest,
};

/// What the handlers share.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) engine: Arc<TaskEngine>,
    pub(crate) catalog: Arc<dyn CatalogApi>,
    pub(crate) permissions: Arc<dyn PermissionsService>,
    pub(crate) templating: Arc<TemplatingExtensions>,
    pub(crate) streams: Arc<Semaphore>,
}

type Shared = State<Arc<AppState>>;

pub(crate) fn router(state: Arc<AppState>) -> Router {
    let body = state.engine.config.max_body_bytes;
    let dry_body = state.engine.config.dry_run_max_body_bytes;
    Router::new()
        .route(
            "/v2/templates/{namespace}/{kind}/{name}/parameter-schema",
            get(templates::parameter_schema),
        )
        .route("/v2/actions", get(list_actions))
        .route(
            "/v2/tasks",
            post(tasks::create)
                .layer(DefaultBodyLimit::max(body))
                .get(tasks::list),
        )
        .route("/v2/tasks/{task_id}", get(tasks::get_task))
        .route("/v2/tasks/{task_id}/events", get(tasks::events))
        .route("/v2/tasks/{task_id}/eventstream", get(stream::eventstream))
        .route("/v2/tasks/{task_id}/cancel", post(tasks::cancel))
        .route(
            "/v2/tasks/{task_id}/retry",
            post(tasks::retry).layer(DefaultBodyLimit::max(body)),
        )
        .route(
            "/v2/dry-run",
            post(dry_run::dry_run).layer(DefaultBodyLimit::max(dry_body)),
        )
        .route("/v2/templating-extensions", get(templating_extensions))
        .with_state(state)
}

/// The caller: the credentials the auth layer put in the request, or nobody.
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
    /// The user entity ref of user credentials.
    pub(crate) fn user_ref(&self) -> Option<&str> {
        self.0.user_entity_ref()
    }

    pub(crate) fn require_principal(&self) -> Result<(), ApiError> {
        if self.0.kind() == PrincipalKind::None {
            return Err(ApiError::authentication("this request needs credentials"));
        }
        Ok(())
    }
}

impl AppState {
    /// Whether the caller holds the basic permission `permission`.
    pub(crate) async fn allows(
        &self,
        caller: &Caller,
        permission: &Permission,
    ) -> Result<bool, ApiError> {
        let request = AuthorizePermissionRequest {
            permission: permission.clone(),
            resource_ref: None,
        };
        let decisions = self
            .permissions
            .authorize(std::slice::from_ref(&request), &caller.0)
            .await?;
        Ok(decisions
            .first()
            .is_some_and(|d| d.result == AuthorizeResult::Allow))
    }

    /// 403 unless the caller holds `permission`.
    pub(crate) async fn require(
        &self,
        caller: &Caller,
        permission: &Permission,
    ) -> Result<(), ApiError> {
        if self.allows(caller, permission).await? {
            Ok(())
        } else {
            Err(ApiError::not_allowed(format!(
                "you are not allowed to do this ({})",
                permission.name
            )))
        }
    }

    /// The caller's policy decisions for resource permissions, in order.
    pub(crate) async fn conditional(
        &self,
        caller: &Caller,
        permissions: &[&Permission],
    ) -> Result<Vec<PolicyDecision>, ApiError> {
        let requests: Vec<QueryPermissionRequest> = permissions
            .iter()
            .map(|p| QueryPermissionRequest {
                permission: (*p).clone(),
            })
            .collect();
        let decisions = self
            .permissions
            .authorize_conditional(&requests, &caller.0)
            .await?;
        if decisions.len() != requests.len() {
            return Err(ApiError::internal(
                "the permission service answered a different number of decisions",
            ));
        }
        Ok(decisions)
    }
}

/// A JSON body, parsed with the error as an `InputError`.
pub(crate) fn body_json<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    if bytes.is_empty() {
        return serde_json::from_str("{}")
            .map_err(|e| ApiError::input(format!("invalid request body: {e}")));
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::input(format!("invalid request body: {e}")))
}

/// `status` with a JSON body.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut res = (status, body.to_string()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    res
}

/// 400 `{errors: [...]}` — Backstage's answer to values that do not fit the parameters.
pub(crate) fn validation_failed(errors: Vec<Value>) -> Response {
    let mut res = json_response(StatusCode::BAD_REQUEST, &json!({ "errors": errors }));
    res.extensions_mut().insert(RawErrorResponse);
    res
}

async fn list_actions(State(state): Shared) -> Response {
    let list: Vec<Value> = state
        .engine
        .runner
        .actions
        .all()
        .map(|a| {
            let mut o = json!({"id": a.id()});
            if let Some(d) = a.description() {
                o["description"] = Value::String(d.to_string());
            }
            o["examples"] = serde_json::to_value(a.examples()).unwrap_or_else(|_| json!([]));
            let mut schema = json!({});
            if let Some(i) = a.input_schema() {
                schema["input"] = i;
            }
            if let Some(out) = a.output_schema() {
                schema["output"] = out;
            }
            o["schema"] = schema;
            o
        })
        .collect();
    json_response(StatusCode::OK, &Value::Array(list))
}

async fn templating_extensions(State(state): Shared) -> Response {
    json_response(StatusCode::OK, &templating::describe(&state.templating))
}
