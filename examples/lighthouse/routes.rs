//! The HTTP API, in the shape of lighthouse-audit-service's `/v1` routes; errors are
//! Backstage's error JSON.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use backlot::backend::{ApiError, ApiErrorKind};
use backlot::services::auth::Credentials;
use backlot::services::permissions::{AuthorizePermissionRequest, AuthorizeResult};
use serde::Deserialize;
use serde_json::Value;

use super::store::{AuditBody, AuditListItem, ListResponse, Website};
use super::{AUDIT_CREATE, Lighthouse};

/// The longest URL audited.
const MAX_URL_LENGTH: usize = 2048;

pub(crate) fn router(state: Arc<Lighthouse>) -> Router {
    let body = state.config.max_body_bytes;
    Router::new()
        .route(
            "/v1/audits",
            post(create)
                .layer(DefaultBodyLimit::max(body))
                .get(list_audits),
        )
        .route("/v1/audits/{id}", get(get_audit).delete(delete_audit))
        .route("/v1/websites", get(list_websites))
        .route("/v1/websites/{url}", get(get_website))
        .with_state(state)
}

type Caller = Option<Extension<Credentials>>;

/// 403 unless the caller may trigger and delete audits (`lighthouse.audit.create`).
async fn require_create(state: &Lighthouse, caller: Caller) -> Result<(), ApiError> {
    let credentials = caller.map_or_else(Credentials::none, |Extension(c)| c);
    let request = AuthorizePermissionRequest {
        permission: AUDIT_CREATE.clone(),
        resource_ref: None,
    };
    let decisions = state
        .permissions
        .authorize(std::slice::from_ref(&request), &credentials)
        .await?;
    if decisions
        .first()
        .is_some_and(|d| d.result == AuthorizeResult::Allow)
    {
        Ok(())
    } else {
        Err(ApiError::not_allowed(format!(
            "you are not allowed to do this ({})",
            AUDIT_CREATE.name
        )))
    }
}

/// `limit` and `offset` from the query (numbers; limit 25 by default, at most
/// `lighthouse.maxPageSize`).
fn page(query: &HashMap<String, String>, max: i64) -> Result<(i64, i64), ApiError> {
    let number = |name: &str, default: i64| -> Result<i64, ApiError> {
        match query.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| ApiError::input(format!("{name} must be a number."))),
        }
    };
    let limit = number("limit", 25.min(max))?;
    if limit > max {
        return Err(ApiError::input(format!(
            "limit must be at most {max} (lighthouse.maxPageSize)"
        )));
    }
    Ok((limit, number("offset", 0)?))
}

/// An audited URL must be absolute http(s) with a host.
pub(crate) fn check_url(raw: &str) -> Result<String, ApiError> {
    if raw.len() > MAX_URL_LENGTH {
        return Err(ApiError::input(format!(
            "url is longer than {MAX_URL_LENGTH} characters"
        )));
    }
    let url = url::Url::parse(raw)
        .map_err(|e| ApiError::input(format!("url {raw:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(ApiError::input(format!(
            "url {raw:?} must be an http or https URL with a host"
        )));
    }
    Ok(raw.to_string())
}

/// The body of `POST /v1/audits`.
#[derive(Debug, Deserialize)]
struct TriggerAudit {
    url: String,
    #[serde(default)]
    options: Value,
}

/// `POST /v1/audits` `{ url, options? }`: 201 and the running audit.
async fn create(
    State(state): State<Arc<Lighthouse>>,
    caller: Caller,
    body: Result<Json<TriggerAudit>, JsonRejection>,
) -> Result<(StatusCode, Json<AuditBody>), ApiError> {
    require_create(&state, caller).await?;
    let Json(req) = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                ApiErrorKind::PayloadTooLarge,
                format!(
                    "the body is larger than lighthouse.maxBodyBytes ({})",
                    state.config.max_body_bytes
                ),
            )
        } else {
            ApiError::input(e.body_text())
        }
    })?;
    let url = check_url(&req.url)?;
    if !(req.options.is_null() || req.options.is_object()) {
        return Err(ApiError::input("options must be an object"));
    }
    let audit = state.trigger(&url, &req.options).await?;
    Ok((StatusCode::CREATED, Json(audit)))
}

/// `GET /v1/audits?limit&offset`.
async fn list_audits(
    State(state): State<Arc<Lighthouse>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<ListResponse<AuditListItem>>, ApiError> {
    let (limit, offset) = page(&query, state.config.max_page_size)?;
    Ok(Json(state.store.audits(limit, offset).await?))
}

/// `GET /v1/audits/{id}`: the audit with its report (JSON).
async fn get_audit(
    State(state): State<Arc<Lighthouse>>,
    Path(id): Path<String>,
) -> Result<Json<AuditBody>, ApiError> {
    let audit = state.store.audit(&id).await?;
    audit
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("audit with id \"{id}\" not found")))
}

/// `DELETE /v1/audits/{id}`: the deleted audit.
async fn delete_audit(
    State(state): State<Arc<Lighthouse>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<AuditBody>, ApiError> {
    require_create(&state, caller).await?;
    let audit = state
        .store
        .audit(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("audit with id \"{id}\" not found")))?;
    state.store.delete(&id).await?;
    Ok(Json(audit))
}

/// `GET /v1/websites?limit&offset`: audited websites, the most recently audited first.
async fn list_websites(
    State(state): State<Arc<Lighthouse>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<ListResponse<Website>>, ApiError> {
    let max = state.config.max_page_size;
    let (limit, offset) = page(&query, max)?;
    Ok(Json(state.store.websites(limit, offset, max).await?))
}

/// `GET /v1/websites/{url}` (the URL percent-encoded): its newest audits.
async fn get_website(
    State(state): State<Arc<Lighthouse>>,
    Path(url): Path<String>,
) -> Result<Json<Website>, ApiError> {
    let site = state
        .store
        .website(&url, state.config.max_page_size)
        .await?;
    site.map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no audited website with url \"{url}\"")))
}
