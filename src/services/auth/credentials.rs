//! Who is calling: principals and credentials, as Backstage's `BackstageCredentials`.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// The kinds of principal a route may allow (`httpAuth.credentials(req, {allow})`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalKind {
    /// A signed-in person.
    User,
    /// A plugin, or an external caller with an access token.
    Service,
    /// Nobody: no token, on a route that allows it.
    None,
}

impl PrincipalKind {
    /// `user`, `service` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Service => "service",
            Self::None => "none",
        }
    }
}

/// What a service principal with `accessRestrictions` may do
/// (`backend.auth.externalAccess[].accessRestrictions[]`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessRestriction {
    /// The plugin id the token may call.
    pub plugin: String,
    /// Permission names allowed on that plugin; `None` = any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission_names: Option<Vec<String>>,
    /// Permission actions allowed (`create`, `read`, `update`, `delete`); `None` = any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<String>>,
}

/// A signed-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPrincipal {
    /// The user's entity ref, such as `user:default/jane`.
    pub user_entity_ref: String,
    /// The plugin acting on the user's behalf, when the user's identity came in a plugin token.
    pub actor: Option<String>,
}

/// A plugin or an external caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePrincipal {
    /// `plugin:<pluginId>` for plugins, `external:<subject>` for external access.
    pub subject: String,
    /// What the caller may do; `None` = unrestricted.
    pub access_restrictions: Option<Vec<AccessRestriction>>,
}

/// The principal behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A user.
    User(UserPrincipal),
    /// A service.
    Service(ServicePrincipal),
    /// Nobody.
    None,
}

/// The verified identity of a caller. The token it came with is kept (never printed) so a
/// plugin can act on the user's behalf ([`AuthService::plugin_request_token`]) or read the
/// user's ownership claims ([`UserInfoService`]).
///
/// [`AuthService::plugin_request_token`]: super::AuthService::plugin_request_token
/// [`UserInfoService`]: super::UserInfoService
///
/// ```
/// use backlot::services::auth::{Credentials, PrincipalKind};
///
/// let creds = Credentials::service("plugin:search");
/// assert_eq!(creds.kind(), PrincipalKind::Service);
/// assert_eq!(creds.service_subject(), Some("plugin:search"));
/// assert!(Credentials::none().user_entity_ref().is_none());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    principal: Principal,
    expires_at: Option<SystemTime>,
    token: Option<Arc<str>>,
    limited: bool,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("principal", &self.principal)
            .field("expires_at", &self.expires_at)
            .field("limited", &self.limited)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Credentials of nobody.
    pub fn none() -> Self {
        Self {
            principal: Principal::None,
            expires_at: None,
            token: None,
            limited: false,
        }
    }

    /// Unrestricted service credentials for `subject` (`plugin:<id>` or `external:<name>`).
    pub fn service(subject: &str) -> Self {
        Self::from_principal(Principal::Service(ServicePrincipal {
            subject: subject.to_string(),
            access_restrictions: None,
        }))
    }

    /// User credentials for `user_entity_ref`, with no token (for tests and in-process use;
    /// such credentials cannot be passed on to other plugins).
    pub fn user(user_entity_ref: &str) -> Self {
        Self::from_principal(Principal::User(UserPrincipal {
            user_entity_ref: user_entity_ref.to_string(),
            actor: None,
        }))
    }

    /// Credentials for `principal`.
    pub fn from_principal(principal: Principal) -> Self {
        Self {
            principal,
            expires_at: None,
            token: None,
            limited: false,
        }
    }

    /// The same credentials carrying the token they were verified from.
    pub fn with_token(mut self, token: &str) -> Self {
        self.token = Some(Arc::from(token));
        self
    }

    /// The same credentials with an expiry.
    pub fn with_expiry(mut self, expires_at: SystemTime) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    /// The same credentials marked as coming from a limited (cookie) user token.
    pub fn limited(mut self, limited: bool) -> Self {
        self.limited = limited;
        self
    }

    /// The principal.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// `user`, `service` or `none`.
    pub fn kind(&self) -> PrincipalKind {
        match self.principal {
            Principal::User(_) => PrincipalKind::User,
            Principal::Service(_) => PrincipalKind::Service,
            Principal::None => PrincipalKind::None,
        }
    }

    /// The user's entity ref, for user credentials.
    pub fn user_entity_ref(&self) -> Option<&str> {
        match &self.principal {
            Principal::User(u) => Some(&u.user_entity_ref),
            _ => None,
        }
    }

    /// The subject, for service credentials.
    pub fn service_subject(&self) -> Option<&str> {
        match &self.principal {
            Principal::Service(s) => Some(&s.subject),
            _ => None,
        }
    }

    /// The access restrictions of service credentials, if any.
    pub fn access_restrictions(&self) -> Option<&[AccessRestriction]> {
        match &self.principal {
            Principal::Service(s) => s.access_restrictions.as_deref(),
            _ => None,
        }
    }

    /// When the credentials stop being valid.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// The token the credentials were verified from (user tokens only are kept for passing on).
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Whether they come from a limited (cookie) user token.
    pub fn is_limited(&self) -> bool {
        self.limited
    }
}

/// The identity of user credentials: the user and what the user owns through
/// (the `ent` claim of the identity token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackstageUserInfo {
    /// `user:default/jane`.
    pub user_entity_ref: String,
    /// The user and the groups it is a member of.
    pub ownership_entity_refs: Vec<String>,
}
