//! The TechDocs route refs.

use crate::frontend::{RouteRef, Routes};
use crate::plugins::catalog::common::Entity;
use crate::plugins::catalog::react::EntityParams;

/// The docs index (`/docs` by default), bindable as `techdocs.root`.
pub static TECHDOCS_INDEX_ROUTE: RouteRef = RouteRef::new("techdocs.root");

/// The reader of one entity's docs (`/docs/:namespace/:kind/:name` by default, pages below
/// it), bindable as `techdocs.docRoot`.
pub static TECHDOCS_READER_ROUTE: RouteRef<EntityParams> = RouteRef::new("techdocs.docRoot");

/// The reader link for an entity's docs, if the reader is mounted.
///
/// ```
/// use backlot::frontend::Routes;
/// use backlot::plugins::catalog::common::Entity;
/// use backlot::plugins::techdocs::react::reader_href;
///
/// let entity = Entity::new("backstage.io/v1alpha1", "Component", "shop");
/// assert_eq!(reader_href(&Routes::default(), &entity), None);
/// ```
pub fn reader_href(routes: &Routes, entity: &Entity) -> Option<String> {
    routes.href(&TECHDOCS_READER_ROUTE, &EntityParams::from_entity(entity))
}
