//! The proxy backend plugin, mounted at `/api/proxy` (Backstage
//! `@backstage/plugin-proxy-backend`).
//!
//! - `config`: `proxy.*` read once at start into endpoints (regexes compiled, headers parsed);
//!   a bad endpoint stops the start with its route named, or is skipped with a warning under
//!   `proxy.skipInvalidProxies`.
//! - `forward`: one request — endpoint by longest route, `allowedMethods`, headers filtered
//!   both ways, bodies streamed, 502/504 with the error JSON.
//! - `tunnel`: upgraded (WebSocket) connections joined byte for byte.
//!
//! Who may call an endpoint is decided by the backend's default-deny layer: endpoints with
//! `credentials: dangerously-allow-unauthenticated` get an `unauthenticated` auth policy, the
//! others need a user or service token, as every plugin route does.

mod config;
mod error;
mod forward;
mod tunnel;

pub use config::{
    CredentialsPolicy, DEFAULT_MAX_IDLE_PER_TARGET, DEFAULT_MAX_WEBSOCKETS, DEFAULT_TIMEOUT,
};
pub use error::ProxyConfigError;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::any;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde_json::Map;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use self::config::{Endpoint, ProxySettings, configured_endpoints, normalize_route};
use self::forward::{Proxy, ProxyClient};
use crate::backend::{BackendPlugin, BoxError, PluginRegistrar, Registration};
use crate::plugins::proxy::node::{PROXY_ENDPOINTS, ProxyEndpoints};
use crate::services::config::Config;
use crate::services::core_services::{HTTP_ROUTER, LIFECYCLE, LOGGER, ROOT_CONFIG};
use crate::services::http_client::HttpClientTimeouts;
use crate::services::http_router::{AuthPolicy, AuthPolicyAllow};
use crate::services::logger::{LoggerService, LoggerServiceExt};

/// Below the default keep-alive of servers (5 s), so a pooled connection is not reused just
/// as the target closes it.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(4);

/// The proxy backend plugin (id `proxy`).
///
/// ```
/// use backlot::backend::Backend;
/// use backlot::plugins::proxy;
///
/// let backend = Backend::builder()
///     .config_yaml("proxy:\n  endpoints:\n    /ci: https://ci.example.com/api/v2\n")
///     .add(proxy::backend::plugin())
///     .build()?;
/// assert_eq!(backend.plugin_ids(), ["proxy"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ProxyPlugin;

impl ProxyPlugin {
    /// The plugin; modules add endpoints through [`PROXY_ENDPOINTS`].
    pub fn new() -> Self {
        Self
    }
}

impl BackendPlugin for ProxyPlugin {
    fn id(&self) -> &str {
        "proxy"
    }

    fn register(&self, reg: PluginRegistrar) -> Registration {
        let added = Arc::new(ProxyEndpoints::default());
        reg.extension_point(&PROXY_ENDPOINTS, Arc::clone(&added))
            .init(
                (&ROOT_CONFIG, &LOGGER, &HTTP_ROUTER, &LIFECYCLE),
                move |(config, logger, http, lifecycle)| async move {
                    let settings = ProxySettings::from_config(&config)?;
                    let endpoints = endpoints(&config, &added.endpoints(), &settings, &*logger)?;
                    let auth_disabled = config
                        .opt_bool("backend.auth.dangerouslyDisableDefaultAuthPolicy")?
                        .unwrap_or(false);
                    for endpoint in &endpoints {
                        if endpoint.credentials
                            == CredentialsPolicy::DangerouslyAllowUnauthenticated
                        {
                            http.add_auth_policy(AuthPolicy {
                                path: endpoint.route.clone(),
                                allow: AuthPolicyAllow::Unauthenticated,
                            });
                        }
                    }
                    let shutdown = CancellationToken::new();
                    let proxy = Arc::new(Proxy {
                        endpoints,
                        client: client(&config, &settings)?,
                        tunnels: Arc::new(Semaphore::new(settings.max_websockets)),
                        shutdown: shutdown.clone(),
                        auth_disabled,
                        logger,
                    });
                    // Proxied bodies are the target's business, whatever their type.
                    http.allow_any_body_type();
                    http.use_router(
                        Router::new()
                            .route("/", any(forward::handle))
                            .route("/{*rest}", any(forward::handle))
                            .with_state(proxy),
                    );
                    lifecycle.add_shutdown_hook(move || async move {
                        shutdown.cancel();
                        Ok(())
                    });
                    Ok(())
                },
            )
    }
}

/// The endpoints of modules, then of the config (which wins), parsed; longest route first.
fn endpoints(
    config: &Config,
    added: &Map<String, serde_json::Value>,
    settings: &ProxySettings,
    logger: &dyn LoggerService,
) -> Result<Vec<Endpoint>, ProxyConfigError> {
    let (configured, legacy) = configured_endpoints(config);
    if legacy {
        logger.warn(
            "configuring proxy endpoints directly under 'proxy' is deprecated; move them to \
             'proxy.endpoints'",
        );
    }
    let mut merged: Vec<(String, &serde_json::Value)> = Vec::new();
    for (route, value) in added.iter().chain(configured.iter()) {
        let normalized = normalize_route(route);
        merged.retain(|(r, _)| normalize_route(r) != normalized);
        merged.push((route.clone(), value));
    }
    let mut out = Vec::with_capacity(merged.len());
    for (route, value) in merged {
        match Endpoint::parse(&route, value, settings) {
            Ok(endpoint) => {
                if !endpoint.ignored.is_empty() {
                    logger.warn_with(
                        "proxy endpoint options not supported by backlot are ignored",
                        &[("route", &route), ("options", &endpoint.ignored.join(", "))],
                    );
                }
                out.push(endpoint);
            }
            Err(e) if settings.skip_invalid => {
                logger.warn_with("skipped an invalid proxy endpoint", &[("error", &e)]);
            }
            Err(e) => return Err(e),
        }
    }
    out.sort_by_key(|e| std::cmp::Reverse(e.route.len()));
    Ok(out)
}

/// One pooled HTTP/1 client (plain and TLS) for every endpoint, with
/// `backend.httpClient.connectTimeout`.
fn client(config: &Config, settings: &ProxySettings) -> Result<ProxyClient, BoxError> {
    let timeouts = HttpClientTimeouts::from_config(config)?;
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(timeouts.connect));
    http.set_nodelay(true);
    http.enforce_http(false);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .pool_max_idle_per_host(settings.max_idle_per_target)
        .build(https))
}

/// The proxy backend plugin, to add with
/// [`BackendBuilder::add`](crate::backend::BackendBuilder::add).
pub fn plugin() -> ProxyPlugin {
    ProxyPlugin::new()
}

/// Compiles the examples of the guide `docs/proxy.md` as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../../../../docs/proxy.md")]
pub struct ProxyGuide;
