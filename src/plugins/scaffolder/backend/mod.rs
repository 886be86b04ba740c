//! The scaffolder backend plugin, mounted at `/api/scaffolder` (Backstage
//! `@backstage/plugin-scaffolder-backend`).
//!
//! - Tasks live in the plugin's database (`store`): spec, status, creator, heartbeat,
//!   sealed secrets (`secrets`, AES-256-GCM), and events numbered per task.
//! - `scaffolder.concurrentTasksLimit` workers per process run them (`worker`) with the
//!   runner (`runner`): steps in order, `if`, `each`, inputs rendered and validated, outputs,
//!   the rendered `spec.output` in the `completion` event.
//! - The REST API (`router`) is Backstage's `/v2`; permissions (`permissions`) are the
//!   `scaffolder.*` ones, with `HAS_TAG` on template items and `HAS_ACTION_ID` (and property
//!   rules) on action runs.

pub mod actions;
mod config;
mod permissions;
mod router;
mod runner;
mod secrets;
mod store;
mod validation;
mod worker;

pub use actions::{BuiltinActionDeps, builtin_actions};
pub use config::ScaffolderConfig;

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::backend::{BackendPlugin, PluginRegistrar, Registration};
use crate::plugins::catalog::node::CATALOG;
use crate::plugins::scaffolder::node::{
    SCAFFOLDER_ACTIONS, SCAFFOLDER_TEMPLATING, ScaffolderActionsExtension, Templater,
    TemplatingExtensions,
};
use crate::services::core_services::{
    DATABASE, HTTP_ROUTER, LIFECYCLE, LOGGER, ROOT_CONFIG, URL_READER,
};
use crate::services::http_router::{AuthPolicy, AuthPolicyAllow};
use crate::services::logger::LoggerServiceExt;
use crate::services::permissions::{PERMISSIONS, PERMISSIONS_REGISTRY};

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
                (
                    &ROOT_CONFIG,
                    &URL_READER,
                    &CATALOG,
                    &DATABASE,
                    &LOGGER,
                    &HTTP_ROUTER,
                    &LIFECYCLE,
                    &PERMISSIONS,
                    &PERMISSIONS_REGISTRY,
                ),
                move |(
                    config,
                    reader,
                    catalog,
                    database,
                    logger,
                    http,
                    lifecycle,
                    permissions,
                    registry,
                )| async move {
                    let settings = Arc::new(ScaffolderConfig::from_config(&config)?);
                    store::TaskStore::migrate(&database).await?;
                    permissions::register(&registry)?;
                    let sealer = Arc::new(secrets::SecretsSealer::from_config(
                        &config,
                        settings.task_secrets_key.as_deref(),
                    )?);
                    if sealer.source() == secrets::KeySource::PerProcess {
                        logger.warn(
                            "scaffolder: neither scaffolder.taskSecretsKey nor backend.auth.keys \
                             is set; task secrets are sealed with a key of this process, so a \
                             task needing secrets cannot be recovered by another process",
                        );
                    }
                    let deps = BuiltinActionDeps {
                        config: Arc::new((*config).clone()),
                        reader,
                        catalog: Arc::clone(&catalog),
                        templating: Arc::clone(&templating),
                    };
                    let registry_of_actions = Arc::new(runner::ActionRegistry::new(
                        builtin_actions(&deps),
                        actions.actions(),
                    ));
                    let runner = Arc::new(runner::Runner {
                        actions: registry_of_actions,
                        templater: Arc::new(Templater::new(&templating)),
                        config: Arc::clone(&settings),
                    });
                    let hub = Arc::new(store::EventHub::default());
                    let task_store = store::TaskStore::new(Arc::clone(&database), hub);
                    let engine = Arc::new(worker::TaskEngine::new(
                        task_store,
                        runner,
                        sealer,
                        Arc::clone(&settings),
                        Arc::clone(&logger),
                    ));
                    let state = Arc::new(router::AppState {
                        engine: Arc::clone(&engine),
                        catalog,
                        permissions,
                        templating: Arc::clone(&templating),
                        streams: Arc::new(Semaphore::new(settings.max_open_streams)),
                    });
                    for path in [
                        "/v2/tasks/{task_id}/eventstream",
                        "/v2/tasks/{task_id}/events",
                    ] {
                        http.add_auth_policy(AuthPolicy {
                            path: path.to_string(),
                            allow: AuthPolicyAllow::UserCookie,
                        });
                    }
                    http.use_router(router::router(state));
                    engine.start();
                    lifecycle.add_shutdown_hook(move || async move {
                        engine.stop().await;
                        Ok(())
                    });
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
