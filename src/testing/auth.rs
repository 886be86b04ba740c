//! Mock identity for tests, as Backstage's `mockCredentials` and `mockServices.auth`.
//!
//! A [`TestBackend`](super::TestBackend) runs with [`mock_auth_factory`] and
//! [`mock_user_info_factory`] unless the test gives its own: the default-deny layer still
//! runs, but tokens are readable strings instead of signed JWTs:
//!
//! | token | credentials |
//! |---|---|
//! | `mock-user-token` | user `user:default/mock` |
//! | `mock-user-token:{"sub":"user:default/jane","ent":["group:default/team-a"]}` | that user (and ownership) |
//! | `mock-limited-user-token:{"sub":"user:default/jane"}` | that user, limited (the cookie) |
//! | `mock-service-token` | service `external:test-service` |
//! | `mock-service-token:{"sub":"plugin:search","target":"catalog"}` | a plugin token, valid only at `catalog` |
//!
//! The [`TestClient`](super::TestClient) of a test backend sends `mock-user-token` unless told
//! otherwise ([`TestClient::as_user`](super::TestClient::as_user),
//! [`TestClient::as_service`](super::TestClient::as_service),
//! [`TestClient::unauthenticated`](super::TestClient::unauthenticated)).
//!
//! ```
//! use backlot::services::auth::PrincipalKind;
//! use backlot::testing::mock_credentials;
//!
//! let jane = mock_credentials::user("user:default/jane");
//! assert_eq!(jane.user_entity_ref(), Some("user:default/jane"));
//! assert_eq!(mock_credentials::service("plugin:catalog").kind(), PrincipalKind::Service);
//! assert!(mock_credentials::user_header("user:default/jane").starts_with("Bearer mock-user-token:"));
//! ```

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::backend::ServiceFactory;
use crate::services::auth::jwt::JwkSet;
use crate::services::auth::{
    AUTH, AuthError, AuthService, AuthenticateOptions, BackstageUserInfo, Credentials,
    LimitedToken, Principal, USER_INFO, UserInfoService, UserPrincipal,
};

const USER: &str = "mock-user-token";
const LIMITED: &str = "mock-limited-user-token";
const SERVICE: &str = "mock-service-token";
/// The user of a bare `mock-user-token`.
pub const DEFAULT_MOCK_USER: &str = "user:default/mock";
/// The subject of a bare `mock-service-token`.
pub const DEFAULT_MOCK_SERVICE: &str = "external:test-service";

/// Mock credentials and the `Authorization` headers that stand for them.
pub mod mock_credentials {
    use super::*;

    /// The token of user `user_entity_ref`.
    pub fn user_token(user_entity_ref: &str) -> String {
        format!("{USER}:{}", json!({ "sub": user_entity_ref }))
    }

    /// The token of user `user_entity_ref` owning through `ownership` (its groups).
    pub fn user_token_with_ownership(user_entity_ref: &str, ownership: &[&str]) -> String {
        let mut ent: Vec<&str> = vec![user_entity_ref];
        ent.extend(ownership);
        format!("{USER}:{}", json!({ "sub": user_entity_ref, "ent": ent }))
    }

    /// `Bearer <user token>`.
    pub fn user_header(user_entity_ref: &str) -> String {
        format!("Bearer {}", user_token(user_entity_ref))
    }

    /// User credentials, carrying a mock token so they can be passed on to other plugins.
    pub fn user(user_entity_ref: &str) -> Credentials {
        Credentials::user(user_entity_ref).with_token(&user_token(user_entity_ref))
    }

    /// Limited (cookie) user credentials.
    pub fn limited_user(user_entity_ref: &str) -> Credentials {
        Credentials::user(user_entity_ref)
            .with_token(&format!("{LIMITED}:{}", json!({ "sub": user_entity_ref })))
            .limited(true)
    }

    /// The token of service `subject` (`plugin:<id>` or `external:<name>`), valid at any
    /// plugin.
    pub fn service_token(subject: &str) -> String {
        format!("{SERVICE}:{}", json!({ "sub": subject }))
    }

    /// `Bearer <service token>`.
    pub fn service_header(subject: &str) -> String {
        format!("Bearer {}", service_token(subject))
    }

    /// Service credentials.
    pub fn service(subject: &str) -> Credentials {
        Credentials::service(subject)
    }

    /// No credentials.
    pub fn none() -> Credentials {
        Credentials::none()
    }
}

/// The mock `core.auth` of one plugin.
#[derive(Debug)]
pub struct MockAuthService {
    plugin_id: String,
}

impl MockAuthService {
    /// The mock auth service of plugin `plugin_id`.
    pub fn new(plugin_id: &str) -> Self {
        Self {
            plugin_id: plugin_id.to_string(),
        }
    }
}

fn payload(token: &str, prefix: &str) -> Option<Result<Value, AuthError>> {
    if token == prefix {
        return Some(Ok(json!({})));
    }
    let rest = token.strip_prefix(prefix)?.strip_prefix(':')?;
    Some(
        serde_json::from_str::<Value>(rest)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| AuthError::Authentication("malformed mock token".to_string())),
    )
}

fn sub(p: &Value, default: &str) -> String {
    p.get("sub")
        .and_then(Value::as_str)
        .unwrap_or(default)
        .to_string()
}

#[async_trait]
impl AuthService for MockAuthService {
    async fn authenticate(
        &self,
        token: &str,
        options: AuthenticateOptions,
    ) -> Result<Credentials, AuthError> {
        if let Some(p) = payload(token, LIMITED) {
            let p = p?;
            if !options.allow_limited_access {
                return Err(AuthError::Authentication(
                    "limited user tokens are not accepted here".to_string(),
                ));
            }
            return Ok(Credentials::user(&sub(&p, DEFAULT_MOCK_USER))
                .with_token(token)
                .limited(true));
        }
        if let Some(p) = payload(token, USER) {
            let p = p?;
            return Ok(Credentials::user(&sub(&p, DEFAULT_MOCK_USER)).with_token(token));
        }
        if let Some(p) = payload(token, SERVICE) {
            let p = p?;
            if let Some(target) = p.get("target").and_then(Value::as_str)
                && target != self.plugin_id
            {
                return Err(AuthError::Authentication(
                    "token is for another plugin".to_string(),
                ));
            }
            let subject = sub(&p, DEFAULT_MOCK_SERVICE);
            if let Some(obo) = p.get("obo").and_then(Value::as_str) {
                let user = self
                    .authenticate(obo, AuthenticateOptions::default())
                    .await?;
                let Principal::User(u) = user.principal().clone() else {
                    return Err(AuthError::Authentication("bad on-behalf-of".to_string()));
                };
                return Ok(Credentials::from_principal(Principal::User(UserPrincipal {
                    actor: Some(subject),
                    ..u
                }))
                .with_token(obo));
            }
            return Ok(Credentials::service(&subject));
        }
        Err(AuthError::Authentication("invalid token".to_string()))
    }

    fn own_service_credentials(&self) -> Credentials {
        Credentials::service(&format!("plugin:{}", self.plugin_id))
    }

    async fn plugin_request_token(
        &self,
        on_behalf_of: &Credentials,
        target_plugin_id: &str,
    ) -> Result<String, AuthError> {
        let mut p =
            json!({ "sub": format!("plugin:{}", self.plugin_id), "target": target_plugin_id });
        match on_behalf_of.principal() {
            Principal::User(_) => {
                let token = on_behalf_of
                    .token()
                    .filter(|_| !on_behalf_of.is_limited())
                    .ok_or_else(|| {
                        AuthError::Authentication("user credentials without a token".to_string())
                    })?;
                p["obo"] = Value::String(token.to_string());
            }
            Principal::Service(_) => {}
            Principal::None => {
                return Err(AuthError::Authentication(
                    "cannot make a token on behalf of nobody".to_string(),
                ));
            }
        }
        Ok(format!("{SERVICE}:{p}"))
    }

    async fn limited_user_token(
        &self,
        credentials: &Credentials,
    ) -> Result<LimitedToken, AuthError> {
        let user = credentials
            .user_entity_ref()
            .ok_or_else(|| AuthError::Authentication("not user credentials".to_string()))?;
        Ok(LimitedToken {
            token: format!("{LIMITED}:{}", json!({ "sub": user })),
            expires_at: std::time::SystemTime::now() + std::time::Duration::from_secs(3600),
        })
    }

    async fn list_public_service_keys(&self) -> Result<JwkSet, AuthError> {
        Ok(JwkSet::default())
    }
}

/// The mock `core.userInfo`: the `sub` and `ent` of mock tokens (user credentials without a
/// token own through themselves only).
#[derive(Debug, Default)]
pub struct MockUserInfo;

#[async_trait]
impl UserInfoService for MockUserInfo {
    async fn user_info(&self, credentials: &Credentials) -> Result<BackstageUserInfo, AuthError> {
        let user = credentials
            .user_entity_ref()
            .ok_or_else(|| AuthError::NotAllowed("not user credentials".to_string()))?;
        let ent = credentials
            .token()
            .and_then(|t| payload(t, USER).or_else(|| payload(t, LIMITED)))
            .and_then(Result::ok)
            .and_then(|p| p.get("ent").cloned())
            .and_then(|e| serde_json::from_value::<Vec<String>>(e).ok())
            .unwrap_or_else(|| vec![user.to_string()]);
        Ok(BackstageUserInfo {
            user_entity_ref: user.to_string(),
            ownership_entity_refs: ent,
        })
    }
}

/// A factory for the mock `core.auth`.
pub fn mock_auth_factory() -> ServiceFactory {
    ServiceFactory::plugin(&AUTH).build(|ctx, ()| async move {
        Ok(Arc::new(MockAuthService::new(ctx.plugin_id())) as Arc<dyn AuthService>)
    })
}

/// A factory for the mock `core.userInfo`.
pub fn mock_user_info_factory() -> ServiceFactory {
    ServiceFactory::plugin(&USER_INFO)
        .build(|_ctx, ()| async move { Ok(Arc::new(MockUserInfo) as Arc<dyn UserInfoService>) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn mock_tokens_round_trip() {
        let catalog = MockAuthService::new("catalog");
        let search = MockAuthService::new("search");
        let jane = mock_credentials::user("user:default/jane");
        let token = search
            .plugin_request_token(&jane, "catalog")
            .await
            .expect("token");
        let creds = catalog
            .authenticate(&token, AuthenticateOptions::default())
            .await
            .expect("ok");
        assert_eq!(creds.user_entity_ref(), Some("user:default/jane"));
        assert!(
            search
                .authenticate(&token, AuthenticateOptions::default())
                .await
                .is_err()
        );
        let own = search.own_service_credentials();
        let token = search
            .plugin_request_token(&own, "catalog")
            .await
            .expect("token");
        let creds = catalog
            .authenticate(&token, AuthenticateOptions::default())
            .await
            .expect("ok");
        assert_eq!(creds.service_subject(), Some("plugin:search"));
        let limited = catalog.limited_user_token(&jane).await.expect("limited");
        assert!(
            catalog
                .authenticate(&limited.token, AuthenticateOptions::default())
                .await
                .is_err()
        );
        assert!(
            catalog
                .authenticate("garbage", AuthenticateOptions::default())
                .await
                .is_err()
        );
    }
}
