//! Starting and stopping a backend.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Router;
use futures::FutureExt;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::builder::Backend;
use super::deps::AnyArc;
use super::error::{BackendError, BoxError, StartupError};
use super::http::auth_layer::{self, AuthLayerState};
use super::http::edge::require_json_body;
use super::http::gate::Gate;
use super::http::request_metrics::{HttpMetrics, record_route};
use super::http::server::{ServerLimits, serve};
use super::http::{health_router, not_found, with_root_layers};
use super::plan::PluginPlan;
use super::registry::{Registry, ResolveError};
use super::service_ref::ServiceRef;
use crate::services::auth::{AUTH, HTTP_AUTH};
use crate::services::config::{Config, ConfigError};
use crate::services::core_services::{ROOT_HTTP_ROUTER, ROOT_LIFECYCLE, ROOT_METRICS, ServerInfo};
use crate::services::health::RootHealth;
use crate::services::http_router::RootHttpRouter;
use crate::services::lifecycle::RootLifecycle;

const DEFAULT_PORT: u16 = 7007;
const DEFAULT_MAX_BODY: usize = 10 * 1024 * 1024;
const DEFAULT_PAUSE: Duration = Duration::from_secs(5);
const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the server may take to close connections after in-flight requests were cut off.
const CUT_OFF_GRACE: Duration = Duration::from_secs(1);

/// Reads `backend.listen`: `":7007"`, `"host:port"`, a port number, or `{ host, port }`.
/// The default is port 7007 on every interface, as in Backstage.
pub(crate) fn listen_from_config(config: &Config) -> Result<SocketAddr, ConfigError> {
    let (host, port) = match config.get("backend.listen") {
        None | Some(serde_json::Value::Null) => (String::new(), DEFAULT_PORT),
        Some(serde_json::Value::String(s)) => {
            let (host, port) = match s.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p),
                None => (String::new(), s.as_str()),
            };
            let port = port.parse::<u16>().map_err(|_| ConfigError::WrongType {
                path: "backend.listen".into(),
                expected: "a string like ':7007' or 'host:port'",
            })?;
            (host, port)
        }
        Some(serde_json::Value::Number(n)) => {
            let port =
                n.as_u64()
                    .and_then(|n| u16::try_from(n).ok())
                    .ok_or(ConfigError::WrongType {
                        path: "backend.listen".into(),
                        expected: "a port number",
                    })?;
            (String::new(), port)
        }
        Some(serde_json::Value::Object(_)) => (
            config
                .opt_string("backend.listen.host")?
                .unwrap_or_default(),
            config
                .opt_u16("backend.listen.port")?
                .unwrap_or(DEFAULT_PORT),
        ),
        Some(_) => {
            return Err(ConfigError::WrongType {
                path: "backend.listen".into(),
                expected: "a string or an object with host and port",
            });
        }
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = if host.is_empty() {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    } else if host == "localhost" {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.parse::<IpAddr>().map_err(|_| ConfigError::WrongType {
            path: "backend.listen.host".into(),
            expected: "an IP address or 'localhost'",
        })?
    };
    Ok(SocketAddr::new(ip, port))
}

fn base_url_for(addr: SocketAddr) -> String {
    match addr.ip() {
        ip if ip.is_unspecified() => format!("http://localhost:{}", addr.port()),
        IpAddr::V6(ip) => format!("http://[{ip}]:{}", addr.port()),
        IpAddr::V4(ip) => format!("http://{ip}:{}", addr.port()),
    }
}

async fn root_service<T: ?Sized + Send + Sync + 'static>(
    registry: &Arc<Registry>,
    service: &'static ServiceRef<T>,
) -> Result<Arc<T>, BackendError> {
    service_instance(registry, service, None).await
}

/// The instance of `service` (for `plugin`, when plugin-scoped), typed.
async fn service_instance<T: ?Sized + Send + Sync + 'static>(
    registry: &Arc<Registry>,
    service: &'static ServiceRef<T>,
    plugin: Option<Arc<str>>,
) -> Result<Arc<T>, BackendError> {
    let any = registry
        .get(service.key(), plugin)
        .await
        .map_err(|e| BackendError::Service {
            service: e.service.to_string(),
            source: e.source,
        })?;
    downcast(&any).ok_or_else(|| BackendError::Service {
        service: service.id().to_string(),
        source: "service instance has an unexpected type".into(),
    })
}

fn downcast<T: ?Sized + 'static>(any: &AnyArc) -> Option<Arc<T>> {
    any.downcast_ref::<Arc<T>>().cloned()
}

fn boot_failure_continues(config: &Config, plugin: &str) -> bool {
    let key = |p: &str| config.opt_string(p).ok().flatten();
    key(&format!(
        "backend.startup.plugins.{plugin}.onPluginBootFailure"
    ))
    .or_else(|| key("backend.startup.default.onPluginBootFailure"))
    .is_some_and(|v| v == "continue")
}

impl Backend {
    /// Starts the backend: binds the listener, serves health at once, builds every root
    /// service, initializes plugins (each plugin's modules first, plugins concurrently), runs
    /// startup hooks and then reports ready.
    ///
    /// A plugin whose startup fails aborts the start (the backend shuts down again) unless
    /// `backend.startup.default.onPluginBootFailure` or
    /// `backend.startup.plugins.<id>.onPluginBootFailure` is `continue`; then its routes
    /// answer 503.
    pub async fn start(self) -> Result<BackendHandle, BackendError> {
        let config = self.config;
        let addr = match self.listen {
            Some(addr) => addr,
            None => listen_from_config(&config)?,
        };
        let listener = TcpListener::bind(addr)
            .await
            .map_err(BackendError::Server)?;
        let local_addr = listener.local_addr().map_err(BackendError::Server)?;
        let base_url = base_url_for(local_addr);
        let _ = self.server_info.set(Arc::new(ServerInfo {
            local_addr,
            internal_base_url: base_url.clone(),
        }));
        let pause = config
            .opt_duration("backend.lifecycle.startupRequestPauseTimeout")?
            .unwrap_or(DEFAULT_PAUSE);
        let shutdown_delay = config
            .opt_duration("backend.lifecycle.serverShutdownDelay")?
            .unwrap_or(Duration::ZERO);
        let shutdown_timeout = config
            .opt_duration("backend.lifecycle.shutdownTimeout")?
            .unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT);
        let max_body = config
            .opt_u64("backend.http.maxBodySize")?
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
            .unwrap_or(DEFAULT_MAX_BODY);
        let limits = ServerLimits::from_config(&config)?;
        let health_headers: Vec<(String, String)> = match config.get("backend.health.headers") {
            Some(serde_json::Value::Object(map)) => map
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect(),
            _ => Vec::new(),
        };

        let registry = Arc::new(Registry::new(self.factories));
        let health = self.health;

        let mut app = health_router(health.clone(), health_headers);
        let mut gates: HashMap<Arc<str>, Gate> = HashMap::new();
        for plan in &self.plugins {
            let gate = Gate::new(&format!("plugin '{}'", plan.id), pause);
            app = app.nest_service(&format!("/api/{}", plan.id), gate.service());
            gates.insert(plan.id.clone(), gate);
        }
        let root_gate = Gate::new("the backend", pause);
        app = app.fallback_service(root_gate.service());
        let (cut_off, cut_off_rx) = watch::channel(false);
        let http_metrics = Arc::new(HttpMetrics::new(self.plugins.iter().map(|p| &*p.id)));
        let app = with_root_layers(
            app,
            max_body,
            limits.request_limits(),
            cut_off_rx,
            http_metrics.clone(),
        );

        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let server: JoinHandle<std::io::Result<()>> =
            tokio::spawn(serve(listener, app, limits, async move {
                let _ = shutdown_rx.await;
            }));

        let mut handle = BackendHandle {
            local_addr,
            base_url,
            health: health.clone(),
            root_lifecycle: None,
            shutdown: Some(shutdown_tx),
            server: Some(server),
            cut_off,
            shutdown_delay,
            shutdown_timeout,
            registry: registry.clone(),
        };

        match boot(&registry, self.plugins, &config, &gates, &mut handle).await {
            Ok(root) => {
                if let Ok(metrics) = root_service(&registry, &ROOT_METRICS).await {
                    http_metrics.set(metrics);
                }
                root_gate.open(
                    root.layer(axum::middleware::from_fn(record_route))
                        .fallback(not_found),
                );
                health.set_ready();
                Ok(handle)
            }
            Err(e) => {
                abort_gates(&gates, &root_gate);
                let _ = handle.stop().await;
                Err(e)
            }
        }
    }
}

/// Builds the root services, starts the plugins and runs the startup hooks; returns the root
/// router. On an error the caller aborts the start, stopping whatever `handle` holds.
async fn boot(
    registry: &Arc<Registry>,
    plugins: Vec<PluginPlan>,
    config: &Config,
    gates: &HashMap<Arc<str>, Gate>,
    handle: &mut BackendHandle,
) -> Result<Router, BackendError> {
    let root_lifecycle = root_service(registry, &ROOT_LIFECYCLE).await?;
    handle.root_lifecycle = Some(root_lifecycle.clone());
    registry
        .init_root_services()
        .await
        .map_err(|e| BackendError::Service {
            service: e.service.to_string(),
            source: e.source,
        })?;
    let root_http: Arc<RootHttpRouter> = root_service(registry, &ROOT_HTTP_ROUTER).await?;
    let default_auth_disabled = config
        .opt_bool("backend.auth.dangerouslyDisableDefaultAuthPolicy")?
        .unwrap_or(false);

    let started = plugins.into_iter().map(|plan| {
        let gate = gates.get(&plan.id).cloned();
        let registry = registry.clone();
        let root_http = root_http.clone();
        async move {
            let id = plan.id.clone();
            let result = start_plugin(&registry, &root_http, plan, default_auth_disabled).await;
            (id, gate, result)
        }
    });
    let mut errors = Vec::new();
    for (id, gate, result) in futures::future::join_all(started).await {
        let Some(gate) = gate else { continue };
        match result {
            Ok(router) => gate.open(router),
            Err(e) if boot_failure_continues(config, &id) => {
                tracing::error!(plugin = %id, error = %e, "plugin failed to start; continuing without it");
                gate.fail(format!("plugin '{id}' failed to start"));
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        for hook in root_lifecycle.take_startup_hooks() {
            let plugin = hook.owner().unwrap_or("root").to_string();
            if let Err(source) = hook.run().await {
                errors.push(StartupError {
                    plugin,
                    module: None,
                    service: Some("core.lifecycle".to_string()),
                    source,
                });
            }
        }
    }
    if !errors.is_empty() {
        return Err(BackendError::Startup(errors));
    }

    let routes = root_http.take_routes();
    // axum panics on overlapping routes; two plugins claiming one path is a startup error.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let mut root = Router::new();
        for (path, router) in routes {
            let path = path.trim_end_matches('/');
            root = if path.is_empty() {
                root.merge(router)
            } else {
                root.nest(path, router)
            };
        }
        root
    }))
    .map_err(|panic| BackendError::Service {
        service: ROOT_HTTP_ROUTER.id().to_string(),
        source: format!("cannot mount root routes: {}", panic_message(&*panic)).into(),
    })
}

/// Answers requests held by the gates (and any that arrive while stopping) with 503 instead of
/// letting them wait out `startupRequestPauseTimeout`, which would hold up the shutdown.
fn abort_gates(gates: &HashMap<Arc<str>, Gate>, root: &Gate) {
    for gate in gates.values().chain(std::iter::once(root)) {
        gate.fail("the backend failed to start".to_string());
    }
}

fn startup_error(plugin: &str, module: Option<&str>, e: ResolveError) -> StartupError {
    StartupError {
        plugin: plugin.to_string(),
        module: module.map(str::to_string),
        service: Some(e.service.to_string()),
        source: e.source,
    }
}

fn backend_startup_error(plugin: &str, service: &str, e: BackendError) -> StartupError {
    StartupError {
        plugin: plugin.to_string(),
        module: None,
        service: Some(service.to_string()),
        source: Box::new(e),
    }
}

/// Runs an `init`, turning a panic into an error so that one plugin's bug is a startup
/// failure of that plugin (subject to `onPluginBootFailure`) rather than of the host.
async fn guarded(
    init: impl std::future::Future<Output = Result<(), BoxError>>,
) -> Result<(), BoxError> {
    match std::panic::AssertUnwindSafe(init).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => Err(format!("init panicked: {}", panic_message(&*panic)).into()),
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("no message")
}

/// Runs a plugin's modules, then the plugin; returns the plugin's router.
async fn start_plugin(
    registry: &Arc<Registry>,
    root_http: &RootHttpRouter,
    plan: PluginPlan,
    default_auth_disabled: bool,
) -> Result<Router, StartupError> {
    let plugin = plan.id.clone();
    let span = tracing::info_span!("plugin", plugin = %plugin);
    async move {
        for module in plan.modules {
            let resolved = registry
                .resolve(
                    &module.registration.deps,
                    Some(plugin.clone()),
                    Some(&plan.extension_points),
                )
                .await
                .map_err(|e| startup_error(&plugin, Some(&module.id), e))?;
            let init = module.registration.init;
            guarded(async move { init(resolved).await })
                .instrument(tracing::info_span!("module", module = %module.id))
                .await
                .map_err(|source| StartupError {
                    plugin: plugin.to_string(),
                    module: Some(module.id.clone()),
                    service: None,
                    source,
                })?;
        }
        plan.extension_points.closed.store(true, Ordering::Release);
        let resolved = registry
            .resolve(&plan.registration.deps, Some(plugin.clone()), None)
            .await
            .map_err(|e| startup_error(&plugin, None, e))?;
        let init = plan.registration.init;
        guarded(async move { init(resolved).await })
            .await
            .map_err(|source| StartupError {
                plugin: plugin.to_string(),
                module: None,
                service: None,
                source,
            })?;
        // Every plugin gets its token service (and with it its key set route) and the user
        // cookie route before its routes are taken.
        let auth = service_instance(registry, &AUTH, Some(plugin.clone()))
            .await
            .map_err(|e| backend_startup_error(&plugin, AUTH.id(), e))?;
        service_instance(registry, &HTTP_AUTH, Some(plugin.clone()))
            .await
            .map_err(|e| backend_startup_error(&plugin, HTTP_AUTH.id(), e))?;
        let http = root_http.take_plugin_router(&plugin);
        let router = http
            .as_ref()
            .and_then(|http| http.take_router())
            .unwrap_or_default()
            .layer(axum::middleware::from_fn(record_route))
            .fallback(not_found);
        let router = match &http {
            Some(http) if !http.json_bodies_only() => router,
            _ => router.layer(axum::middleware::from_fn(require_json_body)),
        };
        let policies = http.map(|h| h.auth_policies()).unwrap_or_default();
        let layer = AuthLayerState::new(&plugin, auth, &policies, default_auth_disabled);
        Ok(router.layer(axum::middleware::from_fn_with_state(
            Arc::new(layer),
            auth_layer::authenticate,
        )))
    }
    .instrument(span)
    .await
}

/// A running backend.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let handle = backlot::backend::Backend::builder()
///     .listen_addr("127.0.0.1:0".parse()?)
///     .start()
///     .await?;
/// println!("listening on {}", handle.base_url());
/// handle.stop().await?;
/// # Ok(())
/// # }
/// ```
pub struct BackendHandle {
    local_addr: SocketAddr,
    base_url: String,
    health: Arc<RootHealth>,
    root_lifecycle: Option<Arc<RootLifecycle>>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    /// Turned true when draining in-flight requests times out: ends them.
    cut_off: watch::Sender<bool>,
    shutdown_delay: Duration,
    shutdown_timeout: Duration,
    /// The service instances, for the test kit's access to a plugin's services.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    registry: Arc<Registry>,
}

impl fmt::Debug for BackendHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendHandle")
            .field("local_addr", &self.local_addr)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl BackendHandle {
    /// The instance of a plugin-scoped service for `plugin_id`: the one the plugin got, or a
    /// new one when the plugin never asked for it.
    #[cfg(feature = "testing")]
    pub(crate) async fn plugin_service<T: ?Sized + Send + Sync + 'static>(
        &self,
        service: &'static ServiceRef<T>,
        plugin_id: &str,
    ) -> Result<Arc<T>, BackendError> {
        service_instance(&self.registry, service, Some(Arc::from(plugin_id))).await
    }

    /// The address the server is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://<host>:<port>` of the server.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The full URL of `path` on this backend.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// The backend's health.
    pub fn health(&self) -> &RootHealth {
        &self.health
    }

    /// Waits for Ctrl-C or SIGTERM, then stops gracefully.
    pub async fn serve_until_shutdown(self) -> Result<(), BackendError> {
        shutdown_signal().await;
        tracing::info!("shutdown signal received, stopping the backend");
        self.stop().await
    }

    /// Stops the backend: readiness turns 503, the server waits
    /// `backend.lifecycle.serverShutdownDelay`, stops accepting connections and drains
    /// in-flight requests, then plugin shutdown hooks run newest first, then root hooks; all
    /// within `backend.lifecycle.shutdownTimeout` (default 10 s). Requests still running at
    /// the deadline are ended with a 503 and the call returns
    /// [`BackendError::ShutdownTimeout`].
    pub async fn stop(mut self) -> Result<(), BackendError> {
        self.health.set_stopping();
        let deadline = Instant::now() + self.shutdown_delay + self.shutdown_timeout;
        if !self.shutdown_delay.is_zero() {
            tokio::time::sleep(self.shutdown_delay).await;
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let mut timed_out = false;
        if let Some(mut server) = self.server.take() {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(remaining, &mut server).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => tracing::error!(error = %e, "server error while stopping"),
                Ok(Err(e)) => tracing::error!(error = %e, "server task failed"),
                Err(_) => {
                    // End the requests still running, then give the server a moment to close
                    // their connections.
                    self.cut_off.send_replace(true);
                    if tokio::time::timeout(CUT_OFF_GRACE, &mut server)
                        .await
                        .is_err()
                    {
                        server.abort();
                    }
                    timed_out = true;
                }
            }
        }
        if let Some(lifecycle) = self.root_lifecycle.take() {
            for hook in lifecycle.take_shutdown_hooks() {
                let remaining = deadline.saturating_duration_since(Instant::now());
                let owner = hook.owner().map(str::to_string);
                match tokio::time::timeout(remaining, hook.run()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        tracing::error!(plugin = ?owner, error = %e, "shutdown hook failed")
                    }
                    Err(_) => {
                        timed_out = true;
                        break;
                    }
                }
            }
        }
        if timed_out {
            Err(BackendError::ShutdownTimeout(self.shutdown_timeout))
        } else {
            Ok(())
        }
    }
}

impl Drop for BackendHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
