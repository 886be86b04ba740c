//! What every plugin's auth service shares: the external-access config, the key sets fetched
//! from other plugins and identity providers, and the cache of verified tokens.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};

use super::external::{ExternalAccess, read_external_access};
use super::jwt::{Jwk, JwkSet};
use super::keys::PluginKeyStore;
use super::{AuthError, Credentials};
use crate::services::config::{Config, ConfigError};
use crate::services::discovery::DiscoveryService;

/// How long a fetched key set is used before it is fetched again.
const JWKS_MAX_AGE: Duration = Duration::from_secs(600);
/// The least time between two fetches of one key set (a token with an unknown `kid` cannot
/// make us fetch more often than this).
const JWKS_MIN_REFETCH: Duration = Duration::from_secs(10);
/// The largest key set body read.
const JWKS_MAX_BYTES: usize = 256 * 1024;
/// Key sets remembered (cleared when full).
const JWKS_SOURCES_CAP: usize = 1_000;
/// Verified tokens remembered (cleared when full).
const VERIFIED_CAP: usize = 20_000;

#[derive(Debug, Clone)]
struct CachedJwks {
    keys: Arc<Vec<Jwk>>,
    /// When `keys` were fetched.
    fetched: Instant,
    /// When a fetch was last tried.
    attempted: Instant,
}

/// A verified token remembered: its credentials, the plugin it was for (plugin tokens) and
/// its expiry.
#[derive(Debug, Clone)]
pub(crate) struct Verified {
    pub(crate) credentials: Credentials,
    pub(crate) audience: Option<String>,
    pub(crate) expires_at: SystemTime,
}

/// Where a key set comes from.
#[derive(Debug, Clone)]
pub(crate) enum KeySource {
    /// A plugin of this backend: its key store.
    Local(Arc<PluginKeyStore>),
    /// A URL serving a JWK set.
    Url(String),
}

/// Shared auth state of one backend.
#[derive(Debug)]
pub(crate) struct AuthRoot {
    pub(crate) external: Vec<ExternalAccess>,
    pub(crate) discovery: Arc<dyn DiscoveryService>,
    http: reqwest::Client,
    jwks: parking_lot::Mutex<HashMap<String, CachedJwks>>,
    verified: parking_lot::Mutex<HashMap<[u8; 32], Verified>>,
    local: parking_lot::Mutex<HashMap<String, Arc<PluginKeyStore>>>,
}

impl AuthRoot {
    pub(crate) fn from_config(
        config: &Config,
        discovery: Arc<dyn DiscoveryService>,
        http: reqwest::Client,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            external: read_external_access(config)?,
            discovery,
            http,
            jwks: parking_lot::Mutex::new(HashMap::new()),
            verified: parking_lot::Mutex::new(HashMap::new()),
            local: parking_lot::Mutex::new(HashMap::new()),
        })
    }

    /// Records the key store of a plugin of this backend.
    pub(crate) fn register_local(&self, plugin_id: &str, store: Arc<PluginKeyStore>) {
        self.local.lock().insert(plugin_id.to_string(), store);
    }

    /// Where the public keys of plugin `plugin_id` are: in this process, or at its
    /// `/.backstage/auth/v1/jwks.json` through discovery.
    pub(crate) fn plugin_key_source(&self, plugin_id: &str) -> KeySource {
        match self.local.lock().get(plugin_id) {
            Some(store) => KeySource::Local(store.clone()),
            None => KeySource::Url(format!(
                "{}/.backstage/auth/v1/jwks.json",
                self.discovery.base_url(plugin_id)
            )),
        }
    }

    /// The user-token keys: the auth plugin's `/.well-known/jwks.json`.
    pub(crate) fn user_key_source(&self) -> KeySource {
        KeySource::Url(format!(
            "{}/.well-known/jwks.json",
            self.discovery.base_url("auth")
        ))
    }

    /// The keys of `source`, fetched again when stale, or when `kid` is unknown and the last
    /// fetch is more than [`JWKS_MIN_REFETCH`] old.
    pub(crate) async fn keys(
        &self,
        source: &KeySource,
        kid: Option<&str>,
    ) -> Result<Arc<Vec<Jwk>>, AuthError> {
        let name = match source {
            KeySource::Local(store) => format!("local:{:p}", Arc::as_ptr(store)),
            KeySource::Url(url) => url.clone(),
        };
        // Decide under the lock, fetch without it: a slow key set never holds up the others.
        {
            let mut cache = self.jwks.lock();
            if let Some(c) = cache.get_mut(&name) {
                let known = kid.is_none_or(|k| c.keys.iter().any(|j| j.kid.as_deref() == Some(k)));
                if (known && c.fetched.elapsed() < JWKS_MAX_AGE)
                    || c.attempted.elapsed() < JWKS_MIN_REFETCH
                {
                    return Ok(c.keys.clone());
                }
                // One attempt per interval, whether it succeeds or not.
                c.attempted = Instant::now();
            }
        }
        let fetched = match source {
            KeySource::Local(store) => store.public_keys().await,
            KeySource::Url(url) => self.fetch_jwks(url).await,
        };
        let mut cache = self.jwks.lock();
        if cache.len() >= JWKS_SOURCES_CAP && !cache.contains_key(&name) {
            cache.clear();
        }
        let now = Instant::now();
        match fetched {
            Ok(set) => {
                let keys = Arc::new(set.keys);
                cache.insert(
                    name,
                    CachedJwks {
                        keys: keys.clone(),
                        fetched: now,
                        attempted: now,
                    },
                );
                Ok(keys)
            }
            Err(e) => {
                // Remember the failure too, so a flood of tokens naming an unreachable key
                // set fetches it once per interval.
                let entry = cache.entry(name).or_insert_with(|| CachedJwks {
                    keys: Arc::new(Vec::new()),
                    fetched: now.checked_sub(JWKS_MAX_AGE).unwrap_or(now),
                    attempted: now,
                });
                // Keys fetched before stay usable while their source is unreachable.
                if entry.keys.is_empty() {
                    Err(e)
                } else {
                    Ok(entry.keys.clone())
                }
            }
        }
    }

    async fn fetch_jwks(&self, url: &str) -> Result<JwkSet, AuthError> {
        let unavailable = |what: &str| {
            AuthError::Authentication(format!("cannot verify the token: key set {what}"))
        };
        let mut res = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|_| unavailable("unreachable"))?;
        if !res.status().is_success() {
            return Err(unavailable(&format!("answered {}", res.status().as_u16())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(|_| unavailable("unreadable"))? {
            body.extend_from_slice(&chunk);
            if body.len() > JWKS_MAX_BYTES {
                return Err(unavailable("too large"));
            }
        }
        serde_json::from_slice(&body).map_err(|_| unavailable("malformed"))
    }

    pub(crate) fn token_key(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    /// A remembered verification of `token`, if still unexpired.
    pub(crate) fn remembered(&self, key: &[u8; 32]) -> Option<Verified> {
        let map = self.verified.lock();
        let v = map.get(key)?;
        (v.expires_at > SystemTime::now()).then(|| v.clone())
    }

    pub(crate) fn remember(&self, key: [u8; 32], verified: Verified) {
        let mut map = self.verified.lock();
        if map.len() >= VERIFIED_CAP {
            let now = SystemTime::now();
            map.retain(|_, v| v.expires_at > now);
            if map.len() >= VERIFIED_CAP {
                map.clear();
            }
        }
        map.insert(key, verified);
    }
}
