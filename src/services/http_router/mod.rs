//! HTTP routing services: each plugin's router (`core.httpRouter`, mounted at
//! `/api/<pluginId>`) and the root router (`core.rootHttpRouter`) for routes outside plugins.
//!
//! Each plugin's router registers itself with the root router when it is built
//! ([`RootHttpRouter::add_plugin_router`]); the backend takes it from there once the plugin has
//! started ([`RootHttpRouter::take_plugin_router`]).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use axum::Router;

/// Who may call a path without a user or service token (the default-deny layer answers 401
/// everywhere else). A path covers everything below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthPolicyAllow {
    /// No credentials needed.
    Unauthenticated,
    /// A user cookie is enough.
    UserCookie,
}

/// An auth policy for a path under the plugin's mount point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthPolicy {
    /// The path, in route syntax (`/health`, `/static/{*rest}`).
    pub path: String,
    /// Who may call it.
    pub allow: AuthPolicyAllow,
}

/// A plugin's HTTP router: routers given to [`use_router`](Self::use_router) are merged and
/// mounted at `/api/<pluginId>` once the plugin has started.
///
/// ```
/// use axum::{Router, routing::get};
/// use backlot::services::http_router::HttpRouter;
///
/// let http = HttpRouter::new("todo");
/// http.use_router(Router::new().route("/items", get(|| async { "[]" })));
/// assert_eq!(http.plugin_id(), "todo");
/// ```
pub struct HttpRouter {
    plugin: String,
    router: Mutex<Option<Router>>,
    policies: Mutex<Vec<AuthPolicy>>,
    any_body: std::sync::atomic::AtomicBool,
}

impl fmt::Debug for HttpRouter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRouter")
            .field("plugin", &self.plugin)
            .finish_non_exhaustive()
    }
}

impl HttpRouter {
    /// The router of plugin `plugin_id`.
    pub fn new(plugin_id: &str) -> Self {
        Self {
            plugin: plugin_id.to_string(),
            router: Mutex::new(None),
            policies: Mutex::new(Vec::new()),
            any_body: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The plugin's id.
    pub fn plugin_id(&self) -> &str {
        &self.plugin
    }

    /// Adds routes; paths are relative to `/api/<pluginId>`.
    pub fn use_router(&self, router: Router) {
        if let Ok(mut slot) = self.router.lock() {
            *slot = Some(match slot.take() {
                Some(existing) => existing.merge(router),
                None => router,
            });
        }
    }

    /// Records an auth policy for a path.
    pub fn add_auth_policy(&self, policy: AuthPolicy) {
        if let Ok(mut policies) = self.policies.lock() {
            policies.push(policy);
        }
    }

    /// The auth policies recorded so far.
    pub fn auth_policies(&self) -> Vec<AuthPolicy> {
        self.policies.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// Lets this plugin's routes take request bodies of any content type.
    ///
    /// By default a request with a body that is not JSON (`application/json` or
    /// `application/*+json`) is answered 415 before it reaches the plugin: browsers send
    /// `text/plain`, form and untyped bodies across origins without a CORS preflight, so a
    /// route parsing them could be called by any web page a portal user visits (CSRF). A
    /// plugin calling this must protect such routes itself.
    ///
    /// ```
    /// use backlot::services::http_router::HttpRouter;
    ///
    /// let http = HttpRouter::new("uploads");
    /// assert!(http.json_bodies_only());
    /// http.allow_any_body_type();
    /// assert!(!http.json_bodies_only());
    /// ```
    pub fn allow_any_body_type(&self) {
        self.any_body
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Whether requests with a non-JSON body are refused (the default).
    pub fn json_bodies_only(&self) -> bool {
        !self.any_body.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Takes the routes added so far, leaving none; the backend does this once the plugin has
    /// started.
    ///
    /// ```
    /// use axum::Router;
    /// use backlot::services::http_router::HttpRouter;
    ///
    /// let http = HttpRouter::new("todo");
    /// http.use_router(Router::new());
    /// assert!(http.take_router().is_some());
    /// assert!(http.take_router().is_none());
    /// ```
    pub fn take_router(&self) -> Option<Router> {
        self.router.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// The root HTTP router: routes outside `/api/<pluginId>`, such as the app at `/`.
///
/// ```
/// use axum::{Router, routing::get};
/// use backlot::services::http_router::RootHttpRouter;
///
/// let root = RootHttpRouter::new();
/// root.use_router("/", Router::new().route("/hello", get(|| async { "hi" })));
/// ```
#[derive(Default)]
pub struct RootHttpRouter {
    routes: Mutex<Vec<(String, Router)>>,
    plugins: Mutex<HashMap<String, Arc<HttpRouter>>>,
}

impl fmt::Debug for RootHttpRouter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RootHttpRouter").finish_non_exhaustive()
    }
}

impl RootHttpRouter {
    /// An empty root router.
    pub fn new() -> Self {
        Self::default()
    }

    /// Mounts `router` at `path` (`/` merges it at the root). Paths under `/api/` belong to
    /// plugins.
    pub fn use_router(&self, path: &str, router: Router) {
        if let Ok(mut routes) = self.routes.lock() {
            routes.push((path.to_string(), router));
        }
    }

    /// Registers a plugin's router, to be mounted at `/api/<pluginId>` once the plugin has
    /// started. The default `core.httpRouter` factory calls this; a factory replacing it must
    /// too. A second router for one plugin replaces the first.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use backlot::services::http_router::{HttpRouter, RootHttpRouter};
    ///
    /// let root = RootHttpRouter::new();
    /// root.add_plugin_router(Arc::new(HttpRouter::new("todo")));
    /// assert_eq!(root.take_plugin_router("todo").map(|r| r.plugin_id().to_string()), Some("todo".into()));
    /// assert!(root.take_plugin_router("todo").is_none());
    /// ```
    pub fn add_plugin_router(&self, router: Arc<HttpRouter>) {
        if let Ok(mut plugins) = self.plugins.lock() {
            plugins.insert(router.plugin_id().to_string(), router);
        }
    }

    /// Takes the router registered for plugin `plugin_id`, if the plugin used one; the backend
    /// does this once the plugin has started.
    pub fn take_plugin_router(&self, plugin_id: &str) -> Option<Arc<HttpRouter>> {
        self.plugins.lock().ok()?.remove(plugin_id)
    }

    /// Takes the routes mounted outside plugins so far, leaving none; the backend does this
    /// once every plugin has started.
    ///
    /// ```
    /// use axum::Router;
    /// use backlot::services::http_router::RootHttpRouter;
    ///
    /// let root = RootHttpRouter::new();
    /// root.use_router("/", Router::new());
    /// assert_eq!(root.take_routes().len(), 1);
    /// assert!(root.take_routes().is_empty());
    /// ```
    pub fn take_routes(&self) -> Vec<(String, Router)> {
        self.routes
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default()
    }
}
