//! The TechDocs plugin: Markdown and `mkdocs.yml` turned into static documentation sites,
//! natively (no Python, no Docker), published to a local directory or an S3-compatible
//! object store and served with Backstage's static-docs, metadata and sync endpoints.
//!
//! - [`common`]: the metadata types both sides use (`techdocs_metadata.json`, entity paths).
//! - [`node`]: the pipeline — [`Preparer`](node::Preparer), [`Generator`](node::Generator),
//!   [`Publisher`](node::Publisher) — and its built-in implementations.
//! - [`backend`]: the backend plugin [`TechdocsPlugin`](backend::TechdocsPlugin), mounted at
//!   `/api/techdocs`.

pub mod backend;
pub mod common;
pub mod node;
