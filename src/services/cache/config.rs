//! Reading the `backend.cache` config subtree.

use std::time::Duration;

use serde_json::Value;

use super::CacheError;
use super::memory::MemoryStoreOptions;

/// The default for `backend.cache.timeout`.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_millis(250);
/// The default for `backend.cache.connectTimeout`.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The store named by `backend.cache.store`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreKind {
    Memory,
    Redis,
    Valkey,
    Memcache,
    Infinispan,
}

/// The parts of `backend.cache` every store shares.
#[derive(Debug, Clone)]
#[cfg_attr(
    not(any(feature = "redis", feature = "memcache", feature = "infinispan")),
    allow(dead_code)
)]
pub(crate) struct CacheConfig {
    pub(crate) store: StoreKind,
    #[cfg_attr(not(any(feature = "redis", feature = "memcache")), allow(dead_code))]
    pub(crate) connection: Option<String>,
    pub(crate) default_ttl: Option<Duration>,
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) memory: MemoryStoreOptions,
}

impl CacheConfig {
    pub(crate) fn parse(root: Option<&Value>) -> Result<Self, CacheError> {
        let empty = Value::Null;
        let root = root.unwrap_or(&empty);
        if !root.is_null() && !root.is_object() {
            return Err(invalid("backend.cache", "expected an object"));
        }
        let store = match opt_str(root, "store")? {
            None | Some("memory") => StoreKind::Memory,
            Some("redis") => StoreKind::Redis,
            Some("valkey") => StoreKind::Valkey,
            Some("memcache") => StoreKind::Memcache,
            Some("infinispan") => StoreKind::Infinispan,
            Some(other) => {
                return Err(CacheError::UnknownStore {
                    store: other.to_owned(),
                });
            }
        };
        let connection = opt_str(root, "connection")?
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        let default_ttl = match lookup(root, "defaultTtl") {
            None => None,
            Some(v) => Some(parse_duration("backend.cache.defaultTtl", v)?),
        };
        let timeout = match lookup(root, "timeout") {
            None => DEFAULT_TIMEOUT,
            Some(v) => parse_duration("backend.cache.timeout", v)?,
        };
        if timeout.is_zero() {
            return Err(invalid(
                "backend.cache.timeout",
                "must be greater than zero",
            ));
        }
        let connect_timeout = match lookup(root, "connectTimeout") {
            None => DEFAULT_CONNECT_TIMEOUT,
            Some(v) => parse_duration("backend.cache.connectTimeout", v)?,
        };
        if connect_timeout.is_zero() {
            return Err(invalid(
                "backend.cache.connectTimeout",
                "must be greater than zero",
            ));
        }
        let mut memory = MemoryStoreOptions::default();
        if let Some(n) = opt_usize(root, "memory.maxItems")? {
            memory.max_items = n;
        }
        if let Some(n) = opt_usize(root, "memory.maxBytes")? {
            memory.max_bytes = n;
        }
        Ok(Self {
            store,
            connection,
            default_ttl,
            timeout,
            connect_timeout,
            memory,
        })
    }
}

/// An `InvalidConfig` error for `key` (a full config key).
pub(crate) fn invalid(key: &str, message: impl Into<String>) -> CacheError {
    CacheError::InvalidConfig {
        key: key.to_owned(),
        message: message.into(),
    }
}

/// The value at a dotted path below `backend.cache`, `None` when absent or null.
pub(crate) fn lookup<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = root;
    for part in path.split('.') {
        cur = cur.get(part)?;
    }
    (!cur.is_null()).then_some(cur)
}

pub(crate) fn opt_str<'a>(root: &'a Value, path: &str) -> Result<Option<&'a str>, CacheError> {
    match lookup(root, path) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(
            &format!("backend.cache.{path}"),
            "expected a string",
        )),
    }
}

#[cfg_attr(not(any(feature = "redis", feature = "infinispan")), allow(dead_code))]
pub(crate) fn opt_bool(root: &Value, path: &str) -> Result<Option<bool>, CacheError> {
    match lookup(root, path) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s == "true" || s == "false" => Ok(Some(s == "true")),
        Some(_) => Err(invalid(
            &format!("backend.cache.{path}"),
            "expected a boolean",
        )),
    }
}

pub(crate) fn opt_usize(root: &Value, path: &str) -> Result<Option<usize>, CacheError> {
    let key = || format!("backend.cache.{path}");
    match lookup(root, path) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| invalid(&key(), "expected a non-negative integer")),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| invalid(&key(), "expected a non-negative integer")),
        Some(_) => Err(invalid(&key(), "expected a non-negative integer")),
    }
}

/// Parses a duration with the crate's one duration parser
/// ([`parse_duration_value`](crate::services::config::parse_duration_value): milliseconds,
/// `'1h'`, `'1h 30m'`, `'PT1M'`, `{ hours: 1, minutes: 30 }`); for the cache keys a bare
/// number string is milliseconds too, as Backstage's cache config reads it.
pub(crate) fn parse_duration(key: &str, value: &Value) -> Result<Duration, CacheError> {
    if let Value::String(s) = value
        && let Ok(ms) = s.trim().parse::<u64>()
    {
        return Ok(Duration::from_millis(ms));
    }
    crate::services::config::parse_duration_value(value).map_err(|m| invalid(key, m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn d(v: Value) -> Result<Duration, CacheError> {
        parse_duration("backend.cache.defaultTtl", &v)
    }

    #[test]
    fn durations_in_every_backstage_form() {
        assert_eq!(d(json!(1500)).unwrap(), Duration::from_millis(1500));
        assert_eq!(d(json!("1500")).unwrap(), Duration::from_millis(1500));
        assert_eq!(d(json!("1h")).unwrap(), Duration::from_secs(3600));
        assert_eq!(d(json!("2 seconds")).unwrap(), Duration::from_secs(2));
        assert_eq!(d(json!("1.5d")).unwrap(), Duration::from_secs(36 * 3600));
        assert_eq!(d(json!("1h 30m")).unwrap(), Duration::from_secs(5400));
        assert_eq!(d(json!("PT1M")).unwrap(), Duration::from_secs(60));
        assert_eq!(
            d(json!("P1DT2H0.5S")).unwrap(),
            Duration::from_millis(26 * 3600 * 1000 + 500)
        );
        assert_eq!(
            d(json!({"hours": 1, "minutes": 30})).unwrap(),
            Duration::from_secs(5400)
        );
    }

    #[test]
    fn bad_durations_name_the_key() {
        for bad in [
            json!("soon"),
            json!(-5),
            json!("P"),
            json!("PT"),
            json!({"hour": 1}),
            json!(true),
        ] {
            let err = d(bad.clone()).unwrap_err();
            assert!(
                matches!(&err, CacheError::InvalidConfig { key, .. } if key == "backend.cache.defaultTtl"),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn parses_shared_keys_with_defaults() {
        let c = CacheConfig::parse(None).unwrap();
        assert_eq!(c.store, StoreKind::Memory);
        assert_eq!(c.timeout, DEFAULT_TIMEOUT);
        assert_eq!(c.default_ttl, None);
        let c = CacheConfig::parse(Some(&json!({
            "store": "valkey",
            "connection": "redis://h:1",
            "defaultTtl": "10m",
            "timeout": 100,
            "memory": {"maxItems": 5, "maxBytes": "1000"}
        })))
        .unwrap();
        assert_eq!(c.store, StoreKind::Valkey);
        assert_eq!(c.connection.as_deref(), Some("redis://h:1"));
        assert_eq!(c.default_ttl, Some(Duration::from_secs(600)));
        assert_eq!(c.timeout, Duration::from_millis(100));
        assert_eq!(c.memory.max_items, 5);
        assert_eq!(c.memory.max_bytes, 1000);
    }

    #[test]
    fn rejects_unknown_store_and_wrong_types() {
        let err = CacheConfig::parse(Some(&json!({"store": "mongo"}))).unwrap_err();
        assert!(matches!(err, CacheError::UnknownStore { store } if store == "mongo"));
        let err = CacheConfig::parse(Some(&json!({"store": 3}))).unwrap_err();
        assert!(
            matches!(err, CacheError::InvalidConfig { key, .. } if key == "backend.cache.store")
        );
        let err = CacheConfig::parse(Some(&json!({"timeout": 0}))).unwrap_err();
        assert!(
            matches!(err, CacheError::InvalidConfig { key, .. } if key == "backend.cache.timeout")
        );
        let err = CacheConfig::parse(Some(&json!({"memory": {"maxItems": -1}}))).unwrap_err();
        assert!(
            matches!(err, CacheError::InvalidConfig { key, .. } if key == "backend.cache.memory.maxItems")
        );
    }
}
