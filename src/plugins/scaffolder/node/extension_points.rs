//! The scaffolder's extension points.

use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex;

use super::{TemplateAction, TemplatingExtensions};
use crate::backend::ExtensionPoint;

/// Where modules add actions (Backstage's `scaffolderActionsExtensionPoint`). An action with
/// the id of a built-in replaces it.
///
/// ```
/// use std::sync::Arc;
/// use async_trait::async_trait;
/// use backlot::backend::Feature;
/// use backlot::plugins::scaffolder::node::{
///     ActionContext, ActionError, SCAFFOLDER_ACTIONS, TemplateAction,
/// };
///
/// #[derive(Debug)]
/// struct Noop;
/// #[async_trait]
/// impl TemplateAction for Noop {
///     fn id(&self) -> &str { "acme:noop" }
///     async fn handler(&self, _ctx: &mut ActionContext) -> Result<(), ActionError> { Ok(()) }
/// }
///
/// let module = Feature::module_fn("scaffolder", "acme-actions", |reg| {
///     reg.init(&SCAFFOLDER_ACTIONS, |actions| async move {
///         actions.get()?.add_action(Arc::new(Noop));
///         Ok(())
///     })
/// });
/// # let _ = module;
/// ```
#[derive(Default)]
pub struct ScaffolderActionsExtension {
    actions: Mutex<Vec<Arc<dyn TemplateAction>>>,
}

impl fmt::Debug for ScaffolderActionsExtension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScaffolderActionsExtension")
            .field(
                "actions",
                &self
                    .actions
                    .lock()
                    .iter()
                    .map(|a| a.id().to_string())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl ScaffolderActionsExtension {
    /// Adds an action.
    pub fn add_action(&self, action: Arc<dyn TemplateAction>) {
        self.actions.lock().push(action);
    }

    /// Adds several actions.
    pub fn add_actions(&self, actions: impl IntoIterator<Item = Arc<dyn TemplateAction>>) {
        self.actions.lock().extend(actions);
    }

    /// The actions added so far.
    pub fn actions(&self) -> Vec<Arc<dyn TemplateAction>> {
        self.actions.lock().clone()
    }
}

/// Where modules add template filters and globals (Backstage's
/// `scaffolderTemplatingExtensionPoint`).
pub type ScaffolderTemplatingExtension = TemplatingExtensions;

/// The `scaffolder` plugin's action registry.
pub static SCAFFOLDER_ACTIONS: ExtensionPoint<ScaffolderActionsExtension> =
    ExtensionPoint::new("scaffolder.actions");

/// The `scaffolder` plugin's templating filters and globals.
pub static SCAFFOLDER_TEMPLATING: ExtensionPoint<ScaffolderTemplatingExtension> =
    ExtensionPoint::new("scaffolder.templating");
