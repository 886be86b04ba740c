//! Plugins, modules and their registration.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use super::deps::{AnyArc, DepKey, Deps, Resolved};
use super::error::BoxError;
use super::extension_point::{ExtensionPoint, ExtensionPointKey};
use super::service_factory::BoxFut;

/// A backend plugin: a unit of functionality with an id, mounted at `/api/<id>`.
///
/// `register` only declares things: the extension points the plugin offers and exactly one
/// `init` with its dependencies. [`PluginRegistrar::init`] is the only way to make the
/// [`Registration`] that `register` must return, so a plugin without an `init` does not compile.
///
/// ```
/// use backlot::backend::{BackendPlugin, PluginRegistrar, Registration};
/// use backlot::services::core_services::{HTTP_ROUTER, LOGGER};
///
/// struct Hello;
///
/// impl BackendPlugin for Hello {
///     fn id(&self) -> &str {
///         "hello"
///     }
///     fn register(&self, reg: PluginRegistrar) -> Registration {
///         reg.init((&LOGGER, &HTTP_ROUTER), |(logger, http)| async move {
///             http.use_router(axum::Router::new().route("/", axum::routing::get(|| async { "hi" })));
///             logger.info("hello plugin ready");
///             Ok(())
///         })
///     }
/// }
/// # let _ = backlot::backend::Feature::plugin(Hello);
/// ```
pub trait BackendPlugin: Send + Sync + 'static {
    /// The plugin id: letters and digits in words joined by `-`, starting with a letter.
    fn id(&self) -> &str;
    /// Declares extension points and the plugin's `init`.
    fn register(&self, reg: PluginRegistrar) -> Registration;
}

/// A backend module: extends one plugin, through that plugin's extension points.
///
/// A module's `init` runs before its plugin's `init`. Its service dependencies are resolved in
/// its plugin's scope.
///
/// ```
/// use std::sync::Mutex;
/// use backlot::backend::{BackendModule, ExtensionPoint, ModuleRegistrar, Registration};
///
/// /// Greetings that modules add to the `hello` plugin.
/// #[derive(Default)]
/// pub struct Greetings(pub Mutex<Vec<String>>);
/// /// The extension point.
/// pub static GREETINGS: ExtensionPoint<Greetings> = ExtensionPoint::new("hello.greetings");
///
/// struct French;
///
/// impl BackendModule for French {
///     fn plugin_id(&self) -> &str {
///         "hello"
///     }
///     fn module_id(&self) -> &str {
///         "french"
///     }
///     fn register(&self, reg: ModuleRegistrar) -> Registration {
///         reg.init(&GREETINGS, |greetings| async move {
///             greetings.get()?.0.lock().map_err(|e| e.to_string())?.push("bonjour".into());
///             Ok(())
///         })
///     }
/// }
/// # let _ = backlot::backend::Feature::module(French);
/// ```
pub trait BackendModule: Send + Sync + 'static {
    /// The id of the plugin this module extends.
    fn plugin_id(&self) -> &str;
    /// The module id, unique among the plugin's modules.
    fn module_id(&self) -> &str;
    /// Declares extension points (for other modules of the plugin) and the module's `init`.
    fn register(&self, reg: ModuleRegistrar) -> Registration;
}

pub(crate) type InitFn = Box<dyn FnOnce(Vec<Resolved>) -> BoxFut<Result<(), BoxError>> + Send>;

pub(crate) struct ProvidedExtensionPoint {
    pub(crate) key: ExtensionPointKey,
    pub(crate) value: AnyArc,
}

/// Collects what a plugin or module declares in `register`.
#[derive(Default)]
pub struct PluginRegistrar {
    extension_points: Vec<ProvidedExtensionPoint>,
}

/// The registrar modules receive; the same as a plugin's.
pub type ModuleRegistrar = PluginRegistrar;

impl fmt::Debug for PluginRegistrar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginRegistrar")
            .field(
                "extension_points",
                &self
                    .extension_points
                    .iter()
                    .map(|e| e.key.id)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl PluginRegistrar {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Offers an extension point with its implementation to the plugin's modules.
    #[must_use]
    pub fn extension_point<T: ?Sized + Send + Sync + 'static>(
        mut self,
        point: &'static ExtensionPoint<T>,
        implementation: Arc<T>,
    ) -> Self {
        self.extension_points.push(ProvidedExtensionPoint {
            key: point.key(),
            value: Arc::new(implementation),
        });
        self
    }

    /// Declares the `init` function and its dependencies; ends registration.
    ///
    /// `deps` is `()`, one service ref or extension point, or a tuple of them; `init` receives
    /// the matching instances.
    pub fn init<D, F, Fut>(self, deps: D, init: F) -> Registration
    where
        D: Deps,
        F: FnOnce(D::Output) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        let keys = deps.keys();
        let init: InitFn = Box::new(move |resolved| match deps.extract(resolved) {
            Some(out) => Box::pin(init(out)),
            None => Box::pin(async {
                Err::<(), BoxError>(
                    "internal error: init dependencies resolved to unexpected types".into(),
                )
            }),
        });
        Registration {
            extension_points: self.extension_points,
            deps: keys,
            init,
        }
    }
}

/// The result of `register`: made only by [`PluginRegistrar::init`].
pub struct Registration {
    pub(crate) extension_points: Vec<ProvidedExtensionPoint>,
    pub(crate) deps: Vec<DepKey>,
    pub(crate) init: InitFn,
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("deps", &self.deps)
            .finish_non_exhaustive()
    }
}

type RegisterFn = Box<dyn Fn(PluginRegistrar) -> Registration + Send + Sync>;

struct FnPlugin {
    id: String,
    register: RegisterFn,
}

impl BackendPlugin for FnPlugin {
    fn id(&self) -> &str {
        &self.id
    }
    fn register(&self, reg: PluginRegistrar) -> Registration {
        (self.register)(reg)
    }
}

struct FnModule {
    plugin_id: String,
    module_id: String,
    register: RegisterFn,
}

impl BackendModule for FnModule {
    fn plugin_id(&self) -> &str {
        &self.plugin_id
    }
    fn module_id(&self) -> &str {
        &self.module_id
    }
    fn register(&self, reg: ModuleRegistrar) -> Registration {
        (self.register)(reg)
    }
}

/// Something a backend is made of: a plugin, a module or a service factory.
pub enum Feature {
    /// A plugin.
    Plugin(Arc<dyn BackendPlugin>),
    /// A module.
    Module(Arc<dyn BackendModule>),
    /// A service factory overriding a ref's default.
    Service(super::ServiceFactory),
}

impl fmt::Debug for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Plugin(p) => write!(f, "Feature::Plugin({})", p.id()),
            Self::Module(m) => write!(f, "Feature::Module({}, {})", m.plugin_id(), m.module_id()),
            Self::Service(s) => write!(f, "Feature::Service({})", s.service_id()),
        }
    }
}

impl Feature {
    /// Wraps a plugin.
    pub fn plugin(plugin: impl BackendPlugin) -> Self {
        Self::Plugin(Arc::new(plugin))
    }

    /// Wraps a module.
    pub fn module(module: impl BackendModule) -> Self {
        Self::Module(Arc::new(module))
    }

    /// A plugin made from an id and a `register` closure, like Backstage's
    /// `createBackendPlugin`.
    ///
    /// ```
    /// use backlot::backend::Feature;
    ///
    /// let plugin = Feature::plugin_fn("todo", |reg| reg.init((), |()| async { Ok(()) }));
    /// # let _ = plugin;
    /// ```
    pub fn plugin_fn(
        id: impl Into<String>,
        register: impl Fn(PluginRegistrar) -> Registration + Send + Sync + 'static,
    ) -> Self {
        Self::Plugin(Arc::new(FnPlugin {
            id: id.into(),
            register: Box::new(register),
        }))
    }

    /// A module made from ids and a `register` closure, like Backstage's
    /// `createBackendModule`.
    ///
    /// ```
    /// use backlot::backend::Feature;
    ///
    /// let module = Feature::module_fn("todo", "extra", |reg| reg.init((), |()| async { Ok(()) }));
    /// # let _ = module;
    /// ```
    pub fn module_fn(
        plugin_id: impl Into<String>,
        module_id: impl Into<String>,
        register: impl Fn(ModuleRegistrar) -> Registration + Send + Sync + 'static,
    ) -> Self {
        Self::Module(Arc::new(FnModule {
            plugin_id: plugin_id.into(),
            module_id: module_id.into(),
            register: Box::new(register),
        }))
    }
}

impl From<super::ServiceFactory> for Feature {
    fn from(factory: super::ServiceFactory) -> Self {
        Self::Service(factory)
    }
}

/// A feature linked into the binary with `inventory::submit!`, found by
/// [`BackendBuilder::discover_features`](super::BackendBuilder::discover_features).
///
/// ```
/// use backlot::backend::{Feature, FeatureRegistration};
///
/// fn todo_plugin() -> Feature {
///     Feature::plugin_fn("todo", |reg| reg.init((), |()| async { Ok(()) }))
/// }
///
/// backlot::inventory::submit! {
///     FeatureRegistration::new("todo", todo_plugin)
/// }
/// ```
#[derive(Debug)]
pub struct FeatureRegistration {
    name: &'static str,
    feature: fn() -> Feature,
}

impl FeatureRegistration {
    /// A registration: a name (for sorting and messages) and a function making the feature.
    pub const fn new(name: &'static str, feature: fn() -> Feature) -> Self {
        Self { name, feature }
    }

    /// The registration's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    pub(crate) fn make(&self) -> Feature {
        (self.feature)()
    }
}

inventory::collect!(FeatureRegistration);
