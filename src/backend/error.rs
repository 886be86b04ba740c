//! Errors of the backend system: wiring mistakes found by `build()` and failures during
//! `start()`.

use std::fmt;

/// A boxed error, the error type of plugin and module `init` functions and service factories.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A wiring mistake: the features given to the backend do not fit together.
///
/// Every variant names the plugins, modules, services and extension points involved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WiringError {
    /// Two plugins share one id.
    #[error("plugin '{plugin}' is registered twice")]
    DuplicatePlugin {
        /// The plugin id.
        plugin: String,
    },
    /// Two modules share one `(plugin, module)` pair.
    #[error("module '{module}' for plugin '{plugin}' is registered twice")]
    DuplicateModule {
        /// The target plugin id.
        plugin: String,
        /// The module id.
        module: String,
    },
    /// Two factories override one service.
    #[error("service '{service}' has two overriding factories")]
    DuplicateServiceFactory {
        /// The service id.
        service: String,
    },
    /// A factory was given for a service that cannot be overridden.
    #[error("service '{service}' is provided by the backend and cannot be overridden")]
    NotOverridable {
        /// The service id.
        service: String,
    },
    /// Two service refs share an id but not a type.
    #[error("service id '{service}' is used by two service refs of different types")]
    ConflictingServiceRef {
        /// The service id.
        service: String,
    },
    /// An id is not of the form `[a-z][a-z0-9]*(-[a-z0-9]+)*` (any case).
    #[error(
        "{what} id '{id}' is not valid; expected letters and digits in words joined by '-', starting with a letter"
    )]
    InvalidId {
        /// What kind of thing carries the id (plugin, module).
        what: &'static str,
        /// The id.
        id: String,
    },
    /// A module targets a plugin that is not in the backend.
    #[error("module '{module}' targets plugin '{plugin}', which is not installed")]
    ModuleWithoutPlugin {
        /// The missing plugin id.
        plugin: String,
        /// The module id.
        module: String,
    },
    /// A plugin, module or service depends on a service that has no factory.
    #[error("{dependant} needs missing service '{service}'")]
    MissingService {
        /// Who needs it, e.g. `plugin 'catalog'`, `module 'github' for plugin 'catalog'`,
        /// `service 'core.database'`.
        dependant: String,
        /// The missing service id.
        service: String,
    },
    /// A root-scoped service depends on a plugin-scoped one.
    #[error("root service '{service}' cannot depend on plugin-scoped service '{dependency}'")]
    RootDependsOnPluginScope {
        /// The root service id.
        service: String,
        /// The plugin-scoped dependency.
        dependency: String,
    },
    /// Services depend on each other in a circle.
    #[error("service dependency cycle for {dependant}: {}", format_cycle(.cycle))]
    DependencyCycle {
        /// Who hit the cycle.
        dependant: String,
        /// The ids along the cycle; the first is repeated at the end.
        cycle: Vec<String>,
    },
    /// Modules of one plugin use each other's extension points in a circle.
    #[error("extension point cycle among modules of plugin '{plugin}': {}", format_cycle(.cycle))]
    ModuleCycle {
        /// The plugin id.
        plugin: String,
        /// The module ids along the cycle.
        cycle: Vec<String>,
    },
    /// A module uses an extension point registered by another plugin.
    #[error(
        "module '{module}' for plugin '{plugin}' uses extension point '{extension_point}' of plugin '{owner}'; modules may only use their own plugin's extension points"
    )]
    ForeignExtensionPoint {
        /// The module's target plugin.
        plugin: String,
        /// The module id.
        module: String,
        /// The extension point id.
        extension_point: String,
        /// The plugin that registered it.
        owner: String,
    },
    /// A module uses an extension point nobody registered.
    #[error(
        "module '{module}' for plugin '{plugin}' uses extension point '{extension_point}', which no plugin or module registers"
    )]
    MissingExtensionPoint {
        /// The module's target plugin.
        plugin: String,
        /// The module id.
        module: String,
        /// The extension point id.
        extension_point: String,
    },
    /// A plugin (not a module) listed an extension point as a dependency.
    #[error(
        "plugin '{plugin}' depends on extension point '{extension_point}'; only modules may use extension points"
    )]
    PluginUsesExtensionPoint {
        /// The plugin id.
        plugin: String,
        /// The extension point id.
        extension_point: String,
    },
    /// One extension point registered twice within one plugin.
    #[error("extension point '{extension_point}' is registered twice in plugin '{plugin}'")]
    DuplicateExtensionPoint {
        /// The plugin id.
        plugin: String,
        /// The extension point id.
        extension_point: String,
    },
    /// An extension point was used after its plugin started.
    #[error(
        "extension point '{extension_point}' of plugin '{plugin}' was used after the plugin started; extension points may only be used during module init"
    )]
    ExtensionPointClosed {
        /// The plugin id.
        plugin: String,
        /// The extension point id.
        extension_point: String,
    },
}

fn format_cycle(cycle: &[String]) -> String {
    cycle
        .iter()
        .map(|id| format!("'{id}'"))
        .collect::<Vec<_>>()
        .join(" -> ")
}

/// A failure while starting: a plugin's or module's `init`, or a service factory, returned an
/// error.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", self.subject())]
pub struct StartupError {
    /// The plugin whose startup failed.
    pub plugin: String,
    /// The module, when a module failed.
    pub module: Option<String>,
    /// The service, when a service factory failed.
    pub service: Option<String>,
    /// What went wrong.
    #[source]
    pub source: BoxError,
}

impl StartupError {
    fn subject(&self) -> String {
        let mut s = match &self.module {
            Some(m) => format!("module '{m}' for plugin '{}' failed to start", self.plugin),
            None => format!("plugin '{}' failed to start", self.plugin),
        };
        if let Some(svc) = &self.service {
            s.push_str(&format!(" (service '{svc}')"));
        }
        s
    }
}

/// Everything that can go wrong building, starting or stopping a backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The features do not fit together.
    #[error("backend wiring error: {0}")]
    Wiring(#[from] WiringError),
    /// Plugins failed to start.
    #[error("backend startup failed: {}", join_errors(.0))]
    Startup(Vec<StartupError>),
    /// A root service needed by the backend itself failed.
    #[error("backend service '{service}' failed: {source}")]
    Service {
        /// The service id.
        service: String,
        /// What went wrong.
        #[source]
        source: BoxError,
    },
    /// Configuration could not be loaded or read.
    #[error("backend configuration error: {0}")]
    Config(#[from] crate::services::config::ConfigError),
    /// The server could not listen or serve.
    #[error("backend server error: {0}")]
    Server(#[source] std::io::Error),
    /// Shutdown did not finish within its deadline.
    #[error("backend shutdown did not finish within {0:?}")]
    ShutdownTimeout(std::time::Duration),
}

fn join_errors(errors: &[StartupError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl fmt::Display for crate::backend::ServiceScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Root => f.write_str("root"),
            Self::Plugin => f.write_str("plugin"),
        }
    }
}
