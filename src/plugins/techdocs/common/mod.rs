//! Types shared by the TechDocs backend, its pipeline and its clients (Backstage
//! `@backstage/plugin-techdocs-common`).

mod annotation;
mod docs_ref;
mod entity_name;
mod metadata;

pub use annotation::{TECHDOCS_REF_ANNOTATION, docs_url_path};
pub use docs_ref::{DocsRef, DocsRefError, LocationMetadata};
pub use entity_name::{DocsEntity, DocsEntityError};
pub use metadata::TechDocsMetadata;
