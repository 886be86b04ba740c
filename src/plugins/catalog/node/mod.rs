//! What other backend code may use to extend the catalog (Backstage's `catalog-node`):
//! the [`CATALOG_PROCESSING`] extension point, [`CatalogProcessor`]s and [`EntityProvider`]s,
//! and the [`CATALOG`] service ref through which other plugins read the catalog.
//!
//! A module adds processors and providers to the catalog plugin before it starts:
//!
//! ```
//! use backlot::backend::Feature;
//! use backlot::plugins::catalog::node::{
//!     CATALOG_PROCESSING, CatalogProcessor, Emitter, LocationSpec, ProcessorError,
//! };
//! use backlot::plugins::catalog::common::Entity;
//!
//! /// Tags every entity with `managed`.
//! struct Tagger;
//!
//! #[async_trait::async_trait]
//! impl CatalogProcessor for Tagger {
//!     fn name(&self) -> &str {
//!         "tagger"
//!     }
//!     async fn pre_process(
//!         &self,
//!         mut entity: Entity,
//!         _location: &LocationSpec,
//!         _emit: &mut Emitter,
//!     ) -> Result<Entity, ProcessorError> {
//!         entity.metadata.tags.push("managed".into());
//!         Ok(entity)
//!     }
//! }
//!
//! let module = Feature::module_fn("catalog", "tagger", |reg| {
//!     reg.init(&CATALOG_PROCESSING, |processing| async move {
//!         processing.get()?.add_processor(Tagger);
//!         Ok(())
//!     })
//! });
//! # let _ = module;
//! ```

mod catalog_ref;
mod processor;
mod provider;

pub use catalog_ref::{CATALOG, CatalogApi};

pub use processor::{
    CatalogProcessor, DEFAULT_PROCESSOR_PRIORITY, EmittedRelation, Emitter, LocationSpec,
    ProcessingOutput, ProcessorError,
};
pub use provider::{
    DeferredEntity, EntityMutationSink, EntityProvider, EntityProviderConnection,
    EntityProviderMutation,
};

use std::sync::Arc;

use parking_lot::Mutex;

use crate::backend::ExtensionPoint;

/// The catalog's processing extension point: processors and entity providers added by
/// modules, kept in registration order (the catalog sorts processors by priority).
#[derive(Default)]
pub struct CatalogProcessingExtension {
    processors: Mutex<Vec<Arc<dyn CatalogProcessor>>>,
    providers: Mutex<Vec<Arc<dyn EntityProvider>>>,
    allowed_location_types: Mutex<Option<Vec<String>>>,
}

impl std::fmt::Debug for CatalogProcessingExtension {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogProcessingExtension")
            .field(
                "processors",
                &self
                    .processors
                    .lock()
                    .iter()
                    .map(|p| p.name().to_owned())
                    .collect::<Vec<_>>(),
            )
            .field(
                "providers",
                &self
                    .providers
                    .lock()
                    .iter()
                    .map(|p| p.name().to_owned())
                    .collect::<Vec<_>>(),
            )
            .field(
                "allowed_location_types",
                &*self.allowed_location_types.lock(),
            )
            .finish()
    }
}

impl CatalogProcessingExtension {
    /// Adds a processor. The catalog runs processors by
    /// [`priority`](CatalogProcessor::priority), lowest first; processors of equal priority run
    /// in the order they were added, after the built-in ones of that priority.
    pub fn add_processor(&self, processor: impl CatalogProcessor) {
        self.processors.lock().push(Arc::new(processor));
    }

    /// Adds an entity provider; it is connected when the catalog starts.
    pub fn add_entity_provider(&self, provider: impl EntityProvider) {
        self.providers.lock().push(Arc::new(provider));
    }

    /// The processors added so far.
    pub fn processors(&self) -> Vec<Arc<dyn CatalogProcessor>> {
        self.processors.lock().clone()
    }

    /// The entity providers added so far.
    pub fn entity_providers(&self) -> Vec<Arc<dyn EntityProvider>> {
        self.providers.lock().clone()
    }

    /// Sets the location types that may be registered through the API (`POST /locations`,
    /// `PUT /locations/{id}`, `POST /analyze-location`); Backstage's `setAllowedLocationTypes`.
    /// The default is `["url"]`. The config key `catalog.allowedLocationTypes`, when set, wins
    /// over this: the operator has the last word. Configured `catalog.locations` are read
    /// whatever the list says. The last call wins.
    ///
    /// ```
    /// use backlot::backend::Feature;
    /// use backlot::plugins::catalog::node::{CATALOG_PROCESSING, CatalogProcessingExtension};
    ///
    /// // Allow registering local files (only where the API callers are trusted).
    /// let module = Feature::module_fn("catalog", "local-files", |reg| {
    ///     reg.init(&CATALOG_PROCESSING, |processing| async move {
    ///         processing.get()?.set_allowed_location_types(["url", "file"]);
    ///         Ok(())
    ///     })
    /// });
    /// # let _ = module;
    ///
    /// let extension = CatalogProcessingExtension::default();
    /// assert_eq!(extension.allowed_location_types(), None);
    /// extension.set_allowed_location_types(["url", "file"]);
    /// assert_eq!(extension.allowed_location_types(), Some(vec!["url".to_owned(), "file".to_owned()]));
    /// ```
    pub fn set_allowed_location_types<I, S>(&self, types: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        *self.allowed_location_types.lock() = Some(types.into_iter().map(Into::into).collect());
    }

    /// The location types a module set with
    /// [`set_allowed_location_types`](Self::set_allowed_location_types), if any.
    pub fn allowed_location_types(&self) -> Option<Vec<String>> {
        self.allowed_location_types.lock().clone()
    }
}

/// The extension point through which modules add processors and entity providers to the
/// catalog (Backstage's `catalogProcessingExtensionPoint`).
pub static CATALOG_PROCESSING: ExtensionPoint<CatalogProcessingExtension> =
    ExtensionPoint::new("catalog.processing");
