//! The `auth` backend plugin (Backstage's `plugin-auth-backend`), mounted at `/api/auth`: it
//! signs people in through the configured providers, issues Backstage identity tokens, and
//! publishes the keys that verify them.
//!
//! Config keys: `auth.environment`, `auth.session.secret` (needed by OpenID Connect
//! providers: it seals the refresh cookie), `auth.backstageTokenExpiration` (a duration; 1 hour
//! by default, clamped to 10 minutes .. 24 hours), `app.baseUrl` (the only origin sign-in
//! results are posted or redirected to), and per provider `auth.providers.guest.*` and
//! `auth.providers.oidc.<env>.{metadataUrl, clientId, clientSecret, callbackUrl, scope,
//! prompt, tokenEndpointAuthMethod, sessionDuration, signIn.resolvers}`. See `docs/auth.md`.

mod config;
mod flow;
mod oidc;
mod providers;
mod resolvers;
mod router;
mod session;
mod tokens;

use std::sync::Arc;

use crate::backend::{BackendPlugin, PluginRegistrar, Registration};
use crate::plugins::auth::node::{AUTH_RESOLVERS, AuthResolversExtension};
use crate::plugins::catalog::node::CATALOG;
use crate::services::auth::AUTH;
use crate::services::core_services::{DATABASE, DISCOVERY, HTTP_ROUTER, LOGGER, ROOT_CONFIG};
use crate::services::http_router::{AuthPolicy, AuthPolicyAllow};
use crate::services::logger::LoggerServiceExt;

use config::{AuthSettings, origin_of};
use resolvers::CatalogResolverContext;
use session::{CookieScope, SessionKeys};
use tokens::TokenIssuer;

/// The auth backend plugin (id `auth`).
///
/// Modules add sign-in resolvers through [`AUTH_RESOLVERS`]. It looks users up through the
/// [`CATALOG`] service as its own service principal ([`AUTH`]), and keeps its signing keys in
/// its own database.
///
/// ```
/// use backlot::backend::Feature;
/// use backlot::plugins::auth::backend::AuthPlugin;
///
/// let feature = Feature::plugin(AuthPlugin::new());
/// # let _ = feature;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct AuthPlugin;

impl AuthPlugin {
    /// The auth plugin.
    pub fn new() -> Self {
        Self
    }
}

/// The auth backend plugin (id `auth`), to add with
/// [`BackendBuilder::add`](crate::backend::BackendBuilder::add); the same as
/// [`AuthPlugin::new`].
///
/// ```
/// use backlot::backend::Backend;
/// use backlot::plugins::auth;
///
/// let backend = Backend::builder().add(auth::backend::plugin()).build()?;
/// assert_eq!(backend.plugin_ids(), ["auth"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn plugin() -> AuthPlugin {
    AuthPlugin::new()
}

impl BackendPlugin for AuthPlugin {
    fn id(&self) -> &str {
        "auth"
    }

    fn register(&self, reg: PluginRegistrar) -> Registration {
        let registry = Arc::new(AuthResolversExtension::default());
        resolvers::add_builtins(&registry);
        reg.extension_point(&AUTH_RESOLVERS, Arc::clone(&registry))
            .init(
                (
                    &ROOT_CONFIG,
                    &LOGGER,
                    &HTTP_ROUTER,
                    &DATABASE,
                    &DISCOVERY,
                    &CATALOG,
                    &AUTH,
                ),
                move |(config, logger, http, database, discovery, catalog, auth)| async move {
                    database.migrate(tokens::MIGRATIONS).await?;
                    let auth_base_url = discovery
                        .external_base_url("auth")
                        .trim_end_matches('/')
                        .to_string();
                    let backend_base = auth_base_url
                        .strip_suffix("/api/auth")
                        .unwrap_or(&auth_base_url)
                        .to_string();
                    let settings = AuthSettings::read(&config, &backend_base)?;
                    let session = settings
                        .session_secret
                        .as_deref()
                        .and_then(SessionKeys::new)
                        .map(Arc::new);
                    let found = providers::read_providers(
                        &config,
                        settings.environment.as_deref(),
                        &auth_base_url,
                        session.is_some(),
                        &registry,
                    )?;
                    for id in &found.skipped {
                        logger.warn(&format!(
                            "auth provider '{id}' is not supported by this backend; skipped"
                        ));
                    }
                    let issuer = Arc::new(TokenIssuer::new(
                        auth_base_url.clone(),
                        settings.token_expiration,
                        Arc::clone(&database),
                        session.clone(),
                    ));
                    let auth_url = url::Url::parse(&auth_base_url).ok();
                    let secure = auth_url.as_ref().is_some_and(|u| u.scheme() == "https");
                    let cross_site = origin_of(&auth_base_url) != Some(settings.app_origin());
                    let cookies = CookieScope {
                        base_path: auth_url
                            .as_ref()
                            .map(|u| u.path().trim_end_matches('/').to_string())
                            .unwrap_or_else(|| "/api/auth".into()),
                        secure,
                        same_site_none: secure && cross_site,
                    };
                    let state = Arc::new(router::AuthState {
                        context: Arc::new(CatalogResolverContext {
                            catalog,
                            auth,
                            issuer: Arc::clone(&issuer),
                        }),
                        settings,
                        auth_base_url,
                        issuer,
                        providers: found.providers,
                        cookies,
                        session,
                    });
                    for path in router::UNAUTHENTICATED_PATHS {
                        http.add_auth_policy(AuthPolicy {
                            path: (*path).to_string(),
                            allow: AuthPolicyAllow::Unauthenticated,
                        });
                    }
                    for path in router::USER_COOKIE_PATHS {
                        http.add_auth_policy(AuthPolicy {
                            path: (*path).to_string(),
                            allow: AuthPolicyAllow::UserCookie,
                        });
                    }
                    let names: Vec<&String> = state.providers.keys().collect();
                    logger.info(&format!("auth providers: {names:?}"));
                    http.use_router(router::router(state));
                    Ok(())
                },
            )
    }
}
