//! The scheduler's HTTP endpoints under `/.backstage/scheduler/v1/tasks`.

use std::sync::Arc;

use axum::extract::{OriginalUri, Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::error::SchedulerError;
use super::plugin::PluginScheduler;
use super::state::TaskInfo;

type Shared = Arc<PluginScheduler>;

/// The scheduler endpoints of one plugin, to be merged into the plugin's router (so that
/// they answer under `/api/<pluginId>/.backstage/scheduler/v1/tasks`). The `SCHEDULER`
/// service mounts them for every plugin; public for the crate's own tests:
///
/// | route | answer |
/// |---|---|
/// | `GET /.backstage/scheduler/v1/tasks` | `{ "tasks": [{ taskId, pluginId, scope, settings, taskState, workerState }] }` |
/// | `GET /.backstage/scheduler/v1/tasks/{id}` | one such task object |
/// | `POST /.backstage/scheduler/v1/tasks/{id}/trigger` | 200 empty; 404 unknown task; 409 while it runs |
/// | `POST /.backstage/scheduler/v1/tasks/{id}/cancel` | 200 empty; 404 unknown task; 409 when it is not running |
///
/// Errors use Backstage's body: `{ error: { name, message }, request: { method, url },
/// response: { statusCode } }`.
///
/// ```
/// use std::sync::Arc;
/// use axum::body::Body;
/// use axum::http::{Request, StatusCode};
/// use backlot::services::scheduler::{router, LeaseStore, PluginScheduler};
/// use tower::ServiceExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let scheduler = Arc::new(PluginScheduler::builder("catalog", LeaseStore::memory()).build());
/// let app = router(scheduler);
/// let res = app
///     .oneshot(Request::post("/.backstage/scheduler/v1/tasks/missing/trigger").body(Body::empty())?)
///     .await?;
/// assert_eq!(res.status(), StatusCode::NOT_FOUND);
/// # Ok(())
/// # }
/// ```
#[doc(hidden)]
pub fn router(scheduler: Arc<PluginScheduler>) -> Router {
    Router::new()
        .route("/.backstage/scheduler/v1/tasks", get(list_tasks))
        .route("/.backstage/scheduler/v1/tasks/{id}", get(get_task))
        .route(
            "/.backstage/scheduler/v1/tasks/{id}/trigger",
            post(trigger_task),
        )
        .route(
            "/.backstage/scheduler/v1/tasks/{id}/cancel",
            post(cancel_task),
        )
        .with_state(scheduler)
}

/// A scheduler error with the request it answers, rendered as Backstage's error body.
struct ApiError {
    error: SchedulerError,
    method: Method,
    url: String,
}

impl ApiError {
    fn new(error: SchedulerError, method: Method, uri: &OriginalUri) -> Self {
        let url = uri
            .0
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| uri.0.path().to_owned());
        Self { error, method, url }
    }
}

/// Backstage's error name and HTTP status for a scheduler error.
fn classify(error: &SchedulerError) -> (&'static str, StatusCode) {
    match error {
        SchedulerError::NotFound { .. } => ("NotFoundError", StatusCode::NOT_FOUND),
        SchedulerError::Conflict { .. } | SchedulerError::DuplicateTask { .. } => {
            ("ConflictError", StatusCode::CONFLICT)
        }
        SchedulerError::InvalidId { .. } | SchedulerError::InvalidSchedule { .. } => {
            ("InputError", StatusCode::BAD_REQUEST)
        }
        SchedulerError::ShutDown { .. } => {
            ("ServiceUnavailableError", StatusCode::SERVICE_UNAVAILABLE)
        }
        _ => ("Error", StatusCode::INTERNAL_SERVER_ERROR),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (name, status) = classify(&self.error);
        if status.is_server_error() {
            tracing::error!(error = %self.error, method = %self.method, url = %self.url, "scheduler request failed");
        }
        let body = json!({
            "error": { "name": name, "message": self.error.to_string() },
            "request": { "method": self.method.as_str(), "url": self.url },
            "response": { "statusCode": status.as_u16() },
        });
        (status, Json(body)).into_response()
    }
}

async fn list_tasks(
    State(scheduler): State<Shared>,
    method: Method,
    uri: OriginalUri,
) -> Result<Json<serde_json::Value>, ApiError> {
    let tasks = scheduler
        .task_infos()
        .await
        .map_err(|e| ApiError::new(e, method, &uri))?;
    Ok(Json(json!({ "tasks": tasks })))
}

async fn get_task(
    State(scheduler): State<Shared>,
    Path(id): Path<String>,
    method: Method,
    uri: OriginalUri,
) -> Result<Json<TaskInfo>, ApiError> {
    scheduler
        .task_info(&id)
        .await
        .map(Json)
        .map_err(|e| ApiError::new(e, method, &uri))
}

async fn trigger_task(
    State(scheduler): State<Shared>,
    Path(id): Path<String>,
    method: Method,
    uri: OriginalUri,
) -> Result<StatusCode, ApiError> {
    scheduler
        .trigger_task(&id)
        .await
        .map(|()| StatusCode::OK)
        .map_err(|e| ApiError::new(e, method, &uri))
}

async fn cancel_task(
    State(scheduler): State<Shared>,
    Path(id): Path<String>,
    method: Method,
    uri: OriginalUri,
) -> Result<StatusCode, ApiError> {
    scheduler
        .cancel_task(&id)
        .await
        .map(|()| StatusCode::OK)
        .map_err(|e| ApiError::new(e, method, &uri))
}

/// `scheduler.task.trigger`: a user may trigger a plugin's task now (services always may).
pub const TASK_TRIGGER_PERMISSION: &str = "scheduler.task.trigger";
/// `scheduler.task.cancel`: a user may cancel a plugin's running task (services always may).
pub const TASK_CANCEL_PERMISSION: &str = "scheduler.task.cancel";

/// Guards the task actions: a service principal may trigger and cancel; a user only when
/// the permission service allows `scheduler.task.trigger` / `scheduler.task.cancel` (with
/// permissions off, every signed-in user may); nobody never.
pub(crate) async fn guard_actions(
    axum::extract::State(permissions): axum::extract::State<
        Arc<dyn crate::services::permissions::PermissionsService>,
    >,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use crate::backend::http::ApiError as HttpError;
    use crate::services::auth::{Credentials, PrincipalKind};
    use crate::services::permissions::{AuthorizePermissionRequest, AuthorizeResult, Permission};
    use axum::response::IntoResponse;

    let path = req.uri().path();
    let permission = if req.method() != Method::POST {
        None
    } else if path.ends_with("/trigger") {
        Some(TASK_TRIGGER_PERMISSION)
    } else if path.ends_with("/cancel") {
        Some(TASK_CANCEL_PERMISSION)
    } else {
        None
    };
    let Some(permission) = permission else {
        return next.run(req).await;
    };
    let credentials = req
        .extensions()
        .get::<Credentials>()
        .cloned()
        .unwrap_or_else(Credentials::none);
    match credentials.kind() {
        PrincipalKind::Service => next.run(req).await,
        PrincipalKind::None => HttpError::authentication("Missing credentials").into_response(),
        PrincipalKind::User => {
            let request = AuthorizePermissionRequest {
                permission: Permission::basic(permission, Some("update")),
                resource_ref: None,
            };
            match permissions.authorize(&[request], &credentials).await {
                Ok(d) if d.first().map(|d| d.result) == Some(AuthorizeResult::Allow) => {
                    next.run(req).await
                }
                Ok(_) => {
                    HttpError::not_allowed(format!("not allowed: {permission}")).into_response()
                }
                Err(e) => HttpError::from(e).into_response(),
            }
        }
    }
}
