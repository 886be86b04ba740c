use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex;

use super::{DocumentCollator, DocumentDecorator, SearchEngine};
use crate::backend::ExtensionPoint;
use crate::services::scheduler::TaskSchedule;

/// A collator with the schedule it runs on.
#[derive(Debug, Clone)]
pub struct CollatorRegistration {
    /// When it runs.
    pub schedule: TaskSchedule,
    /// The collator.
    pub collator: Arc<dyn DocumentCollator>,
}

/// Where modules add collators and decorators (Backstage's `searchIndexRegistryExtensionPoint`).
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use async_trait::async_trait;
/// use backlot::backend::{BoxError, Feature};
/// use backlot::plugins::search::common::SearchDocument;
/// use backlot::plugins::search::node::{DocumentCollator, SEARCH_INDEX_REGISTRY};
/// use backlot::services::scheduler::{TaskFrequency, TaskSchedule};
///
/// #[derive(Debug)]
/// struct Faq;
///
/// #[async_trait]
/// impl DocumentCollator for Faq {
///     fn doc_type(&self) -> &str { "faq" }
///     async fn collate(&self) -> Result<Vec<SearchDocument>, BoxError> { Ok(vec![]) }
/// }
///
/// let module = Feature::module_fn("search", "faq-collator", |reg| {
///     reg.init(&SEARCH_INDEX_REGISTRY, |registry| async move {
///         let schedule = TaskSchedule::new(
///             TaskFrequency::Every(Duration::from_secs(600)),
///             Duration::from_secs(900),
///         );
///         registry.get()?.add_collator(schedule, Arc::new(Faq));
///         Ok(())
///     })
/// });
/// # let _ = module;
/// ```
#[derive(Default)]
pub struct SearchIndexRegistry {
    collators: Mutex<Vec<CollatorRegistration>>,
    decorators: Mutex<Vec<Arc<dyn DocumentDecorator>>>,
}

impl fmt::Debug for SearchIndexRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SearchIndexRegistry")
            .field(
                "collators",
                &self
                    .collators
                    .lock()
                    .iter()
                    .map(|c| c.collator.doc_type().to_string())
                    .collect::<Vec<_>>(),
            )
            .field("decorators", &self.decorators.lock().len())
            .finish()
    }
}

impl SearchIndexRegistry {
    /// Adds a collator, run on `schedule`.
    pub fn add_collator(&self, schedule: TaskSchedule, collator: Arc<dyn DocumentCollator>) {
        self.collators
            .lock()
            .push(CollatorRegistration { schedule, collator });
    }

    /// Adds a decorator.
    pub fn add_decorator(&self, decorator: Arc<dyn DocumentDecorator>) {
        self.decorators.lock().push(decorator);
    }

    /// The collators added so far.
    pub fn collators(&self) -> Vec<CollatorRegistration> {
        self.collators.lock().clone()
    }

    /// The decorators added so far.
    pub fn decorators(&self) -> Vec<Arc<dyn DocumentDecorator>> {
        self.decorators.lock().clone()
    }
}

/// Where a module installs the search engine (Backstage's `searchEngineRegistryExtensionPoint`);
/// without one the plugin builds the engine its config names.
///
/// ```
/// use std::sync::Arc;
/// use backlot::plugins::search::node::SearchEngineRegistry;
/// use backlot::plugins::search::backend::EmbeddedEngine;
///
/// let registry = SearchEngineRegistry::default();
/// registry.set_search_engine(Arc::new(EmbeddedEngine::in_memory()?));
/// assert!(registry.search_engine().is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Default)]
pub struct SearchEngineRegistry {
    engine: Mutex<Option<Arc<dyn SearchEngine>>>,
}

impl fmt::Debug for SearchEngineRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SearchEngineRegistry")
            .field("engine", &self.engine.lock().is_some())
            .finish()
    }
}

impl SearchEngineRegistry {
    /// Installs the engine; a later call replaces an earlier one.
    pub fn set_search_engine(&self, engine: Arc<dyn SearchEngine>) {
        *self.engine.lock() = Some(engine);
    }

    /// The installed engine, if any.
    pub fn search_engine(&self) -> Option<Arc<dyn SearchEngine>> {
        self.engine.lock().clone()
    }
}

/// The `search` plugin's collator and decorator registry.
pub static SEARCH_INDEX_REGISTRY: ExtensionPoint<SearchIndexRegistry> =
    ExtensionPoint::new("search.index-registry");

/// The `search` plugin's engine slot.
pub static SEARCH_ENGINE: ExtensionPoint<SearchEngineRegistry> =
    ExtensionPoint::new("search.engine-registry");
