//! Root HTTP layers: error JSON for every error response, and request logging.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use tokio::sync::watch;

use super::error::{ApiError, ApiErrorKind, ErrorInfo, RawErrorResponse, error_response};

const MAX_MESSAGE_BYTES: usize = 4096;

/// Rewrites error responses into Backstage's error JSON with the request's method and URL.
pub(crate) async fn error_json(req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let url = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    let res = next.run(req).await;
    let status = res.status();
    if let Some(info) = res.extensions().get::<ErrorInfo>().cloned() {
        let (parts, _) = res.into_parts();
        let mut out = error_response(parts.status, info, Some(&method), Some(&url));
        for (name, value) in parts.headers.iter() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                out.headers_mut().insert(name.clone(), value.clone());
            }
        }
        return out;
    }
    if !(status.is_client_error() || status.is_server_error())
        || res.extensions().get::<RawErrorResponse>().is_some()
    {
        return res;
    }
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if is_json {
        return res;
    }
    let (parts, body) = res.into_parts();
    let text = match http_body_util::Limited::new(body, MAX_MESSAGE_BYTES)
        .collect()
        .await
    {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes())
            .trim()
            .to_string(),
        Err(_) => String::new(),
    };
    let kind = match parts.status {
        StatusCode::METHOD_NOT_ALLOWED => ApiErrorKind::NotFound,
        status => ApiErrorKind::from_status(status),
    };
    let (status, message) = match kind {
        ApiErrorKind::Internal => (parts.status, "Internal Server Error".to_string()),
        _ if parts.status == StatusCode::UNPROCESSABLE_ENTITY => (StatusCode::BAD_REQUEST, text),
        // Backstage's routers have no 405: an unmatched method is an unmatched route.
        _ if parts.status == StatusCode::METHOD_NOT_ALLOWED => (
            StatusCode::NOT_FOUND,
            format!(
                "no route for {method} {}",
                url.split('?').next().unwrap_or_default()
            ),
        ),
        _ if text.is_empty() => (
            parts.status,
            parts
                .status
                .canonical_reason()
                .unwrap_or("error")
                .to_string(),
        ),
        _ => (parts.status, text),
    };
    let info = ErrorInfo {
        name: kind.name(),
        message,
    };
    let mut out = error_response(status, info, Some(&method), Some(&url));
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

/// Ends a request when the backend gives up draining in-flight requests at shutdown, so that
/// no handler outlives `BackendHandle::stop`.
pub(crate) async fn cut_off(
    State(mut cut_off): State<watch::Receiver<bool>>,
    req: Request,
    next: Next,
) -> Response {
    let cut = async move {
        // A dropped sender (the handle was dropped without `stop`) never cuts off.
        if cut_off.wait_for(|cut| *cut).await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        res = next.run(req) => res,
        () = cut => ApiError::service_unavailable("the backend stopped before the request completed")
            .into_response(),
    }
}

/// Logs each request's method, path, status and duration.
pub(crate) async fn log_request(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let res = next.run(req).await;
    let status = res.status().as_u16();
    // Two decimals: `duration_ms=0.36`, not `0.35708700000000004`.
    let duration_ms = (start.elapsed().as_secs_f64() * 100_000.0).round() / 100.0;
    if status >= 500 {
        tracing::warn!(target: "backlot::http", %method, %path, status, duration_ms, "request");
    } else {
        tracing::info!(target: "backlot::http", %method, %path, status, duration_ms, "request");
    }
    res
}

/// Turns a handler panic into a 500 error JSON.
pub(crate) fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    tracing::error!(panic = %detail, "request handler panicked");
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    res.extensions_mut().insert(ErrorInfo {
        name: "Error",
        message: "Internal Server Error".to_string(),
    });
    res
}
