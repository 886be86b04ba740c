//! The App: builds the extension tree from plugins, overrides and config, and serves it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::get;
use maud::{PreEscaped, html};

use super::api::ApiRegistry;
use super::builtin::{APP_PARTS, AppParts, builtin_extensions};
use super::config::read_extension_params;
use super::error::{AppError, AppWarning};
use super::extension::Extension;
use super::page::{AppContext, PageError};
use super::plugin::{FrontendPlugin, valid_plugin_id};
use super::route_table::{REST_PARAM, axum_pattern, build_routes};
use super::routing::{
    AnyExternalRoute, AnyRouteRef, BindTarget, ExternalRouteRef, RouteParams, RouteResolver, Routes,
};
use super::serve::{
    APP_CSS, APP_JS, AppState, not_found, script, serve_form, serve_page, stylesheet,
};
use super::signin::{SignIn, SignInSettings};
use super::theme::{ThemeVariant, theme_css};
use super::tree::{self, AppTree, Entry, Source};
use crate::services::auth::AuthService;
use crate::services::config::Config;
use crate::services::discovery::DiscoveryService;

/// Builds an [`App`]: plugins, extension overrides, config and route bindings.
///
/// ```
/// use backlot::frontend::{App, ExternalRouteRef, FrontendPlugin, PageBlueprint, RouteRef};
/// use backlot::services::config::Config;
/// use maud::html;
///
/// static DOCS: RouteRef = RouteRef::new("docs.root");
/// static TO_DOCS: ExternalRouteRef = ExternalRouteRef::new("radar.docs");
///
/// let docs = FrontendPlugin::new("docs")
///     .route("root", &DOCS)
///     .extension(PageBlueprint::new("/docs", |_| async { Ok(html! { "docs" }.into()) }).route_ref(&DOCS).build());
/// let radar = FrontendPlugin::new("radar").external_route("docs", &TO_DOCS);
/// // An override: a home page added by the app itself.
/// let home = PageBlueprint::new("/", |_| async { Ok(html! { "home" }.into()) }).namespace("home").build();
///
/// let app = App::builder()
///     .features([docs, radar])
///     .extension(home)
///     .bind_route(&TO_DOCS, &DOCS)
///     .config(Config::from_value(serde_json::json!({ "app": { "title": "Portal" } })))
///     .build()?;
/// assert_eq!(app.routes().href(&TO_DOCS, &()), Some("/docs".to_string()));
/// assert_eq!(app.page_paths().len(), 2);
///
/// // Without the binding the required external route fails the build.
/// let err = App::builder()
///     .feature(FrontendPlugin::new("radar").external_route("docs", &TO_DOCS))
///     .build()
///     .unwrap_err();
/// assert_eq!(err.to_string(), "external route 'docs' of plugin 'radar' is required but not bound");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct AppBuilder {
    plugins: Vec<FrontendPlugin>,
    overrides: Vec<Extension>,
    config: Option<Config>,
    bindings: Vec<(AnyExternalRoute, AnyRouteRef)>,
    discovery: Option<Arc<dyn DiscoveryService>>,
    auth: Option<Arc<dyn AuthService>>,
}

impl std::fmt::Debug for AppBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppBuilder")
            .field(
                "plugins",
                &self
                    .plugins
                    .iter()
                    .map(FrontendPlugin::id)
                    .collect::<Vec<_>>(),
            )
            .field("overrides", &self.overrides.len())
            .finish_non_exhaustive()
    }
}

impl AppBuilder {
    /// Adds a plugin.
    pub fn feature(mut self, plugin: FrontendPlugin) -> Self {
        self.plugins.push(plugin);
        self
    }

    /// Adds plugins.
    pub fn features(mut self, plugins: impl IntoIterator<Item = FrontendPlugin>) -> Self {
        self.plugins.extend(plugins);
        self
    }

    /// Adds an extension override: it replaces the extension with the same id (from a plugin
    /// or the app itself) or is added as a new one. Overrides need a namespace or a name.
    pub fn extension(mut self, extension: Extension) -> Self {
        self.overrides.push(extension);
        self
    }

    /// Adds extension overrides.
    pub fn extensions(mut self, extensions: impl IntoIterator<Item = Extension>) -> Self {
        self.overrides.extend(extensions);
        self
    }

    /// Sets the config (`app.title`, `app.extensions`, `app.routes.bindings`, ...).
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    pub(crate) fn has_config(&self) -> bool {
        self.config.is_some()
    }

    pub(crate) fn has_auth(&self) -> bool {
        self.auth.is_some()
    }

    pub(crate) fn with_discovery(mut self, discovery: Arc<dyn DiscoveryService>) -> Self {
        self.discovery = Some(discovery);
        self
    }

    /// Sets the service that verifies the identity tokens of sessions, which turns sign-in on
    /// when a provider is configured (see [`SignedInUser`](super::SignedInUser) and the
    /// `/signin` page). The `app` backend plugin sets its own `AUTH` service; set one here
    /// only for an app served another way.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use backlot::frontend::App;
    /// use backlot::services::auth::{AuthError, AuthService, AuthenticateOptions, Credentials, LimitedToken, jwt::JwkSet};
    ///
    /// /// Accepts nothing: every session is refused.
    /// #[derive(Debug)]
    /// struct Nobody;
    ///
    /// #[async_trait::async_trait]
    /// impl AuthService for Nobody {
    ///     async fn authenticate(&self, _: &str, _: AuthenticateOptions) -> Result<Credentials, AuthError> {
    ///         Err(AuthError::Authentication("no".into()))
    ///     }
    ///     fn own_service_credentials(&self) -> Credentials { Credentials::service("plugin:app") }
    ///     async fn plugin_request_token(&self, _: &Credentials, _: &str) -> Result<String, AuthError> {
    ///         Err(AuthError::Authentication("no".into()))
    ///     }
    ///     async fn limited_user_token(&self, _: &Credentials) -> Result<LimitedToken, AuthError> {
    ///         Err(AuthError::Authentication("no".into()))
    ///     }
    ///     async fn list_public_service_keys(&self) -> Result<JwkSet, AuthError> { Ok(JwkSet::default()) }
    /// }
    ///
    /// let config = backlot::services::config::Config::from_value(serde_json::json!({
    ///     "auth": { "providers": { "guest": {} } }
    /// }));
    /// let app = App::builder().auth_service(Arc::new(Nobody)).config(config).build()?;
    /// assert!(app.has_sign_in());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn auth_service(mut self, auth: Arc<dyn AuthService>) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Binds an external route to a route (or sub-route) with the same params, like
    /// Backstage's `bindRoutes`. `app.routes.bindings` in config wins over this.
    pub fn bind_route<P: RouteParams>(
        mut self,
        external: &ExternalRouteRef<P>,
        target: &impl BindTarget<P>,
    ) -> Self {
        self.bindings.push((external.erased(), target.any_route()));
        self
    }

    /// Resolves, checks and instantiates the extension tree, builds the utility APIs and the
    /// route table.
    pub fn build(self) -> Result<App, AppError> {
        let config = self.config.unwrap_or_default();
        let mut seen = HashSet::new();
        let mut base = Vec::new();
        for ext in builtin_extensions(self.discovery.clone()) {
            base.push(Entry {
                id: ext.id()?.to_string(),
                extension: ext,
                source: Source::App,
            });
        }
        for plugin in &self.plugins {
            if !valid_plugin_id(plugin.id()) {
                return Err(AppError::InvalidPluginId {
                    id: plugin.id().to_string(),
                });
            }
            if !seen.insert(plugin.id().to_string()) {
                return Err(AppError::DuplicatePlugin {
                    id: plugin.id().to_string(),
                });
            }
            for ext in plugin.resolved_extensions() {
                base.push(Entry {
                    id: ext.id()?.to_string(),
                    extension: ext,
                    source: Source::Plugin(plugin.id().to_string()),
                });
            }
        }
        let mut overrides = Vec::new();
        for ext in self.overrides {
            overrides.push(Entry {
                id: ext.id()?.to_string(),
                extension: ext,
                source: Source::Override,
            });
        }
        let entries = tree::merge_entries(base, overrides)?;
        let params = read_extension_params(&config)?;
        let (mut tree, mut warnings) = tree::resolve(entries, params)?;
        let resolver = RouteResolver::default();
        tree::instantiate(&mut tree, &config, &resolver)?;
        let parts: AppParts = tree
            .root()
            .and_then(|r| r.outputs())
            .and_then(|o| o.get(&APP_PARTS))
            .cloned()
            .ok_or(AppError::MissingRoot)?;

        let apis = ApiRegistry::build(parts.apis.clone())?;
        let routes = build_routes(&tree, &self.plugins, &self.bindings, &config)?;
        resolver.set(routes.clone());

        let light = parts
            .themes
            .iter()
            .find(|t| t.variant() == ThemeVariant::Light);
        let dark = parts
            .themes
            .iter()
            .find(|t| t.variant() == ThemeVariant::Dark);
        let css = theme_css(light, dark).map_err(|source| AppError::Factory {
            extension: "app".to_string(),
            source,
        })?;
        let css_path = format!("/static/backlot-{:016x}.css", fnv1a(APP_CSS.as_bytes()));
        let js_path = format!("/static/backlot-{:016x}.js", fnv1a(APP_JS.as_bytes()));
        let head = html! {
            link rel="stylesheet" href=(css_path);
            style { (PreEscaped(css)) }
            script src=(js_path) defer {}
        };

        let mut pages = Vec::new();
        let mut by_path: HashMap<String, String> = HashMap::new();
        for page in &parts.routes {
            if page.path == "/signin"
                || page.path.starts_with("/signin/")
                || page.path == "/signout"
            {
                return Err(AppError::InvalidPagePath {
                    extension: page.extension.clone(),
                    path: page.path.clone(),
                    reason: "/signin and /signout are reserved for sign-in".to_string(),
                });
            }
            let pattern = axum_pattern(&page.path).map_err(|reason| AppError::InvalidPagePath {
                extension: page.extension.clone(),
                path: page.path.clone(),
                reason,
            })?;
            if let Some(first) = by_path.insert(pattern.clone(), page.extension.clone()) {
                return Err(AppError::DuplicatePagePath {
                    path: page.path.clone(),
                    first,
                    second: page.extension.clone(),
                });
            }
            pages.push((pattern, page.clone()));
        }

        let title = config
            .opt_string("app.title")?
            .unwrap_or_else(|| "Backstage".to_string());
        let settings = SignInSettings::from_config(&config)?;
        let signin = match (&self.auth, settings.providers.is_empty()) {
            (Some(auth), false) => {
                let discovery =
                    apis.get(&super::core_apis::DISCOVERY)
                        .ok_or_else(|| AppError::Factory {
                            extension: "app".to_string(),
                            source: "sign-in needs the core.discovery api".into(),
                        })?;
                let http = crate::services::http_client::http_client(&config)?;
                Some(SignIn {
                    settings,
                    auth: auth.clone(),
                    discovery,
                    http,
                })
            }
            _ => None,
        };
        let ctx = Arc::new(AppContext {
            apis,
            routes,
            config,
            title,
        });
        let nav_items: Vec<(String, String, Option<String>)> = parts
            .layout
            .nav
            .items
            .iter()
            .filter_map(|item| match ctx.routes.pattern_of(&item.target) {
                Some(pattern) => Some((item.title.clone(), pattern, item.icon.clone())),
                None => {
                    warnings.push(AppWarning::NavItemWithoutPage {
                        title: item.title.clone(),
                        route: item.target.id().to_string(),
                    });
                    None
                }
            })
            .collect();
        for w in &warnings {
            tracing::warn!("{w}");
        }
        Ok(App {
            tree,
            warnings,
            resolver,
            state: Arc::new(AppState {
                ctx,
                layout: parts.layout,
                nav_items,
                head,
                css_path,
                js_path,
                pages,
                signin,
                auth: self.auth.clone(),
            }),
        })
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// An app: the instantiated extension tree, its utility APIs and routes, served as
/// server-rendered HTML by [`App::router`].
///
/// ```
/// use backlot::frontend::{App, FrontendPlugin, NavItemBlueprint, PageBlueprint, RouteRef};
/// use maud::html;
/// use tower::ServiceExt;
///
/// static HOME: RouteRef = RouteRef::new("home.root");
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let home = FrontendPlugin::new("home")
///     .route("root", &HOME)
///     .extension(PageBlueprint::new("/", |_| async { Ok(html! { p { "Welcome" } }.into()) }).route_ref(&HOME).build())
///     .extension(NavItemBlueprint::new("Home", &HOME).build());
/// let app = App::builder().feature(home).build()?;
///
/// let res = app
///     .router()
///     .oneshot(http::Request::get("/").body(axum::body::Body::empty())?)
///     .await?;
/// assert_eq!(res.status(), 200);
/// let body = axum::body::to_bytes(res.into_body(), usize::MAX).await?;
/// let html = String::from_utf8(body.to_vec())?;
/// assert!(html.contains("<p>Welcome</p>"));
/// assert!(html.contains("aria-current=\"page\""));
/// # Ok(())
/// # }
/// ```
pub struct App {
    tree: AppTree,
    warnings: Vec<AppWarning>,
    resolver: RouteResolver,
    state: Arc<AppState>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("pages", &self.page_paths())
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

impl App {
    /// Starts a builder.
    pub fn builder() -> AppBuilder {
        AppBuilder::default()
    }

    /// The extension tree.
    pub fn tree(&self) -> &AppTree {
        &self.tree
    }

    /// What was left out of the app, one warning each (also logged when the app is built):
    /// detached extensions and nav items whose route has no page.
    pub fn warnings(&self) -> &[AppWarning] {
        &self.warnings
    }

    /// The utility APIs.
    pub fn apis(&self) -> &ApiRegistry {
        &self.state.ctx.apis
    }

    /// The route table.
    pub fn routes(&self) -> &Routes {
        &self.state.ctx.routes
    }

    /// The handle extension factories got from
    /// [`ExtensionContext::routes`](super::ExtensionContext::routes), now resolved.
    pub fn route_resolver(&self) -> &RouteResolver {
        &self.resolver
    }

    /// `(page extension id, path)` of every mounted page.
    pub fn page_paths(&self) -> Vec<(String, String)> {
        self.state
            .pages
            .iter()
            .map(|(_, p)| (p.extension.clone(), p.path.clone()))
            .collect()
    }

    /// Whether pages need a signed-in user (an auth service and at least one provider; see
    /// [`AppBuilder::auth_service`]).
    pub fn has_sign_in(&self) -> bool {
        self.state.signin.is_some()
    }

    /// The path of the stylesheet (content-hashed, cached for a year).
    pub fn stylesheet_path(&self) -> &str {
        &self.state.css_path
    }

    /// The path of the optional script (progressive enhancement: forms with
    /// `data-autosubmit` submit when a field changes).
    pub fn script_path(&self) -> &str {
        &self.state.js_path
    }

    /// A router serving every page (GET), the stylesheet and script, and an HTML 404 page for
    /// anything else.
    pub fn router(&self) -> Router {
        self.routes_only()
            .fallback(not_found)
            .with_state(self.state.clone())
    }

    fn routes_only(&self) -> Router<Arc<AppState>> {
        let mut router: Router<Arc<AppState>> = Router::new()
            .route(&self.state.css_path, get(stylesheet))
            .route(&self.state.js_path, get(script))
            .merge(super::signin::router());
        for (index, (pattern, _)) in self.state.pages.iter().enumerate() {
            let handler =
                move |State(state): State<Arc<AppState>>,
                      uri: Uri,
                      headers: HeaderMap,
                      params: Option<Path<HashMap<String, String>>>| {
                    serve_page(state, index, uri, headers, params)
                };
            let method = if self.state.pages[index].1.render.accepts_forms() {
                let post = move |State(state): State<Arc<AppState>>,
                                 uri: Uri,
                                 headers: HeaderMap,
                                 params: Option<Path<HashMap<String, String>>>,
                                 body: axum::body::Bytes| {
                    serve_form(state, index, uri, headers, params, body)
                };
                get(handler).post(post)
            } else {
                get(handler)
            };
            router = router.route(pattern, method.clone());
            // A page with other pages mounted below it (`/catalog` and
            // `/catalog/:namespace/:kind/:name`) gets no catch-all: the router cannot hold
            // both, and the paths below belong to those pages.
            let below = format!("{pattern}/");
            let rest = if pattern == "/"
                || self
                    .state
                    .pages
                    .iter()
                    .any(|(other, _)| other.starts_with(&below))
            {
                None
            } else {
                Some(format!("{pattern}/{{*{REST_PARAM}}}"))
            };
            if let Some(rest) = rest {
                router = router.route(&rest, method);
            }
        }
        // Without a page of its own at `/`, the app's home is its first page without path
        // parameters (the catalog in the portal), as Backstage's default app redirects there.
        if !self.state.pages.iter().any(|(pattern, _)| pattern == "/") {
            if let Some((home, _)) = self.state.pages.iter().find(|(p, _)| !p.contains('{')) {
                let home = home.clone();
                router = router.route(
                    "/",
                    get(move || {
                        let home = home.clone();
                        async move { axum::response::Redirect::to(&home) }
                    }),
                );
            }
        }
        router
    }

    /// The HTML 404 page for a path, as [`router`](Self::router)'s fallback renders it.
    pub fn not_found_response(&self, path: &str) -> Response {
        self.state.error_page(
            path,
            &PageError::not_found(format!("There is no page at {path}.")),
            None,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use maud::html;

    #[test]
    fn pages_below_other_pages_are_routable() {
        use crate::frontend::{FrontendPlugin, PageBlueprint};
        let page = |path: &str, name: &str| {
            PageBlueprint::new(path, |_| async { Ok(html! { "x" }.into()) })
                .name(name)
                .build()
        };
        let app = App::builder()
            .feature(
                FrontendPlugin::new("p")
                    .extension(page("/a", "index"))
                    .extension(page("/a/:x/:y", "item")),
            )
            .build()
            .unwrap();
        let _router = app.router();
    }
}
