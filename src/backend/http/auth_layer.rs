//! The default-deny layer in front of every plugin router: a request needs a valid user or
//! service token, unless its path has an auth policy (`unauthenticated`, or `user-cookie`
//! for the user cookie) or `backend.auth.dangerouslyDisableDefaultAuthPolicy` is set. The
//! verified [`Credentials`] go into the request's extensions.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::services::auth::{
    AuthService, AuthenticateOptions, Credentials, USER_COOKIE_NAME, bearer_token, cookie,
};
use crate::services::http_router::{AuthPolicy, AuthPolicyAllow};

/// One segment of a policy path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `:name` or `{name}`: any one segment.
    Param,
    /// `{*name}` or `*`: the rest of the path.
    Rest,
}

/// A policy path, matching its path and every path below it (Backstage's policy paths are
/// prefixes: `/static` covers `/static/a.css`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PolicyPath(Vec<Segment>);

impl PolicyPath {
    pub(crate) fn parse(path: &str) -> Self {
        Self(
            path.split('/')
                .filter(|s| !s.is_empty())
                .map(|s| {
                    if s == "*" || (s.starts_with("{*") && s.ends_with('}')) {
                        Segment::Rest
                    } else if s.starts_with(':') || (s.starts_with('{') && s.ends_with('}')) {
                        Segment::Param
                    } else {
                        Segment::Literal(s.to_string())
                    }
                })
                .collect(),
        )
    }

    pub(crate) fn matches(&self, path: &str) -> bool {
        let mut parts = path.split('/').filter(|s| !s.is_empty());
        for seg in &self.0 {
            match seg {
                Segment::Rest => return true,
                Segment::Param => {
                    if parts.next().is_none() {
                        return false;
                    }
                }
                Segment::Literal(l) => match parts.next() {
                    Some(p) if p == l => {}
                    _ => return false,
                },
            }
        }
        true
    }
}

/// The state of one plugin's layer.
#[derive(Debug)]
pub(crate) struct AuthLayerState {
    plugin_id: String,
    auth: Arc<dyn AuthService>,
    policies: Vec<(PolicyPath, AuthPolicyAllow)>,
    default_disabled: bool,
}

impl AuthLayerState {
    pub(crate) fn new(
        plugin_id: &str,
        auth: Arc<dyn AuthService>,
        policies: &[AuthPolicy],
        default_disabled: bool,
    ) -> Self {
        Self {
            plugin_id: plugin_id.to_string(),
            auth,
            policies: policies
                .iter()
                .map(|p| (PolicyPath::parse(&p.path), p.allow))
                .collect(),
            default_disabled,
        }
    }

    /// The most permissive policy covering `path`.
    fn policy(&self, path: &str) -> Option<AuthPolicyAllow> {
        let mut found = None;
        for (p, allow) in &self.policies {
            if p.matches(path) {
                match allow {
                    AuthPolicyAllow::Unauthenticated => return Some(*allow),
                    AuthPolicyAllow::UserCookie => found = Some(*allow),
                }
            }
        }
        found
    }

    async fn credentials(
        &self,
        path: &str,
        headers: &http::HeaderMap,
    ) -> Result<Credentials, ApiError> {
        let policy = self.policy(path);
        let cookie_ok = policy == Some(AuthPolicyAllow::UserCookie);
        let open = policy == Some(AuthPolicyAllow::Unauthenticated);
        let credentials = if let Some(token) = bearer_token(headers) {
            match self
                .auth
                .authenticate(
                    token,
                    AuthenticateOptions {
                        allow_limited_access: cookie_ok,
                    },
                )
                .await
            {
                Ok(c) => c,
                // An open route does not fail on a bad token; its handler sees nobody.
                Err(_) if open => Credentials::none(),
                Err(e) => return Err(e.into()),
            }
        } else if let Some(token) = cookie(headers, USER_COOKIE_NAME).filter(|_| cookie_ok) {
            self.auth
                .authenticate(
                    token,
                    AuthenticateOptions {
                        allow_limited_access: true,
                    },
                )
                .await?
        } else {
            Credentials::none()
        };
        // Only an `unauthenticated` path lets nobody through; a `user-cookie` path still needs
        // the cookie (or a token).
        if credentials.user_entity_ref().is_none()
            && credentials.service_subject().is_none()
            && !open
            && !self.default_disabled
        {
            return Err(ApiError::authentication("Missing credentials"));
        }
        if let Some(restrictions) = credentials.access_restrictions()
            && !restrictions.iter().any(|r| r.plugin == self.plugin_id)
        {
            let plugins: Vec<&str> = restrictions.iter().map(|r| r.plugin.as_str()).collect();
            return Err(ApiError::not_allowed(format!(
                "This token's access is restricted to plugin(s) '{}'",
                plugins.join("', '")
            )));
        }
        Ok(credentials)
    }
}

/// The middleware: authenticates, or answers 401/403 with the error JSON.
pub(crate) async fn authenticate(
    State(state): State<Arc<AuthLayerState>>,
    req: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = req.into_parts();
    match state.credentials(parts.uri.path(), &parts.headers).await {
        Ok(credentials) => {
            parts.extensions.insert(credentials);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_paths_are_prefixes_with_params() {
        let p = PolicyPath::parse("/static");
        assert!(p.matches("/static") && p.matches("/static/a/b.css"));
        assert!(!p.matches("/statics") && !p.matches("/"));
        let p = PolicyPath::parse("/docs/:ns/{kind}/x");
        assert!(p.matches("/docs/default/component/x/index.html"));
        assert!(!p.matches("/docs/default/component/y"));
        let p = PolicyPath::parse("/files/{*rest}");
        assert!(p.matches("/files/a/b"));
        assert!(PolicyPath::parse("/").matches("/anything"));
    }
}
