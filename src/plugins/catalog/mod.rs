//! The software catalog plugin: the model ([`common`]), the extension points other backend
//! code uses ([`node`]), and the backend plugin ([`backend`], re-exported here).

pub mod backend;
pub mod common;
pub mod node;

pub use backend::{CatalogError, CatalogPlugin, CatalogService};
