//! The software catalog plugin: the model ([`common`]), the extension points other backend
//! code uses ([`node`]), and the backend plugin ([`backend`], re-exported here).

pub mod backend;
pub mod common;
pub mod frontend;
pub mod node;
pub mod react;

pub use backend::{CatalogError, CatalogPlugin, CatalogService};

/// Compiles the examples of the guide `docs/catalog.md` as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/catalog.md")]
pub struct CatalogGuide;
