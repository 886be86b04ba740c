//! Mock services for tests, in the spirit of Backstage's `mockServices`: ready instances for
//! unit tests of code that takes a service, and service factories for a [`TestBackend`]
//! (`TestBackend::builder().service(mock_services::database_factory())`).
//!
//! Every mock is in memory: config from a YAML string (no environment), a
//! [`CapturingLogger`], SQLite `:memory:` databases, a memory cache store, a scheduler with a
//! memory lease store.
//!
//! ```
//! use backlot::services::database::Sql;
//! use backlot::services::logger::LoggerServiceExt;
//! use backlot::testing::mock_services;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = mock_services::root_config("todo:\n  pageSize: 20\n")?;
//! assert_eq!(config.number("todo.pageSize")?, 20.0);
//!
//! let logger = mock_services::logger();
//! logger.info("hello");
//! assert_eq!(logger.messages(), ["hello"]);
//!
//! let db = mock_services::database("todo").await?;
//! Sql::new("CREATE TABLE todos (title ${text})").execute(&db).await?;
//!
//! let cache = mock_services::cache("todo");
//! cache.set("k", &serde_json::json!(1), Default::default()).await;
//! assert_eq!(cache.get::<serde_json::Value>("k").await, Some(serde_json::json!(1)));
//!
//! let scheduler = mock_services::scheduler("todo");
//! scheduler.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! [`TestBackend`]: super::TestBackend

use std::sync::Arc;

use crate::backend::ServiceFactory;
use crate::services::cache::{CacheClient, CacheManager, MemoryStore, MemoryStoreOptions};
use crate::services::config::{Config, ConfigError, ConfigLoader};
use crate::services::core_services::{CACHE, DATABASE, ROOT_LOGGER};
use crate::services::database::{DatabaseError, DatabaseManager, PluginDatabase};
use crate::services::logger::{CapturingLogger, LoggerService};
use crate::services::scheduler::{LeaseStore, PluginScheduler};

/// Config read from a YAML string, without environment substitution from the process (`${VAR}`
/// stays unresolved unless the YAML sets it), as `mockServices.rootConfig({ data })`.
pub fn root_config(yaml: &str) -> Result<Arc<Config>, ConfigError> {
    let config = ConfigLoader::new()
        .yaml("mock_services::root_config", yaml)
        .env_vars(std::iter::empty::<(String, String)>())
        .load()?;
    Ok(Arc::new(config))
}

/// A logger that keeps its records for assertions.
pub fn logger() -> CapturingLogger {
    CapturingLogger::new()
}

/// A root logger factory writing to `logger`, for a backend whose logs a test reads.
/// ([`TestBackend`](super::TestBackend) already captures logs; see
/// [`TestBackend::logger`](super::TestBackend::logger).)
pub fn root_logger_factory(logger: &CapturingLogger) -> ServiceFactory {
    let logger = logger.clone();
    ServiceFactory::root(&ROOT_LOGGER).build(move |()| {
        let logger = logger.clone();
        async move { Ok(Arc::new(logger) as Arc<dyn LoggerService>) }
    })
}

/// An in-memory SQLite database for `plugin_id`, as `DATABASE` would give the plugin.
pub async fn database(plugin_id: &str) -> Result<Arc<PluginDatabase>, DatabaseError> {
    Ok(Arc::new(
        DatabaseManager::in_memory().for_plugin(plugin_id).await?,
    ))
}

/// A `DATABASE` factory giving every plugin its own in-memory SQLite database, whatever
/// `backend.database` says.
pub fn database_factory() -> ServiceFactory {
    ServiceFactory::plugin(&DATABASE)
        .root_context((), |()| async move {
            Ok(Arc::new(DatabaseManager::in_memory()))
        })
        .build(|ctx, ()| async move {
            Ok(Arc::new(
                ctx.root_context().for_plugin(ctx.plugin_id()).await?,
            ))
        })
}

fn memory_cache() -> CacheManager {
    CacheManager::with_store(Arc::new(MemoryStore::new(MemoryStoreOptions::default())))
}

/// A cache client for `plugin_id` on a fresh memory store.
pub fn cache(plugin_id: &str) -> Arc<CacheClient> {
    Arc::new(memory_cache().for_plugin(plugin_id))
}

/// A `CACHE` factory: one memory store shared by the backend's plugins, each in its own
/// namespace, whatever `backend.cache` says.
pub fn cache_factory() -> ServiceFactory {
    ServiceFactory::plugin(&CACHE)
        .root_context((), |()| async move { Ok(Arc::new(memory_cache())) })
        .build(
            |ctx, ()| async move { Ok(Arc::new(ctx.root_context().for_plugin(ctx.plugin_id()))) },
        )
}

/// A scheduler for `plugin_id` with a memory lease store, for unit tests of code that
/// schedules tasks. Call [`PluginScheduler::shutdown`] at the end of the test. In a
/// [`TestBackend`](super::TestBackend), use
/// [`TestBackend::scheduler`](super::TestBackend::scheduler) instead.
pub fn scheduler(plugin_id: &str) -> Arc<PluginScheduler> {
    Arc::new(PluginScheduler::new(plugin_id, LeaseStore::memory()))
}
