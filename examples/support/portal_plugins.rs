//! Which plugins a portal process runs: the `--plugins` table of `examples/portal.rs`.
//!
//! One row per plugin id: the backend features the id stands for (the plugin and the modules
//! that extend it) and, when it has pages, its frontend plugin. The `app` id is not a row: it
//! serves the frontend of every row, wherever that row's backend runs (discovery says where).

use backlot::backend::{Feature, IntoFeatures};
use backlot::frontend::FrontendPlugin;
use backlot::plugins::search::backend::{
    SearchCatalogCollatorModule, SearchTechdocsCollatorModule,
};
use backlot::plugins::{auth, catalog, kubernetes, proxy, scaffolder, search, techdocs};

use super::hello;

/// The id of the frontend app plugin.
pub(crate) const APP: &str = "app";

/// A plugin the portal can run.
pub(crate) struct PortalPlugin {
    /// The plugin id, as `--plugins` and `discovery.endpoints[].plugins` spell it.
    pub(crate) id: &'static str,
    /// The backend plugin and its modules.
    pub(crate) backend: fn() -> Vec<Feature>,
    /// The plugin's pages in the app, if it has any.
    pub(crate) frontend: Option<fn() -> FrontendPlugin>,
}

/// Every plugin of the portal, in the order they are added to the backend; one line each.
#[rustfmt::skip]
pub(crate) const PLUGINS: &[PortalPlugin] = &[
    row("catalog", || catalog::backend::plugin().into_features(), Some(catalog::frontend::plugin)),
    row("auth", || auth::backend::plugin().into_features(), None),
    row("search", || (search::backend::plugin(), SearchCatalogCollatorModule, SearchTechdocsCollatorModule).into_features(), Some(search::frontend::plugin)),
    row("techdocs", || techdocs::backend::plugin().into_features(), Some(techdocs::frontend::plugin)),
    row("scaffolder", || scaffolder::backend::plugin().into_features(), Some(scaffolder::frontend::plugin)),
    row("kubernetes", || kubernetes::backend::plugin().into_features(), Some(kubernetes::frontend::plugin)),
    row("proxy", || proxy::backend::plugin().into_features(), None),
    row("hello", || (hello::HelloPlugin, hello::HelloModuleEurope).into_features(), None),
];

const fn row(
    id: &'static str,
    backend: fn() -> Vec<Feature>,
    frontend: Option<fn() -> FrontendPlugin>,
) -> PortalPlugin {
    PortalPlugin {
        id,
        backend,
        frontend,
    }
}

/// Every id `--plugins` accepts, comma-separated.
pub(crate) fn known_ids() -> String {
    PLUGINS
        .iter()
        .map(|p| p.id)
        .chain([APP])
        .collect::<Vec<_>>()
        .join(", ")
}

/// The plugins of `--plugins LIST` (comma-separated ids; blanks around ids ignored), or all
/// of them (and the app) when `list` is `None`. Returns the chosen rows and whether the app
/// is among them; an unknown, empty or repeated id is an error naming the known ids.
pub(crate) fn select(list: Option<&str>) -> Result<(Vec<&'static PortalPlugin>, bool), String> {
    let Some(list) = list else {
        return Ok((PLUGINS.iter().collect(), true));
    };
    let mut chosen: Vec<&'static PortalPlugin> = Vec::new();
    let mut app = false;
    for id in list.split(',').map(str::trim) {
        if id.is_empty() {
            return Err(format!(
                "--plugins '{list}' has an empty plugin id; known plugin ids: {}",
                known_ids()
            ));
        }
        let repeated = if id == APP {
            std::mem::replace(&mut app, true)
        } else if let Some(plugin) = PLUGINS.iter().find(|p| p.id == id) {
            let seen = chosen.iter().any(|p| p.id == id);
            if !seen {
                chosen.push(plugin);
            }
            seen
        } else {
            return Err(format!(
                "unknown plugin id '{id}' in --plugins; known plugin ids: {}",
                known_ids()
            ));
        };
        if repeated {
            return Err(format!("plugin id '{id}' is given twice in --plugins"));
        }
    }
    // Keep the table's order whatever the order of the list.
    chosen.sort_by_key(|p| PLUGINS.iter().position(|q| q.id == p.id));
    Ok((chosen, app))
}
