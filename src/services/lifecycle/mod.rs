//! Lifecycle services: startup and shutdown hooks for the backend (`core.rootLifecycle`) and
//! for each plugin (`core.lifecycle`).
//!
//! Startup hooks run once every plugin has started: plugin hooks first, then root hooks.
//! Shutdown hooks run in reverse order of registration: plugin hooks first, then root hooks,
//! all within the backend's shutdown deadline.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use crate::backend::BoxError;

type HookFn =
    Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>> + Send>;

/// A startup or shutdown hook taken from a [`RootLifecycle`] to be run.
pub struct Hook {
    owner: Option<Arc<str>>,
    run: HookFn,
}

impl fmt::Debug for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hook")
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

impl Hook {
    /// The id of the plugin that added the hook; `None` for a root hook.
    pub fn owner(&self) -> Option<&str> {
        self.owner.as_deref()
    }

    /// Runs the hook.
    pub fn run(self) -> Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>> {
        (self.run)()
    }
}

#[derive(Default)]
struct Hooks {
    plugin_startup: Vec<Hook>,
    plugin_shutdown: Vec<Hook>,
    root_startup: Vec<Hook>,
    root_shutdown: Vec<Hook>,
}

/// The backend-wide lifecycle (`core.rootLifecycle`).
///
/// ```
/// use backlot::services::lifecycle::RootLifecycle;
///
/// let lifecycle = RootLifecycle::new();
/// lifecycle.add_shutdown_hook(|| async { Ok(()) });
/// ```
#[derive(Default)]
pub struct RootLifecycle {
    hooks: Mutex<Hooks>,
}

impl fmt::Debug for RootLifecycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RootLifecycle").finish_non_exhaustive()
    }
}

fn boxed<F, Fut>(hook: F) -> HookFn
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    Box::new(move || Box::pin(hook()))
}

impl RootLifecycle {
    /// A lifecycle with no hooks.
    pub fn new() -> Self {
        Self::default()
    }

    fn with_hooks(&self, f: impl FnOnce(&mut Hooks)) {
        if let Ok(mut hooks) = self.hooks.lock() {
            f(&mut hooks);
        }
    }

    /// Runs `hook` once every plugin has started.
    pub fn add_startup_hook<F, Fut>(&self, hook: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        let hook = Hook {
            owner: None,
            run: boxed(hook),
        };
        self.with_hooks(|h| h.root_startup.push(hook));
    }

    /// Runs `hook` when the backend shuts down, after every plugin's shutdown hooks.
    pub fn add_shutdown_hook<F, Fut>(&self, hook: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        let hook = Hook {
            owner: None,
            run: boxed(hook),
        };
        self.with_hooks(|h| h.root_shutdown.push(hook));
    }

    pub(crate) fn add_plugin_hook(&self, owner: Arc<str>, startup: bool, run: HookFn) {
        let hook = Hook {
            owner: Some(owner),
            run,
        };
        self.with_hooks(|h| {
            if startup {
                h.plugin_startup.push(hook);
            } else {
                h.plugin_shutdown.push(hook);
            }
        });
    }

    /// Takes the startup hooks in the order they run: plugin hooks, then root hooks. The
    /// backend runs them once every plugin has started.
    ///
    /// ```
    /// use backlot::services::lifecycle::RootLifecycle;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), backlot::backend::BoxError> {
    /// let lifecycle = RootLifecycle::new();
    /// lifecycle.add_startup_hook(|| async { Ok(()) });
    /// for hook in lifecycle.take_startup_hooks() {
    ///     assert_eq!(hook.owner(), None);
    ///     hook.run().await?;
    /// }
    /// assert!(lifecycle.take_startup_hooks().is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub fn take_startup_hooks(&self) -> Vec<Hook> {
        let mut out = Vec::new();
        self.with_hooks(|h| {
            out.append(&mut h.plugin_startup);
            out.append(&mut h.root_startup);
        });
        out
    }

    /// Takes the shutdown hooks in the order they run: plugin hooks newest first, then root
    /// hooks newest first. The backend runs them when it stops.
    pub fn take_shutdown_hooks(&self) -> Vec<Hook> {
        let mut out = Vec::new();
        self.with_hooks(|h| {
            out.extend(h.plugin_shutdown.drain(..).rev());
            out.extend(h.root_shutdown.drain(..).rev());
        });
        out
    }
}

/// A plugin's lifecycle (`core.lifecycle`): hooks that run with the plugin's id attached.
///
/// ```
/// use std::sync::Arc;
/// use backlot::services::lifecycle::{Lifecycle, RootLifecycle};
///
/// let lifecycle = Lifecycle::new("catalog", Arc::new(RootLifecycle::new()));
/// lifecycle.add_startup_hook(|| async { Ok(()) });
/// assert_eq!(lifecycle.plugin_id(), "catalog");
/// ```
pub struct Lifecycle {
    plugin: Arc<str>,
    root: Arc<RootLifecycle>,
}

impl fmt::Debug for Lifecycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lifecycle")
            .field("plugin", &self.plugin)
            .finish()
    }
}

impl Lifecycle {
    /// The lifecycle of plugin `plugin_id`, registering into `root`.
    pub fn new(plugin_id: &str, root: Arc<RootLifecycle>) -> Self {
        Self {
            plugin: Arc::from(plugin_id),
            root,
        }
    }

    /// The plugin's id.
    pub fn plugin_id(&self) -> &str {
        &self.plugin
    }

    /// Runs `hook` once every plugin has started.
    pub fn add_startup_hook<F, Fut>(&self, hook: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        self.root
            .add_plugin_hook(self.plugin.clone(), true, boxed(hook));
    }

    /// Runs `hook` when the backend shuts down, before root shutdown hooks.
    pub fn add_shutdown_hook<F, Fut>(&self, hook: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        self.root
            .add_plugin_hook(self.plugin.clone(), false, boxed(hook));
    }
}
