//! The TechDocs frontend plugin: the docs index (`/docs`), the reader
//! (`/docs/:namespace/:kind/:name/*`) and a Docs tab on catalog entity pages.
//!
//! ```
//! use backlot::frontend::App;
//! use backlot::plugins::catalog::react::EntityParams;
//! use backlot::plugins::techdocs::frontend::techdocs_plugin;
//! use backlot::plugins::techdocs::react::{TECHDOCS_INDEX_ROUTE, TECHDOCS_READER_ROUTE};
//!
//! let app = App::builder().feature(techdocs_plugin()).build()?;
//! assert_eq!(app.routes().href(&TECHDOCS_INDEX_ROUTE, &()), Some("/docs".to_string()));
//! let shop = EntityParams { namespace: "default".into(), kind: "component".into(), name: "shop".into() };
//! assert_eq!(app.routes().href(&TECHDOCS_READER_ROUTE, &shop), Some("/docs/default/component/shop".to_string()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod index;
mod reader;
mod tab;

use crate::frontend::{ApiBlueprint, FrontendPlugin, NavItemBlueprint, PageBlueprint};
use crate::plugins::techdocs::react::{
    HttpTechDocsApi, TECHDOCS_INDEX_ROUTE, TECHDOCS_READER_ROUTE,
};

pub use crate::plugins::techdocs::common::TECHDOCS_REF_ANNOTATION;

/// The TechDocs plugin (`techdocs`): the [`TECHDOCS_API`](crate::plugins::techdocs::react::TECHDOCS_API)
/// over HTTP, the index page `page:techdocs` (route `techdocs.root`, entities with a
/// `backstage.io/techdocs-ref` annotation, read through the catalog's `CATALOG_API`), the
/// reader `page:techdocs/reader` (route `techdocs.docRoot`), a nav item and the
/// `entity-content:techdocs` tab ("Docs") on entity pages.
pub fn techdocs_plugin() -> FrontendPlugin {
    FrontendPlugin::new("techdocs")
        .route("root", &TECHDOCS_INDEX_ROUTE)
        .route("docRoot", &TECHDOCS_READER_ROUTE)
        .extension(ApiBlueprint::make(HttpTechDocsApi::factory()))
        .extension(
            PageBlueprint::new("/docs", index::render)
                .route_ref(&TECHDOCS_INDEX_ROUTE)
                .title("Documentation")
                .build(),
        )
        .extension(
            PageBlueprint::new("/docs/:namespace/:kind/:name", reader::render)
                .name("reader")
                .route_ref(&TECHDOCS_READER_ROUTE)
                .title("Documentation")
                .build(),
        )
        .extension(
            NavItemBlueprint::new("Docs", &TECHDOCS_INDEX_ROUTE)
                .icon("📄")
                .build(),
        )
        .extension(tab::docs_tab())
}

/// The TechDocs frontend plugin (id `techdocs`), to add with
/// [`AppBuilder::feature`](crate::frontend::AppBuilder::feature); the same as
/// [`techdocs_plugin`].
///
/// ```
/// use backlot::frontend::App;
/// use backlot::plugins::techdocs;
///
/// let app = App::builder().feature(techdocs::frontend::plugin()).build()?;
/// assert!(app.tree().get("page:techdocs").is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn plugin() -> FrontendPlugin {
    techdocs_plugin()
}
