//! Backstage's error JSON: one body shape and status mapping for every route.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The kind of an [`ApiError`], by Backstage's error names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ApiErrorKind {
    /// `InputError`, 400.
    Input,
    /// `AuthenticationError`, 401.
    Authentication,
    /// `NotAllowedError`, 403.
    NotAllowed,
    /// `NotFoundError`, 404.
    NotFound,
    /// `ConflictError`, 409.
    Conflict,
    /// `PayloadTooLargeError`, 413.
    PayloadTooLarge,
    /// `UriTooLongError`, 414: the request URL is longer than `backend.server.maxUrlLength`.
    UriTooLong,
    /// `UnsupportedMediaTypeError`, 415: a body that is not JSON sent to a JSON endpoint.
    UnsupportedMediaType,
    /// `HeadersTooLargeError`, 431: the request head is larger than
    /// `backend.server.maxHeaderSize`.
    HeadersTooLarge,
    /// `NotModifiedError`, 304.
    NotModified,
    /// `NotImplementedError`, 501.
    NotImplemented,
    /// `ServiceUnavailableError`, 503.
    ServiceUnavailable,
    /// `Error`, 502: an upstream a route forwards to (the proxy) could not be reached.
    BadGateway,
    /// `Error`, 504: an upstream a route forwards to did not answer in time.
    GatewayTimeout,
    /// Anything else: `Error`, 500, with no details sent to the client.
    Internal,
}

impl ApiErrorKind {
    /// Backstage's error name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Input => "InputError",
            Self::Authentication => "AuthenticationError",
            Self::NotAllowed => "NotAllowedError",
            Self::NotFound => "NotFoundError",
            Self::Conflict => "ConflictError",
            Self::PayloadTooLarge => "PayloadTooLargeError",
            Self::UriTooLong => "UriTooLongError",
            Self::UnsupportedMediaType => "UnsupportedMediaTypeError",
            Self::HeadersTooLarge => "HeadersTooLargeError",
            Self::NotModified => "NotModifiedError",
            Self::NotImplemented => "NotImplementedError",
            Self::ServiceUnavailable => "ServiceUnavailableError",
            Self::BadGateway | Self::GatewayTimeout | Self::Internal => "Error",
        }
    }

    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            Self::Input => StatusCode::BAD_REQUEST,
            Self::Authentication => StatusCode::UNAUTHORIZED,
            Self::NotAllowed => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Conflict => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UriTooLong => StatusCode::URI_TOO_LONG,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::NotModified => StatusCode::NOT_MODIFIED,
            Self::NotImplemented => StatusCode::NOT_IMPLEMENTED,
            Self::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::BadGateway => StatusCode::BAD_GATEWAY,
            Self::GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The kind a bare status maps to.
    pub fn from_status(status: StatusCode) -> Self {
        match status.as_u16() {
            304 => Self::NotModified,
            400 | 411 | 422 => Self::Input,
            414 => Self::UriTooLong,
            415 => Self::UnsupportedMediaType,
            431 => Self::HeadersTooLarge,
            405 => Self::NotFound,
            401 => Self::Authentication,
            403 => Self::NotAllowed,
            404 => Self::NotFound,
            409 => Self::Conflict,
            413 => Self::PayloadTooLarge,
            501 => Self::NotImplemented,
            503 => Self::ServiceUnavailable,
            _ => Self::Internal,
        }
    }
}

/// An error answered with Backstage's error JSON:
/// `{"error":{"name","message"},"request":{"method","url"},"response":{"statusCode"}}`.
///
/// Handlers return it (plugin errors convert to it with `From`); the backend's root layer adds
/// the `request` part. Internal errors are logged and answered as a bare 500 without details.
///
/// ```
/// use axum::response::IntoResponse;
/// use backlot::backend::ApiError;
///
/// let response = ApiError::not_found("no entity named 'x'").into_response();
/// assert_eq!(response.status(), 404);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", kind.name())]
pub struct ApiError {
    kind: ApiErrorKind,
    message: String,
}

impl ApiError {
    /// An error of any kind.
    pub fn new(kind: ApiErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// 400 `InputError`.
    pub fn input(message: impl Into<String>) -> Self {
        Self::new(ApiErrorKind::Input, message)
    }

    /// 401 `AuthenticationError`.
    pub fn authentication(message: impl Into<String>) -> Self {
        Self::new(ApiErrorKind::Authentication, message)
    }

    /// 403 `NotAllowedError`.
    pub fn not_allowed(message: impl Into<String>) -> Self {
        Self::new(ApiErrorKind::NotAllowed, message)
    }

    /// 404 `NotFoundError`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ApiErrorKind::NotFound, message)
    }

    /// 409 `ConflictError`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ApiErrorKind::Conflict, message)
    }

    /// 304 `NotModifiedError`.
    pub fn not_modified(message: impl Into<String>) -> Self {
        Self::new(ApiErrorKind::NotModified, message)
    }

    /// 415 `UnsupportedMediaTypeError`.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(ApiErrorKind::UnsupportedMediaType, message)
    }

    /// 501 `NotImplementedError`.
    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self::new(ApiErrorKind::NotImplemented, message)
    }

    /// 503 `ServiceUnavailableError`.
    pub fn service_unavailable(message: impl Into<String>) -> Self {
        Self::new(ApiErrorKind::ServiceUnavailable, message)
    }

    /// 500: logs `error` and answers without its details.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(error = %error, "internal error");
        Self::new(ApiErrorKind::Internal, "Internal Server Error")
    }

    /// The kind.
    pub fn kind(&self) -> ApiErrorKind {
        self.kind
    }

    /// The message sent to the client.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Logs `error` with its whole source chain (which may hold SQL text or server addresses) and
/// returns a 500 that carries none of it.
fn internal_with_chain(service: &str, error: &dyn std::error::Error) -> ApiError {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    tracing::error!(service, error = %chain, "internal error");
    ApiError::new(ApiErrorKind::Internal, "Internal Server Error")
}

/// A database error answers 500 (logged with its details, sent without them); a `fetch_one`
/// that found no row answers 404. The SQL text and connection details stay in the log.
///
/// ```
/// use backlot::backend::{ApiError, ApiErrorKind};
/// use backlot::services::database::DatabaseError;
///
/// let err = DatabaseError::RowNotFound { sql: "SELECT secret FROM todos".into() };
/// let api: ApiError = err.into();
/// assert_eq!(api.kind(), ApiErrorKind::NotFound);
/// assert!(!api.message().contains("SELECT"));
/// ```
impl From<crate::services::database::DatabaseError> for ApiError {
    fn from(error: crate::services::database::DatabaseError) -> Self {
        use crate::services::database::DatabaseError;
        match error {
            DatabaseError::RowNotFound { .. } => Self::not_found("Not found"),
            other => internal_with_chain("database", &other),
        }
    }
}

/// A cache error answers 500, logged with its details (store addresses, server messages) and
/// sent without them.
///
/// ```
/// use backlot::backend::{ApiError, ApiErrorKind};
/// use backlot::services::cache::CacheError;
///
/// let err = CacheError::UnknownStore { store: "redis://user:pw@cache:6379".into() };
/// let api: ApiError = err.into();
/// assert_eq!(api.kind(), ApiErrorKind::Internal);
/// assert!(!api.message().contains("redis"));
/// ```
impl From<crate::services::cache::CacheError> for ApiError {
    fn from(error: crate::services::cache::CacheError) -> Self {
        internal_with_chain("cache", &error)
    }
}

/// A scheduler error: an unknown task answers 404, a task that cannot be triggered now 409,
/// anything else a logged 500 without details.
///
/// ```
/// use backlot::backend::{ApiError, ApiErrorKind};
/// use backlot::services::scheduler::SchedulerError;
///
/// let err = SchedulerError::NotFound { plugin_id: "todo".into(), id: "cleanup".into() };
/// assert_eq!(ApiError::from(err).kind(), ApiErrorKind::NotFound);
/// ```
impl From<crate::services::scheduler::SchedulerError> for ApiError {
    fn from(error: crate::services::scheduler::SchedulerError) -> Self {
        use crate::services::scheduler::SchedulerError;
        match &error {
            SchedulerError::NotFound { .. } => Self::not_found(error.to_string()),
            SchedulerError::Conflict { .. } => Self::conflict(error.to_string()),
            _ => internal_with_chain("scheduler", &error),
        }
    }
}

/// Marks a response as carrying an [`ApiError`], so the root layer can add request details.
#[derive(Debug, Clone)]
pub(crate) struct ErrorInfo {
    pub(crate) name: &'static str,
    pub(crate) message: String,
}

pub(crate) fn error_body(
    name: &str,
    message: &str,
    status: StatusCode,
    method: Option<&str>,
    url: Option<&str>,
) -> String {
    let mut body = json!({
        "error": { "name": name, "message": message },
        "response": { "statusCode": status.as_u16() },
    });
    if let (Some(method), Some(url)) = (method, url) {
        body["request"] = json!({ "method": method, "url": url });
    }
    body.to_string()
}

pub(crate) fn error_response(
    status: StatusCode,
    info: ErrorInfo,
    method: Option<&str>,
    url: Option<&str>,
) -> Response {
    if status == StatusCode::NOT_MODIFIED {
        let mut res = status.into_response();
        res.extensions_mut().insert(info);
        return res;
    }
    let body = error_body(info.name, &info.message, status, method, url);
    let mut res = (status, body).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    res.extensions_mut().insert(info);
    res
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.kind.status();
        error_response(
            status,
            ErrorInfo {
                name: self.kind.name(),
                message: self.message,
            },
            None,
            None,
        )
    }
}

/// Put in a response's extensions to keep the root layer from rewriting an error response
/// (for example a proxied upstream answer).
#[derive(Debug, Clone, Copy, Default)]
pub struct RawErrorResponse;
