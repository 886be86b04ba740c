//! Types shared by the TechDocs backend, its pipeline and its clients (Backstage
//! `@backstage/plugin-techdocs-common`).

mod docs_ref;
mod entity_name;
mod metadata;

pub use docs_ref::{DocsRef, DocsRefError, LocationMetadata};
pub use entity_name::{DocsEntity, DocsEntityError};
pub use metadata::TechDocsMetadata;
