//! The core extension data refs, as Backstage's `coreExtensionData`, and the values they carry.
//!
//! Blueprints output these; the app's built-in extensions (`app`, `app/layout`, `app/nav`,
//! `app/routes`) read them. Overrides of the built-ins output them too.

use std::fmt;
use std::sync::Arc;

use maud::Markup;

use super::api::ApiFactory;
use super::data_ref::ExtensionDataRef;
use super::input::InputRef;
use super::page::PageRenderer;
use super::routing::AnyRouteRef;
use super::theme::Theme;

/// The path a routable extension mounts at (`/catalog`, `/catalog/:namespace/:kind/:name`).
pub static ROUTE_PATH: ExtensionDataRef<String> = ExtensionDataRef::new("core.routing.path");
/// The route ref a routable extension mounts.
pub static ROUTE_REF: ExtensionDataRef<AnyRouteRef> = ExtensionDataRef::new("core.routing.ref");
/// A title.
pub static TITLE: ExtensionDataRef<String> = ExtensionDataRef::new("core.title");
/// A page's render function.
pub static PAGE: ExtensionDataRef<PageRenderer> = ExtensionDataRef::new("core.page.render");
/// A sidebar entry.
pub static NAV_ITEM: ExtensionDataRef<NavItem> = ExtensionDataRef::new("core.nav-item.target");
/// Markup shown in the sidebar below the nav links (a search box, a status line), from
/// extensions attached to `app/nav` input `content`.
pub static NAV_CONTENT: ExtensionDataRef<NavContent> = ExtensionDataRef::new("core.nav.content");
/// A utility API factory.
pub static API_FACTORY: ExtensionDataRef<ApiFactory> = ExtensionDataRef::new("core.api.factory");
/// A theme.
pub static THEME: ExtensionDataRef<Theme> = ExtensionDataRef::new("core.theme.theme");
/// The sidebar (output of `app/nav`).
pub static NAV: ExtensionDataRef<Nav> = ExtensionDataRef::new("core.nav.nav");
/// The page layout (output of `app/layout`).
pub static LAYOUT: ExtensionDataRef<Layout> = ExtensionDataRef::new("core.layout.layout");
/// The pages (output of `app/routes`).
pub static ROUTES: ExtensionDataRef<Vec<PageRoute>> = ExtensionDataRef::new("core.routing.routes");

/// Input `root` of `app`: the layout (one).
pub static APP_ROOT: InputRef = InputRef::one("app", "root", || vec![LAYOUT.any(), ROUTES.any()]);
/// Input `apis` of `app`: utility API factories ([`ApiBlueprint`](super::ApiBlueprint)).
pub static APP_APIS: InputRef = InputRef::many("app", "apis", || vec![API_FACTORY.any()]);
/// Input `themes` of `app`: themes ([`ThemeBlueprint`](super::ThemeBlueprint)).
pub static APP_THEMES: InputRef = InputRef::many("app", "themes", || vec![THEME.any()]);
/// Input `nav` of `app/layout`: the sidebar (one).
pub static LAYOUT_NAV: InputRef = InputRef::one("app/layout", "nav", || vec![NAV.any()]);
/// Input `content` of `app/layout`: the pages (one).
pub static LAYOUT_CONTENT: InputRef = InputRef::one("app/layout", "content", || vec![ROUTES.any()]);
/// Input `items` of `app/nav`: sidebar links ([`NavItemBlueprint`](super::NavItemBlueprint)).
pub static NAV_ITEMS: InputRef = InputRef::many("app/nav", "items", || vec![NAV_ITEM.any()]);
/// Input `content` of `app/nav`: sidebar markup ([`NAV_CONTENT`]).
pub static NAV_CONTENTS: InputRef =
    InputRef::many("app/nav", "content", || vec![NAV_CONTENT.any()]);
/// Input `routes` of `app/routes`: pages ([`PageBlueprint`](super::PageBlueprint)).
pub static PAGES: InputRef = InputRef::many("app/routes", "routes", || {
    vec![
        ROUTE_PATH.any(),
        PAGE.any(),
        ROUTE_REF.optional().any(),
        TITLE.optional().any(),
    ]
});

type NavContentFn = dyn Fn() -> Markup + Send + Sync;

/// Sidebar markup: fixed, or rendered on every page (to follow routes resolved with
/// [`ExtensionContext::routes`](super::ExtensionContext::routes)).
///
/// ```
/// use backlot::frontend::core_data::NavContent;
/// use maud::html;
///
/// let fixed: NavContent = html! { p { "Status: green" } }.into();
/// let live = NavContent::render(|| html! { p { "rendered now" } });
/// assert_eq!(fixed.markup().into_string(), "<p>Status: green</p>");
/// assert_eq!(live.markup().into_string(), "<p>rendered now</p>");
/// ```
#[derive(Clone)]
pub struct NavContent(Arc<NavContentFn>);

impl NavContent {
    /// Markup rendered by `render` each time a page is served.
    pub fn render(render: impl Fn() -> Markup + Send + Sync + 'static) -> Self {
        Self(Arc::new(render))
    }

    /// The markup.
    pub fn markup(&self) -> Markup {
        (self.0)()
    }
}

impl From<Markup> for NavContent {
    fn from(markup: Markup) -> Self {
        Self::render(move || markup.clone())
    }
}

impl fmt::Debug for NavContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NavContent").finish_non_exhaustive()
    }
}

/// A sidebar entry: a title and the route it links to.
#[derive(Debug, Clone)]
pub struct NavItem {
    /// The link text.
    pub title: String,
    /// The route linked to.
    pub target: AnyRouteRef,
    /// A short icon text (an emoji or a letter), hidden from screen readers.
    pub icon: Option<String>,
}

/// A resolved sidebar link, as a nav renderer gets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NavLink {
    /// The link text.
    pub title: String,
    /// The path.
    pub href: String,
    /// The icon text.
    pub icon: Option<String>,
    /// Whether the current page is at or below `href`.
    pub current: bool,
}

type NavRenderFn = dyn Fn(&[NavLink]) -> Markup + Send + Sync;
type LayoutRenderFn = dyn Fn(&Shell<'_>) -> Markup + Send + Sync;

/// The sidebar: its items and how to render them.
#[derive(Clone)]
pub struct Nav {
    /// The items, in order.
    pub items: Vec<NavItem>,
    /// Renders resolved links.
    pub render: Arc<NavRenderFn>,
}

impl fmt::Debug for Nav {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Nav")
            .field("items", &self.items)
            .finish_non_exhaustive()
    }
}

/// The page layout: the sidebar and a function that wraps page content in the document.
#[derive(Clone)]
pub struct Layout {
    /// The sidebar.
    pub nav: Nav,
    /// Renders the whole document.
    pub render: Arc<LayoutRenderFn>,
}

impl fmt::Debug for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Layout")
            .field("nav", &self.nav)
            .finish_non_exhaustive()
    }
}

/// What a layout renders: the document's parts.
#[derive(Debug)]
pub struct Shell<'a> {
    /// `app.title`.
    pub app_title: &'a str,
    /// The page title, if any.
    pub page_title: Option<&'a str>,
    /// The rendered sidebar.
    pub nav: Markup,
    /// The page content.
    pub body: Markup,
    /// Stylesheet links and the theme `<style>`, for `<head>`.
    pub head: Markup,
    /// The request path.
    pub current_path: &'a str,
}

/// A page mounted by `app/routes`.
#[derive(Debug, Clone)]
pub struct PageRoute {
    /// The page extension id.
    pub extension: String,
    /// The path pattern.
    pub path: String,
    /// The page's title.
    pub title: Option<String>,
    /// The render function.
    pub render: PageRenderer,
}
