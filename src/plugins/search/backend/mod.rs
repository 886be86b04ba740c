//! The `search` backend plugin: [`SearchPlugin`], its engines and the catalog and TechDocs collators.

mod authorized;
mod catalog_collator;
mod config;
mod embedded;
mod index_builder;
mod matching;
mod params;
#[cfg(feature = "postgres")]
mod pg;
mod plugin;
mod router;
mod techdocs_collator;

pub use catalog_collator::{CATALOG_DOCUMENT_TYPE, CatalogCollator, SearchCatalogCollatorModule};
pub use embedded::EmbeddedEngine;
pub use index_builder::{IndexBuilder, collator_task_id};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use pg::{PgEngine, PgLimits};
pub use plugin::SearchPlugin;
pub use techdocs_collator::{
    SearchIndexEntry, SearchTechdocsCollatorModule, TECHDOCS_DOCUMENT_TYPE, TechDocsCollator,
};

/// The search backend plugin (id `search`), to add with
/// [`BackendBuilder::add`](crate::backend::BackendBuilder::add); the same as
/// [`SearchPlugin::new`].
///
/// ```
/// use backlot::backend::Backend;
/// use backlot::plugins::search;
///
/// let backend = Backend::builder()
///     .add((search::backend::plugin(), search::backend::SearchCatalogCollatorModule))
///     .build()?;
/// assert_eq!(backend.plugin_ids(), ["search"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn plugin() -> SearchPlugin {
    SearchPlugin::new()
}
