//! The core service refs, as Backstage's `coreServices`.
//!
//! Depend on them in `init` functions and service factories:
//!
//! ```
//! use backlot::backend::Feature;
//! use backlot::services::core_services::{LOGGER, ROOT_CONFIG};
//! use backlot::services::logger::LoggerServiceExt;
//!
//! let plugin = Feature::plugin_fn("todo", |reg| {
//!     reg.init((&ROOT_CONFIG, &LOGGER), |(config, logger)| async move {
//!         let title = config.opt_string("app.title")?.unwrap_or_default();
//!         logger.info(&format!("serving todos for {title}"));
//!         Ok(())
//!     })
//! });
//! # let _ = plugin;
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use crate::backend::{ServiceFactory, ServiceRef};
use crate::services::cache::{CacheClient, CacheManager};
use crate::services::config::Config;
use crate::services::database::{DatabaseManager, DbPool, PluginDatabase};
use crate::services::discovery::{DiscoveryService, HostDiscovery};
use crate::services::health::RootHealth;
use crate::services::http_router::{HttpRouter, RootHttpRouter};
use crate::services::lifecycle::{Lifecycle, RootLifecycle};
use crate::services::logger::{LoggerService, TracingLogger, init_tracing};
use crate::services::metrics::{MetricsService, PluginMetrics};
use crate::services::permissions::PERMISSIONS;
use crate::services::scheduler::{LeaseStore, PluginScheduler};
use crate::services::url_reader::{UrlReaderService, UrlReaders};

/// The merged app config (`core.rootConfig`), from the backend builder's config inputs.
pub static ROOT_CONFIG: ServiceRef<Config> = ServiceRef::root("core.rootConfig");

/// The root logger (`core.rootLogger`); by default `tracing`, set up from
/// `backend.logging`.
pub static ROOT_LOGGER: ServiceRef<dyn LoggerService> =
    ServiceRef::root("core.rootLogger").with_default(root_logger_factory);

/// A plugin's logger (`core.logger`): the root logger with a `plugin` field.
pub static LOGGER: ServiceRef<dyn LoggerService> =
    ServiceRef::plugin("core.logger").with_default(logger_factory);

/// The backend-wide lifecycle (`core.rootLifecycle`).
pub static ROOT_LIFECYCLE: ServiceRef<RootLifecycle> =
    ServiceRef::root("core.rootLifecycle").with_default(root_lifecycle_factory);

/// A plugin's lifecycle (`core.lifecycle`).
pub static LIFECYCLE: ServiceRef<Lifecycle> =
    ServiceRef::plugin("core.lifecycle").with_default(lifecycle_factory);

/// A plugin's HTTP router (`core.httpRouter`), mounted at `/api/<pluginId>`.
pub static HTTP_ROUTER: ServiceRef<HttpRouter> =
    ServiceRef::plugin("core.httpRouter").with_default(http_router_factory);

/// The root HTTP router (`core.rootHttpRouter`) for routes outside plugins.
pub static ROOT_HTTP_ROUTER: ServiceRef<RootHttpRouter> =
    ServiceRef::root("core.rootHttpRouter").with_default(root_http_router_factory);

/// Discovery (`core.discovery`): where each plugin's API lives.
pub static DISCOVERY: ServiceRef<dyn DiscoveryService> =
    ServiceRef::root("core.discovery").with_default(discovery_factory);

/// Root health (`core.rootHealth`), provided by the backend.
pub static ROOT_HEALTH: ServiceRef<RootHealth> = ServiceRef::root("core.rootHealth");

/// The plugin's own metadata (`core.pluginMetadata`), provided by the backend.
pub static PLUGIN_METADATA: ServiceRef<PluginMetadata> = ServiceRef::plugin("core.pluginMetadata");

/// The running server's address (`core.serverInfo`), provided by the backend.
pub static SERVER_INFO: ServiceRef<ServerInfo> = ServiceRef::root("core.serverInfo");

/// A plugin's URL reader (`core.urlReader`): `file:` paths and `http(s):` URLs within
/// `backend.reading`'s allow-lists. One reader set is shared by every plugin.
pub static URL_READER: ServiceRef<dyn UrlReaderService> =
    ServiceRef::plugin("core.urlReader").with_default(url_reader_factory);

/// A plugin's own database (`core.database`), from `backend.database`: SQLite files in
/// `./data` by default (one per plugin), `:memory:`, or PostgreSQL (feature `postgres`) with a
/// database or schema per plugin. See `docs/database.md`.
pub static DATABASE: ServiceRef<PluginDatabase> =
    ServiceRef::plugin("core.database").with_default(database_factory);

/// A plugin's cache (`core.cache`): keyv-style `get`/`set`/`delete` of JSON values in the
/// plugin's own namespace, on the store `backend.cache.store` names (`memory` by default;
/// `redis`, `valkey`, `memcache`, `infinispan` with their cargo features). A broken cache
/// server degrades to misses, never to errors. See `docs/cache.md`.
pub static CACHE: ServiceRef<CacheClient> =
    ServiceRef::plugin("core.cache").with_default(cache_factory);

/// A plugin's task scheduler (`core.scheduler`). Its tasks are listed at
/// `/api/<pluginId>/.backstage/scheduler/v1/tasks`; it stops with the backend.
pub static SCHEDULER: ServiceRef<PluginScheduler> =
    ServiceRef::plugin("core.scheduler").with_default(scheduler_factory);

/// The backend's metrics (`core.rootMetrics`), from `backend.metrics`. When enabled it serves
/// the Prometheus exposition at `backend.metrics.path` (default `/metrics`) on the root
/// router. See `docs/operations.md`.
pub static ROOT_METRICS: ServiceRef<MetricsService> =
    ServiceRef::root("core.rootMetrics").with_default(root_metrics_factory);

/// A plugin's metrics recorder (`core.metrics`): records under the plugin's id, and does
/// nothing while `backend.metrics.enabled` is off.
pub static METRICS: ServiceRef<PluginMetrics> =
    ServiceRef::plugin("core.metrics").with_default(metrics_factory);

/// What a plugin knows about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginMetadata {
    id: String,
}

impl PluginMetadata {
    /// Metadata for plugin `id`.
    pub fn new(id: &str) -> Self {
        Self { id: id.to_string() }
    }

    /// The plugin id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// The address the backend's server listens on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// The bound socket address.
    pub local_addr: SocketAddr,
    /// `http://<host>:<port>` as other processes on this machine reach it.
    pub internal_base_url: String,
}

fn root_logger_factory() -> ServiceFactory {
    ServiceFactory::root(&ROOT_LOGGER)
        .deps((&ROOT_CONFIG, &ROOT_LIFECYCLE))
        .build(|(config, lifecycle)| async move {
            init_tracing(&config);
            // Spans still batched for the OpenTelemetry exporter go out when the backend stops.
            #[cfg(feature = "otel")]
            lifecycle.add_shutdown_hook(|| async {
                let _ = tokio::task::spawn_blocking(crate::services::metrics::otel::flush_tracing)
                    .await;
                Ok(())
            });
            #[cfg(not(feature = "otel"))]
            let _ = lifecycle;
            Ok(Arc::new(TracingLogger::new()) as Arc<dyn LoggerService>)
        })
}

fn logger_factory() -> ServiceFactory {
    ServiceFactory::plugin(&LOGGER)
        .deps(&ROOT_LOGGER)
        .build(|ctx, root| async move {
            Ok(root.child(vec![("plugin".to_string(), ctx.plugin_id().to_string())]))
        })
}

fn root_metrics_factory() -> ServiceFactory {
    ServiceFactory::root(&ROOT_METRICS)
        .deps((&ROOT_CONFIG, &ROOT_HTTP_ROUTER))
        .build(|(config, root_http)| async move {
            let metrics = Arc::new(MetricsService::from_config(&config)?);
            if metrics.enabled() {
                root_http.use_router("/", crate::services::metrics::router(metrics.clone()));
            }
            Ok(metrics)
        })
}

fn metrics_factory() -> ServiceFactory {
    ServiceFactory::plugin(&METRICS)
        .deps(&ROOT_METRICS)
        .build(|ctx, root| async move { Ok(Arc::new(root.for_plugin(ctx.plugin_id()))) })
}

fn root_lifecycle_factory() -> ServiceFactory {
    ServiceFactory::root(&ROOT_LIFECYCLE).build(|()| async { Ok(Arc::new(RootLifecycle::new())) })
}

fn lifecycle_factory() -> ServiceFactory {
    ServiceFactory::plugin(&LIFECYCLE)
        .deps(&ROOT_LIFECYCLE)
        .build(|ctx, root| async move { Ok(Arc::new(Lifecycle::new(ctx.plugin_id(), root))) })
}

fn http_router_factory() -> ServiceFactory {
    ServiceFactory::plugin(&HTTP_ROUTER)
        .deps(&ROOT_HTTP_ROUTER)
        .build(|ctx, root| async move {
            let router = Arc::new(HttpRouter::new(ctx.plugin_id()));
            root.add_plugin_router(router.clone());
            Ok(router)
        })
}

fn root_http_router_factory() -> ServiceFactory {
    ServiceFactory::root(&ROOT_HTTP_ROUTER)
        .build(|()| async { Ok(Arc::new(RootHttpRouter::new())) })
}

fn discovery_factory() -> ServiceFactory {
    ServiceFactory::root(&DISCOVERY)
        .deps((&ROOT_CONFIG, &SERVER_INFO))
        .build(|(config, server)| async move {
            let discovery = HostDiscovery::from_config(&config, &server.internal_base_url)?;
            Ok(Arc::new(discovery) as Arc<dyn DiscoveryService>)
        })
}

fn url_reader_factory() -> ServiceFactory {
    ServiceFactory::plugin(&URL_READER)
        .root_context(&ROOT_CONFIG, |config| async move {
            Ok(Arc::new(UrlReaders::from_config(
                config.get("backend.reading"),
            )?))
        })
        .build(|ctx, ()| async move { Ok(ctx.root_context().clone() as Arc<dyn UrlReaderService>) })
}

fn scheduler_factory() -> ServiceFactory {
    ServiceFactory::plugin(&SCHEDULER)
        .deps((&LIFECYCLE, &HTTP_ROUTER, &DATABASE, &PERMISSIONS, &METRICS))
        .build(
            |ctx, (lifecycle, http, database, permissions, metrics)| async move {
                // Global tasks take their lease in the plugin's own database, so every backend
                // sharing that database runs each global task on one instance at a time.
                let store = match database.pool() {
                    DbPool::Sqlite(pool) => LeaseStore::Sqlite(pool.clone()),
                    #[cfg(feature = "postgres")]
                    DbPool::Postgres(pool) => LeaseStore::Postgres(pool.clone()),
                    #[cfg(feature = "mysql")]
                    DbPool::Mysql(pool) => LeaseStore::Mysql(pool.clone()),
                };
                let scheduler = Arc::new(PluginScheduler::new(ctx.plugin_id(), store));
                scheduler.set_metrics((*metrics).clone());
                http.use_router(crate::services::scheduler::router(scheduler.clone()).layer(
                    axum::middleware::from_fn_with_state(
                        permissions,
                        crate::services::scheduler::guard_actions,
                    ),
                ));
                let stopping = scheduler.clone();
                lifecycle.add_shutdown_hook(move || async move {
                    stopping.shutdown().await;
                    Ok(())
                });
                Ok(scheduler)
            },
        )
}

/// Where the backend and its plugins keep their files (SQLite databases, the search index,
/// generated TechDocs): `backend.dataDir`, else `./data`.
///
/// ```
/// use backlot::services::config::Config;
/// use backlot::services::core_services::data_dir;
///
/// let config = Config::from_value(serde_json::json!({"backend": {"dataDir": "/var/lib/portal"}}));
/// assert_eq!(data_dir(&config)?, std::path::PathBuf::from("/var/lib/portal"));
/// assert_eq!(data_dir(&Config::default())?, std::path::PathBuf::from("data"));
/// # Ok::<(), backlot::services::config::ConfigError>(())
/// ```
pub fn data_dir(
    config: &Config,
) -> Result<std::path::PathBuf, crate::services::config::ConfigError> {
    Ok(config
        .opt_string("backend.dataDir")?
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("data")))
}

fn database_factory() -> ServiceFactory {
    ServiceFactory::plugin(&DATABASE)
        .root_context(
            (&ROOT_CONFIG, &ROOT_LIFECYCLE),
            |(config, lifecycle)| async move {
                let manager = Arc::new(DatabaseManager::from_config(
                    config.get("backend.database"),
                    &data_dir(&config)?,
                )?);
                let closing = manager.clone();
                lifecycle.add_shutdown_hook(move || async move {
                    closing.close().await;
                    Ok(())
                });
                Ok(manager)
            },
        )
        .deps(&METRICS)
        .build(|ctx, metrics| async move {
            let database = ctx.root_context().for_plugin(ctx.plugin_id()).await?;
            crate::services::metrics::sample_database_pool(&metrics, database.pool().clone());
            Ok(Arc::new(database))
        })
}

fn cache_factory() -> ServiceFactory {
    ServiceFactory::plugin(&CACHE)
        .root_context(&ROOT_CONFIG, |config| async move {
            Ok(Arc::new(CacheManager::from_config(
                config.get("backend.cache"),
            )?))
        })
        .deps(&METRICS)
        .build(|ctx, metrics| async move {
            Ok(Arc::new(
                ctx.root_context()
                    .for_plugin(ctx.plugin_id())
                    .with_metrics((*metrics).clone()),
            ))
        })
}
