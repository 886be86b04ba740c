//! The default [`AuthService`]: verifies user, limited-user, plugin and external tokens, and
//! mints plugin tokens with the plugin's own keys.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde_json::{Value, json};

use super::external::ExternalKind;
use super::jwt::{self, JwkSet, JwtHeader, UnverifiedToken};
use super::keys::{PluginKeyStore, TOKEN_LIFETIME, unix};
use super::root::{AuthRoot, Verified};
use super::{
    AuthError, AuthService, AuthenticateOptions, Credentials, LIMITED_USER_TOKEN_TYPE,
    LimitedToken, PLUGIN_TOKEN_TYPE, Principal, ServicePrincipal, USER_TOKEN_AUDIENCE,
    USER_TOKEN_TYPE, UserPrincipal,
};

/// The auth service of one plugin.
#[derive(Debug)]
pub(crate) struct DefaultAuthService {
    plugin_id: String,
    root: Arc<AuthRoot>,
    keys: Arc<PluginKeyStore>,
}

fn unauthenticated(message: &str) -> AuthError {
    AuthError::Authentication(message.to_string())
}

/// Whether `id` can be a plugin id (and so safely become part of a discovery URL).
pub(crate) fn valid_plugin_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && id.as_bytes()[0].is_ascii_alphanumeric()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn from_unix(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}

/// The `exp` claim, which must be in the future (and `nbf`, when present, in the past).
fn check_times(claims: &Value) -> Result<SystemTime, AuthError> {
    let now = unix(SystemTime::now());
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or_else(|| unauthenticated("token has no expiry"))?;
    if exp <= now {
        return Err(unauthenticated("token has expired"));
    }
    if claims
        .get("nbf")
        .and_then(Value::as_i64)
        .is_some_and(|nbf| nbf > now + 60)
    {
        return Err(unauthenticated("token is not valid yet"));
    }
    Ok(from_unix(exp))
}

fn str_claim<'a>(claims: &'a Value, name: &str) -> Result<&'a str, AuthError> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| AuthError::Authentication(format!("token has no '{name}' claim")))
}

/// Whether the `aud` claim (a string or a list) holds `audience`.
fn has_audience(claims: &Value, audience: &str) -> bool {
    match claims.get("aud") {
        Some(Value::String(s)) => s == audience,
        Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(audience)),
        _ => false,
    }
}

impl DefaultAuthService {
    pub(crate) fn new(plugin_id: &str, root: Arc<AuthRoot>, keys: Arc<PluginKeyStore>) -> Self {
        root.register_local(plugin_id, keys.clone());
        Self {
            plugin_id: plugin_id.to_string(),
            root,
            keys,
        }
    }

    /// A user identity token: signed by the auth plugin's keys, unexpired, for `backstage`.
    async fn verify_user_token(
        &self,
        token: &str,
        t: &UnverifiedToken<'_>,
    ) -> Result<Verified, AuthError> {
        let v = self.verify_user_signature(token, t).await?;
        if !has_audience(&t.claims, USER_TOKEN_AUDIENCE) {
            return Err(unauthenticated("token is not for this audience"));
        }
        Ok(v)
    }

    /// A limited token: signed by the auth plugin's keys, with `sub` and `exp` only.
    async fn verify_limited_token(
        &self,
        token: &str,
        t: &UnverifiedToken<'_>,
    ) -> Result<Verified, AuthError> {
        let mut v = self.verify_user_signature(token, t).await?;
        v.credentials = v.credentials.limited(true);
        Ok(v)
    }

    /// The checks user and limited tokens share: the auth plugin's signature, the times, `sub`.
    async fn verify_user_signature(
        &self,
        token: &str,
        t: &UnverifiedToken<'_>,
    ) -> Result<Verified, AuthError> {
        let keys = self
            .root
            .keys(&self.root.user_key_source(), t.header.kid.as_deref())
            .await?;
        t.verify(&keys)
            .map_err(|_| unauthenticated("invalid token signature"))?;
        let expires_at = check_times(&t.claims)?;
        let sub = str_claim(&t.claims, "sub")?;
        Ok(Verified {
            credentials: Credentials::user(sub)
                .with_token(token)
                .with_expiry(expires_at),
            audience: None,
            expires_at,
        })
    }

    async fn verify_plugin_token(&self, t: &UnverifiedToken<'_>) -> Result<Verified, AuthError> {
        let sub = str_claim(&t.claims, "sub")?;
        if !valid_plugin_id(sub) {
            return Err(unauthenticated("token subject is not a plugin"));
        }
        let aud = str_claim(&t.claims, "aud")?;
        let keys = self
            .root
            .keys(&self.root.plugin_key_source(sub), t.header.kid.as_deref())
            .await?;
        t.verify(&keys)
            .map_err(|_| unauthenticated("invalid token signature"))?;
        let mut expires_at = check_times(&t.claims)?;
        let credentials = match t.claims.get("obo").and_then(Value::as_str) {
            Some(obo) => {
                let user = jwt::decode_unverified(obo)
                    .map_err(|_| unauthenticated("malformed on-behalf-of token"))?;
                if user.header.typ.as_deref() != Some(USER_TOKEN_TYPE) {
                    return Err(unauthenticated("on-behalf-of token is not a user token"));
                }
                let v = self.verify_user_token(obo, &user).await?;
                expires_at = expires_at.min(v.expires_at);
                let Principal::User(u) = v.credentials.principal().clone() else {
                    return Err(unauthenticated("on-behalf-of token is not a user token"));
                };
                Credentials::from_principal(Principal::User(UserPrincipal {
                    actor: Some(format!("plugin:{sub}")),
                    ..u
                }))
                .with_token(obo)
            }
            None => Credentials::service(&format!("plugin:{sub}")),
        };
        Ok(Verified {
            credentials: credentials.with_expiry(expires_at),
            audience: Some(aud.to_string()),
            expires_at,
        })
    }

    fn verify_static(&self, token: &str) -> Option<Verified> {
        self.root.external.iter().find_map(|e| match &e.kind {
            ExternalKind::Static { token: t }
                if constant_time_eq(t.as_bytes(), token.as_bytes()) =>
            {
                let expires_at = SystemTime::now() + Duration::from_secs(3600);
                Some(Verified {
                    credentials: self.external_credentials(&e.subject, e.restrictions.clone()),
                    audience: None,
                    expires_at,
                })
            }
            _ => None,
        })
    }

    fn external_credentials(
        &self,
        subject: &str,
        restrictions: Option<Vec<super::AccessRestriction>>,
    ) -> Credentials {
        Credentials::from_principal(Principal::Service(ServicePrincipal {
            subject: format!("external:{subject}"),
            access_restrictions: restrictions,
        }))
    }

    fn verify_legacy(&self, t: &UnverifiedToken<'_>) -> Result<Verified, AuthError> {
        for e in &self.root.external {
            let ExternalKind::Legacy { secret } = &e.kind else {
                continue;
            };
            if t.verify_hs256(secret).is_ok() {
                let expires_at = check_times(&t.claims)?;
                if str_claim(&t.claims, "sub")? != "backstage-server" {
                    return Err(unauthenticated(
                        "legacy token subject must be 'backstage-server'",
                    ));
                }
                return Ok(Verified {
                    credentials: self
                        .external_credentials(&e.subject, e.restrictions.clone())
                        .with_expiry(expires_at),
                    audience: None,
                    expires_at,
                });
            }
        }
        Err(unauthenticated("invalid token signature"))
    }

    async fn verify_external_jwks(&self, t: &UnverifiedToken<'_>) -> Result<Verified, AuthError> {
        let iss = t.claims.get("iss").and_then(Value::as_str);
        for e in &self.root.external {
            let ExternalKind::Jwks {
                url,
                issuers,
                algorithms,
                audiences,
                subject_prefix,
            } = &e.kind
            else {
                continue;
            };
            if !issuers.is_empty() && !iss.is_some_and(|i| issuers.iter().any(|x| x == i)) {
                continue;
            }
            if !algorithms.contains(&t.header.alg) {
                continue;
            }
            let keys = self
                .root
                .keys(
                    &super::root::KeySource::Url(url.clone()),
                    t.header.kid.as_deref(),
                )
                .await?;
            if t.verify(&keys).is_err() {
                continue;
            }
            let expires_at = check_times(&t.claims)?;
            if !audiences.is_empty() && !audiences.iter().any(|a| has_audience(&t.claims, a)) {
                return Err(unauthenticated("token is not for this audience"));
            }
            let sub = str_claim(&t.claims, "sub")?;
            return Ok(Verified {
                credentials: self
                    .external_credentials(&format!("{subject_prefix}{sub}"), e.restrictions.clone())
                    .with_expiry(expires_at),
                audience: None,
                expires_at,
            });
        }
        Err(unauthenticated("invalid token"))
    }

    async fn verify(&self, token: &str) -> Result<Verified, AuthError> {
        if let Some(v) = self.verify_static(token) {
            return Ok(v);
        }
        let t = jwt::decode_unverified(token).map_err(|_| unauthenticated("invalid token"))?;
        if !matches!(t.header.alg.as_str(), "ES256" | "RS256" | "HS256") {
            return Err(unauthenticated("invalid token"));
        }
        match t.header.typ.as_deref() {
            Some(PLUGIN_TOKEN_TYPE) => self.verify_plugin_token(&t).await,
            Some(LIMITED_USER_TOKEN_TYPE) => self.verify_limited_token(token, &t).await,
            Some(USER_TOKEN_TYPE) => self.verify_user_token(token, &t).await,
            _ if t.header.alg == "HS256" => self.verify_legacy(&t),
            _ => self.verify_external_jwks(&t).await,
        }
    }
}

#[async_trait]
impl AuthService for DefaultAuthService {
    async fn authenticate(
        &self,
        token: &str,
        options: AuthenticateOptions,
    ) -> Result<Credentials, AuthError> {
        if token.is_empty() || token.len() > jwt::MAX_TOKEN_LEN {
            return Err(unauthenticated("invalid token"));
        }
        let key = AuthRoot::token_key(token);
        let verified = match self.root.remembered(&key) {
            Some(v) => v,
            None => {
                let v = self.verify(token).await?;
                self.root.remember(key, v.clone());
                v
            }
        };
        if let Some(aud) = &verified.audience
            && aud != &self.plugin_id
        {
            return Err(unauthenticated("token is for another plugin"));
        }
        if verified.credentials.is_limited() && !options.allow_limited_access {
            return Err(unauthenticated("limited user tokens are not accepted here"));
        }
        Ok(verified.credentials)
    }

    fn own_service_credentials(&self) -> Credentials {
        Credentials::service(&format!("plugin:{}", self.plugin_id))
    }

    async fn plugin_request_token(
        &self,
        on_behalf_of: &Credentials,
        target_plugin_id: &str,
    ) -> Result<String, AuthError> {
        if !valid_plugin_id(target_plugin_id) {
            return Err(AuthError::Internal(format!(
                "'{target_plugin_id}' is not a plugin id"
            )));
        }
        let now = SystemTime::now();
        let mut exp = now + TOKEN_LIFETIME;
        let mut claims = json!({
            "sub": self.plugin_id,
            "aud": target_plugin_id,
            "iat": unix(now),
        });
        match on_behalf_of.principal() {
            Principal::User(_) => {
                let token = on_behalf_of.token().filter(|_| !on_behalf_of.is_limited());
                let Some(token) = token else {
                    return Err(unauthenticated(
                        "these user credentials carry no full user token to act on",
                    ));
                };
                if let Some(user_exp) = on_behalf_of.expires_at() {
                    exp = exp.min(user_exp);
                }
                claims["obo"] = Value::String(token.to_string());
            }
            Principal::Service(_) => {}
            Principal::None => {
                return Err(unauthenticated("cannot make a token on behalf of nobody"));
            }
        }
        if exp <= now {
            return Err(unauthenticated("the user's token has expired"));
        }
        claims["exp"] = json!(unix(exp));
        let key = self.keys.signing_key().await?;
        key.sign(
            &JwtHeader::es256(key.kid()).with_typ(PLUGIN_TOKEN_TYPE),
            &claims,
        )
        .map_err(|e| AuthError::Internal(e.to_string()))
    }

    async fn limited_user_token(
        &self,
        credentials: &Credentials,
    ) -> Result<LimitedToken, AuthError> {
        let token = credentials
            .token()
            .filter(|_| credentials.user_entity_ref().is_some())
            .ok_or_else(|| unauthenticated("not user credentials with a token"))?;
        let expires_at = credentials.expires_at().unwrap_or_else(SystemTime::now);
        if credentials.is_limited() {
            return Ok(LimitedToken {
                token: token.to_string(),
                expires_at,
            });
        }
        let t = jwt::decode_unverified(token).map_err(|_| unauthenticated("invalid token"))?;
        let uip = str_claim(&t.claims, "uip")?;
        let kid = t
            .header
            .kid
            .as_deref()
            .ok_or_else(|| unauthenticated("token has no key id"))?;
        let header = JwtHeader::es256(kid).with_typ(LIMITED_USER_TOKEN_TYPE);
        // Claims in the order the auth plugin signed them (`sub`, `iat`, `exp`): `json!`
        // would sort the keys.
        #[derive(serde::Serialize)]
        struct LimitedClaims<'a> {
            sub: &'a str,
            iat: &'a Value,
            exp: &'a Value,
        }
        let claims = LimitedClaims {
            sub: str_claim(&t.claims, "sub")?,
            iat: t.claims.get("iat").unwrap_or(&Value::Null),
            exp: t.claims.get("exp").unwrap_or(&Value::Null),
        };
        let input =
            jwt::signing_input(&header, &claims).map_err(|e| AuthError::Internal(e.to_string()))?;
        Ok(LimitedToken {
            token: format!("{input}.{uip}"),
            expires_at,
        })
    }

    async fn list_public_service_keys(&self) -> Result<JwkSet, AuthError> {
        self.keys.public_keys().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_ids() {
        for ok in ["catalog", "search-2", "a_b"] {
            assert!(valid_plugin_id(ok), "{ok}");
        }
        for bad in ["", "../x", "Catalog", "a/b", "-x", &"a".repeat(65), "a?b"] {
            assert!(!valid_plugin_id(bad), "{bad}");
        }
    }

    #[test]
    fn times() {
        let now = unix(SystemTime::now());
        assert!(check_times(&json!({"exp": now + 10})).is_ok());
        assert!(check_times(&json!({"exp": now - 1})).is_err());
        assert!(check_times(&json!({})).is_err());
        assert!(check_times(&json!({"exp": now + 10, "nbf": now + 3600})).is_err());
    }
}
