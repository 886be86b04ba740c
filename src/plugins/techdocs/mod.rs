//! The TechDocs plugin: Markdown and `mkdocs.yml` turned into static documentation sites,
//! natively (no Python, no Docker), published to a local directory or an S3-compatible
//! object store and served with Backstage's static-docs, metadata and sync endpoints.
//!
//! - [`common`]: the metadata types both sides use (`techdocs_metadata.json`, entity paths).
//! - [`node`]: the pipeline — [`Preparer`](node::Preparer), [`Generator`](node::Generator),
//!   [`Publisher`](node::Publisher) — and its built-in implementations.
//! - [`backend`]: the backend plugin [`TechdocsPlugin`](backend::TechdocsPlugin), mounted at
//!   `/api/techdocs`.
//! - [`react`]: the [`TechDocsApi`](react::TechDocsApi) utility API, the reader's route refs
//!   and the parsing of generated pages.
//! - [`frontend`]: the docs index, the reader and the Docs tab on entity pages.

pub mod backend;
pub mod common;
pub mod frontend;
pub mod node;
pub mod react;
