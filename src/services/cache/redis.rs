//! The Redis / Valkey store (`backend.cache.store: redis | valkey`), on the `redis` crate.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ErrorKind, RedisError};
use serde_json::Value;

use super::config::{self, CacheConfig, StoreKind, invalid};
use super::error::BoxError;
use super::manager::BuiltStore;
use super::reconnect::{ConnectFn, Reconnecting};
use super::{CacheError, CacheStore};

/// Settings of a [`RedisStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisStoreOptions {
    /// Bound of one operation, waiting for a connection included (`backend.cache.timeout`).
    pub timeout: Duration,
    /// Bound of one background connection attempt (`backend.cache.connectTimeout`).
    pub connect_timeout: Duration,
    /// Delete with `UNLINK` instead of `DEL` (`backend.cache.redis.client.useUnlink`).
    pub use_unlink: bool,
}

impl Default for RedisStoreOptions {
    fn default() -> Self {
        Self {
            timeout: config::DEFAULT_TIMEOUT,
            connect_timeout: config::DEFAULT_CONNECT_TIMEOUT,
            use_unlink: false,
        }
    }
}

/// A cache store on a Redis or Valkey server (same protocol), over one multiplexed
/// connection that is opened lazily and replaced in the background when it breaks or a
/// command times out.
///
/// URLs: `redis://[user:pass@]host[:port][/db]`, `rediss://…` for TLS (`valkey://` and
/// `valkeys://` are accepted as aliases). Values are plain strings, TTLs use `PX`.
///
/// ```no_run
/// use backlot::services::cache::{CacheStore, RedisStore, RedisStoreOptions};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), backlot::services::cache::CacheError> {
/// let store = RedisStore::new("redis://127.0.0.1:6379/0", RedisStoreOptions::default())?;
/// store.set("catalog:k", b"1".to_vec(), None).await?;
/// assert_eq!(store.get("catalog:k").await?, Some(b"1".to_vec()));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RedisStore {
    conn: Reconnecting<MultiplexedConnection>,
    server: String,
    options: RedisStoreOptions,
}

impl RedisStore {
    /// A store for the server at `url`; does not connect yet.
    pub fn new(url: &str, options: RedisStoreOptions) -> Result<Self, CacheError> {
        let url = if let Some(rest) = url.strip_prefix("valkey://") {
            format!("redis://{rest}")
        } else if let Some(rest) = url.strip_prefix("valkeys://") {
            format!("rediss://{rest}")
        } else {
            url.to_owned()
        };
        let client = redis::Client::open(url.as_str()).map_err(|_| {
            invalid(
                "backend.cache.connection",
                "not a redis url (redis://[user:pass@]host[:port][/db] or rediss://...)",
            )
        })?;
        let server = client.get_connection_info().addr.to_string();
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(options.connect_timeout)
            .set_response_timeout(options.connect_timeout);
        let connect: ConnectFn<MultiplexedConnection> = Arc::new(move || {
            let client = client.clone();
            let config = config.clone();
            Box::pin(async move {
                client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                    .map_err(BoxError::from)
            })
        });
        Ok(Self {
            conn: Reconnecting::new(server.clone(), options.connect_timeout, connect),
            server,
            options,
        })
    }

    /// `host:port` of the server.
    pub fn server(&self) -> &str {
        &self.server
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        key: &str,
        cmd: redis::Cmd,
    ) -> Result<T, CacheError> {
        let mut used = None;
        let work = async {
            let (mut conn, generation) = self.conn.get().await?;
            used = Some(generation);
            cmd.query_async::<T>(&mut conn).await.map_err(|err| {
                if breaks_connection(&err) {
                    self.conn.invalidate(generation);
                }
                CacheError::Server {
                    op,
                    key: key.to_owned(),
                    server: self.server.clone(),
                    source: Box::new(err),
                }
            })
        };
        match tokio::time::timeout(self.options.timeout, work).await {
            Ok(result) => result,
            Err(_) => {
                // The server may never answer on this connection: start over with a new one.
                if let Some(generation) = used {
                    self.conn.invalidate(generation);
                }
                Err(CacheError::Timeout {
                    op,
                    key: key.to_owned(),
                    server: self.server.clone(),
                    timeout: self.options.timeout,
                })
            }
        }
    }
}

/// Whether an error leaves the connection unusable (anything but an error reply).
fn breaks_connection(err: &RedisError) -> bool {
    !matches!(
        err.kind(),
        ErrorKind::ResponseError
            | ErrorKind::TypeError
            | ErrorKind::ExecAbortError
            | ErrorKind::BusyLoadingError
            | ErrorKind::NoScriptError
            | ErrorKind::ExtensionError
            | ErrorKind::ReadOnly
    )
}

#[async_trait::async_trait]
impl CacheStore for RedisStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(key);
        self.run("get", key, cmd).await
    }

    async fn set(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<(), CacheError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value);
        if let Some(ttl) = ttl {
            cmd.arg("PX")
                .arg(ttl.as_millis().clamp(1, i64::MAX as u128) as u64);
        }
        self.run::<()>("set", key, cmd).await
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        let mut cmd = redis::cmd(if self.options.use_unlink {
            "UNLINK"
        } else {
            "DEL"
        });
        cmd.arg(key);
        self.run::<()>("delete", key, cmd).await
    }
}

/// Builds the store from `backend.cache` (`root`) with Backstage's key layout:
/// redis `[<namespace><sep>]<pluginId><sep><key>`, valkey `[<keyPrefix>]<pluginId>:<key>`.
pub(crate) fn build(config: &CacheConfig, root: &Value) -> Result<BuiltStore, CacheError> {
    let url = config.connection.as_deref().ok_or_else(|| {
        invalid(
            "backend.cache.connection",
            "required for the redis and valkey stores (redis://host:6379)",
        )
    })?;
    let (namespace_prefix, separator, use_unlink) = if config.store == StoreKind::Redis {
        let sep = config::opt_str(root, "redis.client.keyPrefixSeparator")?
            .filter(|s| !s.is_empty())
            .unwrap_or(":")
            .to_owned();
        let prefix = match config::opt_str(root, "redis.client.namespace")? {
            Some(ns) if !ns.is_empty() => format!("{ns}{sep}"),
            _ => String::new(),
        };
        let unlink = config::opt_bool(root, "redis.client.useUnlink")?.unwrap_or(false);
        (prefix, sep, unlink)
    } else {
        // The docs name `valkey.keyPrefix`; Backstage's code reads `valkey.client.keyPrefix`.
        let prefix = match config::opt_str(root, "valkey.keyPrefix")? {
            Some(p) => Some(p),
            None => config::opt_str(root, "valkey.client.keyPrefix")?,
        };
        (prefix.unwrap_or_default().to_owned(), ":".to_owned(), false)
    };
    for key in ["redis.cluster.rootNodes", "valkey.cluster.rootNodes"] {
        if config::lookup(root, key).is_some() {
            tracing::warn!(
                key = %format!("backend.cache.{key}"),
                "redis cluster mode is not supported; using backend.cache.connection only"
            );
        }
    }
    let store = RedisStore::new(
        url,
        RedisStoreOptions {
            timeout: config.timeout,
            connect_timeout: config.connect_timeout,
            use_unlink,
        },
    )?;
    Ok(BuiltStore {
        store: Arc::new(store),
        namespace_prefix,
        separator,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::cache::CacheManager;
    use serde_json::json;

    #[test]
    fn key_layout_follows_backstage() {
        let m = CacheManager::from_config(Some(&json!({
            "store": "redis", "connection": "redis://127.0.0.1:1",
            "redis": {"client": {"namespace": "my-app", "keyPrefixSeparator": "::"}}
        })))
        .unwrap();
        assert_eq!(
            m.for_plugin("catalog").store_key("a"),
            "my-app::catalog::YQ=="
        );
        let m = CacheManager::from_config(Some(&json!({
            "store": "redis", "connection": "redis://127.0.0.1:1"
        })))
        .unwrap();
        assert_eq!(m.for_plugin("catalog").store_key("a"), "catalog:YQ==");
        let m = CacheManager::from_config(Some(&json!({
            "store": "valkey", "connection": "valkey://127.0.0.1:1",
            "valkey": {"keyPrefix": "my-app:"}
        })))
        .unwrap();
        assert_eq!(m.store_name(), "valkey");
        assert_eq!(
            m.for_plugin("catalog").store_key("a"),
            "my-app:catalog:YQ=="
        );
        let m = CacheManager::from_config(Some(&json!({
            "store": "valkey", "connection": "redis://127.0.0.1:1",
            "valkey": {"client": {"keyPrefix": "x-"}}
        })))
        .unwrap();
        assert_eq!(m.for_plugin("catalog").store_key("a"), "x-catalog:YQ==");
    }

    #[test]
    fn connection_is_required_and_validated() {
        let err = CacheManager::from_config(Some(&json!({"store": "redis"}))).unwrap_err();
        assert!(
            matches!(err, CacheError::InvalidConfig { key, .. } if key == "backend.cache.connection")
        );
        let err = CacheManager::from_config(Some(&json!({
            "store": "redis", "connection": "http://secret@host"
        })))
        .unwrap_err();
        assert!(!err.to_string().contains("secret"));
        assert!(
            RedisStore::new(
                "rediss://u:p@example.com:6380/2",
                RedisStoreOptions::default()
            )
            .is_ok()
        );
    }
}
