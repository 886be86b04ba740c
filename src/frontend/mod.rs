//! The frontend system: an [`App`] made of extensions, rendered on the server as plain HTML.
//!
//! The structure is Backstage's new frontend system:
//!
//! - An [`Extension`] has an id `kind:namespace/name`, attaches to an input of a parent
//!   extension ([`AttachTo`]), declares named [`ExtensionInput`]s and typed outputs
//!   ([`ExtensionDataRef`]), takes config (a serde type with defaults) and may be disabled by
//!   default. Blueprints ([`PageBlueprint`], [`NavItemBlueprint`], [`ApiBlueprint`],
//!   [`ThemeBlueprint`]) make the common kinds.
//! - A [`FrontendPlugin`] is an id with extensions, routes and external routes.
//! - [`App::builder`] wires plugins, overrides and config (`app.extensions`,
//!   `app.routes.bindings`) into an [`AppTree`], instantiates it depth-first, builds the utility
//!   APIs ([`ApiRef`], [`ApiFactory`]) and the route table ([`Routes`]), and serves every page
//!   through [`App::router`] — HTML that works without JavaScript.
//! - [`ui`] is the rendering kit (maud components) pages are made of.
//! - Pages that change something take form posts ([`PageBlueprint::accept_forms`]): only
//!   from the app's own pages (the `Origin` check of the sign-in routes), read with
//!   [`PageRequest::form`], answered with a page or [`PageContent::redirect`].
//! - Sign-in: with an auth service and a provider in `auth.providers`, pages need a session
//!   (`/signin`, guest in one click, OIDC through the auth plugin's redirect flow); each page
//!   renders for a [`SignedInUser`] and every plugin call of that render carries the user's
//!   token.
//!
//! The built-in tree is `app` (inputs `root`, `apis`, `themes`) → `app/layout` (inputs `nav`,
//! `content`) → `app/nav` (inputs `items` and `content`, sidebar markup such as a search box) and `app/routes` (input `routes`); the default themes
//! are `theme:app/light` and `theme:app/dark`; the core APIs are `api:core.config`,
//! `api:core.discovery` and `api:core.fetch`. All of them can be overridden like any extension.
//!
//! ```
//! use backlot::frontend::{App, FrontendPlugin, NavItemBlueprint, PageBlueprint, RouteRef, ui};
//! use backlot::services::config::Config;
//! use maud::html;
//!
//! static RADAR: RouteRef = RouteRef::new("tech-radar.root");
//!
//! let radar = FrontendPlugin::new("tech-radar")
//!     .route("root", &RADAR)
//!     .extension(
//!         PageBlueprint::new("/tech-radar", |_req| async move {
//!             Ok(html! { (ui::header("Tech Radar", None)) }.into())
//!         })
//!         .route_ref(&RADAR)
//!         .title("Tech Radar")
//!         .build(),
//!     )
//!     .extension(NavItemBlueprint::new("Tech Radar", &RADAR).build());
//!
//! let config = Config::from_value(serde_json::json!({
//!     "app": { "title": "Portal", "extensions": [{ "page:tech-radar": { "config": { "path": "/radar" } } }] }
//! }));
//! let app = App::builder().feature(radar).config(config).build()?;
//! assert_eq!(app.routes().href(&RADAR, &()), Some("/radar".to_string()));
//! let _router: axum::Router = app.router();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod api;
mod app;
mod blueprints;
mod builtin;
mod config;
pub mod core_data;
mod data_ref;
mod error;
mod extension;
mod fetch;
mod id;
mod input;
mod page;
mod plugin;
mod route_table;
mod routing;
mod serve;
mod signin;
mod theme;
mod tree;
pub mod ui;

#[cfg(test)]
mod tests;

/// The frontend guides from `docs/`, rendered here so that `cargo doc` shows them and
/// `cargo test --doc` compiles and runs their examples.
pub mod guides {
    #[doc = include_str!("../../docs/writing-a-frontend-plugin.md")]
    pub mod writing_a_frontend_plugin {}

    #[doc = include_str!("../../docs/customizing-the-app.md")]
    pub mod customizing_the_app {}
}

pub use api::{ApiDepRefs, ApiFactory, ApiFactoryBuilder, ApiRef, ApiRegistry};
pub use app::{App, AppBuilder};
pub use blueprints::{
    ApiBlueprint, NavItemBlueprint, NavItemConfig, PageBlueprint, PageConfig, ThemeBlueprint,
};
pub use builtin::core_apis;
pub use data_ref::{AnyDataRef, ExtensionDataRef, Outputs};
pub use error::{AppError, AppWarning};
pub use extension::{
    AttachTo, Extension, ExtensionBuilder, ExtensionContext, InputItem, Inputs, NoConfig,
    OriginalFactory,
};
pub use fetch::{BackendError, FetchApi, FetchError};
pub use id::ExtensionId;
pub use input::{Cardinality, ExtensionInput, InputName, InputRef, IntoInputDeclaration};
pub use page::{PageContent, PageError, PageRenderer, PageRequest};
pub use plugin::FrontendPlugin;
pub use routing::{
    AnyRouteRef, BindTarget, ExternalRouteRef, RouteParams, RouteRef, RouteResolver, RouteTarget,
    Routes, SubRouteRef,
};
pub use signin::SignedInUser;
pub use theme::{Theme, ThemeVariant};
pub use tree::{AppNode, AppTree, NodeId};
