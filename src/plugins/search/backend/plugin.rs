//! The `search` backend plugin.

#[cfg(feature = "postgres")]
use std::num::NonZeroUsize;
use std::sync::Arc;

use super::authorized::{AuthorizedSearch, DEFAULT_LATENCY_BUDGET};
use super::config::{EngineChoice, PgSettings, SearchConfig};
use super::{EmbeddedEngine, IndexBuilder, router};
use crate::backend::{BackendPlugin, PluginRegistrar, Registration};
use crate::plugins::search::node::{
    SEARCH_ENGINE, SEARCH_INDEX_REGISTRY, SearchEngine, SearchEngineRegistry, SearchError,
    SearchIndexRegistry,
};
use crate::services::config::Config;
use crate::services::core_services::{
    DATABASE, HTTP_ROUTER, LOGGER, METRICS, ROOT_CONFIG, SCHEDULER,
};
#[cfg(feature = "postgres")]
use crate::services::database::DbPool;
use crate::services::database::PluginDatabase;
use crate::services::logger::LoggerServiceExt;
use crate::services::permissions::PERMISSIONS;

/// `search.permissions.queryLatencyBudgetMs`: how long one query may spend over-fetching
/// results to fill a page the reader's permissions thin out.
fn latency_budget(config: &Config) -> Result<std::time::Duration, SearchError> {
    const KEY: &str = "search.permissions.queryLatencyBudgetMs";
    match config.opt_u64(KEY) {
        Ok(Some(0)) => Err(SearchError::Config {
            key: KEY.into(),
            message: "must be at least 1".into(),
        }),
        Ok(Some(ms)) => Ok(std::time::Duration::from_millis(ms)),
        Ok(None) => Ok(DEFAULT_LATENCY_BUDGET),
        Err(e) => Err(SearchError::Config {
            key: KEY.into(),
            message: e.to_string(),
        }),
    }
}

/// The search backend plugin (id `search`): Backstage's query API at `/api/search/query`,
/// and an index builder that runs every registered collator on the scheduler.
///
/// The engine is, in order: one a module installs through the [`SEARCH_ENGINE`] extension
/// point, the PostgreSQL engine on the plugin's own database (`DATABASE`, which must be on
/// PostgreSQL) when `search.pg` is set (cargo feature `postgres`), else the embedded engine
/// (`search.embedded.*`). Collators come from modules through [`SEARCH_INDEX_REGISTRY`], e.g.
/// [`SearchCatalogCollatorModule`](super::SearchCatalogCollatorModule), and run as global
/// tasks on the plugin's `SCHEDULER`: backends sharing the plugin's database run each
/// collator once per run. The scheduler's task endpoints are served at
/// `/api/search/.backstage/scheduler/v1/tasks`.
///
/// ```
/// use backlot::backend::{Backend, Feature};
/// use backlot::plugins::search::backend::SearchPlugin;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // Callers from outside the backend need a token (backend.auth.externalAccess).
/// let token = "a-long-random-secret-for-the-ci-job";
/// let handle = Backend::builder()
///     .config_value(serde_json::json!({
///         "search": { "embedded": { "inMemory": true } },
///         "backend": { "auth": { "externalAccess": [
///             { "type": "static", "options": { "token": token, "subject": "ci" } }
///         ] } },
///     }))
///     .add_feature(Feature::plugin(SearchPlugin::new()))
///     .listen_addr("127.0.0.1:0".parse()?)
///     .start()
///     .await?;
/// let url = handle.url("/api/search/query?term=anything");
/// assert_eq!(reqwest::get(&url).await?.status(), 401);
/// let res = reqwest::Client::new().get(&url).bearer_auth(token).send().await?;
/// assert_eq!(res.status(), 200);
/// handle.stop().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SearchPlugin;

impl SearchPlugin {
    /// The plugin with the engine its config names, unless a module installs another.
    pub fn new() -> Self {
        Self
    }
}

async fn engine_from_config(
    config: &SearchConfig,
    database: &PluginDatabase,
) -> Result<Arc<dyn SearchEngine>, SearchError> {
    match config.engine_choice()? {
        EngineChoice::EmbeddedInMemory => Ok(Arc::new(
            EmbeddedEngine::in_memory()?.with_indexing_memory(config.indexing_memory())?,
        )),
        EngineChoice::EmbeddedDirectory(dir) => {
            let engine = tokio::task::spawn_blocking(move || EmbeddedEngine::in_directory(dir))
                .await
                .map_err(|e| SearchError::engine("embedded", "opening the index failed", e))??;
            Ok(Arc::new(
                engine.with_indexing_memory(config.indexing_memory())?,
            ))
        }
        EngineChoice::Postgres(settings) => postgres_engine(database, settings).await,
    }
}

/// The PostgreSQL engine on the plugin's own database (`DATABASE`).
#[cfg(feature = "postgres")]
async fn postgres_engine(
    database: &PluginDatabase,
    settings: PgSettings,
) -> Result<Arc<dyn SearchEngine>, SearchError> {
    let defaults = super::PgLimits::default();
    let limits = super::PgLimits {
        candidate_limit: settings
            .candidate_limit
            .map_or(defaults.candidate_limit, NonZeroUsize::get),
        count_limit: settings
            .count_limit
            .map_or(defaults.count_limit, NonZeroUsize::get),
        max_expansions: settings
            .max_expansions
            .map_or(defaults.max_expansions, NonZeroUsize::get),
    };
    if let DbPool::Postgres(pool) = database.pool() {
        return Ok(Arc::new(
            super::PgEngine::new(pool.clone())
                .await?
                .with_limits(limits),
        ));
    }
    Err(postgres_needed(
        "the PostgreSQL engine needs the plugin's database on PostgreSQL \
         (backend.database.client 'pg', or backend.database.plugin.search); \
         other clients are not supported by this engine",
    ))
}

#[cfg(not(feature = "postgres"))]
async fn postgres_engine(
    _: &PluginDatabase,
    _: PgSettings,
) -> Result<Arc<dyn SearchEngine>, SearchError> {
    Err(postgres_needed(
        "the PostgreSQL engine needs the cargo feature 'postgres'",
    ))
}

fn postgres_needed(message: &str) -> SearchError {
    SearchError::Config {
        key: "search.pg".into(),
        message: message.into(),
    }
}

impl BackendPlugin for SearchPlugin {
    fn id(&self) -> &str {
        "search"
    }

    fn register(&self, reg: PluginRegistrar) -> Registration {
        let index_registry = Arc::new(SearchIndexRegistry::default());
        let engine_registry = Arc::new(SearchEngineRegistry::default());
        reg.extension_point(&SEARCH_INDEX_REGISTRY, index_registry.clone())
            .extension_point(&SEARCH_ENGINE, engine_registry.clone())
            .init(
                (
                    &ROOT_CONFIG,
                    &LOGGER,
                    &HTTP_ROUTER,
                    &SCHEDULER,
                    &DATABASE,
                    &PERMISSIONS,
                    &METRICS,
                ),
                move |(root_config, logger, http, scheduler, database, permissions, metrics)| async move {
                    let config = SearchConfig::read(&root_config)?;
                    let engine = match engine_registry.search_engine() {
                        Some(engine) => engine,
                        None => engine_from_config(&config, &database).await?,
                    };
                    logger.info(&format!("search engine: {engine:?}"));
                    // Global collator tasks take their lease in the plugin's database, so
                    // backends sharing it run each collator once per run.
                    let builder = IndexBuilder::new(engine.clone(), index_registry.decorators())
                        .with_metrics(&metrics);
                    let collators = index_registry.collators();
                    let search = AuthorizedSearch {
                        engine,
                        permissions,
                        visibility: Arc::new(
                            collators
                                .iter()
                                .filter_map(|c| {
                                    let p = c.collator.visibility_permission()?;
                                    Some((c.collator.doc_type().to_string(), p))
                                })
                                .collect(),
                        ),
                        types: collators
                            .iter()
                            .map(|c| c.collator.doc_type().to_string())
                            .collect(),
                        batch_size: config.query_limits().max_page_limit,
                        latency_budget: latency_budget(&root_config)?,
                    };
                    builder
                        .schedule(&scheduler, collators, logger.clone())
                        .await?;
                    http.use_router(router::build(search, config.query_limits()));
                    Ok(())
                },
            )
    }
}
