//! Identity: the `AUTH`, `HTTP_AUTH` and `USER_INFO` core services, as Backstage's `auth`,
//! `httpAuth` and `userInfo`.
//!
//! - [`AuthService`] verifies tokens into [`Credentials`] (user identity tokens from the `auth`
//!   plugin, plugin tokens from other plugins, external-access tokens from
//!   `backend.auth.externalAccess`), and mints the tokens a plugin sends to another plugin.
//! - [`HttpAuthService`] gives a route the credentials of its request, restricted to the
//!   principal kinds it allows, and issues the user cookie.
//! - [`UserInfoService`] reads the user entity ref and ownership refs of user credentials.
//!
//! Every plugin route sits behind the default-deny layer: a request without a valid user or
//! service token gets 401 unless the plugin relaxed the path with
//! [`HttpRouter::add_auth_policy`](crate::services::http_router::HttpRouter::add_auth_policy).
//! The layer puts the verified [`Credentials`] in the request's extensions, so a handler can
//! take `axum::Extension<Credentials>`. See `docs/auth.md`.

mod credentials;
mod default;
mod external;
mod factories;
mod http_auth;
pub mod jwt;
mod keys;
mod root;

pub use credentials::{
    AccessRestriction, BackstageUserInfo, Credentials, Principal, PrincipalKind, ServicePrincipal,
    UserPrincipal,
};
pub use http_auth::{bearer_token, check_credentials, cookie};

use std::time::SystemTime;

use async_trait::async_trait;

use crate::backend::ServiceRef;
use crate::backend::http::ApiError;

/// Token type (`typ` header) of plugin-to-plugin tokens.
pub const PLUGIN_TOKEN_TYPE: &str = "vnd.backstage.plugin";
/// Token type (`typ` header) of limited user tokens (the user cookie).
pub const LIMITED_USER_TOKEN_TYPE: &str = "vnd.backstage.limited-user";
/// Token type (`typ` header) of user identity tokens.
pub const USER_TOKEN_TYPE: &str = "vnd.backstage.user";
/// The `aud` claim of user identity tokens.
pub const USER_TOKEN_AUDIENCE: &str = "backstage";
/// The name of the cookie carrying a limited user token.
pub const USER_COOKIE_NAME: &str = "backstage-auth";

/// Why authentication failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No valid credentials (401 `AuthenticationError`).
    #[error("{0}")]
    Authentication(String),
    /// Valid credentials that may not do this (403 `NotAllowedError`).
    #[error("{0}")]
    NotAllowed(String),
    /// Something broke while checking (500).
    #[error("{0}")]
    Internal(String),
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Authentication(m) => ApiError::authentication(m),
            AuthError::NotAllowed(m) => ApiError::not_allowed(m),
            AuthError::Internal(m) => ApiError::internal(m),
        }
    }
}

/// Options of [`AuthService::authenticate`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthenticateOptions {
    /// Accept limited user tokens (the user cookie).
    pub allow_limited_access: bool,
}

/// A limited user token and when it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitedToken {
    /// The token.
    pub token: String,
    /// Its expiry.
    pub expires_at: SystemTime,
}

/// Token verification and minting for one plugin (`core.auth`).
#[async_trait]
pub trait AuthService: Send + Sync + std::fmt::Debug {
    /// Verifies `token` and returns who it stands for. Errors are
    /// [`AuthError::Authentication`] for anything not valid.
    async fn authenticate(
        &self,
        token: &str,
        options: AuthenticateOptions,
    ) -> Result<Credentials, AuthError>;

    /// Credentials of nobody.
    fn none_credentials(&self) -> Credentials {
        Credentials::none()
    }

    /// This plugin's own service credentials (`plugin:<pluginId>`).
    fn own_service_credentials(&self) -> Credentials;

    /// A token for a request to `target_plugin_id`: on behalf of the user for user
    /// credentials, as this plugin for service credentials. Mint one per request; never cache
    /// it.
    async fn plugin_request_token(
        &self,
        on_behalf_of: &Credentials,
        target_plugin_id: &str,
    ) -> Result<String, AuthError>;

    /// A limited token for user credentials, for the user cookie.
    async fn limited_user_token(
        &self,
        credentials: &Credentials,
    ) -> Result<LimitedToken, AuthError>;

    /// This plugin's public keys for plugin tokens (`/.backstage/auth/v1/jwks.json`).
    async fn list_public_service_keys(&self) -> Result<jwt::JwkSet, AuthError>;
}

/// Options of [`HttpAuthService::credentials`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialsOptions<'a> {
    /// The principal kinds the route accepts; another kind is 403 (`none` is 401).
    pub allow: &'a [PrincipalKind],
    /// Accept the user cookie (a limited user token).
    pub allow_limited_access: bool,
}

impl CredentialsOptions<'static> {
    /// Users and services, no cookie: what the default policy lets through.
    pub const USER_OR_SERVICE: Self = Self {
        allow: &[PrincipalKind::User, PrincipalKind::Service],
        allow_limited_access: false,
    };
    /// Users only.
    pub const USER: Self = Self {
        allow: &[PrincipalKind::User],
        allow_limited_access: false,
    };
    /// Services only.
    pub const SERVICE: Self = Self {
        allow: &[PrincipalKind::Service],
        allow_limited_access: false,
    };
    /// Anyone, nobody included.
    pub const ANY: Self = Self {
        allow: &[
            PrincipalKind::User,
            PrincipalKind::Service,
            PrincipalKind::None,
        ],
        allow_limited_access: true,
    };
}

/// The credentials of HTTP requests to one plugin (`core.httpAuth`).
#[async_trait]
pub trait HttpAuthService: Send + Sync + std::fmt::Debug {
    /// The credentials of the request `parts` came from, if their kind is in
    /// `options.allow`: 401 `AuthenticationError` without valid credentials, 403
    /// `NotAllowedError` for a kind the route does not allow.
    async fn credentials(
        &self,
        parts: &http::request::Parts,
        options: CredentialsOptions<'_>,
    ) -> Result<Credentials, ApiError>;

    /// A `Set-Cookie` value carrying a limited token of the user `credentials` stand for,
    /// scoped to this plugin's base path.
    async fn issue_user_cookie(
        &self,
        credentials: &Credentials,
    ) -> Result<http::HeaderValue, ApiError>;
}

/// The user behind user credentials (`core.userInfo`).
#[async_trait]
pub trait UserInfoService: Send + Sync + std::fmt::Debug {
    /// The user entity ref and ownership entity refs of `credentials` (user credentials only).
    async fn user_info(&self, credentials: &Credentials) -> Result<BackstageUserInfo, AuthError>;
}

/// The default factory of [`AUTH`], for a host (or a test backend) that replaced it and wants
/// it back.
pub fn default_auth_factory() -> crate::backend::ServiceFactory {
    factories::auth_factory()
}

/// The default factory of [`USER_INFO`].
pub fn default_user_info_factory() -> crate::backend::ServiceFactory {
    factories::user_info_factory()
}

/// A plugin's token service (`core.auth`). The default keeps the plugin's ES256 keys in its
/// database and serves their public halves at `/.backstage/auth/v1/jwks.json`.
pub static AUTH: ServiceRef<dyn AuthService> =
    ServiceRef::plugin("core.auth").with_default(factories::auth_factory);

/// A plugin's HTTP credentials service (`core.httpAuth`). The default also serves
/// `/.backstage/auth/v1/cookie` (`GET` issues the user cookie, `DELETE` clears it).
pub static HTTP_AUTH: ServiceRef<dyn HttpAuthService> =
    ServiceRef::plugin("core.httpAuth").with_default(factories::http_auth_factory);

/// User info (`core.userInfo`).
pub static USER_INFO: ServiceRef<dyn UserInfoService> =
    ServiceRef::plugin("core.userInfo").with_default(factories::user_info_factory);
