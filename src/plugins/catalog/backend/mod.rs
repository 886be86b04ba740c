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
//! decides which hosts may be fetched; `file` targets are read from disk.
//!
//! Config keys: `catalog.locations[]` (`type: file|url`, `target`, `rules: [{allow: [Kind]}]`),
//! `catalog.rules` (default: Component, API and Location only), `catalog.orphanStrategy`
//! (`delete`, the default, or `keep`), `catalog.processingInterval` (a duration; default 100
//! seconds, each entity refreshed after 1 to 1.5 times it), `catalog.readonly`.

mod error;
pub mod generate;
mod index;
mod location_api;
mod locations;
mod predicate;
mod processing;
mod query;
mod router;
mod service;
mod stitching;
mod store;

pub use error::CatalogError;
pub use service::CatalogService;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::backend::{BackendPlugin, BoxError, PluginRegistrar, Registration};
use crate::plugins::catalog::node::{
    CATALOG_PROCESSING, CatalogProcessingExtension, DeferredEntity, EntityMutationSink,
    EntityProviderConnection, EntityProviderMutation,
};
use crate::services::config::Config;
use crate::services::core_services::{
    DATABASE, HTTP_ROUTER, LIFECYCLE, LOGGER, ROOT_CONFIG, URL_READER,
};
use crate::services::database::PluginDatabase;
use crate::services::logger::LoggerServiceExt;
use crate::services::url_reader::UrlReaderService;

use locations::{RulesEnforcer, configured_locations, generated_location_entity};
use processing::{Engine, EngineOptions, OrphanStrategy};

/// The provider that owns the Location entities of `catalog.locations`.
const CONFIG_PROVIDER: &str = "ConfigLocationProvider";
/// Default processing interval.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(100);

/// The catalog backend plugin (id `catalog`).
///
/// Modules add processors and entity providers through
/// [`CATALOG_PROCESSING`](crate::plugins::catalog::node::CATALOG_PROCESSING). Startup waits
/// until the configured locations are ingested, so the API answers with a full catalog as
/// soon as the backend is ready.
///
/// ```
/// use backlot::backend::Feature;
/// use backlot::plugins::catalog::CatalogPlugin;
///
/// let plugin = CatalogPlugin::new();
/// let handle = plugin.clone(); // keeps access to the service after start
/// let feature = Feature::plugin(plugin);
/// assert!(handle.service().is_none()); // not started yet
/// # let _ = feature;
/// ```
#[derive(Debug, Clone, Default)]
pub struct CatalogPlugin {
    service: Arc<OnceLock<CatalogService>>,
}

impl CatalogPlugin {
    /// A catalog plugin.
    pub fn new() -> Self {
        Self::default()
    }

    /// The running catalog's service, once the plugin has started.
    pub fn service(&self) -> Option<CatalogService> {
        self.service.get().cloned()
    }
}

impl BackendPlugin for CatalogPlugin {
    fn id(&self) -> &str {
        "catalog"
    }

    fn register(&self, reg: PluginRegistrar) -> Registration {
        let extension = Arc::new(CatalogProcessingExtension::default());
        let slot = Arc::clone(&self.service);
        reg.extension_point(&CATALOG_PROCESSING, Arc::clone(&extension))
            .init(
                (
                    &ROOT_CONFIG,
                    &LOGGER,
                    &HTTP_ROUTER,
                    &LIFECYCLE,
                    &DATABASE,
                    &URL_READER,
                ),
                move |(config, logger, http, lifecycle, database, url_reader)| async move {
                    store::migrate(&database).await?;
                    let service = start(
                        &config,
                        (*database).clone(),
                        Arc::clone(&extension),
                        url_reader,
                    )
                    .await?;
                    let _ = slot.set(service.clone());
                    http.use_router(router::router(service.clone()));
                    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
                    let engine = Arc::clone(&service.engine);
                    let task = tokio::spawn(refresh_loop(engine, stop_rx));
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
    Ok(EngineOptions {
        orphan_strategy,
        interval,
        rules,
    })
}

/// Builds the engine on `db`, connects the providers and ingests everything once.
async fn start(
    config: &Config,
    db: PluginDatabase,
    extension: Arc<CatalogProcessingExtension>,
    url_reader: Arc<dyn UrlReaderService>,
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
    let engine = Arc::new(Engine::new(db, extension.processors(), options, url_reader));
    engine.index.load(&engine.db).await?;
    let service = CatalogService {
        engine: Arc::clone(&engine),
        readonly,
        max_page_limit,
    };
    let config_entities = configured
        .iter()
        .map(|(spec, _)| {
            DeferredEntity::new(generated_location_entity(spec), Some(spec.to_string()))
        })
        .collect();
    engine
        .apply_mutation(
            CONFIG_PROVIDER,
            EntityProviderMutation::Full {
                entities: config_entities,
            },
        )
        .await?;
    let registered = service
        .locations()
        .await?
        .into_iter()
        .map(|row| {
            let spec =
                crate::plugins::catalog::node::LocationSpec::new(row.location_type, row.target);
            DeferredEntity::new(generated_location_entity(&spec), Some(spec.to_string()))
        })
        .collect();
    engine
        .apply_mutation(
            service::LOCATION_STORE_PROVIDER,
            EntityProviderMutation::Full {
                entities: registered,
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

/// Reprocesses due entities until told to stop.
async fn refresh_loop(engine: Arc<Engine>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let tick = Duration::from_secs(1);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(tick) => {}
        }
        if *stop.borrow() {
            return;
        }
        if let Err(e) = engine.process_due().await {
            tracing::warn!(error = %error::chain(&e), "catalog refresh failed");
        }
    }
}
