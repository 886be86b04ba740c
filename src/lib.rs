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

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The types most programs need, in one import.
pub mod prelude {
    pub use crate::backend::{
        ApiError, Backend, BackendHandle, BackendModule, BackendPlugin, BoxError, ExtensionPoint,
        Feature, ModuleRegistrar, PluginRegistrar, Registration, ServiceFactory, ServiceRef,
    };
    pub use crate::services::core_services;
    pub use crate::services::logger::LoggerServiceExt;
}
