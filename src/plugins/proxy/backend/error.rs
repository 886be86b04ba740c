//! The proxy's errors: bad config at start ([`ProxyConfigError`]) and the gateway errors a
//! request can meet (Backstage's error JSON with status 502 or 504).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::services::config::ConfigError;

/// Config the proxy cannot start with; the message names the endpoint or key.
///
/// ```
/// use backlot::plugins::proxy::backend::ProxyConfigError;
///
/// let err = ProxyConfigError::Endpoint { route: "/ci".into(), reason: "'target' is missing".into() };
/// assert_eq!(err.to_string(), "proxy endpoint '/ci': 'target' is missing");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyConfigError {
    /// An endpoint of `proxy.endpoints` (or of a module) is invalid.
    #[error("proxy endpoint '{route}': {reason}")]
    Endpoint {
        /// The endpoint's route as configured.
        route: String,
        /// What is wrong.
        reason: String,
    },
    /// A plugin-wide setting is invalid.
    #[error("{key}: {reason}")]
    Setting {
        /// The config key.
        key: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A config value has the wrong type.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// A gateway error (502, 504) with Backstage's error JSON, request part included (the crate's
/// error kinds stop at 503, so the body is built here in the same shape).
pub(crate) fn gateway_error(
    status: StatusCode,
    message: &str,
    method: &str,
    url: &str,
) -> Response {
    let body = serde_json::json!({
        "error": { "name": "Error", "message": message },
        "request": { "method": method, "url": url },
        "response": { "statusCode": status.as_u16() },
    });
    let mut res = (status, body.to_string()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    res
}
