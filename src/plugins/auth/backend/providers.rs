//! The configured providers (`auth.providers.<id>`): `guest`, and OpenID Connect for `oidc`
//! (or any provider whose environments name a `metadataUrl`).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::oidc::{OidcClient, OidcSettings};
use super::resolvers::ResolverChain;
use crate::plugins::auth::node::AuthResolversExtension;
use crate::services::config::{Config, ConfigError};
use crate::services::http_client::HttpClientTimeouts;

/// The guest provider (`auth.providers.guest`).
#[derive(Debug, Clone)]
pub(crate) struct GuestProvider {
    /// `userEntityRef`, default `user:development/guest`.
    pub(crate) user_entity_ref: String,
    /// `ownershipEntityRefs`, used when the user is not in the catalog.
    pub(crate) ownership_entity_refs: Option<Vec<String>>,
    /// Whether `auth.environment` is `development` or
    /// `dangerouslyAllowOutsideDevelopment` is set.
    pub(crate) allowed: bool,
}

/// One environment of an OpenID Connect provider.
#[derive(Debug)]
pub(crate) struct OidcEnv {
    pub(crate) client: OidcClient,
    pub(crate) resolvers: ResolverChain,
    /// `sessionDuration` in seconds: the refresh cookie's lifetime.
    pub(crate) session_duration: Option<u64>,
}

/// A configured provider.
#[derive(Debug, Clone)]
pub(crate) enum Provider {
    Guest(GuestProvider),
    Oidc(BTreeMap<String, Arc<OidcEnv>>),
}

/// What [`read_providers`] found.
#[derive(Debug, Default)]
pub(crate) struct Providers {
    pub(crate) providers: BTreeMap<String, Provider>,
    /// Provider ids in config that this plugin cannot serve.
    pub(crate) skipped: Vec<String>,
}

fn invalid(path: String, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        path,
        message: message.into(),
    }
}

/// Reads `auth.providers`. `auth_base` is the auth plugin's external base URL (for default
/// callback URLs); `has_secret` whether `auth.session.secret` is set (OIDC needs it).
pub(crate) fn read_providers(
    config: &Config,
    environment: Option<&str>,
    auth_base: &str,
    has_secret: bool,
    registry: &AuthResolversExtension,
) -> Result<Providers, ConfigError> {
    let mut out = Providers::default();
    let Some(providers) = config.opt_config("auth.providers")? else {
        return Ok(out);
    };
    // Calls to identity providers take the backend's timeouts (`backend.httpClient.*`) and
    // never follow redirects.
    let http = HttpClientTimeouts::from_config(config)?
        .builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| {
            invalid(
                "backend.httpClient".to_string(),
                format!("cannot build the HTTP client: {e}"),
            )
        })?;
    for id in providers.keys() {
        let pc = providers.config(&id)?;
        if id == "guest" {
            let dangerous = pc.opt_bool("dangerouslyAllowOutsideDevelopment")? == Some(true);
            out.providers.insert(
                id,
                Provider::Guest(GuestProvider {
                    user_entity_ref: pc
                        .opt_string("userEntityRef")?
                        .unwrap_or_else(|| "user:development/guest".into()),
                    ownership_entity_refs: pc.opt_string_array("ownershipEntityRefs")?,
                    allowed: environment == Some("development") || dangerous,
                }),
            );
            continue;
        }
        let envs: Vec<String> = pc
            .keys()
            .into_iter()
            .filter(|env| pc.has(&format!("{env}.metadataUrl")))
            .collect();
        if envs.is_empty() {
            out.skipped.push(id);
            continue;
        }
        if !has_secret {
            return Err(ConfigError::Missing {
                path: "auth.session.secret".into(),
            });
        }
        let mut by_env = BTreeMap::new();
        for env in envs {
            let ec = pc.config(&env)?;
            let path = |k: &str| format!("auth.providers.{id}.{env}.{k}");
            let metadata_url = ec.string("metadataUrl")?;
            url::Url::parse(&metadata_url)
                .map_err(|e| invalid(path("metadataUrl"), format!("not a URL: {e}")))?;
            let method = ec
                .opt_string("tokenEndpointAuthMethod")?
                .unwrap_or_else(|| "client_secret_basic".into());
            if !matches!(
                method.as_str(),
                "client_secret_basic" | "client_secret_post"
            ) {
                return Err(invalid(
                    path("tokenEndpointAuthMethod"),
                    "must be client_secret_basic or client_secret_post",
                ));
            }
            let settings = OidcSettings {
                client_id: ec.string("clientId")?,
                client_secret: ec.string("clientSecret")?,
                metadata_url,
                callback_url: ec
                    .opt_string("callbackUrl")?
                    .unwrap_or_else(|| format!("{auth_base}/{id}/handler/frame")),
                scope: ec.opt_string("scope")?,
                prompt: ec.opt_string("prompt")?,
                token_endpoint_auth_method: method,
            };
            let resolvers: Vec<serde_json::Value> =
                ec.opt_get_as("signIn.resolvers")?.unwrap_or_default();
            let resolvers =
                ResolverChain::from_config(&path("signIn.resolvers"), &resolvers, registry)
                    .map_err(|m| invalid(path("signIn.resolvers"), m))?;
            let session_duration = ec.opt_duration("sessionDuration")?.map(|d| d.as_secs());
            by_env.insert(
                env,
                Arc::new(OidcEnv {
                    client: OidcClient::new(settings, http.clone()),
                    resolvers,
                    session_duration,
                }),
            );
        }
        out.providers.insert(id, Provider::Oidc(by_env));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::auth::backend::resolvers::add_builtins;

    fn read(
        v: serde_json::Value,
        env: Option<&str>,
        secret: bool,
    ) -> Result<Providers, ConfigError> {
        let registry = AuthResolversExtension::default();
        add_builtins(&registry);
        read_providers(
            &Config::from_value(v),
            env,
            "http://localhost:7007/api/auth",
            secret,
            &registry,
        )
    }

    #[test]
    fn guest_is_allowed_in_development_or_when_told() {
        let cfg = serde_json::json!({"auth": {"providers": {"guest": {}}}});
        let p = read(cfg.clone(), Some("development"), false).unwrap();
        let Some(Provider::Guest(g)) = p.providers.get("guest") else {
            panic!()
        };
        assert!(g.allowed);
        assert_eq!(g.user_entity_ref, "user:development/guest");
        let p = read(cfg, Some("production"), false).unwrap();
        let Some(Provider::Guest(g)) = p.providers.get("guest") else {
            panic!()
        };
        assert!(!g.allowed);
        let cfg = serde_json::json!({"auth": {"providers": {"guest": {"dangerouslyAllowOutsideDevelopment": true}}}});
        let p = read(cfg, None, false).unwrap();
        let Some(Provider::Guest(g)) = p.providers.get("guest") else {
            panic!()
        };
        assert!(g.allowed);
    }

    #[test]
    fn oidc_environments_are_read_with_defaults() {
        let cfg = serde_json::json!({"auth": {"providers": {
            "oidc": {"development": {
                "metadataUrl": "http://127.0.0.1:7800/.well-known/openid-configuration",
                "clientId": "backlot", "clientSecret": "s",
                "signIn": {"resolvers": [{"resolver": "emailMatchingUserEntityProfileEmail"}]}
            }},
            "github": {"development": {"clientId": "x"}}
        }}});
        let p = read(cfg.clone(), None, true).unwrap();
        let Some(Provider::Oidc(envs)) = p.providers.get("oidc") else {
            panic!()
        };
        let env = &envs["development"];
        assert_eq!(
            env.client.settings.callback_url,
            "http://localhost:7007/api/auth/oidc/handler/frame"
        );
        assert_eq!(env.resolvers.0.len(), 1);
        assert_eq!(p.skipped, ["github"]);
        // OIDC keeps secrets in cookies: the session secret is required.
        let err = read(cfg, None, false).unwrap_err();
        assert_eq!(err.path(), Some("auth.session.secret"));
    }

    #[test]
    fn unknown_resolvers_name_their_key() {
        let cfg = serde_json::json!({"auth": {"providers": {"oidc": {"development": {
            "metadataUrl": "http://127.0.0.1:1/", "clientId": "a", "clientSecret": "b",
            "signIn": {"resolvers": [{"resolver": "nope"}]}
        }}}}});
        let err = read(cfg, None, true).unwrap_err();
        assert_eq!(
            err.path(),
            Some("auth.providers.oidc.development.signIn.resolvers")
        );
    }
}
