//! `/v2/tasks`: create, list, read, events, cancel, retry.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::templates::{
    authorize_template, base_url, check_values, load_template, split_secrets, task_spec, task_user,
};
use super::{AppState, Caller, Shared, body_json, json_response, validation_failed};
use crate::backend::ApiError;
use crate::plugins::catalog::common::{EntityRef, RefDefaults};
use crate::plugins::scaffolder::backend::store::{TaskFilter, TaskRow};
use crate::plugins::scaffolder::common::TaskStatus;
use crate::plugins::scaffolder::common::permissions::{
    ACTION_EXECUTE, TASK_CANCEL, TASK_CREATE, TASK_READ,
};
use crate::services::permissions::PolicyDecision;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    template_ref: String,
    #[serde(default)]
    values: Map<String, Value>,
    #[serde(default)]
    secrets: BTreeMap<String, String>,
}

/// `POST /v2/tasks`.
pub(super) async fn create(
    State(state): Shared,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require_principal()?;
    let body: CreateBody = body_json(&body)?;
    state.require(&caller, &TASK_CREATE).await?;
    let entity_ref = EntityRef::parse(&body.template_ref, RefDefaults::kind("template"))
        .map_err(|e| ApiError::input(format!("invalid templateRef: {e}")))?;
    let template = load_template(&state, &caller, &entity_ref).await?;
    let template = authorize_template(&state, &caller, template).await?;
    if let Some(errors) = check_values(&template, &Value::Object(body.values.clone()))? {
        return Ok(validation_failed(errors));
    }
    let mut values = body.values;
    let mut secrets = body.secrets;
    split_secrets(&template, &mut values, &mut secrets);
    let decision = state.conditional(&caller, &[&ACTION_EXECUTE]).await?;
    let user = task_user(&state, &caller).await;
    let spec = task_spec(
        &template,
        &entity_ref.to_string(),
        values,
        user,
        base_url(&template),
    );
    let id = uuid::Uuid::new_v4().to_string();
    let sealed = seal(&state, &id, &secrets)?;
    let decision = match &decision[0] {
        PolicyDecision::Allow => None,
        d => Some(serde_json::to_value(d).map_err(ApiError::internal)?),
    };
    state.engine.remember_credentials(&id, caller.0.clone());
    state
        .engine
        .store
        .create(
            &id,
            &spec,
            sealed.as_deref(),
            caller.user_ref(),
            decision.as_ref(),
        )
        .await?;
    Ok(json_response(StatusCode::CREATED, &json!({ "id": id })))
}

fn seal(
    state: &AppState,
    id: &str,
    secrets: &BTreeMap<String, String>,
) -> Result<Option<String>, ApiError> {
    if secrets.is_empty() {
        return Ok(None);
    }
    state
        .engine
        .sealer
        .seal(id, secrets)
        .map(Some)
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// The task, if the caller may read it: its creator always, others with `scaffolder.task.read`.
pub(super) async fn readable_task(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<TaskRow, ApiError> {
    caller.require_principal()?;
    let task = state
        .engine
        .store
        .get(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Task with id {id} does not exist")))?;
    let own = task.created_by.is_some() && task.created_by.as_deref() == caller.user_ref();
    if !own && !state.allows(caller, &TASK_READ).await? {
        return Err(ApiError::not_allowed(format!(
            "you are not allowed to read task {id} (scaffolder.task.read)"
        )));
    }
    Ok(task)
}

/// `GET /v2/tasks/{id}`.
pub(super) async fn get_task(
    State(state): Shared,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let task = readable_task(&state, &caller, &id).await?;
    Ok(json_response(StatusCode::OK, &task.to_json()))
}

fn query_pairs(q: Option<&str>) -> Vec<(String, String)> {
    q.map(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .into_owned()
            .collect()
    })
    .unwrap_or_default()
}

fn parse_count(name: &str, v: &str) -> Result<usize, ApiError> {
    v.parse::<usize>()
        .map_err(|_| ApiError::input(format!("invalid {name} '{v}': expected a whole number")))
}

/// `GET /v2/tasks?createdBy=&status=&limit=&offset=&order=`.
pub(super) async fn list(
    State(state): Shared,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    caller.require_principal()?;
    let config = &state.engine.config;
    let mut filter = TaskFilter {
        limit: config.default_list_limit,
        ..TaskFilter::default()
    };
    for (k, v) in query_pairs(q.as_deref()) {
        match k.as_str() {
            "createdBy" => {
                if filter.created_by.len() >= 100 {
                    return Err(ApiError::input("too many createdBy values (at most 100)"));
                }
                filter.created_by.push(v);
            }
            "status" => {
                let s: TaskStatus = v.parse().map_err(ApiError::input)?;
                if !filter.status.contains(&s) {
                    filter.status.push(s);
                }
            }
            "limit" => filter.limit = parse_count("limit", &v)?,
            "offset" => filter.offset = parse_count("offset", &v)?,
            "order" => {
                for part in v.split(',').filter(|p| !p.is_empty()) {
                    let (dir, field) = part.split_once(':').unwrap_or(("asc", part));
                    let desc = match dir {
                        "asc" => false,
                        "desc" => true,
                        _ => {
                            return Err(ApiError::input(format!(
                                "invalid order '{part}': use asc:<field> or desc:<field>"
                            )));
                        }
                    };
                    let column = match field {
                        "created_at" | "createdAt" => "created_at",
                        "last_heartbeat_at" | "lastHeartbeatAt" => "last_heartbeat_at",
                        "status" => "status",
                        "id" => "id",
                        "created_by" | "createdBy" => "created_by",
                        other => return Err(ApiError::input(format!("cannot order by '{other}'"))),
                    };
                    filter.order.push((column, desc));
                }
            }
            _ => {}
        }
    }
    if filter.limit > config.max_list_limit {
        return Err(ApiError::input(format!(
            "limit {} is above scaffolder.tasks.maxListLimit ({})",
            filter.limit, config.max_list_limit
        )));
    }
    if !state.allows(&caller, &TASK_READ).await? {
        // Without scaffolder.task.read a caller sees its own tasks only.
        let Some(me) = caller.user_ref() else {
            return Ok(json_response(
                StatusCode::OK,
                &json!({"tasks": [], "totalTasks": 0}),
            ));
        };
        if !filter.created_by.is_empty() && !filter.created_by.iter().any(|c| c == me) {
            return Ok(json_response(
                StatusCode::OK,
                &json!({"tasks": [], "totalTasks": 0}),
            ));
        }
        filter.created_by = vec![me.to_string()];
    }
    let (rows, total) = state.engine.store.list(&filter).await?;
    let tasks: Vec<Value> = rows.iter().map(TaskRow::to_json).collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({"tasks": tasks, "totalTasks": total}),
    ))
}

pub(super) fn parse_after(q: Option<&str>) -> Result<Option<i64>, ApiError> {
    for (k, v) in query_pairs(q) {
        if k == "after" {
            return v.parse::<i64>().map(Some).map_err(|_| {
                ApiError::input(format!("invalid after '{v}': expected an event id"))
            });
        }
    }
    Ok(None)
}

/// `GET /v2/tasks/{id}/events?after=`: waits for at least one event (up to
/// `scaffolder.tasks.eventsWaitTimeout`, then `[]`).
pub(super) async fn events(
    State(state): Shared,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let after = parse_after(q.as_deref())?;
    let task = readable_task(&state, &caller, &id).await?;
    let store = &state.engine.store;
    let config = &state.engine.config;
    let mut rx = store.hub().subscribe(&id);
    let deadline = tokio::time::Instant::now() + config.events_wait_timeout;
    let recoverable = task.recovers_by_starting_over();
    loop {
        let events = store
            .list_events(&id, after, config.max_events_per_request)
            .await?;
        if !events.is_empty() {
            let list: Vec<Value> = events.iter().map(|e| e.to_json(recoverable)).collect();
            return Ok(json_response(StatusCode::OK, &Value::Array(list)));
        }
        tokio::select! {
            _ = rx.changed() => {}
            () = tokio::time::sleep(config.stream_poll_interval) => {}
            () = tokio::time::sleep_until(deadline) => {
                return Ok(json_response(StatusCode::OK, &json!([])));
            }
        }
    }
}

/// `POST /v2/tasks/{id}/cancel`.
pub(super) async fn cancel(
    State(state): Shared,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    readable_task(&state, &caller, &id).await?;
    state.require(&caller, &TASK_CANCEL).await?;
    state
        .engine
        .store
        .cancel(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Task with id {id} does not exist")))?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"status": "cancelled"}),
    ))
}

#[derive(Debug, Default, Deserialize)]
struct RetryBody {
    #[serde(default)]
    secrets: BTreeMap<String, String>,
}

/// `POST /v2/tasks/{id}/retry`: re-opens a finished task (the same id) with new secrets.
pub(super) async fn retry(
    State(state): Shared,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: RetryBody = body_json(&body)?;
    readable_task(&state, &caller, &id).await?;
    state.require(&caller, &TASK_CREATE).await?;
    let sealed = seal(&state, &id, &body.secrets)?;
    state.engine.remember_credentials(&id, caller.0.clone());
    match state.engine.store.retry(&id, sealed.as_deref()).await? {
        None => Err(ApiError::not_found(format!(
            "Task with id {id} does not exist"
        ))),
        Some(false) => Err(ApiError::conflict(format!(
            "task {id} is still open or running; only a finished task can be retried"
        ))),
        Some(true) => Ok(json_response(StatusCode::CREATED, &json!({"id": id}))),
    }
}
