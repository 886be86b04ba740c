//! What search modules build on: the [`SearchEngine`] trait, [`DocumentCollator`] and
//! [`DocumentDecorator`], and the extension points of the `search` plugin
//! ([`SEARCH_INDEX_REGISTRY`], [`SEARCH_ENGINE`]).

mod batches;
mod collator;
mod engine;
mod error;
mod extension_points;

pub use batches::{DocumentBatches, DocumentSink, document_batches};
pub use collator::{DocumentCollator, DocumentDecorator};
pub use engine::SearchEngine;
pub use error::SearchError;
pub use extension_points::{
    CollatorRegistration, SEARCH_ENGINE, SEARCH_INDEX_REGISTRY, SearchEngineRegistry,
    SearchIndexRegistry,
};
