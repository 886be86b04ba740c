//! Request checks at the HTTP edge: JSON bodies only for plugin APIs, URL and header sizes,
//! and a deadline for every request.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, ApiErrorKind};

/// Whether a `Content-Type` value is JSON: `application/json` or `application/*+json`, with
/// any parameters (`; charset=utf-8`).
pub(crate) fn is_json_content_type(value: &str) -> bool {
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json"))
}

fn has_body(headers: &HeaderMap) -> bool {
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match length {
        Some(n) => n > 0,
        None => headers.contains_key(header::TRANSFER_ENCODING),
    }
}

/// Plugin APIs take JSON bodies only. Browsers send `text/plain`, form and untyped bodies
/// across origins without a CORS preflight, so accepting them would let any web page write to
/// an internal portal (CSRF); such requests are answered 415 before they reach a handler.
pub(crate) async fn require_json_body(req: Request, next: Next) -> Response {
    let bodiless = matches!(
        *req.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    );
    if !bodiless && has_body(req.headers()) {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if !content_type.is_some_and(is_json_content_type) {
            let got = content_type.unwrap_or("none");
            return ApiError::unsupported_media_type(format!(
                "request bodies must be JSON (Content-Type: application/json), got {got}"
            ))
            .into_response();
        }
    }
    next.run(req).await
}

/// The per-request limits of [`request_limits`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestLimits {
    pub(crate) max_url_length: usize,
    pub(crate) max_header_size: usize,
    pub(crate) request_timeout: Duration,
}

/// Answers 414 for URLs over `maxUrlLength`, 431 for headers over `maxHeaderSize` (both with
/// the error JSON), and 503 for requests whose response is not ready within `requestTimeout`.
pub(crate) async fn request_limits(
    State(limits): State<Arc<RequestLimits>>,
    req: Request,
    next: Next,
) -> Response {
    let url_length = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if url_length > limits.max_url_length {
        return ApiError::new(
            ApiErrorKind::UriTooLong,
            format!(
                "the URL is {url_length} bytes long, more than the {} allowed",
                limits.max_url_length
            ),
        )
        .into_response();
    }
    let header_size: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if header_size > limits.max_header_size {
        return ApiError::new(
            ApiErrorKind::HeadersTooLarge,
            format!(
                "the request headers are {header_size} bytes, more than the {} allowed",
                limits.max_header_size
            ),
        )
        .into_response();
    }
    match tokio::time::timeout(limits.request_timeout, next.run(req)).await {
        Ok(res) => res,
        Err(_) => ApiError::service_unavailable(format!(
            "the request took longer than {} (backend.server.requestTimeout)",
            humantime::format_duration(limits.request_timeout)
        ))
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        assert!(is_json_content_type("application/json"));
        assert!(is_json_content_type("Application/JSON; charset=utf-8"));
        assert!(is_json_content_type("application/merge-patch+json"));
        assert!(!is_json_content_type("text/plain"));
        assert!(!is_json_content_type("text/plain; a=application/json"));
        assert!(!is_json_content_type("application/x-www-form-urlencoded"));
        assert!(!is_json_content_type("multipart/form-data; boundary=x"));
        assert!(!is_json_content_type("application/jsonp"));
        assert!(!is_json_content_type(""));
    }
}
