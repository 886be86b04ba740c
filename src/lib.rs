//! # backlot
//!
//! Backstage's architecture as one embeddable Rust crate: a backend made of plugins, modules,
//! services and extension points; an app made of extensions; and reference plugins (catalog,
//! search, techdocs, ...) that a host program composes.
//!
//! The wire formats are Backstage's: `catalog-info.yaml` files, `app-config.yaml` keys and the
//! REST APIs that Backstage's own clients call.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod backend;
pub mod frontend;
pub mod plugins;
pub mod services;
#[cfg(feature = "testing")]
pub mod testing;

#[doc(hidden)]
pub use inventory;
