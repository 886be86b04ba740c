//! Reads the entity whose docs are asked for through the [`CATALOG`] service ref.
//!
//! [`CATALOG`]: crate::plugins::catalog::node::CATALOG

use crate::plugins::catalog::common::{Entity, EntityRef};
use crate::plugins::catalog::node::CatalogApi;
use crate::plugins::techdocs::common::DocsEntity;
use crate::services::auth::Credentials;

use super::TechdocsError;

/// The catalog entity `docs` names.
pub(crate) async fn entity(
    catalog: &dyn CatalogApi,
    docs: &DocsEntity,
    credentials: &Credentials,
) -> Result<Entity, TechdocsError> {
    let entity_ref = EntityRef::new(&docs.kind, &docs.namespace, &docs.name);
    match catalog.entity_by_ref(&entity_ref, credentials).await {
        Ok(Some(entity)) => Ok(entity),
        Ok(None) => Err(TechdocsError::EntityNotFound {
            entity: docs.to_string(),
        }),
        Err(source) => Err(TechdocsError::Catalog {
            entity: docs.to_string(),
            source: Box::new(source),
        }),
    }
}
