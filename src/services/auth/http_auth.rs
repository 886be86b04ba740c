//! The default [`HttpAuthService`] and [`UserInfoService`], and reading credentials from a
//! request's headers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use http::HeaderMap;
use serde_json::Value;

use super::{
    AuthError, AuthService, AuthenticateOptions, BackstageUserInfo, Credentials,
    CredentialsOptions, HttpAuthService, PrincipalKind, USER_COOKIE_NAME, UserInfoService, jwt,
};
use crate::backend::http::ApiError;

/// The bearer token of `Authorization: Bearer <token>`.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The value of cookie `name`, if the request sent it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// Checks `credentials` against `options`: limited tokens only where allowed; the kind in the
/// allow-list (`none` ⇒ 401, another kind ⇒ 403).
pub fn check_credentials(
    credentials: Credentials,
    options: CredentialsOptions<'_>,
) -> Result<Credentials, ApiError> {
    if credentials.is_limited() && !options.allow_limited_access {
        return Err(ApiError::authentication(
            "limited user tokens are not accepted here",
        ));
    }
    let kind = credentials.kind();
    if options.allow.contains(&kind) {
        return Ok(credentials);
    }
    Err(match kind {
        PrincipalKind::None => ApiError::authentication("Missing credentials"),
        other => ApiError::not_allowed(format!(
            "This endpoint does not allow '{}' credentials",
            other.as_str()
        )),
    })
}

/// The default `core.httpAuth`.
#[derive(Debug)]
pub(crate) struct DefaultHttpAuth {
    auth: Arc<dyn AuthService>,
    cookie_path: String,
    secure: bool,
}

impl DefaultHttpAuth {
    pub(crate) fn new(auth: Arc<dyn AuthService>, external_base_url: &str) -> Self {
        let parsed = url::Url::parse(external_base_url).ok();
        Self {
            auth,
            cookie_path: parsed
                .as_ref()
                .map(|u| u.path().trim_end_matches('/').to_string())
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "/".to_string()),
            secure: parsed.is_some_and(|u| u.scheme() == "https"),
        }
    }
}

#[async_trait]
impl HttpAuthService for DefaultHttpAuth {
    async fn credentials(
        &self,
        parts: &http::request::Parts,
        options: CredentialsOptions<'_>,
    ) -> Result<Credentials, ApiError> {
        let credentials = match parts.extensions.get::<Credentials>() {
            Some(c) => c.clone(),
            None => match bearer_token(&parts.headers) {
                Some(token) => {
                    self.auth
                        .authenticate(
                            token,
                            AuthenticateOptions {
                                allow_limited_access: options.allow_limited_access,
                            },
                        )
                        .await?
                }
                None => match cookie(&parts.headers, USER_COOKIE_NAME)
                    .filter(|_| options.allow_limited_access)
                {
                    Some(token) => {
                        self.auth
                            .authenticate(
                                token,
                                AuthenticateOptions {
                                    allow_limited_access: true,
                                },
                            )
                            .await?
                    }
                    None => Credentials::none(),
                },
            },
        };
        check_credentials(credentials, options)
    }

    async fn issue_user_cookie(
        &self,
        credentials: &Credentials,
    ) -> Result<http::HeaderValue, ApiError> {
        if credentials.kind() != PrincipalKind::User {
            return Err(ApiError::not_allowed("only users get a user cookie"));
        }
        let limited = self.auth.limited_user_token(credentials).await?;
        let max_age = limited
            .expires_at
            .duration_since(SystemTime::now())
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let value = format!(
            "{USER_COOKIE_NAME}={}; Path={}; Max-Age={max_age}; HttpOnly; SameSite=Lax{}",
            limited.token,
            self.cookie_path,
            if self.secure { "; Secure" } else { "" }
        );
        http::HeaderValue::try_from(value).map_err(ApiError::internal)
    }
}

/// The default `core.userInfo`: the `sub` and `ent` claims of the user's token (verified
/// when the credentials were made). A limited token carries no `ent`; its ownership comes
/// from the auth plugin's `/v1/userinfo`.
#[derive(Debug)]
pub(crate) struct DefaultUserInfo {
    auth_base_url: String,
    http: reqwest::Client,
    limited: parking_lot::Mutex<HashMap<String, BackstageUserInfo>>,
}

impl DefaultUserInfo {
    pub(crate) fn new(auth_base_url: String, http: reqwest::Client) -> Self {
        Self {
            auth_base_url,
            http,
            limited: parking_lot::Mutex::new(HashMap::new()),
        }
    }
}

/// The user info in the claims of a full user token.
pub(crate) fn user_info_from_token(token: &str) -> Option<BackstageUserInfo> {
    let t = jwt::decode_unverified(token).ok()?;
    let sub = t.claims.get("sub")?.as_str()?.to_string();
    let mut ent: Vec<String> = t
        .claims
        .get("ent")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if ent.is_empty() {
        ent.push(sub.clone());
    }
    Some(BackstageUserInfo {
        user_entity_ref: sub,
        ownership_entity_refs: ent,
    })
}

#[async_trait]
impl UserInfoService for DefaultUserInfo {
    async fn user_info(&self, credentials: &Credentials) -> Result<BackstageUserInfo, AuthError> {
        let Some(user) = credentials.user_entity_ref() else {
            return Err(AuthError::NotAllowed("not user credentials".to_string()));
        };
        let Some(token) = credentials.token() else {
            return Ok(BackstageUserInfo {
                user_entity_ref: user.to_string(),
                ownership_entity_refs: vec![user.to_string()],
            });
        };
        if !credentials.is_limited() {
            return user_info_from_token(token)
                .ok_or_else(|| AuthError::Authentication("invalid token".to_string()));
        }
        if let Some(info) = self.limited.lock().get(token).cloned() {
            return Ok(info);
        }
        let res = self
            .http
            .get(format!("{}/v1/userinfo", self.auth_base_url))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| AuthError::Internal(format!("user info: {e}")))?;
        if !res.status().is_success() {
            return Err(AuthError::Internal(format!(
                "user info: auth plugin answered {}",
                res.status().as_u16()
            )));
        }
        let body: Value = res
            .json()
            .await
            .map_err(|e| AuthError::Internal(format!("user info: {e}")))?;
        let claims = body.get("claims").unwrap_or(&body);
        let ent = claims
            .get("ent")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_else(|| vec![user.to_string()]);
        let info = BackstageUserInfo {
            user_entity_ref: user.to_string(),
            ownership_entity_refs: ent,
        };
        let mut cache = self.limited.lock();
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(token.to_string(), info.clone());
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bearer_and_cookie() {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::AUTHORIZATION,
            "bearer abc".parse().expect("hv"),
        );
        h.insert(
            http::header::COOKIE,
            "a=1; backstage-auth=tok; b=2".parse().expect("hv"),
        );
        assert_eq!(bearer_token(&h), Some("abc"));
        assert_eq!(cookie(&h, USER_COOKIE_NAME), Some("tok"));
        h.insert(
            http::header::AUTHORIZATION,
            "Basic abc".parse().expect("hv"),
        );
        assert_eq!(bearer_token(&h), None);
    }

    #[test]
    fn allow_lists() {
        let user = Credentials::user("user:default/jane");
        assert!(check_credentials(user.clone(), CredentialsOptions::USER).is_ok());
        let e = check_credentials(user, CredentialsOptions::SERVICE).expect_err("403");
        assert_eq!(e.kind(), crate::backend::http::ApiErrorKind::NotAllowed);
        let e = check_credentials(Credentials::none(), CredentialsOptions::USER_OR_SERVICE)
            .expect_err("401");
        assert_eq!(e.kind(), crate::backend::http::ApiErrorKind::Authentication);
        let limited = Credentials::user("user:default/jane").limited(true);
        assert!(check_credentials(limited, CredentialsOptions::USER).is_err());
    }
}
