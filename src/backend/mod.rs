//! The backend system: [`Backend`] and its builder, plugins, modules, typed service refs with
//! dependency injection, extension points, and the HTTP server.
//!
//! A backend has no features of its own: a host program adds plugins (each mounted at
//! `/api/<pluginId>`), modules that extend them through extension points, and service
//! factories that replace the default implementation of a [`ServiceRef`]. `build()` checks the
//! wiring; `start()` serves health at once, initializes plugins — each plugin's modules first,
//! plugins concurrently — and reports ready when all have started.
//!
//! ```
//! use axum::{Router, routing::get};
//! use backlot::backend::{Backend, Feature};
//! use backlot::services::core_services::HTTP_ROUTER;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let hello = Feature::plugin_fn("hello", |reg| {
//!     reg.init(&HTTP_ROUTER, |http| async move {
//!         http.use_router(Router::new().route("/greet", get(|| async { "hello" })));
//!         Ok(())
//!     })
//! });
//! let handle = Backend::builder()
//!     .add(hello)
//!     .listen_addr("127.0.0.1:0".parse()?)
//!     .start()
//!     .await?;
//! assert!(handle.health().is_ready());
//! handle.stop().await?;
//! # Ok(())
//! # }
//! ```

mod builder;
mod deps;
mod error;
mod extension_point;
mod features;
pub mod guides;
pub mod http;
mod plan;
mod plugin;
mod registry;
mod resolve;
mod runtime;
mod service_factory;
mod service_ref;

pub use builder::{Backend, BackendBuilder};
pub use deps::{Dep, Deps};
pub use error::{BackendError, BoxError, StartupError, WiringError};
pub use extension_point::{ExtensionList, ExtensionPoint, ExtensionPointHandle};
pub use features::IntoFeatures;
#[doc(hidden)]
pub use features::{FeatureMarker, ManyMarker, ModuleMarker, PluginMarker, ServiceMarker};
pub use http::{ApiError, ApiErrorKind};
pub use plugin::{
    BackendModule, BackendPlugin, Feature, FeatureRegistration, ModuleRegistrar, PluginRegistrar,
    Registration,
};
pub use runtime::BackendHandle;
pub use service_factory::{
    FactoryContext, PluginFactoryBuilder, RootFactoryBuilder, ServiceFactory,
};
pub use service_ref::{ServiceRef, ServiceScope};
