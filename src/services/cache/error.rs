//! The cache service's error type.

use std::time::Duration;

/// A boxed error from a cache store's client library or transport.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Errors of the cache service: configuration mistakes found by
/// [`CacheManager::from_config`](super::CacheManager::from_config) and failures of single
/// cache operations (which [`CacheClient`](super::CacheClient) turns into misses).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// `backend.cache.store` names a store backlot does not know.
    #[error(
        "unknown cache store '{store}' in backend.cache.store (expected memory, redis, valkey, memcache or infinispan)"
    )]
    UnknownStore {
        /// The configured store name.
        store: String,
    },
    /// The configured store exists but its cargo feature is not enabled.
    #[error("cache store '{store}' needs the cargo feature '{feature}' of backlot")]
    FeatureDisabled {
        /// The configured store name.
        store: String,
        /// The cargo feature that enables it.
        feature: &'static str,
    },
    /// A `backend.cache.*` value has the wrong type or form.
    #[error("invalid cache config at '{key}': {message}")]
    InvalidConfig {
        /// The full config key, e.g. `backend.cache.defaultTtl`.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// The operation did not finish within `backend.cache.timeout`.
    #[error("cache {op} of key '{key}' on {server} timed out after {timeout:?}")]
    Timeout {
        /// `get`, `set` or `delete`.
        op: &'static str,
        /// The store key (already namespaced).
        key: String,
        /// The cache server, `host:port` or URL without credentials.
        server: String,
        /// The timeout that elapsed.
        timeout: Duration,
    },
    /// No connection to the cache server is available right now (it is down or refusing
    /// connections; the store keeps reconnecting in the background).
    #[error("cache server {server} is unavailable")]
    Unavailable {
        /// The cache server, `host:port` or URL without credentials.
        server: String,
        /// Why the last connection attempt failed, when known.
        #[source]
        source: Option<BoxError>,
    },
    /// The cache server or its client library reported an error for an operation.
    #[error("cache {op} of key '{key}' on {server} failed")]
    Server {
        /// `get`, `set` or `delete`.
        op: &'static str,
        /// The store key (already namespaced).
        key: String,
        /// The cache server, `host:port` or URL without credentials.
        server: String,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// The cache server answered something that is not a valid response.
    #[error("cache server {server} sent an invalid response to {op} of key '{key}': {message}")]
    Protocol {
        /// `get`, `set` or `delete`.
        op: &'static str,
        /// The store key (already namespaced).
        key: String,
        /// The cache server, `host:port` or URL without credentials.
        server: String,
        /// What was wrong with the response.
        message: String,
    },
    /// A value could not be converted to or from JSON.
    #[error("cache value of key '{key}' is not valid json for the requested type")]
    Json {
        /// The key as the plugin gave it.
        key: String,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
}
