//! The `search` backend plugin.

use std::sync::Arc;

use super::config::{EngineChoice, engine_choice, query_limits};
use super::{EmbeddedEngine, IndexBuilder, router};
use crate::backend::{BackendPlugin, BoxError, PluginRegistrar, Registration};
use crate::plugins::search::node::{
    SEARCH_ENGINE, SEARCH_INDEX_REGISTRY, SearchEngine, SearchEngineRegistry, SearchError,
    SearchIndexRegistry,
};
use crate::services::config::Config;
use crate::services::core_services::{HTTP_ROUTER, LIFECYCLE, LOGGER, ROOT_CONFIG};
use crate::services::logger::LoggerServiceExt;
use crate::services::scheduler::{self, LeaseStore, PluginScheduler};

/// The search backend plugin (id `search`): Backstage's query API at `/api/search/query`,
/// and an index builder that runs every registered collator on the scheduler.
///
/// The engine is, in order: one a module installed through [`SEARCH_ENGINE`], one given to
/// [`with_engine`](Self::with_engine), the PostgreSQL engine when `search.pg` is set (cargo
/// feature `postgres`), else the embedded engine (`search.embedded.*`). Collators come from
/// modules through [`SEARCH_INDEX_REGISTRY`], e.g.
/// [`SearchCatalogCollatorModule`](super::SearchCatalogCollatorModule). The scheduler's task
/// endpoints are served at `/api/search/.backstage/scheduler/v1/tasks`.
///
/// ```
/// use backlot::backend::{Backend, Feature};
/// use backlot::plugins::search::backend::SearchPlugin;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let handle = Backend::builder()
///     .config_value(serde_json::json!({ "search": { "embedded": { "inMemory": true } } }))
///     .add_feature(Feature::plugin(SearchPlugin::new()))
///     .listen_addr("127.0.0.1:0".parse()?)
///     .start()
///     .await?;
/// let res = reqwest::get(handle.url("/api/search/query?term=anything")).await?;
/// assert_eq!(res.status(), 200);
/// handle.stop().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct SearchPlugin {
    engine: Option<Arc<dyn SearchEngine>>,
}

impl SearchPlugin {
    /// The plugin with the engine its config names.
    pub fn new() -> Self {
        Self::default()
    }

    /// The plugin with `engine`, unless a module installs another.
    pub fn with_engine(engine: Arc<dyn SearchEngine>) -> Self {
        Self {
            engine: Some(engine),
        }
    }
}

struct Engines {
    engine: Arc<dyn SearchEngine>,
    lease_store: LeaseStore,
}

async fn engine_from_config(config: &Config) -> Result<Engines, SearchError> {
    match engine_choice(config)? {
        EngineChoice::EmbeddedInMemory => Ok(Engines {
            engine: Arc::new(EmbeddedEngine::in_memory()?),
            lease_store: LeaseStore::memory(),
        }),
        EngineChoice::EmbeddedDirectory(dir) => {
            let engine = tokio::task::spawn_blocking(move || EmbeddedEngine::in_directory(dir))
                .await
                .map_err(|e| SearchError::engine("embedded", "opening the index failed", e))??;
            Ok(Engines {
                engine: Arc::new(engine),
                lease_store: LeaseStore::memory(),
            })
        }
        #[cfg(feature = "postgres")]
        EngineChoice::Postgres => {
            let pool = super::pg::search_pool(config).await?;
            let engine = super::PgEngine::new(pool.clone()).await?;
            Ok(Engines {
                engine: Arc::new(engine),
                lease_store: LeaseStore::Postgres(pool),
            })
        }
        #[cfg(not(feature = "postgres"))]
        EngineChoice::Postgres => Err(SearchError::Config {
            key: "search.pg".into(),
            message: "the PostgreSQL engine needs the cargo feature 'postgres'".into(),
        }),
    }
}

impl BackendPlugin for SearchPlugin {
    fn id(&self) -> &str {
        "search"
    }

    fn register(&self, reg: PluginRegistrar) -> Registration {
        let index_registry = Arc::new(SearchIndexRegistry::default());
        let engine_registry = Arc::new(SearchEngineRegistry::default());
        let given = self.engine.clone();
        reg.extension_point(&SEARCH_INDEX_REGISTRY, index_registry.clone())
            .extension_point(&SEARCH_ENGINE, engine_registry.clone())
            .init(
                (&ROOT_CONFIG, &LOGGER, &HTTP_ROUTER, &LIFECYCLE),
                move |(config, logger, http, lifecycle)| async move {
                    let limits = query_limits(&config)?;
                    let (engine, lease_store) = match engine_registry.search_engine().or(given) {
                        Some(engine) => (engine, LeaseStore::memory()),
                        None => {
                            let e = engine_from_config(&config).await?;
                            (e.engine, e.lease_store)
                        }
                    };
                    logger.info(&format!("search engine: {engine:?}"));
                    let scheduler = Arc::new(PluginScheduler::new("search", lease_store));
                    let builder = IndexBuilder::new(engine.clone(), index_registry.decorators());
                    builder
                        .schedule(&scheduler, index_registry.collators(), logger.clone())
                        .await?;
                    http.use_router(
                        router::build(engine, limits).merge(scheduler::router(scheduler.clone())),
                    );
                    lifecycle.add_shutdown_hook(move || async move {
                        scheduler.shutdown().await;
                        Ok::<(), BoxError>(())
                    });
                    Ok(())
                },
            )
    }
}
