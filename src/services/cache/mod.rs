//! The cache service: Backstage's `coreServices.cache`, a keyv-style key-value cache with one
//! namespace per plugin, JSON values and TTLs.
//!
//! A plugin takes its [`CacheClient`], bound to its own namespace, from the
//! [`CACHE`](crate::services::core_services::CACHE) service ref. Behind it the backend builds
//! one [`CacheManager`] from the `backend.cache` config, owning one [`CacheStore`] selected by
//! `backend.cache.store`:
//!
//! | store | type | cargo feature |
//! |---|---|---|
//! | `memory` (default) | [`MemoryStore`]: in process, bounded, LRU eviction | — |
//! | `redis`, `valkey` | `RedisStore` (same protocol) | `redis` |
//! | `memcache` | `MemcacheStore` (memcached binary protocol, SASL PLAIN) | `memcache` |
//! | `infinispan` | `InfinispanStore` (Infinispan REST API v2) | `infinispan` |
//!
//! A broken cache server never breaks a request: every remote operation is bounded by
//! `backend.cache.timeout` (250 ms by default), a failed `get` is a miss, a failed `set` or
//! `delete` is logged, and stores reconnect in the background when the server comes back.
//! See `docs/cache.md` for every config key.
//!
//! ```
//! use backlot::backend::{Backend, Feature};
//! use backlot::services::cache::SetOptions;
//! use backlot::services::core_services::CACHE;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let plugin = Feature::plugin_fn("catalog", |reg| {
//!     reg.init(&CACHE, |cache| async move {
//!         cache.set("answer", &42, SetOptions::default()).await;
//!         assert_eq!(cache.get::<i32>("answer").await, Some(42));
//!         Ok(())
//!     })
//! });
//!
//! let backend = Backend::builder()
//!     .listen_addr(([127, 0, 0, 1], 0).into())
//!     .config_value(serde_json::json!({
//!         "backend": { "cache": { "store": "memory", "defaultTtl": "1h 30m" } }
//!     }))
//!     .add_feature(plugin)
//!     .start()
//!     .await?;
//! backend.stop().await?;
//! # Ok(())
//! # }
//! //! ```

mod client;
mod config;
mod error;
#[cfg(feature = "infinispan")]
mod infinispan;
mod manager;
#[cfg(feature = "memcache")]
mod memcache;
mod memory;
mod options;
#[cfg(any(feature = "redis", feature = "memcache"))]
mod reconnect;
#[cfg(feature = "redis")]
mod redis;

use std::time::Duration;

pub use client::CacheClient;
pub use error::{BoxError, CacheError};
#[cfg(feature = "infinispan")]
#[cfg_attr(docsrs, doc(cfg(feature = "infinispan")))]
pub use infinispan::{InfinispanAuth, InfinispanServer, InfinispanStore, InfinispanStoreOptions};
pub use manager::CacheManager;
#[cfg(feature = "memcache")]
#[cfg_attr(docsrs, doc(cfg(feature = "memcache")))]
pub use memcache::{MemcacheStore, MemcacheStoreOptions};
pub use memory::{MemoryStore, MemoryStoreOptions};
pub use options::{CacheClientOptions, SetOptions};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::{RedisStore, RedisStoreOptions};

/// A byte-oriented key-value store with TTLs behind a [`CacheManager`].
///
/// Keys arrive fully namespaced from [`CacheClient`]; values are opaque bytes (JSON in
/// practice). Implementations must bound every operation in time themselves (remote stores
/// use `backend.cache.timeout`) and must not panic on bad server answers: they return a
/// [`CacheError`], which the client turns into a miss. Deleting a missing key succeeds.
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Arc;
/// use std::time::Duration;
/// use backlot::services::cache::{CacheError, CacheManager, CacheStore, SetOptions};
///
/// /// A store that never expires anything (for illustration only).
/// #[derive(Debug, Default)]
/// struct MapStore(parking_lot::Mutex<HashMap<String, Vec<u8>>>);
///
/// #[async_trait::async_trait]
/// impl CacheStore for MapStore {
///     async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
///         Ok(self.0.lock().get(key).cloned())
///     }
///     async fn set(&self, key: &str, value: Vec<u8>, _ttl: Option<Duration>) -> Result<(), CacheError> {
///         self.0.lock().insert(key.to_owned(), value);
///         Ok(())
///     }
///     async fn delete(&self, key: &str) -> Result<(), CacheError> {
///         self.0.lock().remove(key);
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let store = Arc::new(MapStore::default());
/// let manager = CacheManager::with_store(store.clone());
/// manager.for_plugin("catalog").set("k", &[1, 2], SetOptions::default()).await;
/// assert_eq!(store.get("catalog:aw==").await.unwrap(), Some(b"[1,2]".to_vec()));
/// # }
/// ```
#[async_trait::async_trait]
pub trait CacheStore: Send + Sync + std::fmt::Debug + 'static {
    /// The value stored under `key`, `None` when absent or expired.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError>;
    /// Stores `value` under `key`, expiring after `ttl` when given.
    async fn set(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>)
    -> Result<(), CacheError>;
    /// Removes `key`.
    async fn delete(&self, key: &str) -> Result<(), CacheError>;
}
