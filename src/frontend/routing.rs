//! Routes: route refs, sub-route refs, external route refs, and their resolution to paths.

use std::any::TypeId;
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// The parameters of a route: their names (as in the path, `:name`) and values.
///
/// `()` is a route without parameters. For others, implement it on a struct:
///
/// ```
/// use backlot::frontend::RouteParams;
///
/// /// `/catalog/:namespace/:kind/:name`
/// pub struct EntityParams {
///     pub namespace: String,
///     pub kind: String,
///     pub name: String,
/// }
///
/// impl RouteParams for EntityParams {
///     fn names() -> &'static [&'static str] {
///         &["namespace", "kind", "name"]
///     }
///     fn values(&self) -> Vec<&str> {
///         vec![&self.namespace, &self.kind, &self.name]
///     }
/// }
/// ```
pub trait RouteParams: Send + Sync + 'static {
    /// The parameter names, in order.
    fn names() -> &'static [&'static str];
    /// The values, in the order of [`names`](Self::names).
    fn values(&self) -> Vec<&str>;
}

impl RouteParams for () {
    fn names() -> &'static [&'static str] {
        &[]
    }
    fn values(&self) -> Vec<&str> {
        Vec::new()
    }
}

/// A reference to a page's route, like Backstage's `createRouteRef`. The page that outputs it
/// decides the path; links ask [`Routes`] for it.
///
/// ```
/// use backlot::frontend::RouteRef;
///
/// pub static RADAR: RouteRef = RouteRef::new("tech-radar.root");
/// assert_eq!(RADAR.id(), "tech-radar.root");
/// ```
pub struct RouteRef<P = ()> {
    id: &'static str,
    _params: PhantomData<fn() -> P>,
}

/// A fixed path below a [`RouteRef`], like Backstage's `createSubRouteRef`; its params are the
/// parent's plus its own.
///
/// ```
/// use backlot::frontend::{RouteRef, SubRouteRef};
///
/// pub static DOCS: RouteRef = RouteRef::new("docs.index");
/// pub static DOCS_SETTINGS: SubRouteRef = SubRouteRef::new("docs.settings", &DOCS, "/settings");
/// assert_eq!(DOCS_SETTINGS.path(), "/settings");
/// ```
pub struct SubRouteRef<P = ()> {
    id: &'static str,
    parent: &'static str,
    path: &'static str,
    _params: PhantomData<fn() -> P>,
}

/// An outgoing link of a plugin to a page of some other plugin, like Backstage's
/// `createExternalRouteRef`; the app binds it to a route.
///
/// ```
/// use backlot::frontend::ExternalRouteRef;
///
/// pub static CREATE_COMPONENT: ExternalRouteRef =
///     ExternalRouteRef::new("catalog.createComponent").optional().default_target("scaffolder.root");
/// assert!(CREATE_COMPONENT.is_optional());
/// ```
pub struct ExternalRouteRef<P = ()> {
    id: &'static str,
    optional: bool,
    default_target: Option<&'static str>,
    _params: PhantomData<fn() -> P>,
}

macro_rules! copy_debug {
    ($ty:ident) => {
        impl<P> Clone for $ty<P> {
            fn clone(&self) -> Self {
                *self
            }
        }
        impl<P> Copy for $ty<P> {}
        impl<P> fmt::Debug for $ty<P> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($ty), self.id)
            }
        }
    };
}
copy_debug!(RouteRef);
copy_debug!(SubRouteRef);
copy_debug!(ExternalRouteRef);

impl<P: RouteParams> RouteRef<P> {
    /// A route ref with a unique id (`<plugin>.<name>` by convention).
    pub const fn new(id: &'static str) -> Self {
        Self {
            id,
            _params: PhantomData,
        }
    }

    /// The id.
    pub const fn id(&self) -> &'static str {
        self.id
    }
}

impl<P: RouteParams> SubRouteRef<P> {
    /// A sub-route at `path` (starting with `/`, may hold `:param` segments) below `parent`.
    pub const fn new<PP: RouteParams>(
        id: &'static str,
        parent: &'static RouteRef<PP>,
        path: &'static str,
    ) -> Self {
        Self {
            id,
            parent: parent.id,
            path,
            _params: PhantomData,
        }
    }

    /// The id.
    pub const fn id(&self) -> &'static str {
        self.id
    }

    /// The path below the parent.
    pub const fn path(&self) -> &'static str {
        self.path
    }
}

impl<P: RouteParams> ExternalRouteRef<P> {
    /// A required external route ref.
    pub const fn new(id: &'static str) -> Self {
        Self {
            id,
            optional: false,
            default_target: None,
            _params: PhantomData,
        }
    }

    /// Makes the route optional: unbound, it resolves to no link instead of failing the build.
    #[must_use]
    pub const fn optional(self) -> Self {
        Self {
            optional: true,
            ..self
        }
    }

    /// The route it binds to when nothing else binds it: `<pluginId>.<routeName>`.
    #[must_use]
    pub const fn default_target(self, target: &'static str) -> Self {
        Self {
            default_target: Some(target),
            ..self
        }
    }

    /// The id.
    pub const fn id(&self) -> &'static str {
        self.id
    }

    /// Whether it may stay unbound.
    pub const fn is_optional(&self) -> bool {
        self.optional
    }

    pub(crate) fn erased(&self) -> AnyExternalRoute {
        AnyExternalRoute {
            id: self.id,
            optional: self.optional,
            default_target: self.default_target,
            params: TypeId::of::<P>(),
        }
    }
}

/// A route ref or sub-route ref with its params type erased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnyRouteRef {
    id: &'static str,
    sub: Option<(&'static str, &'static str)>,
    params: TypeId,
    names: &'static [&'static str],
}

impl AnyRouteRef {
    /// The route id.
    pub fn id(&self) -> &'static str {
        self.id
    }
    pub(crate) fn params(&self) -> TypeId {
        self.params
    }
    /// The param names.
    pub fn param_names(&self) -> &'static [&'static str] {
        self.names
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct AnyExternalRoute {
    pub(crate) id: &'static str,
    pub(crate) optional: bool,
    pub(crate) default_target: Option<&'static str>,
    pub(crate) params: TypeId,
}

/// Something a link can point at: a [`RouteRef`], [`SubRouteRef`] or [`ExternalRouteRef`]
/// with params `P`.
pub trait RouteTarget<P: RouteParams> {
    /// Resolves to a path pattern (`/catalog/:name`) in `routes`, if mounted and bound.
    fn pattern(&self, routes: &Routes) -> Option<String>;
}

/// A route an external route can be bound to: a [`RouteRef`] or [`SubRouteRef`].
pub trait BindTarget<P: RouteParams>: RouteTarget<P> {
    /// The route with its params type erased.
    fn any_route(&self) -> AnyRouteRef;
}

impl<P: RouteParams> RouteTarget<P> for RouteRef<P> {
    fn pattern(&self, routes: &Routes) -> Option<String> {
        routes.paths.get(self.id).cloned()
    }
}

impl<P: RouteParams> BindTarget<P> for RouteRef<P> {
    fn any_route(&self) -> AnyRouteRef {
        AnyRouteRef {
            id: self.id,
            sub: None,
            params: TypeId::of::<P>(),
            names: P::names(),
        }
    }
}

impl<P: RouteParams> RouteTarget<P> for SubRouteRef<P> {
    fn pattern(&self, routes: &Routes) -> Option<String> {
        routes.pattern_of(&self.any_route())
    }
}

impl<P: RouteParams> BindTarget<P> for SubRouteRef<P> {
    fn any_route(&self) -> AnyRouteRef {
        AnyRouteRef {
            id: self.id,
            sub: Some((self.parent, self.path)),
            params: TypeId::of::<P>(),
            names: P::names(),
        }
    }
}

impl<P: RouteParams> RouteTarget<P> for ExternalRouteRef<P> {
    fn pattern(&self, routes: &Routes) -> Option<String> {
        let target = routes.bindings.get(self.id)?;
        routes.pattern_of(target)
    }
}

fn join_paths(base: &str, sub: &str) -> String {
    let base = base.trim_end_matches('/');
    let sub = sub.trim_start_matches('/');
    if sub.is_empty() {
        if base.is_empty() {
            "/".to_string()
        } else {
            base.to_string()
        }
    } else {
        format!("{base}/{sub}")
    }
}

const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The app's route table: where each mounted route ref lives and what each external route is
/// bound to. Pages get it from [`PageRequest::routes`](super::PageRequest::routes).
///
/// ```
/// use backlot::frontend::{App, FrontendPlugin, PageBlueprint, RouteRef};
/// use maud::html;
///
/// static RADAR: RouteRef = RouteRef::new("tech-radar.root");
///
/// let plugin = FrontendPlugin::new("tech-radar")
///     .route("root", &RADAR)
///     .extension(PageBlueprint::new("/tech-radar", |_req| async { Ok(html! { "radar" }.into()) })
///         .route_ref(&RADAR)
///         .build());
/// let app = App::builder().feature(plugin).build()?;
/// assert_eq!(app.routes().href(&RADAR, &()), Some("/tech-radar".to_string()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default, Clone)]
pub struct Routes {
    pub(crate) paths: HashMap<&'static str, String>,
    pub(crate) bindings: HashMap<&'static str, AnyRouteRef>,
}

impl Routes {
    pub(crate) fn pattern_of(&self, route: &AnyRouteRef) -> Option<String> {
        match route.sub {
            None => self.paths.get(route.id).cloned(),
            Some((parent, path)) => self.paths.get(parent).map(|base| join_paths(base, path)),
        }
    }

    /// The concrete path of `target` with `params` filled in (each value percent-encoded);
    /// `None` when the route is not mounted, or an external route is unbound.
    pub fn href<P: RouteParams>(&self, target: &impl RouteTarget<P>, params: &P) -> Option<String> {
        let pattern = target.pattern(self)?;
        Some(fill(&pattern, P::names(), &params.values()))
    }

    /// The path pattern of a mounted route ref, such as `/catalog/:namespace/:kind/:name`.
    pub fn path_of<P: RouteParams>(&self, route: &RouteRef<P>) -> Option<&str> {
        self.paths.get(route.id()).map(String::as_str)
    }
}

/// The app's routes as an extension factory sees them
/// ([`ExtensionContext::routes`](super::ExtensionContext::routes)): a cheap handle, filled when
/// the app build completes. Keep a clone in what the factory returns and resolve when
/// rendering; before the app is built every lookup is `None`.
///
/// ```
/// use backlot::frontend::{App, Extension, FrontendPlugin, Outputs, PageBlueprint, RouteRef, core_data};
/// use backlot::frontend::core_data::NavContent;
/// use backlot::services::config::Config;
/// use maud::html;
///
/// static DOCS: RouteRef = RouteRef::new("docs.root");
/// let page = PageBlueprint::new("/docs", |_| async { Ok(html! { "docs" }.into()) }).route_ref(&DOCS).build();
/// let link = Extension::builder("nav-content", "docs-link")
///     .attach_to(&core_data::NAV_CONTENTS)
///     .output(&[core_data::NAV_CONTENT.any()])
///     .factory(|ctx| {
///         let routes = ctx.routes().clone();
///         Ok(Outputs::new().with(&core_data::NAV_CONTENT, NavContent::render(move || {
///             let href = routes.href(&DOCS, &()).unwrap_or_default();
///             html! { a href=(href) { "Docs" } }
///         })))
///     });
/// let config = Config::from_value(serde_json::json!({
///     "app": { "extensions": [{ "page:docs": { "config": { "path": "/manuals" } } }] }
/// }));
/// let app = App::builder().feature(FrontendPlugin::new("docs").extension(page).extension(link)).config(config).build()?;
/// assert_eq!(app.route_resolver().href(&DOCS, &()), Some("/manuals".to_string()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct RouteResolver {
    routes: std::sync::Arc<std::sync::OnceLock<Routes>>,
}

impl fmt::Debug for RouteResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteResolver")
            .field("ready", &self.routes.get().is_some())
            .finish()
    }
}

impl RouteResolver {
    /// The concrete path of `target` with `params` filled in, as [`Routes::href`]; `None`
    /// before the app is built, when the route is not mounted, or an external route is unbound.
    pub fn href<P: RouteParams>(&self, target: &impl RouteTarget<P>, params: &P) -> Option<String> {
        self.routes.get()?.href(target, params)
    }

    /// The route table, once the app is built.
    pub fn routes(&self) -> Option<&Routes> {
        self.routes.get()
    }

    pub(crate) fn set(&self, routes: Routes) {
        // Set once per app build; a second set cannot happen (each build makes a new handle).
        let _ = self.routes.set(routes);
    }
}

pub(crate) fn fill(pattern: &str, names: &[&str], values: &[&str]) -> String {
    let mut out = String::with_capacity(pattern.len());
    for segment in pattern.split('/').skip(1) {
        out.push('/');
        match segment.strip_prefix(':') {
            Some(name) => match names.iter().position(|n| *n == name) {
                Some(i) => {
                    let value = values.get(i).copied().unwrap_or_default();
                    out.extend(utf8_percent_encode(value, SEGMENT));
                }
                None => out.push_str(segment),
            },
            None => out.push_str(segment),
        }
    }
    if out.is_empty() { "/".to_string() } else { out }
}

/// The `:param` names in a path pattern.
pub(crate) fn pattern_params(pattern: &str) -> Vec<&str> {
    pattern
        .split('/')
        .filter_map(|s| s.strip_prefix(':'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Named(String);
    impl RouteParams for Named {
        fn names() -> &'static [&'static str] {
            &["name"]
        }
        fn values(&self) -> Vec<&str> {
            vec![&self.0]
        }
    }

    static ROOT: RouteRef<Named> = RouteRef::new("t.root");
    static DETAILS: SubRouteRef<Named> = SubRouteRef::new("t.details", &ROOT, "/details");
    static EXT: ExternalRouteRef<Named> = ExternalRouteRef::new("t.ext");

    #[test]
    fn fills_and_encodes_params() {
        assert_eq!(fill("/a/:name/b", &["name"], &["x y/z"]), "/a/x%20y%2Fz/b");
        assert_eq!(fill("/", &[], &[]), "/");
    }

    #[test]
    fn resolves_routes_sub_routes_and_bound_external_routes() {
        let mut routes = Routes::default();
        assert_eq!(routes.href(&ROOT, &Named("n".into())), None);
        routes.paths.insert("t.root", "/things/:name".into());
        assert_eq!(
            routes.href(&ROOT, &Named("n".into())).as_deref(),
            Some("/things/n")
        );
        assert_eq!(
            routes.href(&DETAILS, &Named("n".into())).as_deref(),
            Some("/things/n/details")
        );
        assert_eq!(routes.href(&EXT, &Named("n".into())), None);
        routes.bindings.insert("t.ext", DETAILS.any_route());
        assert_eq!(
            routes.href(&EXT, &Named("n".into())).as_deref(),
            Some("/things/n/details")
        );
        assert_eq!(routes.path_of(&ROOT), Some("/things/:name"));
    }

    #[test]
    fn lists_pattern_params() {
        assert_eq!(pattern_params("/a/:x/b/:y"), vec!["x", "y"]);
    }
}
