//! The App: builds the extension tree from plugins, overrides and config, and serves it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, PreEscaped, html};
use serde_json::Value;

use super::api::ApiRegistry;
use super::builtin::{APP_PARTS, AppParts, builtin_extensions};
use super::config::read_extension_params;
use super::core_data::{Layout, NavLink, ROUTE_REF, Shell};
use super::error::{AppError, AppWarning};
use super::extension::Extension;
use super::page::{AppContext, PageContent, PageError, PageRequest};
use super::plugin::{FrontendPlugin, valid_plugin_id};
use super::routing::{
    AnyExternalRoute, AnyRouteRef, BindTarget, ExternalRouteRef, RouteParams, Routes,
    pattern_params,
};
use super::theme::{ThemeVariant, theme_css};
use super::tree::{self, AppTree, Entry, Source};
use super::ui;
use crate::backend::http::RawErrorResponse;
use crate::services::config::Config;
use crate::services::discovery::DiscoveryService;

const APP_CSS: &str = include_str!("assets/app.css");
const APP_JS: &str = include_str!("assets/app.js");
const REST_PARAM: &str = "bl_rest";

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

    pub(crate) fn with_discovery(mut self, discovery: Arc<dyn DiscoveryService>) -> Self {
        self.discovery = Some(discovery);
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
        let (mut tree, warnings) = tree::resolve(entries, params)?;
        for w in &warnings {
            tracing::warn!("{w}");
        }
        tree::instantiate(&mut tree, &config)?;
        let parts: AppParts = tree
            .root()
            .and_then(|r| r.outputs())
            .and_then(|o| o.get(&APP_PARTS))
            .cloned()
            .ok_or(AppError::MissingRoot)?;

        let apis = ApiRegistry::build(parts.apis.clone())?;
        let routes = build_routes(&tree, &self.plugins, &self.bindings, &config)?;

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
            .filter_map(|item| {
                let pattern = ctx.routes.pattern_of(&item.target)?;
                Some((item.title.clone(), pattern, item.icon.clone()))
            })
            .collect();
        Ok(App {
            tree,
            warnings,
            state: Arc::new(AppState {
                ctx,
                layout: parts.layout,
                nav_items,
                head,
                css_path,
                js_path,
                pages,
            }),
        })
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// `/a/:b` → `/a/{b}`, refusing what axum would misread.
fn axum_pattern(path: &str) -> Result<String, String> {
    if !path.starts_with('/') {
        return Err("a page path starts with '/'".to_string());
    }
    if path.contains(['{', '}', '*', '?', '#']) {
        return Err(
            "use ':name' for params; '{', '}', '*', '?' and '#' are not allowed".to_string(),
        );
    }
    let trimmed = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    let mut out = String::new();
    for segment in trimmed.split('/').skip(1) {
        out.push('/');
        match segment.strip_prefix(':') {
            Some(name) if !name.is_empty() && name != REST_PARAM => {
                out.push('{');
                out.push_str(name);
                out.push('}');
            }
            Some(_) => return Err(format!("bad param segment '{segment}'")),
            None => out.push_str(segment),
        }
    }
    Ok(if out.is_empty() { "/".to_string() } else { out })
}

fn join_route_chain(chain: &[String]) -> String {
    let mut out = String::new();
    for part in chain {
        let p = part.trim_matches('/');
        if !p.is_empty() {
            out.push('/');
            out.push_str(p);
        }
    }
    if out.is_empty() { "/".to_string() } else { out }
}

fn build_routes(
    tree: &AppTree,
    plugins: &[FrontendPlugin],
    code_bindings: &[(AnyExternalRoute, AnyRouteRef)],
    config: &Config,
) -> Result<Routes, AppError> {
    let mut routes = Routes::default();
    for id in tree.node_ids() {
        let Some(node) = tree.node(id) else { continue };
        let Some(route) = node.outputs().and_then(|o| o.get(&ROUTE_REF)) else {
            continue;
        };
        let path = join_route_chain(&tree.route_path_chain(id));
        let present = pattern_params(&path);
        if let Some(missing) = route.param_names().iter().find(|n| !present.contains(n)) {
            return Err(AppError::InvalidPagePath {
                extension: node.id().to_string(),
                path,
                reason: format!("route ref '{}' needs param ':{missing}'", route.id()),
            });
        }
        routes.paths.entry(route.id()).or_insert(path);
    }

    let plugin_route = |key: &str| -> Option<AnyRouteRef> {
        let (plugin, name) = key.split_once('.')?;
        plugins
            .iter()
            .find(|p| p.id() == plugin)?
            .routes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| *r)
    };
    let mut externals: Vec<(String, String, AnyExternalRoute)> = Vec::new();
    for plugin in plugins {
        for (name, ext) in &plugin.external_routes {
            externals.push((plugin.id().to_string(), name.clone(), *ext));
        }
    }

    // Default targets first, then bindings in code, then config.
    for (_, _, ext) in &externals {
        if let Some(target) = ext.default_target.and_then(&plugin_route) {
            if target.params() == ext.params {
                routes.bindings.insert(ext.id, target);
            }
        }
    }
    for (ext, target) in code_bindings {
        if !externals.iter().any(|(_, _, e)| e.id == ext.id) {
            return Err(AppError::InvalidRouteBinding {
                binding: ext.id.to_string(),
                reason: "the external route belongs to no installed plugin".to_string(),
            });
        }
        routes.bindings.insert(ext.id, *target);
    }
    if let Some(value) = config.get("app.routes.bindings") {
        let Value::Object(map) = value else {
            return Err(AppError::InvalidRouteBinding {
                binding: "app.routes.bindings".to_string(),
                reason: "expected a map of '<plugin>.<externalRoute>: <plugin>.<route>'"
                    .to_string(),
            });
        };
        for (key, target) in map {
            let bad = |reason: &str| AppError::InvalidRouteBinding {
                binding: key.clone(),
                reason: reason.to_string(),
            };
            let (plugin, name) = key
                .split_once('.')
                .ok_or_else(|| bad("expected '<plugin>.<externalRoute>'"))?;
            let ext = externals
                .iter()
                .find(|(p, n, _)| p == plugin && n == name)
                .map(|(_, _, e)| *e)
                .ok_or_else(|| bad("no installed plugin has this external route"))?;
            match target {
                Value::Bool(false) => {
                    routes.bindings.remove(ext.id);
                }
                Value::String(t) => {
                    let route = plugin_route(t).ok_or_else(|| {
                        bad(&format!(
                            "target '{t}' is not a route of an installed plugin"
                        ))
                    })?;
                    if route.params() != ext.params {
                        return Err(bad(&format!("target '{t}' takes different params")));
                    }
                    routes.bindings.insert(ext.id, route);
                }
                _ => return Err(bad("the target must be '<plugin>.<route>' or false")),
            }
        }
    }
    for (plugin, name, ext) in &externals {
        if !ext.optional && !routes.bindings.contains_key(ext.id) {
            return Err(AppError::UnboundExternalRoute {
                plugin: plugin.clone(),
                route: name.clone(),
            });
        }
    }
    Ok(routes)
}

struct AppState {
    ctx: Arc<AppContext>,
    layout: Layout,
    nav_items: Vec<(String, String, Option<String>)>,
    head: Markup,
    css_path: String,
    js_path: String,
    pages: Vec<(String, super::core_data::PageRoute)>,
}

impl AppState {
    fn nav_links(&self, current: &str) -> Vec<NavLink> {
        self.nav_items
            .iter()
            .map(|(title, href, icon)| NavLink {
                title: title.clone(),
                current: current == href
                    || (href != "/"
                        && current.starts_with(href.as_str())
                        && current[href.len()..].starts_with('/')),
                href: href.clone(),
                icon: icon.clone(),
            })
            .collect()
    }

    fn document(&self, path: &str, title: Option<&str>, body: Markup) -> Markup {
        let nav = (self.layout.nav.render)(&self.nav_links(path));
        (self.layout.render)(&Shell {
            app_title: &self.ctx.title,
            page_title: title,
            nav,
            body,
            head: self.head.clone(),
            current_path: path,
        })
    }

    fn error_page(&self, path: &str, error: &PageError) -> Response {
        let status = error.status_code();
        let (title, message) = if status == StatusCode::NOT_FOUND {
            ("Page not found", error.message().to_string())
        } else if status.is_client_error() {
            ("Bad request", error.message().to_string())
        } else {
            tracing::error!(path, error = %error.message(), "page failed to render");
            (
                "Something went wrong",
                "The page could not be rendered.".to_string(),
            )
        };
        let body = html! {
            (ui::header(title, None))
            (ui::error_state(title, &message))
            p { (ui::link("/", "Go to the home page")) }
        };
        html_response(status, self.document(path, Some(title), body))
    }
}

/// An HTML response; error statuses are marked so the backend's root layer keeps the HTML
/// instead of rewriting it into error JSON.
fn html_response(status: StatusCode, markup: Markup) -> Response {
    let mut res = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        markup.into_string(),
    )
        .into_response();
    res.extensions_mut().insert(RawErrorResponse);
    res
}

fn parse_query(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default()
}

async fn serve_page(
    state: Arc<AppState>,
    index: usize,
    uri: Uri,
    params: Option<Path<HashMap<String, String>>>,
) -> Response {
    let mut params = params.map(|Path(p)| p).unwrap_or_default();
    let rest = params
        .remove(REST_PARAM)
        .map(|r| format!("/{r}"))
        .unwrap_or_default();
    let path = uri.path().to_string();
    let Some((_, page)) = state.pages.get(index) else {
        return state.error_page(&path, &PageError::not_found("No page here."));
    };
    let req = PageRequest {
        path: path.clone(),
        params,
        query: parse_query(&uri),
        rest,
        app: state.ctx.clone(),
    };
    match page.render.render(req).await {
        Ok(PageContent {
            title,
            body,
            status,
        }) => {
            let title = title.or_else(|| page.title.clone());
            html_response(status, state.document(&path, title.as_deref(), body))
        }
        Err(e) => state.error_page(&path, &e),
    }
}

async fn not_found(State(state): State<Arc<AppState>>, uri: Uri) -> Response {
    state.error_page(
        uri.path(),
        &PageError::not_found(format!("There is no page at {}.", uri.path())),
    )
}

async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

/// A static asset whose path carries its content hash, so browsers may cache it for a year.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        body,
    )
        .into_response()
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

    /// Extensions left out of the tree (detached), one warning each.
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

    /// `(page extension id, path)` of every mounted page.
    pub fn page_paths(&self) -> Vec<(String, String)> {
        self.state
            .pages
            .iter()
            .map(|(_, p)| (p.extension.clone(), p.path.clone()))
            .collect()
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
            .route(&self.state.js_path, get(script));
        for (index, (pattern, _)) in self.state.pages.iter().enumerate() {
            let handler =
                move |State(state): State<Arc<AppState>>,
                      uri: Uri,
                      params: Option<Path<HashMap<String, String>>>| {
                    serve_page(state, index, uri, params)
                };
            router = router.route(pattern, get(handler));
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
                router = router.route(&rest, get(handler));
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
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_paths_for_axum() {
        assert_eq!(axum_pattern("/").unwrap(), "/");
        assert_eq!(axum_pattern("/catalog/").unwrap(), "/catalog");
        assert_eq!(
            axum_pattern("/catalog/:namespace/:kind/:name").unwrap(),
            "/catalog/{namespace}/{kind}/{name}"
        );
        for bad in ["catalog", "/a/{b}", "/a/*", "/a/:", "/a?b"] {
            assert!(axum_pattern(bad).is_err(), "{bad}");
        }
    }

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

    #[test]
    fn joins_route_chains() {
        assert_eq!(
            join_route_chain(&["/".into(), "/catalog".into(), "docs/".into()]),
            "/catalog/docs"
        );
        assert_eq!(join_route_chain(&[]), "/");
    }
}
