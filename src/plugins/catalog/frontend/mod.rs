//! The catalog frontend plugin (Backstage's `@backstage/plugin-catalog`): the catalog index
//! page, entity pages and a "Catalog" nav item.
//!
//! Extensions of [`catalog_frontend_plugin`]:
//!
//! | id | what |
//! |---|---|
//! | `api:plugin.catalog` | [`CATALOG_API`](super::react::CATALOG_API) over HTTP, base URL from `core.discovery` |
//! | `page:catalog` | `/catalog`: kind picker (Component by default, every kind with its count), filters for type, owner, lifecycle and tags (entity facets), text search, a sortable table, cursor paging and the total count |
//! | `page:catalog/entity` | `/catalog/:namespace/:kind/:name`: header, an Overview tab with the attached cards (input `cards`), and the attached tabs (input `contents`); a missing entity is an HTML 404 page |
//! | `entity-card:catalog/about` | description, owner, system / domain / parent, type, lifecycle, tags, links |
//! | `entity-card:catalog/relations` | every relation, grouped by type |
//! | `entity-card:catalog/apis` | provided and consumed APIs (on APIs: providers and consumers) |
//! | `entity-card:catalog/has-part` | parts with their descriptions (a system's components, a domain's systems, subcomponents) |
//! | `nav-item:catalog` | "Catalog" in the sidebar |
//!
//! Filters are a plain GET form (the app's optional script submits it when a field changes);
//! sorting and paging are links. An "owned by me" filter waits for signed-in users; until then
//! the owner filter lists every owner.
//!
//! ```
//! use backlot::frontend::App;
//! use backlot::plugins::catalog::frontend::catalog_frontend_plugin;
//! use backlot::plugins::catalog::react::{ENTITY_ROUTE, EntityParams};
//!
//! let app = App::builder().feature(catalog_frontend_plugin()).build()?;
//! let href = app.routes().href(&ENTITY_ROUTE, &EntityParams {
//!     namespace: "default".into(),
//!     kind: "component".into(),
//!     name: "artist-web".into(),
//! });
//! assert_eq!(href.as_deref(), Some("/catalog/default/component/artist-web"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod cards;
mod entity_page;
mod index_page;
mod links;
mod style;

use crate::frontend::{ApiBlueprint, FrontendPlugin, NavItemBlueprint, PageBlueprint};
use crate::plugins::catalog::react::{
    CATALOG_INDEX_ROUTE, ENTITY_CARDS, ENTITY_CONTENTS, ENTITY_ROUTE, HttpCatalogApi,
};

/// The catalog frontend plugin (id `catalog`); see the [module docs](self).
pub fn catalog_frontend_plugin() -> FrontendPlugin {
    FrontendPlugin::new("catalog")
        .route("catalogIndex", &CATALOG_INDEX_ROUTE)
        .route("catalogEntity", &ENTITY_ROUTE)
        .extension(ApiBlueprint::make(HttpCatalogApi::factory()))
        .extension(
            PageBlueprint::new("/catalog", index_page::catalog_index)
                .route_ref(&CATALOG_INDEX_ROUTE)
                .title("Catalog")
                .build(),
        )
        .extension(
            PageBlueprint::from_factory(
                "/catalog/:namespace/:kind/:name",
                entity_page::entity_page_factory,
            )
            .name("entity")
            .route_ref(&ENTITY_ROUTE)
            .title("Entity")
            .input(&ENTITY_CONTENTS)
            .input(&ENTITY_CARDS)
            .build(),
        )
        .extension(cards::about_card())
        .extension(cards::relations_card())
        .extension(cards::apis_card())
        .extension(cards::has_part_card())
        .extension(
            NavItemBlueprint::new("Catalog", &CATALOG_INDEX_ROUTE)
                .icon("☰")
                .build(),
        )
}

/// The catalog frontend plugin (id `catalog`), to add with
/// [`AppBuilder::feature`](crate::frontend::AppBuilder::feature); the same as
/// [`catalog_frontend_plugin`].
///
/// ```
/// use backlot::frontend::App;
/// use backlot::plugins::catalog;
///
/// let app = App::builder().feature(catalog::frontend::plugin()).build()?;
/// assert!(app.tree().get("page:catalog").is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn plugin() -> FrontendPlugin {
    catalog_frontend_plugin()
}
