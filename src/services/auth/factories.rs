//! The default factories of `AUTH`, `HTTP_AUTH` and `USER_INFO`, and the routes they add to
//! every plugin.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::default::DefaultAuthService;
use super::http_auth::{DefaultHttpAuth, DefaultUserInfo, check_credentials};
use super::keys::PluginKeyStore;
use super::root::AuthRoot;
use super::{
    AUTH, AuthService, Credentials, CredentialsOptions, HTTP_AUTH, HttpAuthService, PrincipalKind,
    USER_COOKIE_NAME, USER_INFO, UserInfoService,
};
use crate::backend::ServiceFactory;
use crate::backend::http::ApiError;
use crate::services::core_services::{DATABASE, DISCOVERY, HTTP_ROUTER, ROOT_CONFIG};
use crate::services::http_client::http_client;
use crate::services::http_router::{AuthPolicy, AuthPolicyAllow};

/// Where every plugin publishes its public keys.
pub(crate) const JWKS_PATH: &str = "/.backstage/auth/v1/jwks.json";
/// Where every plugin issues the user cookie.
pub(crate) const COOKIE_PATH: &str = "/.backstage/auth/v1/cookie";

pub(super) fn auth_factory() -> ServiceFactory {
    ServiceFactory::plugin(&AUTH)
        .root_context(
            (&ROOT_CONFIG, &DISCOVERY),
            |(config, discovery)| async move {
                Ok(Arc::new(AuthRoot::from_config(
                    &config,
                    discovery,
                    http_client(&config)?,
                )?))
            },
        )
        .deps((&DATABASE, &HTTP_ROUTER))
        .build(|ctx, (database, http)| async move {
            let keys = Arc::new(PluginKeyStore::new(database));
            let auth: Arc<dyn AuthService> = Arc::new(DefaultAuthService::new(
                ctx.plugin_id(),
                ctx.root_context().clone(),
                keys,
            ));
            http.use_router(
                Router::new()
                    .route(JWKS_PATH, get(jwks))
                    .with_state(auth.clone()),
            );
            http.add_auth_policy(AuthPolicy {
                path: JWKS_PATH.to_string(),
                allow: AuthPolicyAllow::Unauthenticated,
            });
            Ok(auth)
        })
}

async fn jwks(State(auth): State<Arc<dyn AuthService>>) -> Response {
    match auth.list_public_service_keys().await {
        Ok(keys) => axum::Json(keys).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

pub(super) fn http_auth_factory() -> ServiceFactory {
    ServiceFactory::plugin(&HTTP_AUTH)
        .deps((&AUTH, &DISCOVERY, &HTTP_ROUTER))
        .build(|ctx, (auth, discovery, http)| async move {
            let http_auth: Arc<dyn HttpAuthService> = Arc::new(DefaultHttpAuth::new(
                auth,
                &discovery.external_base_url(ctx.plugin_id()),
            ));
            let path = url::Url::parse(&discovery.external_base_url(ctx.plugin_id()))
                .map(|u| u.path().trim_end_matches('/').to_string())
                .unwrap_or_default();
            http.use_router(
                Router::new()
                    .route(COOKIE_PATH, get(issue_cookie).delete(clear_cookie))
                    .with_state((http_auth.clone(), path)),
            );
            http.add_auth_policy(AuthPolicy {
                path: COOKIE_PATH.to_string(),
                allow: AuthPolicyAllow::UserCookie,
            });
            Ok(http_auth)
        })
}

type CookieState = (Arc<dyn HttpAuthService>, String);

/// `GET /.backstage/auth/v1/cookie`: sets the user cookie for a signed-in user and answers
/// `{expiresAt}`.
async fn issue_cookie(
    State((http_auth, _)): State<CookieState>,
    credentials: Option<Extension<Credentials>>,
) -> Result<Response, ApiError> {
    let credentials = credentials
        .map(|Extension(c)| c)
        .unwrap_or_else(Credentials::none);
    let credentials = check_credentials(
        credentials,
        CredentialsOptions {
            allow: &[PrincipalKind::User],
            allow_limited_access: true,
        },
    )?;
    let cookie = http_auth.issue_user_cookie(&credentials).await?;
    let expires_at = credentials.expires_at().map(|t| {
        chrono::DateTime::<chrono::Utc>::from(t)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    });
    let mut res = axum::Json(serde_json::json!({ "expiresAt": expires_at })).into_response();
    res.headers_mut().insert(http::header::SET_COOKIE, cookie);
    Ok(res)
}

/// `DELETE /.backstage/auth/v1/cookie`: clears the user cookie.
async fn clear_cookie(State((_, path)): State<CookieState>) -> Response {
    let path = if path.is_empty() {
        "/".to_string()
    } else {
        path
    };
    let mut res = http::StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = http::HeaderValue::try_from(format!(
        "{USER_COOKIE_NAME}=; Path={path}; Max-Age=0; HttpOnly; SameSite=Lax"
    )) {
        res.headers_mut().insert(http::header::SET_COOKIE, v);
    }
    res
}

pub(super) fn user_info_factory() -> ServiceFactory {
    ServiceFactory::plugin(&USER_INFO)
        .root_context(
            (&ROOT_CONFIG, &DISCOVERY),
            |(config, discovery)| async move {
                Ok(Arc::new(DefaultUserInfo::new(
                    discovery.base_url("auth"),
                    http_client(&config)?,
                )))
            },
        )
        .build(|ctx, ()| async move { Ok(ctx.root_context().clone() as Arc<dyn UserInfoService>) })
}
