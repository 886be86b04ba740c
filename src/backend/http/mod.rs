//! The backend's HTTP layer: error JSON, root layers and the top-level router.

pub(crate) mod auth_layer;
pub(crate) mod edge;
mod error;
pub(crate) mod gate;
pub(crate) mod middleware;
pub(crate) mod request_metrics;
pub(crate) mod server;

pub use error::{ApiError, ApiErrorKind, RawErrorResponse};

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;

use crate::services::health::RootHealth;

/// Health routes at `/.backstage/health/v1/{liveness,readiness}`.
pub(crate) fn health_router(health: Arc<RootHealth>, headers: Vec<(String, String)>) -> Router {
    let live = health.clone();
    let live_headers = headers.clone();
    Router::new()
        .route(
            "/.backstage/health/v1/liveness",
            get(move || {
                let h = live.liveness();
                let headers = live_headers.clone();
                async move { health_response(h, &headers) }
            }),
        )
        .route(
            "/.backstage/health/v1/readiness",
            get(move || {
                let h = health.readiness();
                let headers = headers.clone();
                async move { health_response(h, &headers) }
            }),
        )
        .layer(axum::middleware::from_fn(request_metrics::record_route))
}

fn health_response(
    h: crate::services::health::HealthStatus,
    headers: &[(String, String)],
) -> axum::response::Response {
    let status = StatusCode::from_u16(h.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut res = (status, Json(h.payload)).into_response();
    for (k, v) in headers {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::try_from(k.as_str()),
            axum::http::HeaderValue::try_from(v.as_str()),
        ) {
            res.headers_mut().insert(name, value);
        }
    }
    res
}

/// Applies the root layers: panics become 500s, errors become Backstage's error JSON, requests
/// are logged, URLs, headers and bodies are limited, requests time out, and requests still
/// running when `cut_off` turns true are ended with a 503. Authentication layers will sit
/// between the error layer and the routes. Outermost, each request gets its request id and
/// is counted in `metrics`.
pub(crate) fn with_root_layers(
    router: Router,
    max_body: usize,
    limits: edge::RequestLimits,
    cut_off: tokio::sync::watch::Receiver<bool>,
    metrics: Arc<request_metrics::HttpMetrics>,
) -> Router {
    router.layer(
        ServiceBuilder::new()
            .layer(axum::middleware::from_fn_with_state(
                metrics,
                request_metrics::observe,
            ))
            .layer(axum::middleware::from_fn(middleware::log_request))
            .layer(axum::middleware::from_fn(middleware::error_json))
            .layer(CatchPanicLayer::custom(middleware::panic_response))
            .layer(axum::middleware::from_fn_with_state(
                Arc::new(limits),
                edge::request_limits,
            ))
            .layer(axum::middleware::from_fn_with_state(
                cut_off,
                middleware::cut_off,
            ))
            .layer(RequestBodyLimitLayer::new(max_body))
            .layer(DefaultBodyLimit::max(max_body)),
    )
}

/// The fallback for paths nothing serves.
pub(crate) async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no route for {}", uri.path()))
}
