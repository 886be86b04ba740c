//! A plugin's own ES256 keys for plugin-to-plugin tokens.
//!
//! The private key lives only in this process's memory; its public key is written to the
//! plugin's database (table `backlot_plugin_keys`) with an expiry, so every replica sharing
//! the database publishes the keys of all replicas at `/.backstage/auth/v1/jwks.json`. A key
//! signs for [`KEY_LIFETIME`], then a new one is made; an old public key stays published until
//! every token it signed has expired.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{Mutex, OnceCell};

use super::AuthError;
use super::jwt::{EcSigningKey, Jwk, JwkSet};
use crate::services::database::{PluginDatabase, Sql};

/// How long one key signs new tokens.
pub(crate) const KEY_LIFETIME: Duration = Duration::from_secs(3600);
/// The longest lifetime of a plugin token.
pub(crate) const TOKEN_LIFETIME: Duration = Duration::from_secs(600);

/// The signing key store of one plugin.
#[derive(Debug)]
pub(crate) struct PluginKeyStore {
    db: Arc<PluginDatabase>,
    table: OnceCell<()>,
    current: Mutex<Option<(Arc<EcSigningKey>, SystemTime)>>,
}

pub(crate) fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn db_error(e: impl std::fmt::Display) -> AuthError {
    AuthError::Internal(format!("plugin key store: {e}"))
}

impl PluginKeyStore {
    pub(crate) fn new(db: Arc<PluginDatabase>) -> Self {
        Self {
            db,
            table: OnceCell::new(),
            current: Mutex::new(None),
        }
    }

    async fn ensure_table(&self) -> Result<(), AuthError> {
        self.table
            .get_or_try_init(|| async {
                Sql::new(
                    "CREATE TABLE IF NOT EXISTS backlot_plugin_keys (
                        kid ${key} PRIMARY KEY,
                        jwk ${text} NOT NULL,
                        expires_at ${bigint} NOT NULL)",
                )
                .execute(self.db.as_ref())
                .await
                .map(|_| ())
                .map_err(db_error)
            })
            .await
            .map(|_| ())
    }

    /// The key to sign with now, making (and publishing) a new one when the current one is
    /// older than [`KEY_LIFETIME`].
    pub(crate) async fn signing_key(&self) -> Result<Arc<EcSigningKey>, AuthError> {
        let mut current = self.current.lock().await;
        let now = SystemTime::now();
        if let Some((key, made)) = current.as_ref()
            && now.duration_since(*made).unwrap_or_default() < KEY_LIFETIME
        {
            return Ok(key.clone());
        }
        self.ensure_table().await?;
        let kid = uuid::Uuid::new_v4().to_string();
        let key =
            Arc::new(EcSigningKey::generate(&kid).map_err(|e| AuthError::Internal(e.to_string()))?);
        let jwk = serde_json::to_string(&key.public_jwk()).map_err(db_error)?;
        // Published until the last token it can sign has expired, with a margin for skew.
        let expires = now + KEY_LIFETIME + TOKEN_LIFETIME + Duration::from_secs(60);
        Sql::new("INSERT INTO backlot_plugin_keys (kid, jwk, expires_at) VALUES (?, ?, ?)")
            .bind(kid.as_str())
            .bind(jwk.as_str())
            .bind(unix(expires))
            .execute(self.db.as_ref())
            .await
            .map_err(db_error)?;
        Sql::new("DELETE FROM backlot_plugin_keys WHERE expires_at < ?")
            .bind(unix(now))
            .execute(self.db.as_ref())
            .await
            .map_err(db_error)?;
        *current = Some((key.clone(), now));
        Ok(key)
    }

    /// Every unexpired public key.
    pub(crate) async fn public_keys(&self) -> Result<JwkSet, AuthError> {
        self.ensure_table().await?;
        let rows: Vec<(String,)> =
            Sql::new("SELECT jwk FROM backlot_plugin_keys WHERE expires_at >= ? ORDER BY kid")
                .bind(unix(SystemTime::now()))
                .fetch_all(self.db.as_ref())
                .await
                .map_err(db_error)?;
        let keys = rows
            .into_iter()
            .filter_map(|(j,)| serde_json::from_str::<Jwk>(&j).ok())
            .collect();
        Ok(JwkSet { keys })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::database::DatabaseManager;

    #[tokio::test]
    async fn keys_are_published_and_reused() {
        let db = Arc::new(
            DatabaseManager::in_memory()
                .for_plugin("p")
                .await
                .expect("db"),
        );
        let store = PluginKeyStore::new(db.clone());
        let a = store.signing_key().await.expect("key");
        let b = store.signing_key().await.expect("key");
        assert_eq!(a.kid(), b.kid());
        // A second replica on the same database publishes both keys.
        let other = PluginKeyStore::new(db);
        let c = other.signing_key().await.expect("key");
        let kids: Vec<_> = store
            .public_keys()
            .await
            .expect("keys")
            .keys
            .into_iter()
            .filter_map(|k| k.kid)
            .collect();
        assert!(kids.contains(&a.kid().to_string()) && kids.contains(&c.kid().to_string()));
    }
}
