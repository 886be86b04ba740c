//! The cache manager: one store per backend, one client per plugin.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::config::{CacheConfig, StoreKind};
use super::{CacheClient, CacheError, CacheStore, MemoryStore};

/// Builds the configured [`CacheStore`] once and hands out a [`CacheClient`] per plugin.
///
/// Building never touches the network: remote stores connect lazily in the background, so a
/// cache server that is down at startup only makes the first operations miss.
///
/// ```
/// use std::time::Duration;
/// use backlot::services::cache::CacheManager;
/// use serde_json::json;
///
/// let manager = CacheManager::from_config(Some(&json!({
///     "store": "memory",
///     "defaultTtl": { "minutes": 5 },
///     "memory": { "maxItems": 1000 },
/// })))?;
/// assert_eq!(manager.store_name(), "memory");
/// let cache = manager.for_plugin("catalog");
/// assert_eq!(cache.default_ttl(), Some(Duration::from_secs(300)));
/// # Ok::<(), backlot::services::cache::CacheError>(())
/// ```
#[derive(Debug, Clone)]
pub struct CacheManager {
    store: Arc<dyn CacheStore>,
    store_name: &'static str,
    namespace_prefix: String,
    separator: String,
    default_ttl: Option<Duration>,
}

/// What a store constructor returns: the store plus the key layout Backstage uses for it.
#[cfg_attr(
    not(any(feature = "redis", feature = "memcache", feature = "infinispan")),
    allow(dead_code)
)]
pub(crate) struct BuiltStore {
    pub(crate) store: Arc<dyn CacheStore>,
    /// Put before the plugin id (`<namespace><sep>` for redis, `keyPrefix` for valkey).
    pub(crate) namespace_prefix: String,
    /// Put between the plugin id and the key.
    pub(crate) separator: String,
}

impl CacheManager {
    /// Builds the manager from the `backend.cache` config subtree given as JSON; `None`
    /// (no `backend.cache`) selects the memory store.
    ///
    /// Fails with [`CacheError::UnknownStore`], [`CacheError::FeatureDisabled`] or
    /// [`CacheError::InvalidConfig`] (naming the key) on bad config; never because a cache
    /// server is unreachable.
    ///
    /// Plugins take their cache from [`CACHE`](crate::services::core_services::CACHE), built
    /// from this manager once per backend; a second manager would not share its store.
    #[doc(hidden)]
    pub fn from_config(backend_cache: Option<&Value>) -> Result<CacheManager, CacheError> {
        let config = CacheConfig::parse(backend_cache)?;
        let empty = Value::Null;
        let root = backend_cache.unwrap_or(&empty);
        let (name, built) = match config.store {
            StoreKind::Memory => (
                "memory",
                BuiltStore {
                    store: Arc::new(MemoryStore::new(config.memory)),
                    namespace_prefix: String::new(),
                    separator: ":".into(),
                },
            ),
            StoreKind::Redis | StoreKind::Valkey => {
                let name = if config.store == StoreKind::Redis {
                    "redis"
                } else {
                    "valkey"
                };
                #[cfg(feature = "redis")]
                {
                    (name, super::redis::build(&config, root)?)
                }
                #[cfg(not(feature = "redis"))]
                return Err(disabled(name, "redis"));
            }
            StoreKind::Memcache => {
                #[cfg(feature = "memcache")]
                {
                    ("memcache", super::memcache::build(&config, root)?)
                }
                #[cfg(not(feature = "memcache"))]
                return Err(disabled("memcache", "memcache"));
            }
            StoreKind::Infinispan => {
                #[cfg(feature = "infinispan")]
                {
                    ("infinispan", super::infinispan::build(&config, root)?)
                }
                #[cfg(not(feature = "infinispan"))]
                return Err(disabled("infinispan", "infinispan"));
            }
        };
        let _ = root;
        Ok(CacheManager {
            store: built.store,
            store_name: name,
            namespace_prefix: built.namespace_prefix,
            separator: built.separator,
            default_ttl: config.default_ttl,
        })
    }

    /// A manager over a store of your own (keys are `<pluginId>:<key>`, no default TTL).
    ///
    /// The store must bound its operations in time itself; see [`CacheStore`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use backlot::services::cache::{CacheManager, MemoryStore, MemoryStoreOptions};
    ///
    /// let store = Arc::new(MemoryStore::new(MemoryStoreOptions { max_items: 10, max_bytes: 1 << 20 }));
    /// let manager = CacheManager::with_store(store);
    /// assert_eq!(manager.for_plugin("catalog").store_key("k"), "catalog:aw==");
    /// ```
    pub fn with_store(store: Arc<dyn CacheStore>) -> CacheManager {
        CacheManager {
            store,
            store_name: "custom",
            namespace_prefix: String::new(),
            separator: ":".into(),
            default_ttl: None,
        }
    }

    /// The same manager with `ttl` as the default TTL of every plugin's client
    /// (`backend.cache.defaultTtl`).
    #[must_use]
    pub fn with_default_ttl(mut self, ttl: Option<Duration>) -> CacheManager {
        self.default_ttl = ttl;
        self
    }

    /// The cache client of `plugin_id`: keys prefixed by the plugin id, JSON values.
    pub fn for_plugin(&self, plugin_id: &str) -> CacheClient {
        let prefix = format!("{}{plugin_id}{}", self.namespace_prefix, self.separator);
        CacheClient::new(self.store.clone(), plugin_id, prefix, self.default_ttl)
    }

    /// The shared store behind every plugin's client.
    pub fn store(&self) -> Arc<dyn CacheStore> {
        self.store.clone()
    }

    /// `memory`, `redis`, `valkey`, `memcache`, `infinispan`, or `custom` for
    /// [`with_store`](Self::with_store).
    pub fn store_name(&self) -> &'static str {
        self.store_name
    }

    /// The default TTL of new plugin clients.
    pub fn default_ttl(&self) -> Option<Duration> {
        self.default_ttl
    }
}

#[cfg_attr(
    all(feature = "redis", feature = "memcache", feature = "infinispan"),
    allow(dead_code)
)]
fn disabled(store: &str, feature: &'static str) -> CacheError {
    CacheError::FeatureDisabled {
        store: store.to_owned(),
        feature,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn memory_is_the_default_and_prefixes_plugin_ids() {
        let m = CacheManager::from_config(None).unwrap();
        assert_eq!(m.store_name(), "memory");
        assert_eq!(m.for_plugin("catalog").store_key("a"), "catalog:YQ==");
        let m = CacheManager::from_config(Some(&json!({}))).unwrap();
        assert_eq!(m.store_name(), "memory");
    }

    #[test]
    fn unknown_store_fails() {
        let err = CacheManager::from_config(Some(&json!({"store": "dynamo"}))).unwrap_err();
        assert!(matches!(err, CacheError::UnknownStore { .. }));
    }

    #[tokio::test]
    async fn plugins_share_one_store() {
        let m = CacheManager::from_config(None).unwrap();
        m.for_plugin("a")
            .set("k", &1, crate::services::cache::SetOptions::default())
            .await;
        assert_eq!(m.store().get("a:aw==").await.unwrap(), Some(b"1".to_vec()));
    }
}
