//! The scaffolder backend plugin, mounted at `/api/scaffolder` (Backstage
//! `@backstage/plugin-scaffolder-backend`).

pub mod actions;

pub use actions::{BuiltinActionDeps, builtin_actions};

use std::sync::Arc;

use crate::backend::{BackendPlugin, PluginRegistrar, Registration};
use crate::plugins::catalog::node::CATALOG;
use crate::plugins::scaffolder::node::{
    SCAFFOLDER_ACTIONS, SCAFFOLDER_TEMPLATING, ScaffolderActionsExtension, TemplatingExtensions,
};
use crate::services::core_services::{ROOT_CONFIG, URL_READER};

/// The scaffolder backend plugin (id `scaffolder`).
///
/// ```
/// use backlot::backend::Backend;
/// use backlot::plugins::scaffolder;
///
/// let backend = Backend::builder().add(scaffolder::backend::plugin()).build()?;
/// assert_eq!(backend.plugin_ids(), ["scaffolder"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ScaffolderPlugin;

impl ScaffolderPlugin {
    /// The plugin; modules add actions through [`SCAFFOLDER_ACTIONS`] and filters through
    /// [`SCAFFOLDER_TEMPLATING`].
    pub fn new() -> Self {
        Self
    }
}

impl BackendPlugin for ScaffolderPlugin {
    fn id(&self) -> &str {
        "scaffolder"
    }

    fn register(&self, reg: PluginRegistrar) -> Registration {
        let actions = Arc::new(ScaffolderActionsExtension::default());
        let templating = Arc::new(TemplatingExtensions::default());
        reg.extension_point(&SCAFFOLDER_ACTIONS, Arc::clone(&actions))
            .extension_point(&SCAFFOLDER_TEMPLATING, Arc::clone(&templating))
            .init(
                (&ROOT_CONFIG, &URL_READER, &CATALOG),
                move |(config, reader, catalog)| async move {
                    let deps = BuiltinActionDeps {
                        config: Arc::new((*config).clone()),
                        reader,
                        catalog,
                        templating: Arc::clone(&templating),
                    };
                    let _ = builtin_actions(&deps);
                    let _ = actions.actions();
                    Ok(())
                },
            )
    }
}

/// The scaffolder backend plugin, to add with
/// [`BackendBuilder::add`](crate::backend::BackendBuilder::add).
pub fn plugin() -> ScaffolderPlugin {
    ScaffolderPlugin::new()
}
