//! The `app` backend plugin: serves the server-rendered [`App`](crate::frontend::App) at `/`,
//! outside `/api`, like Backstage's app backend.
//!
//! The plugin builds the app when the backend starts, with the backend's root config (unless
//! the builder already has one), the backend's discovery service as the `core.discovery`
//! utility API and the plugin's own `AUTH` service to verify the identity tokens of sessions
//! (so sign-in is on as soon as `auth.providers` has a provider; see
//! [`SignedInUser`](crate::frontend::SignedInUser)). App build errors fail startup, naming
//! plugin `app`.
//!
//! ```no_run
//! use backlot::backend::Backend;
//! use backlot::frontend::{App, FrontendPlugin, PageBlueprint};
//! use backlot::plugins::app::app_plugin;
//! use maud::html;
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let hello = FrontendPlugin::new("hello")
//!     .extension(PageBlueprint::new("/", |_| async { Ok(html! { h1 { "Hello" } }.into()) }).build());
//! let backend = Backend::builder()
//!     .add_feature(app_plugin(App::builder().feature(hello)))
//!     .listen_addr("127.0.0.1:7007".parse()?)
//!     .start()
//!     .await?;
//! # backend.stop().await?;
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::response::IntoResponse;
use axum::routing::any;
use tower::ServiceExt;

use crate::backend::{ApiError, BackendPlugin, Feature, PluginRegistrar, Registration};
use crate::frontend::AppBuilder;
use crate::services::auth::AUTH;
use crate::services::core_services::{DISCOVERY, ROOT_CONFIG, ROOT_HTTP_ROUTER};

/// The `app` backend plugin; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct AppPlugin {
    builder: AppBuilder,
}

impl AppPlugin {
    /// A plugin serving the app `builder` builds.
    pub fn new(builder: AppBuilder) -> Self {
        Self { builder }
    }
}

/// The `app` backend plugin as a feature.
///
/// ```
/// use backlot::frontend::App;
/// let feature = backlot::plugins::app::app_plugin(App::builder());
/// assert!(matches!(feature, backlot::backend::Feature::Plugin(_)));
/// ```
pub fn app_plugin(builder: AppBuilder) -> Feature {
    Feature::plugin(AppPlugin::new(builder))
}

impl BackendPlugin for AppPlugin {
    fn id(&self) -> &str {
        "app"
    }

    fn register(&self, reg: PluginRegistrar) -> Registration {
        let builder = self.builder.clone();
        reg.init(
            (&ROOT_CONFIG, &ROOT_HTTP_ROUTER, &DISCOVERY, &AUTH),
            move |(config, root, discovery, auth)| async move {
                let mut builder = builder.with_discovery(discovery);
                if !builder.has_auth() {
                    builder = builder.auth_service(auth);
                }
                if !builder.has_config() {
                    builder = builder.config((*config).clone());
                }
                let app = builder.build()?;
                root.use_router("/", serve_everything(app.router()));
                Ok(())
            },
        )
    }
}

/// A router that sends every path to the app (so its HTML 404 page answers unknown paths),
/// except unknown `/api/...` paths, which get Backstage's JSON 404.
fn serve_everything(app: Router) -> Router {
    let app = Arc::new(app);
    let handler = move |req: Request<Body>| {
        let app = app.clone();
        async move {
            if req.uri().path().starts_with("/api/") {
                return ApiError::not_found(format!("no route for {}", req.uri().path()))
                    .into_response();
            }
            match (*app).clone().oneshot(req).await {
                Ok(res) => res,
                Err(never) => match never {},
            }
        }
    };
    Router::new()
        .route("/", any(handler.clone()))
        .route("/{*path}", any(handler))
}

/// The `app` backend plugin serving the app `builder` builds, to add with
/// [`BackendBuilder::add`](crate::backend::BackendBuilder::add); the same as
/// [`AppPlugin::new`].
///
/// ```
/// use backlot::backend::Backend;
/// use backlot::frontend::App;
/// use backlot::plugins::{app, catalog};
///
/// let backend = Backend::builder()
///     .add(app::plugin(App::builder().feature(catalog::frontend::plugin())))
///     .build()?;
/// assert_eq!(backend.plugin_ids(), ["app"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn plugin(builder: AppBuilder) -> AppPlugin {
    AppPlugin::new(builder)
}
