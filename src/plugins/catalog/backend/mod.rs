//! The software catalog backend plugin, wire-compatible with Backstage's catalog.
//!
//! [`CatalogPlugin`] reads `catalog.locations` and registered locations, processes their
//! entities (validation, `$text`/`$json`/`$yaml` placeholders, nested Location entities,
//! relations in both directions), stitches them into final entities with `relations` and
//! `status`, and serves Backstage's catalog REST API at `/api/catalog`.
//!
//! ```no_run
//! use backlot::backend::{Backend, Feature};
//! use backlot::plugins::catalog::CatalogPlugin;
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let handle = Backend::builder()
//!     .config_yaml(
//!         "catalog:\n  locations:\n    - type: file\n      target: ./catalog-info.yaml\n",
//!     )
//!     .add_feature(Feature::plugin(CatalogPlugin::new()))
//!     .start()
//!     .await?;
//! # handle.stop().await?;
//! # Ok(())
//! # }
//! ```
//!
//! `url` targets are read through the backend's URL reader service, so `backend.reading.allow`
//! decides which hosts may be fetched; `file` targets only below `backend.reading.fileAllow`
//! and the directories of configured file locations, regular files only, and never on behalf
//! of content read from a URL (see `docs/catalog.md`).
//!
//! Every route asks the plugin's `PERMISSIONS` service (see [`permissions`]): a conditional
//! `catalog.entity.read` decision becomes a filter of the in-memory index, so lists, counts,
//! facets and cursors only ever see the entities the caller may read, and a hidden entity is
//! 404 exactly like a missing one. The catalog registers its permissions and the rules of the
//! `catalog-entity` resource type with `PERMISSIONS_REGISTRY`.
//!
//! Config keys: `catalog.locations[]` (`type: file|url`, `target`, `rules: [{allow: [Kind]}]`),
//! `catalog.rules` (default: Component, API and Location only), `catalog.orphanStrategy`
//! (`delete`, the default, or `keep`), `catalog.processingInterval` (a duration; default 100
//! seconds, each entity refreshed after 1 to 1.5 times it), `catalog.readonly`,
//! `catalog.allowedLocationTypes` (default `[url]`), `catalog.yaml.maxExpandedSize` (default
//! 32 MiB per YAML document, aliases included), `catalog.sync.interval` (how often each
//! process catches up with writes of others sharing the database; default 250 ms),
//! `catalog.changeLog.maxAge` / `maxRows` / `pruneInterval` (the change log those catch-ups
//! read; default 1 hour, 500,000 rows, pruned every minute), `catalog.progress.interval`
//! (how often the first ingestion's progress is logged and reported in the readiness
//! payload; default 5 seconds), `catalog.processing.batchSize` (entities processed per
//! transaction, default 1000), `catalog.processing.maxBufferedChildren` (entities emitted by
//! a batch that are held before they are written, default 5000).

mod error;
pub mod generate;
mod index;
mod location_api;
mod locations;
pub mod permissions;
mod predicate;
mod processing;
mod progress;
mod query;
mod read;
mod router;
mod service;
mod stitch_queue;
mod stitching;
mod store;
mod yaml;

pub use error::CatalogError;
pub use service::CatalogService;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::backend::{BackendPlugin, BoxError, PluginRegistrar, Registration};
use crate::plugins::catalog::node::LocationSpec;
use crate::plugins::catalog::node::{
    CATALOG_PROCESSING, CatalogProcessingExtension, DeferredEntity, EntityMutationSink,
    EntityProviderConnection, EntityProviderMutation,
};
use crate::services::config::Config;
use crate::services::core_services::{
    DATABASE, HTTP_ROUTER, LIFECYCLE, LOGGER, METRICS, ROOT_CONFIG, ROOT_HEALTH, SCHEDULER,
    URL_READER,
};
use crate::services::database::PluginDatabase;
use crate::services::logger::{LogLevel, LoggerService, LoggerServiceExt};
use crate::services::metrics::PluginMetrics;
use crate::services::permissions::{PERMISSIONS, PERMISSIONS_REGISTRY};
use crate::services::url_reader::{UrlReaderService, UrlReaders, parse_size};

use locations::{RulesEnforcer, configured_locations, generated_location_entity};
use permissions::Authorizer;
use processing::{Engine, EngineOptions, OrphanStrategy};
use read::LocationReader;

/// The provider that owns the Location entities of `catalog.locations`.
const CONFIG_PROVIDER: &str = "ConfigLocationProvider";
/// Default processing interval.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(100);

/// The catalog backend plugin (id `catalog`).
///
/// Modules add processors and entity providers through
/// [`CATALOG_PROCESSING`]. Startup waits
/// until the configured locations are ingested, so the API answers with a full catalog as
/// soon as the backend is ready.
///
/// ```
/// use backlot::backend::Feature;
/// use backlot::plugins::catalog::CatalogPlugin;
///
/// let feature = Feature::plugin(CatalogPlugin::new());
/// # let _ = feature;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct CatalogPlugin;

impl CatalogPlugin {
    /// A catalog plugin.
    pub fn new() -> Self {
        Self
    }
}

impl BackendPlugin for CatalogPlugin {
    fn id(&self) -> &str {
        "catalog"
    }

    fn register(&self, reg: PluginRegistrar) -> Registration {
        let extension = Arc::new(CatalogProcessingExtension::default());
        reg.extension_point(&CATALOG_PROCESSING, Arc::clone(&extension))
            .init(
                (
                    &ROOT_CONFIG,
                    &LOGGER,
                    &HTTP_ROUTER,
                    &LIFECYCLE,
                    &DATABASE,
                    &URL_READER,
                    &PERMISSIONS,
                    &PERMISSIONS_REGISTRY,
                    &METRICS,
                    &ROOT_HEALTH,
                    &SCHEDULER,
                ),
                move |(
                    config,
                    logger,
                    http,
                    lifecycle,
                    database,
                    url_reader,
                    permissions,
                    registry,
                    metrics,
                    health,
                    scheduler,
                )| async move {
                    store::migrate(&database).await?;
                    let sync = index::SyncSettings::from_config(&config)?;
                    let every = progress_interval(&config)?;
                    // The first ingestion keeps the backend unready; say how far it got.
                    let service = progress::report_while(
                        start(
                            &config,
                            (*database).clone(),
                            Arc::clone(&extension),
                            url_reader,
                            Arc::clone(&logger),
                            Authorizer::new(permissions),
                        ),
                        &database,
                        &health,
                        &*logger,
                        every,
                    )
                    .await?;
                    index::schedule(
                        &scheduler,
                        Arc::clone(&service.engine.index),
                        (*database).clone(),
                        Arc::clone(&logger),
                        sync,
                    )
                    .await?;
                    permissions::register(&registry, Arc::clone(&service.engine.index))?;
                    http.use_router(router::router(service.clone()));
                    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
                    let engine = Arc::clone(&service.engine);
                    sample_entities_per_kind(&metrics, &engine);
                    let task = tokio::spawn(refresh_loop(engine, (*metrics).clone(), stop_rx));
                    lifecycle.add_shutdown_hook(move || async move {
                        let _ = stop_tx.send(true);
                        let _ = task.await;
                        Ok(())
                    });
                    logger.info("catalog ready");
                    Ok(())
                },
            )
    }
}

fn engine_options(config: &Config, rules: RulesEnforcer) -> Result<EngineOptions, CatalogError> {
    let bad = |key: &str, message: String| CatalogError::Config {
        key: key.to_owned(),
        message,
    };
    let orphan_strategy = match config
        .opt_string("catalog.orphanStrategy")
        .map_err(|e| bad("catalog.orphanStrategy", e.to_string()))?
        .as_deref()
    {
        None | Some("delete") => OrphanStrategy::Delete,
        Some("keep") => OrphanStrategy::Keep,
        Some(other) => {
            return Err(bad(
                "catalog.orphanStrategy",
                format!("{other} is not keep or delete"),
            ));
        }
    };
    let interval = config
        .opt_duration("catalog.processingInterval")
        .map_err(|e| bad("catalog.processingInterval", e.to_string()))?
        .unwrap_or(DEFAULT_INTERVAL);
    let size = |key: &str, default: usize| -> Result<usize, CatalogError> {
        match config.opt_u64(key).map_err(|e| bad(key, e.to_string()))? {
            None => Ok(default),
            Some(0) => Err(bad(key, "must be at least 1".into())),
            Some(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        }
    };
    Ok(EngineOptions {
        orphan_strategy,
        interval,
        rules,
        batch_size: size(
            "catalog.processing.batchSize",
            processing::DEFAULT_BATCH_SIZE,
        )?,
        max_buffered_children: size(
            "catalog.processing.maxBufferedChildren",
            processing::DEFAULT_MAX_BUFFERED_CHILDREN,
        )?,
    })
}

/// The location types the API may register: `catalog.allowedLocationTypes`, else what a
/// module set on the extension point, else `[url]` (Backstage's default).
fn allowed_location_types(
    config: &Config,
    extension: &CatalogProcessingExtension,
) -> Result<Vec<String>, CatalogError> {
    const KEY: &str = "catalog.allowedLocationTypes";
    let configured = config
        .opt_string_array(KEY)
        .map_err(|e| CatalogError::Config {
            key: KEY.into(),
            message: e.to_string(),
        })?;
    Ok(configured
        .or_else(|| extension.allowed_location_types())
        .unwrap_or_else(|| vec!["url".to_owned()]))
}

/// The reader of locations: files below `backend.reading.fileAllow` and the directories of
/// the configured file locations, URLs through the URL reader service, YAML documents within
/// `catalog.yaml.maxExpandedSize`.
fn location_reader(
    config: &Config,
    configured: &[(LocationSpec, Option<Config>)],
    url_reader: Arc<dyn UrlReaderService>,
) -> Result<LocationReader, CatalogError> {
    let bad = |key: &str, message: String| CatalogError::Config {
        key: key.to_owned(),
        message,
    };
    let config_dirs: Vec<PathBuf> = configured
        .iter()
        .filter(|(spec, _)| spec.location_type == "file")
        .filter_map(|(spec, _)| Path::new(&spec.target).parent().map(Path::to_path_buf))
        .collect();
    let files = UrlReaders::builder()
        .config(config.get("backend.reading"))
        .and_then(|b| b.build_file_reader(&config_dirs))
        .map_err(|e| bad("backend.reading", e.to_string()))?;
    const BUDGET_KEY: &str = "catalog.yaml.maxExpandedSize";
    let budget = match config.get(BUDGET_KEY).filter(|v| !v.is_null()) {
        None => yaml::DEFAULT_MAX_EXPANDED_SIZE,
        Some(v) => parse_size(v).ok_or_else(|| {
            bad(
                BUDGET_KEY,
                format!("expected a positive size such as 33554432 or \"32MiB\", got {v}"),
            )
        })?,
    };
    Ok(LocationReader::new(url_reader, files, budget))
}

/// Builds the engine on `db`, connects the providers and ingests everything once.
async fn start(
    config: &Config,
    db: PluginDatabase,
    extension: Arc<CatalogProcessingExtension>,
    url_reader: Arc<dyn UrlReaderService>,
    logger: Arc<dyn LoggerService>,
    authorizer: Authorizer,
) -> Result<CatalogService, BoxError> {
    let configured = configured_locations(config)?;
    let rules = RulesEnforcer::from_config(config, &configured)?;
    let options = engine_options(config, rules)?;
    let readonly = config.opt_bool("catalog.readonly")?.unwrap_or(false);
    let max_page_limit = match config.opt_u64("catalog.maxPageLimit")? {
        Some(0) => return Err("catalog.maxPageLimit must be at least 1".into()),
        Some(n) => n,
        None => service::DEFAULT_MAX_PAGE_LIMIT,
    };
    let reader = location_reader(config, &configured, url_reader)?;
    let allowed_location_types = allowed_location_types(config, &extension)?;
    let engine = Engine::new(db, extension.processors(), options, reader, logger);
    engine.index.load(&engine.db, &*engine.logger).await?;
    let service = CatalogService {
        engine: Arc::clone(&engine),
        readonly,
        allowed_location_types: allowed_location_types.into(),
        max_page_limit,
        authorizer,
        progress: Arc::default(),
    };
    let config_entities = configured
        .iter()
        .map(|(spec, _)| {
            DeferredEntity::new(generated_location_entity(spec), Some(spec.to_string()))
        })
        .collect();
    engine
        .apply_mutation_now(
            CONFIG_PROVIDER,
            EntityProviderMutation::Full {
                entities: config_entities,
            },
        )
        .await?;
    let registered = service
        .all_locations()
        .await?
        .into_iter()
        .map(|row| {
            let spec = LocationSpec::new(row.location_type, row.target);
            DeferredEntity::new(generated_location_entity(&spec), Some(spec.to_string()))
        })
        .collect();
    // A delta, not a full mutation: another replica may register a location between the
    // read above and this write, and a full mutation would delete its (acknowledged) entities.
    // Deleting a location removes its entities itself.
    engine
        .apply_mutation_now(
            service::LOCATION_STORE_PROVIDER,
            EntityProviderMutation::Delta {
                added: registered,
                removed: Vec::new(),
            },
        )
        .await?;
    let sink: Arc<dyn EntityMutationSink> = engine.clone();
    for provider in extension.entity_providers() {
        let connection = EntityProviderConnection::new(provider.name(), Arc::clone(&sink));
        provider
            .connect(connection)
            .await
            .map_err(|e| format!("entity provider {} failed to connect: {e}", provider.name()))?;
    }
    engine.process_due().await?;
    Ok(service)
}

/// `catalog.progress.interval`: how often the first ingestion's progress is measured, logged
/// and put in the readiness payload.
fn progress_interval(config: &Config) -> Result<Duration, CatalogError> {
    const KEY: &str = "catalog.progress.interval";
    let bad = |message: String| CatalogError::Config {
        key: KEY.into(),
        message,
    };
    match config.opt_duration(KEY).map_err(|e| bad(e.to_string()))? {
        Some(d) if d.is_zero() => Err(bad("must be greater than zero".into())),
        Some(d) => Ok(d),
        None => Ok(progress::DEFAULT_INTERVAL),
    }
}

/// Counts the catalog's entities per kind before each metrics scrape.
fn sample_entities_per_kind(metrics: &Arc<PluginMetrics>, engine: &Arc<Engine>) {
    if !metrics.enabled() {
        return;
    }
    let index = Arc::downgrade(&engine.index);
    let recorder = Arc::clone(metrics);
    metrics.add_sampler(move || {
        if let Some(index) = index.upgrade() {
            recorder
                .set_catalog_entities(&index.facet("kind", &predicate::Predicate::everything()));
        }
    });
}

/// Reprocesses due entities until told to stop; records each pass's queue depth (entities
/// due) and stitch lag (how long the pass took until its entities were readable).
async fn refresh_loop(
    engine: Arc<Engine>,
    metrics: PluginMetrics,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let tick = Duration::from_secs(1);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(tick) => {}
        }
        if *stop.borrow() {
            return;
        }
        let started = std::time::Instant::now();
        let result = engine.process_due().await;
        if let Ok(due) = &result {
            metrics.set_catalog_processing(*due as u64, started.elapsed());
        }
        if let Err(e) = result {
            engine.logger.log(
                LogLevel::Warn,
                "catalog refresh failed",
                &[("error", &error::chain(&e))],
            );
        }
    }
}

/// The catalog backend plugin (id `catalog`), to add with
/// [`BackendBuilder::add`](crate::backend::BackendBuilder::add); the same as
/// [`CatalogPlugin::new`].
///
/// ```
/// use backlot::backend::Backend;
/// use backlot::plugins::catalog;
///
/// let backend = Backend::builder().add(catalog::backend::plugin()).build()?;
/// assert_eq!(backend.plugin_ids(), ["catalog"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn plugin() -> CatalogPlugin {
    CatalogPlugin::new()
}
