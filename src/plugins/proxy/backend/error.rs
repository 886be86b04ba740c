//! The proxy's config errors ([`ProxyConfigError`]); a request's gateway errors (502, 504)
//! are [`ApiErrorKind::BadGateway`](crate::backend::ApiErrorKind::BadGateway) and
//! [`ApiErrorKind::GatewayTimeout`](crate::backend::ApiErrorKind::GatewayTimeout).

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
