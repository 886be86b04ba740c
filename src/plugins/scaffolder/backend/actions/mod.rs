//! The built-in actions.

mod catalog;
mod debug;
mod fetch;
mod fs;
mod publish;

use std::fmt;
use std::sync::Arc;

use crate::plugins::catalog::node::CatalogApi;
use crate::plugins::scaffolder::node::{TemplateAction, TemplatingExtensions};
use crate::services::config::Config;
use crate::services::url_reader::UrlReaderService;

/// What the built-in actions are made from: the backend's services, resolved by the plugin.
#[derive(Clone)]
pub struct BuiltinActionDeps {
    /// The backend's config (`integrations`, `scaffolder.defaultAuthor`, …).
    pub config: Arc<Config>,
    /// Reads `fetch:*` urls.
    pub reader: Arc<dyn UrlReaderService>,
    /// The catalog, for `catalog:*`.
    pub catalog: Arc<dyn CatalogApi>,
    /// Filters and globals for `fetch:template`.
    pub templating: Arc<TemplatingExtensions>,
}

impl fmt::Debug for BuiltinActionDeps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuiltinActionDeps").finish_non_exhaustive()
    }
}

/// Every built-in action.
pub fn builtin_actions(deps: &BuiltinActionDeps) -> Vec<Arc<dyn TemplateAction>> {
    let mut out = Vec::new();
    out.extend(fetch::actions(deps));
    out.extend(fs::actions(deps));
    out.extend(debug::actions(deps));
    out.extend(catalog::actions(deps));
    out.extend(publish::actions(deps));
    out
}
