//! `NavItemBlueprint`: a sidebar link to a route.

use serde::Deserialize;

use crate::frontend::core_data::{NAV_ITEM, NavItem};
use crate::frontend::data_ref::Outputs;
use crate::frontend::extension::Extension;
use crate::frontend::routing::{AnyRouteRef, BindTarget, RouteRef};

/// The config of a nav item: `title` replaces the default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NavItemConfig {
    /// The link text.
    pub title: Option<String>,
}

/// A sidebar entry: kind `nav-item`, attached to `app/nav` input `items`. Its link resolves
/// through the route ref; an unmounted route hides it.
///
/// ```
/// use backlot::frontend::{NavItemBlueprint, RouteRef};
///
/// static ROOT: RouteRef = RouteRef::new("todo.root");
/// let item = NavItemBlueprint::new("Todo", &ROOT).icon("✓").build();
/// assert_eq!(item.attach_to().map(|a| a.id.as_str()), Some("app/nav"));
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct NavItemBlueprint {
    name: String,
    namespace: Option<String>,
    title: String,
    icon: Option<String>,
    target: AnyRouteRef,
}

impl NavItemBlueprint {
    /// An item titled `title` linking to `route` (a route without params).
    pub fn new(title: &str, route: &RouteRef) -> Self {
        Self {
            name: String::new(),
            namespace: None,
            title: title.to_string(),
            icon: None,
            target: route.any_route(),
        }
    }

    /// Names the item (`nav-item:<plugin>/<name>`).
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// Sets the namespace (by default the plugin id).
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.namespace = Some(namespace.to_string());
        self
    }

    /// A short icon text (an emoji or letter).
    pub fn icon(mut self, icon: &str) -> Self {
        self.icon = Some(icon.to_string());
        self
    }

    /// Finishes the extension.
    pub fn build(self) -> Extension {
        let mut builder = Extension::builder("nav-item", &self.name)
            .attach_to(&crate::frontend::core_data::NAV_ITEMS)
            .config::<NavItemConfig>()
            .output(&[NAV_ITEM.any()]);
        if let Some(ns) = &self.namespace {
            builder = builder.namespace(ns);
        }
        builder.factory(move |_, config| {
            Ok(Outputs::new().with(
                &NAV_ITEM,
                NavItem {
                    title: config.title.clone().unwrap_or_else(|| self.title.clone()),
                    target: self.target,
                    icon: self.icon.clone(),
                },
            ))
        })
    }
}
