//! The per-plugin cache client.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest as _, Sha256};

use super::{CacheClientOptions, CacheError, CacheStore, SetOptions};

/// A plugin's view of the cache: keys live in the plugin's own namespace and values are
/// JSON. This is backlot's `coreServices.cache`.
///
/// [`get`](Self::get), [`set`](Self::set) and [`delete`](Self::delete) never fail: a cache
/// server that is down, slow or answers garbage turns a `get` into a miss and a `set` or
/// `delete` into a no-op, each logged with `tracing::warn!` (at debug level while the store is
/// in reconnect backoff: the store logs the outage once). Callers that care use
/// [`try_get`](Self::try_get), [`try_set`](Self::try_set) and
/// [`try_delete`](Self::try_delete).
///
/// Keys are stored as `<prefix><pluginId>:<normalized key>` where the normalized key is the
/// base64 of the key, or the base64 of its SHA-256 when that would be 200 characters or
/// longer, exactly like Backstage's cache client (safe for memcached's key rules).
///
/// ```
/// use std::time::Duration;
/// use backlot::services::cache::{CacheManager, SetOptions};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, PartialEq, Debug)]
/// struct Build { id: u32, ok: bool }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let manager = CacheManager::from_config(None)?; // memory store
/// let cache = manager.for_plugin("catalog");
///
/// cache.set("build:1", &Build { id: 1, ok: true }, SetOptions::default()).await;
/// assert_eq!(cache.get::<Build>("build:1").await, Some(Build { id: 1, ok: true }));
///
/// // another plugin never sees it
/// assert_eq!(manager.for_plugin("search").get::<Build>("build:1").await, None);
///
/// // values can expire
/// cache.set("flag", "on", SetOptions::ttl(Duration::from_millis(20))).await;
/// tokio::time::sleep(Duration::from_millis(40)).await;
/// assert_eq!(cache.get::<String>("flag").await, None);
///
/// cache.delete("build:1").await;
/// assert_eq!(cache.try_get::<Build>("build:1").await?, None);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct CacheClient {
    store: Arc<dyn CacheStore>,
    plugin_id: Arc<str>,
    prefix: Arc<str>,
    default_ttl: Option<Duration>,
    metrics: Option<crate::services::metrics::PluginMetrics>,
}

impl CacheClient {
    /// A client for `plugin_id` whose store keys all start with `prefix`.
    pub(crate) fn new(
        store: Arc<dyn CacheStore>,
        plugin_id: &str,
        prefix: String,
        default_ttl: Option<Duration>,
    ) -> Self {
        Self {
            store,
            plugin_id: Arc::from(plugin_id),
            prefix: Arc::from(prefix),
            default_ttl,
            metrics: None,
        }
    }

    /// The same client, counting its reads as hits and misses in `metrics`.
    pub(crate) fn with_metrics(mut self, metrics: crate::services::metrics::PluginMetrics) -> Self {
        if metrics.enabled() {
            self.metrics = Some(metrics);
        }
        self
    }

    /// The plugin this client belongs to.
    pub fn plugin_id(&self) -> &str {
        &self.plugin_id
    }

    /// The TTL used by [`set`](Self::set) when the call gives none.
    pub fn default_ttl(&self) -> Option<Duration> {
        self.default_ttl
    }

    /// The key under which `key` is kept in the underlying [`CacheStore`].
    ///
    /// ```
    /// # use backlot::services::cache::CacheManager;
    /// let cache = CacheManager::from_config(None).unwrap().for_plugin("catalog");
    /// assert_eq!(cache.store_key("a"), "catalog:YQ==");
    /// ```
    pub fn store_key(&self, key: &str) -> String {
        let encoded = BASE64.encode(key.as_bytes());
        let normalized = if encoded.len() < 200 {
            encoded
        } else {
            BASE64.encode(Sha256::digest(key.as_bytes()))
        };
        let mut out = String::with_capacity(self.prefix.len() + normalized.len());
        out.push_str(&self.prefix);
        out.push_str(&normalized);
        out
    }

    /// A client for the same plugin and store with `options` applied; options left `None`
    /// keep this client's values.
    ///
    /// ```
    /// use std::time::Duration;
    /// use backlot::services::cache::{CacheClientOptions, CacheManager};
    ///
    /// let cache = CacheManager::from_config(None).unwrap().for_plugin("techdocs");
    /// let hourly = cache.with_options(CacheClientOptions::default_ttl(Duration::from_secs(3600)));
    /// assert_eq!(hourly.default_ttl(), Some(Duration::from_secs(3600)));
    /// assert_eq!(cache.default_ttl(), None);
    /// ```
    #[must_use]
    pub fn with_options(&self, options: CacheClientOptions) -> CacheClient {
        let mut client = self.clone();
        if let Some(ttl) = options.default_ttl {
            client.default_ttl = Some(ttl);
        }
        client
    }

    /// Reads `key`; a missing key, a store failure and a value that is not JSON of type `T`
    /// are all `None` (failures are logged).
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        match self.try_get(key).await {
            Ok(value) => value,
            Err(err) => {
                log_failure(&self.plugin_id, "get", key, &err);
                None
            }
        }
    }

    /// Reads `key`, reporting store and JSON failures.
    pub async fn try_get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, CacheError> {
        let result = self.read(key).await;
        if let Some(metrics) = &self.metrics {
            metrics.record_cache_read(matches!(result, Ok(Some(_))));
        }
        result
    }

    async fn read<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, CacheError> {
        let Some(bytes) = self.store.get(&self.store_key(key)).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| CacheError::Json {
                key: key.to_owned(),
                source,
            })
    }

    /// Stores `value` as JSON under `key`; a failure is logged and otherwise ignored.
    pub async fn set<T: Serialize + ?Sized>(&self, key: &str, value: &T, options: SetOptions) {
        if let Err(err) = self.try_set(key, value, options).await {
            log_failure(&self.plugin_id, "set", key, &err);
        }
    }

    /// Stores `value` as JSON under `key`, reporting failures.
    pub async fn try_set<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        options: SetOptions,
    ) -> Result<(), CacheError> {
        let bytes = serde_json::to_vec(value).map_err(|source| CacheError::Json {
            key: key.to_owned(),
            source,
        })?;
        let ttl = options
            .ttl
            .or(self.default_ttl)
            .filter(|ttl| !ttl.is_zero());
        self.store.set(&self.store_key(key), bytes, ttl).await
    }

    /// Removes `key`; a failure is logged and otherwise ignored.
    pub async fn delete(&self, key: &str) {
        if let Err(err) = self.try_delete(key).await {
            log_failure(&self.plugin_id, "delete", key, &err);
        }
    }

    /// Removes `key`, reporting failures. Removing a missing key succeeds.
    pub async fn try_delete(&self, key: &str) -> Result<(), CacheError> {
        self.store.delete(&self.store_key(key)).await
    }
}

/// Logs a swallowed failure. `Unavailable` (the store is in reconnect backoff, which the
/// store itself logged once when the connection was lost) goes to debug so that a cache
/// outage does not log a line per request; everything else is a warning.
fn log_failure(plugin: &str, op: &str, key: &str, err: &CacheError) {
    if matches!(err, CacheError::Unavailable { .. }) {
        tracing::debug!(plugin, op, key, error = %chain(err), "cache unavailable, carrying on without it");
    } else {
        tracing::warn!(plugin, op, key, error = %chain(err), "cache operation failed, carrying on without it");
    }
}

fn chain(err: &CacheError) -> String {
    let mut out = err.to_string();
    let mut cur = std::error::Error::source(err);
    while let Some(e) = cur {
        out.push_str(": ");
        out.push_str(&e.to_string());
        cur = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::cache::MemoryStore;

    fn client(prefix: &str) -> CacheClient {
        CacheClient::new(
            Arc::new(MemoryStore::default()),
            "catalog",
            prefix.to_owned(),
            None,
        )
    }

    #[test]
    fn keys_are_normalized_like_backstage() {
        let c = client("catalog:");
        assert_eq!(c.store_key("hello world"), "catalog:aGVsbG8gd29ybGQ=");
        let long = "k".repeat(300);
        let key = c.store_key(&long);
        // sha256 digest (32 bytes) in base64 is 44 characters
        assert_eq!(key.len(), "catalog:".len() + 44);
        assert_ne!(key, c.store_key(&"k".repeat(301)));
    }

    #[tokio::test]
    async fn bad_json_is_a_miss_and_an_error_for_try_get() {
        let c = client("catalog:");
        c.store
            .set(&c.store_key("k"), b"{not json".to_vec(), None)
            .await
            .unwrap();
        assert_eq!(c.get::<serde_json::Value>("k").await, None);
        assert!(matches!(
            c.try_get::<serde_json::Value>("k").await,
            Err(CacheError::Json { key, .. }) if key == "k"
        ));
        c.set("n", &5u32, SetOptions::default()).await;
        assert_eq!(c.get::<String>("n").await, None, "wrong type is a miss");
        assert_eq!(c.get::<u32>("n").await, Some(5));
    }

    #[tokio::test]
    async fn default_ttl_applies_and_call_ttl_wins() {
        let c =
            client("p:").with_options(CacheClientOptions::default_ttl(Duration::from_millis(400)));
        c.set("default", &1, SetOptions::default()).await;
        c.set("short", &1, SetOptions::ttl(Duration::from_millis(100)))
            .await;
        c.set("zero", &1, SetOptions::ttl(Duration::ZERO)).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(c.get::<i32>("short").await, None);
        assert_eq!(c.get::<i32>("default").await, Some(1));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(c.get::<i32>("default").await, None);
        assert_eq!(
            c.get::<i32>("zero").await,
            Some(1),
            "zero ttl never expires"
        );
    }
}
