//! Frontend plugins: an id with extensions, routes and external routes.

use super::error::AppError;
use super::extension::Extension;
use super::routing::{AnyExternalRoute, AnyRouteRef, BindTarget, ExternalRouteRef, RouteParams};

/// A frontend plugin, like Backstage's `createFrontendPlugin`: an id, its extensions (whose
/// namespace defaults to the id), the routes it exposes for binding and its external routes.
///
/// ```
/// use backlot::frontend::{ExternalRouteRef, FrontendPlugin, NavItemBlueprint, PageBlueprint, RouteRef};
/// use maud::html;
///
/// static ROOT: RouteRef = RouteRef::new("tech-radar.root");
/// static DOCS: ExternalRouteRef = ExternalRouteRef::new("tech-radar.docs").optional();
///
/// let plugin = FrontendPlugin::new("tech-radar")
///     .route("root", &ROOT)
///     .external_route("docs", &DOCS)
///     .extension(PageBlueprint::new("/tech-radar", |_| async { Ok(html! { "radar" }.into()) }).route_ref(&ROOT).build())
///     .extension(NavItemBlueprint::new("Tech Radar", &ROOT).build());
/// assert_eq!(plugin.id(), "tech-radar");
/// assert_eq!(plugin.extension_ids()?, vec!["page:tech-radar", "nav-item:tech-radar"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct FrontendPlugin {
    id: String,
    extensions: Vec<Extension>,
    pub(crate) routes: Vec<(String, AnyRouteRef)>,
    pub(crate) external_routes: Vec<(String, AnyExternalRoute)>,
}

pub(crate) fn valid_plugin_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && id.split('-').all(|w| {
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

impl FrontendPlugin {
    /// A plugin with an id (kebab-case).
    pub fn new(id: &str) -> Self {
        Self {
            id: id.to_string(),
            extensions: Vec::new(),
            routes: Vec::new(),
            external_routes: Vec::new(),
        }
    }

    /// The id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Adds an extension.
    pub fn extension(mut self, extension: Extension) -> Self {
        self.extensions.push(extension);
        self
    }

    /// Adds extensions.
    pub fn extensions(mut self, extensions: impl IntoIterator<Item = Extension>) -> Self {
        self.extensions.extend(extensions);
        self
    }

    /// Exposes a route (or sub-route) under a name, for `app.routes.bindings` targets
    /// (`<pluginId>.<name>`) and default targets.
    pub fn route<P: RouteParams>(mut self, name: &str, route: &impl BindTarget<P>) -> Self {
        self.routes.push((name.to_string(), route.any_route()));
        self
    }

    /// Declares an external route under a name (`<pluginId>.<name>` in bindings).
    pub fn external_route<P: RouteParams>(
        mut self,
        name: &str,
        route: &ExternalRouteRef<P>,
    ) -> Self {
        self.external_routes
            .push((name.to_string(), route.erased()));
        self
    }

    /// A copy where extensions with the ids of `overrides` are replaced and the others added,
    /// like Backstage's `plugin.withOverrides`.
    pub fn with_overrides(mut self, overrides: impl IntoIterator<Item = Extension>) -> Self {
        for ext in overrides {
            let ext = ext.with_default_namespace(&self.id);
            let id = ext.id_string();
            match self
                .extensions
                .iter()
                .position(|e| e.with_default_namespace(&self.id).id_string() == id)
            {
                Some(i) => self.extensions[i] = ext,
                None => self.extensions.push(ext),
            }
        }
        self
    }

    /// The ids of the plugin's extensions, with the namespace defaulted.
    pub fn extension_ids(&self) -> Result<Vec<String>, AppError> {
        self.resolved_extensions()
            .into_iter()
            .map(|e| e.id().map(|id| id.to_string()))
            .collect()
    }

    /// The extension with an id.
    pub fn get_extension(&self, id: &str) -> Option<Extension> {
        self.resolved_extensions()
            .into_iter()
            .find(|e| e.id_string() == id)
    }

    pub(crate) fn resolved_extensions(&self) -> Vec<Extension> {
        self.extensions
            .iter()
            .map(|e| e.with_default_namespace(&self.id))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_ids_are_kebab_case() {
        for ok in ["catalog", "tech-radar", "a1-b2"] {
            assert!(valid_plugin_id(ok), "{ok}");
        }
        for bad in ["", "Catalog", "1abc", "a--b", "a-", "a_b", "a.b"] {
            assert!(!valid_plugin_id(bad), "{bad}");
        }
    }
}
