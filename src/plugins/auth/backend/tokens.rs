//! Backstage identity tokens: ES256 signing keys kept in the auth plugin's database, rotated
//! after one token lifetime, and published until every token they signed has expired.
//!
//! As Backstage's `TokenFactory` with its `DatabaseKeyStore` (table `signing_keys`: `kid`,
//! the public JWK in `key`, `created_at`), a key signs for `auth.backstageTokenExpiration`
//! and its public key stays listed for three times that. Unlike Backstage, when
//! `auth.session.secret` is set the private key is kept too (PKCS#8, sealed with a key derived
//! from the secret, column `private_key`), so a restarted backend or another replica signs
//! with the current key instead of making one more; without the secret the private key lives
//! only in memory, as in Backstage.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use tokio::sync::Mutex;

use super::session::SessionKeys;
use crate::services::auth::jwt::{self, EcSigningKey, Jwk, JwkSet, JwtHeader};
use crate::services::auth::{LIMITED_USER_TOKEN_TYPE, USER_TOKEN_AUDIENCE, USER_TOKEN_TYPE};
use crate::services::database::{Migration, PluginDatabase, Sql};

/// The auth plugin's tables.
pub(crate) static MIGRATIONS: &[Migration] = &[Migration::new(
    1,
    "auth_init",
    "CREATE TABLE signing_keys (
        kid ${key} PRIMARY KEY,
        key ${text} NOT NULL,
        private_key ${text},
        created_at ${bigint} NOT NULL
    );
    CREATE TABLE user_info (
        user_entity_ref ${key} PRIMARY KEY,
        user_info ${text} NOT NULL,
        updated_at ${bigint} NOT NULL
    );",
)
// `key` is a reserved word on MySQL: quoted there (queries quote it everywhere).
.with_mysql(
    "CREATE TABLE signing_keys (
        kid ${key} PRIMARY KEY,
        \"key\" ${text} NOT NULL,
        private_key ${text},
        created_at ${bigint} NOT NULL
    );
    CREATE TABLE user_info (
        user_entity_ref ${key} PRIMARY KEY,
        user_info ${text} NOT NULL,
        updated_at ${bigint} NOT NULL
    );",
)];

/// The largest token issued, as Backstage's limit.
const MAX_TOKEN_LENGTH: usize = 32768;

const PRIVATE_KEY_PURPOSE: &str = "signing-key";

/// Seconds since the epoch.
pub(crate) fn unix_now() -> i64 {
    unix(SystemTime::now())
}

fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Why a token could not be issued or keys could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct TokenError(pub(crate) String);

fn db_err(e: impl std::fmt::Display) -> TokenError {
    TokenError(format!("auth key store: {e}"))
}

#[derive(Serialize)]
struct UserClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    ent: &'a [String],
    aud: &'a str,
    iat: i64,
    exp: i64,
    uip: String,
}

/// The claims of the limited token whose signature is the `uip` claim, in this order.
#[derive(Serialize)]
struct LimitedClaims<'a> {
    sub: &'a str,
    iat: i64,
    exp: i64,
}

/// An issued identity token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IssuedToken {
    pub(crate) token: String,
    pub(crate) expires_at: i64,
}

/// Issues user identity tokens and lists the public keys that verify them.
#[derive(Debug)]
pub(crate) struct TokenIssuer {
    issuer: String,
    lifetime: Duration,
    db: Arc<PluginDatabase>,
    sealer: Option<Arc<SessionKeys>>,
    current: Mutex<Option<(Arc<EcSigningKey>, i64)>>,
}

impl TokenIssuer {
    /// An issuer with `iss` = `issuer`, tokens and keys living `lifetime`.
    pub(crate) fn new(
        issuer: String,
        lifetime: Duration,
        db: Arc<PluginDatabase>,
        sealer: Option<Arc<SessionKeys>>,
    ) -> Self {
        Self {
            issuer,
            lifetime,
            db,
            sealer,
            current: Mutex::new(None),
        }
    }

    /// The `iss` claim.
    pub(crate) fn issuer(&self) -> &str {
        &self.issuer
    }

    fn lifetime_secs(&self) -> i64 {
        i64::try_from(self.lifetime.as_secs()).unwrap_or(i64::MAX / 4)
    }

    /// The key to sign with at `now`: the one in use while younger than the lifetime, else a
    /// stored one another instance made (when private keys are kept), else a new one.
    async fn signing_key(&self, now: i64) -> Result<Arc<EcSigningKey>, TokenError> {
        let mut current = self.current.lock().await;
        if let Some((key, created)) = current.as_ref()
            && now - created < self.lifetime_secs()
        {
            return Ok(key.clone());
        }
        if let Some(found) = self.stored_key(now).await? {
            *current = Some(found.clone());
            return Ok(found.0);
        }
        let kid = uuid::Uuid::new_v4().to_string();
        let key = Arc::new(EcSigningKey::generate(&kid).map_err(|e| TokenError(e.to_string()))?);
        let jwk = serde_json::to_string(&key.public_jwk()).map_err(db_err)?;
        let private = self.sealer.as_ref().and_then(|s| {
            s.seal(
                PRIVATE_KEY_PURPOSE,
                STANDARD.encode(key.pkcs8_der()).as_bytes(),
            )
        });
        Sql::new(
            "INSERT INTO signing_keys (kid, \"key\", private_key, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(kid.as_str())
        .bind(jwk.as_str())
        .bind(private)
        .bind(now)
        .execute(self.db.as_ref())
        .await
        .map_err(db_err)?;
        *current = Some((key.clone(), now));
        Ok(key)
    }

    async fn stored_key(&self, now: i64) -> Result<Option<(Arc<EcSigningKey>, i64)>, TokenError> {
        let Some(sealer) = &self.sealer else {
            return Ok(None);
        };
        let rows: Vec<(String, Option<String>, i64)> = Sql::new(
            "SELECT kid, private_key, created_at FROM signing_keys
             WHERE private_key IS NOT NULL AND created_at > ? AND created_at <= ?
             ORDER BY created_at DESC",
        )
        .bind(now - self.lifetime_secs())
        .bind(now)
        .fetch_all(self.db.as_ref())
        .await
        .map_err(db_err)?;
        for (kid, private, created) in rows {
            let der = private
                .and_then(|p| sealer.open(PRIVATE_KEY_PURPOSE, &p))
                .and_then(|b64| STANDARD.decode(b64).ok());
            // A key sealed under another secret is skipped; its public key stays listed.
            if let Some(key) = der.and_then(|d| EcSigningKey::from_pkcs8(&kid, &d).ok()) {
                return Ok(Some((Arc::new(key), created)));
            }
        }
        Ok(None)
    }

    /// Issues a token for `sub` owning through `ent`, at the current time.
    pub(crate) async fn issue(&self, sub: &str, ent: &[String]) -> Result<IssuedToken, TokenError> {
        self.issue_at(sub, ent, unix_now()).await
    }

    /// Issues a token as if the time were `now` (seconds since the epoch).
    pub(crate) async fn issue_at(
        &self,
        sub: &str,
        ent: &[String],
        now: i64,
    ) -> Result<IssuedToken, TokenError> {
        use crate::plugins::catalog::common::EntityRef;
        if sub.parse::<EntityRef>().is_err() {
            return Err(TokenError(
                "\"sub\" claim provided by the auth resolver is not a valid EntityRef.".into(),
            ));
        }
        let key = self.signing_key(now).await?;
        let iat = now;
        let exp = now + self.lifetime_secs();
        let limited_header = JwtHeader::es256(key.kid()).with_typ(LIMITED_USER_TOKEN_TYPE);
        let limited_input = jwt::signing_input(&limited_header, &LimitedClaims { sub, iat, exp })
            .map_err(|e| TokenError(e.to_string()))?;
        let uip = key
            .sign_bytes(limited_input.as_bytes())
            .map_err(|e| TokenError(e.to_string()))?;
        let claims = UserClaims {
            iss: &self.issuer,
            sub,
            ent,
            aud: USER_TOKEN_AUDIENCE,
            iat,
            exp,
            uip,
        };
        let header = JwtHeader::es256(key.kid()).with_typ(USER_TOKEN_TYPE);
        let token = key
            .sign(&header, &claims)
            .map_err(|e| TokenError(e.to_string()))?;
        if token.len() > MAX_TOKEN_LENGTH {
            return Err(TokenError(format!(
                "Failed to issue a new user token. The resulting token is excessively large, \
                 with {} ownership claims for '{sub}'",
                ent.len()
            )));
        }
        self.record_user_info(sub, ent, exp, now).await?;
        Ok(IssuedToken {
            token,
            expires_at: exp,
        })
    }

    async fn record_user_info(
        &self,
        sub: &str,
        ent: &[String],
        exp: i64,
        now: i64,
    ) -> Result<(), TokenError> {
        let info = serde_json::json!({ "claims": { "sub": sub, "ent": ent, "exp": exp } });
        let upsert = self
            .db
            .dialect()
            .upsert(&["user_entity_ref"], &["user_info", "updated_at"]);
        Sql::new(format!(
            "INSERT INTO user_info (user_entity_ref, user_info, updated_at) VALUES (?, ?, ?) {upsert}"
        ))
        .bind(sub)
        .bind(info.to_string())
        .bind(now)
        .execute(self.db.as_ref())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// What was recorded about `user_entity_ref` when its last token was issued
    /// (`{claims: {sub, ent, exp}}`).
    pub(crate) async fn user_info(
        &self,
        user_entity_ref: &str,
    ) -> Result<Option<serde_json::Value>, TokenError> {
        let row: Option<(String,)> =
            Sql::new("SELECT user_info FROM user_info WHERE user_entity_ref = ?")
                .bind(user_entity_ref)
                .fetch_optional(self.db.as_ref())
                .await
                .map_err(db_err)?;
        Ok(row.and_then(|(s,)| serde_json::from_str(&s).ok()))
    }

    /// The public keys of every key whose tokens may still be valid; older ones are removed.
    pub(crate) async fn public_keys(&self) -> Result<JwkSet, TokenError> {
        self.public_keys_at(unix_now()).await
    }

    /// [`public_keys`](Self::public_keys) as if the time were `now`.
    pub(crate) async fn public_keys_at(&self, now: i64) -> Result<JwkSet, TokenError> {
        // A key signs for one lifetime and its last token lives one more; a third is margin,
        // as in Backstage.
        let cutoff = now - 3 * self.lifetime_secs();
        let rows: Vec<(String, i64)> =
            Sql::new("SELECT \"key\", created_at FROM signing_keys ORDER BY created_at DESC, kid")
                .fetch_all(self.db.as_ref())
                .await
                .map_err(db_err)?;
        // Expired keys are removed lazily, and only when there are some: this endpoint is
        // read far more often than keys expire.
        if rows.iter().any(|(_, created)| *created < cutoff) {
            Sql::new("DELETE FROM signing_keys WHERE created_at < ?")
                .bind(cutoff)
                .execute(self.db.as_ref())
                .await
                .map_err(db_err)?;
        }
        Ok(JwkSet {
            keys: rows
                .into_iter()
                .filter(|(_, created)| *created >= cutoff)
                .filter_map(|(k, _)| serde_json::from_str::<Jwk>(&k).ok())
                .collect(),
        })
    }

    /// The claims of `token` if this issuer's keys signed it, it is a user token (or the
    /// limited token made from one), and it has not expired.
    pub(crate) async fn verify(&self, token: &str) -> Result<serde_json::Value, String> {
        let t = jwt::decode_unverified(token).map_err(|e| e.to_string())?;
        let limited = match t.header.typ.as_deref() {
            Some(USER_TOKEN_TYPE) => false,
            Some(LIMITED_USER_TOKEN_TYPE) => true,
            _ => return Err("not a user identity token".into()),
        };
        let keys = self.public_keys().await.map_err(|e| e.to_string())?;
        t.verify(&keys.keys).map_err(|e| e.to_string())?;
        let c = &t.claims;
        if !limited
            && (c["iss"].as_str() != Some(self.issuer.as_str())
                || c["aud"].as_str() != Some(USER_TOKEN_AUDIENCE))
        {
            return Err("token is not from this issuer".into());
        }
        if c["exp"].as_i64().is_none_or(|exp| exp <= unix_now()) {
            return Err("token has expired".into());
        }
        Ok(t.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::database::DatabaseManager;

    async fn issuer(sealer: Option<Arc<SessionKeys>>) -> (TokenIssuer, Arc<PluginDatabase>) {
        let db = Arc::new(
            DatabaseManager::in_memory()
                .for_plugin("auth")
                .await
                .unwrap(),
        );
        db.migrate(MIGRATIONS).await.unwrap();
        let i = TokenIssuer::new(
            "http://localhost:7007/api/auth".into(),
            Duration::from_secs(3600),
            db.clone(),
            sealer,
        );
        (i, db)
    }

    #[tokio::test]
    async fn tokens_carry_the_claims_and_a_limited_token_proof() {
        let (i, _) = issuer(None).await;
        let ent = vec![
            "user:default/jane".to_string(),
            "group:default/a".to_string(),
        ];
        let t = i.issue("user:default/jane", &ent).await.unwrap();
        let keys = i.public_keys().await.unwrap();
        let (header, claims) = jwt::decode_verified(&t.token, &keys.keys).unwrap();
        assert_eq!(header.typ.as_deref(), Some(USER_TOKEN_TYPE));
        assert_eq!(claims["sub"], "user:default/jane");
        assert_eq!(claims["ent"], serde_json::json!(ent));
        assert_eq!(claims["aud"], "backstage");
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            3600
        );
        // The limited token rebuilt from the uip claim verifies with the same key.
        let limited_header =
            JwtHeader::es256(header.kid.as_deref().unwrap()).with_typ(LIMITED_USER_TOKEN_TYPE);
        // `sub`, `iat`, `exp` in this order, as the core rebuilds it.
        let limited_claims = LimitedClaims {
            sub: claims["sub"].as_str().unwrap(),
            iat: claims["iat"].as_i64().unwrap(),
            exp: claims["exp"].as_i64().unwrap(),
        };
        let input = jwt::signing_input(&limited_header, &limited_claims).unwrap();
        let limited = format!("{input}.{}", claims["uip"].as_str().unwrap());
        let (lh, lc) = jwt::decode_verified(&limited, &keys.keys).unwrap();
        assert_eq!(lh.typ.as_deref(), Some(LIMITED_USER_TOKEN_TYPE));
        assert_eq!(lc["sub"], "user:default/jane");
        assert!(i.verify(&t.token).await.is_ok());
        assert_eq!(
            i.user_info("user:default/jane").await.unwrap().unwrap()["claims"]["ent"][1],
            "group:default/a"
        );
    }

    #[tokio::test]
    async fn keys_rotate_after_their_lifetime_and_stay_listed_while_tokens_live() {
        let (i, _) = issuer(None).await;
        let t0 = unix_now();
        let first = i.issue_at("user:default/a", &[], t0).await.unwrap();
        let same = i.issue_at("user:default/a", &[], t0 + 3599).await.unwrap();
        let kid = |t: &str| jwt::decode_unverified(t).unwrap().header.kid.unwrap();
        assert_eq!(kid(&first.token), kid(&same.token));
        let rotated = i.issue_at("user:default/a", &[], t0 + 3600).await.unwrap();
        assert_ne!(kid(&first.token), kid(&rotated.token));
        // Until the first key's last token has expired (t0 + 2h) plus margin, both are listed.
        let listed = i.public_keys_at(t0 + 7200).await.unwrap();
        assert_eq!(listed.keys.len(), 2);
        assert!(jwt::decode_verified(&first.token, &listed.keys).is_ok());
        let later = i.public_keys_at(t0 + 3 * 3600 + 1).await.unwrap();
        assert_eq!(later.keys.len(), 1);
        assert!(jwt::decode_verified(&rotated.token, &later.keys).is_ok());
    }

    #[tokio::test]
    async fn sealed_private_keys_are_shared_between_issuers() {
        let sealer = Arc::new(SessionKeys::new("secret").unwrap());
        let (a, db) = issuer(Some(sealer.clone())).await;
        let t = a.issue("user:default/a", &[]).await.unwrap();
        let b = TokenIssuer::new(a.issuer.clone(), a.lifetime, db.clone(), Some(sealer));
        let u = b.issue("user:default/a", &[]).await.unwrap();
        let kid = |t: &str| jwt::decode_unverified(t).unwrap().header.kid.unwrap();
        assert_eq!(kid(&t.token), kid(&u.token));
        // Another secret cannot open the stored key: a new one is made.
        let c = TokenIssuer::new(
            a.issuer.clone(),
            a.lifetime,
            db,
            Some(Arc::new(SessionKeys::new("other").unwrap())),
        );
        let v = c.issue("user:default/a", &[]).await.unwrap();
        assert_ne!(kid(&t.token), kid(&v.token));
    }

    #[tokio::test]
    async fn invalid_subjects_and_foreign_tokens_are_refused() {
        let (i, _) = issuer(None).await;
        assert!(i.issue("not a ref", &[]).await.is_err());
        let other = EcSigningKey::generate("x").unwrap();
        let forged = other
            .sign(
                &JwtHeader::es256("x").with_typ(USER_TOKEN_TYPE),
                &serde_json::json!({"sub": "user:default/a"}),
            )
            .unwrap();
        assert!(i.verify(&forged).await.is_err());
    }
}
