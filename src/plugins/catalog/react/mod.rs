//! Building blocks for frontend plugins that work with the catalog (Backstage's
//! `@backstage/plugin-catalog-react`).
//!
//! - [`CATALOG_API`]: the [`CatalogApi`] utility API, implemented over HTTP by
//!   [`HttpCatalogApi`] (the catalog's [`CatalogClient`](crate::plugins::catalog::common::CatalogClient),
//!   base URL from the `core.discovery` API).
//! - Routes: [`CATALOG_INDEX_ROUTE`], [`ENTITY_ROUTE`] with [`EntityParams`], and
//!   [`entity_href`] to link to an entity.
//! - Entity page slots: [`EntityContentBlueprint`] (a tab, data [`ENTITY_CONTENT`]) and
//!   [`EntityCardBlueprint`] (an Overview card, data [`ENTITY_CARD`]), both attached to
//!   [`ENTITY_PAGE_ID`].
//!
//! ```
//! use backlot::frontend::{App, FrontendPlugin, ui};
//! use backlot::plugins::catalog::react::{EntityCardBlueprint, EntityContentBlueprint, EntityPredicate};
//! use maud::html;
//!
//! // A plugin adding a "Kubernetes" tab and an overview card to entity pages.
//! let k8s = FrontendPlugin::new("kubernetes")
//!     .extension(
//!         EntityContentBlueprint::new("kubernetes", "Kubernetes", |req| async move {
//!             Ok(html! { p { "Workloads of " (req.entity().metadata.name) } })
//!         })
//!         .filter(EntityPredicate::has_annotation("backstage.io/kubernetes-id"))
//!         .build(),
//!     )
//!     .extension(
//!         EntityCardBlueprint::new("health", |_req| async move { Ok(ui::card("Health", html! { "ok" })) })
//!             .build(),
//!     );
//! assert_eq!(k8s.extension_ids()?, vec!["entity-content:kubernetes", "entity-card:kubernetes/health"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod api;
mod blueprints;
mod error;
mod routes;

/// The request and response types of [`CatalogApi`], from the catalog's typed client.
pub use crate::plugins::catalog::common::{
    EntityFilter, FacetValue, PageInfo, QueryEntitiesRequest, QueryEntitiesResponse,
};
pub use api::{CATALOG_API, CatalogApi, HttpCatalogApi};
pub use blueprints::{
    ENTITY_CARD, ENTITY_CARDS, ENTITY_CONTENT, ENTITY_CONTENTS, ENTITY_PAGE_ID, EntityCard,
    EntityCardBlueprint, EntityContent, EntityContentBlueprint, EntityContentConfig,
    EntityPredicate, EntityRenderer, EntityRequest,
};
pub use error::CatalogApiError;
pub use routes::{CATALOG_INDEX_ROUTE, ENTITY_ROUTE, EntityParams, entity_href, humanize_ref};
