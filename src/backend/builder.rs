//! `Backend::builder()`: collects features and config, validates the wiring.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use super::error::{BackendError, WiringError};
use super::features::IntoFeatures;
use super::plan::{PluginPlan, order_modules, plan_plugins};
use super::plugin::{BackendModule, BackendPlugin, Feature, FeatureRegistration};
use super::resolve::resolve_factories;
use super::service_factory::ServiceFactory;
use crate::services::config::{Config, ConfigLoader};
use crate::services::core_services::{
    PLUGIN_METADATA, PluginMetadata, ROOT_CONFIG, ROOT_HEALTH, SERVER_INFO, ServerInfo,
};
use crate::services::health::RootHealth;

/// A backend: a DI container of plugins, modules and services. It has no features of its own.
///
/// ```no_run
/// use backlot::backend::{Backend, Feature};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let backend = Backend::builder()
///     .config_yaml("backend:\n  listen: { host: 127.0.0.1, port: 7007 }\n")
///     .add(Feature::plugin_fn("todo", |reg| reg.init((), |()| async { Ok(()) })))
///     .build()?;
/// let handle = backend.start().await?;
/// handle.serve_until_shutdown().await?;
/// # Ok(())
/// # }
/// ```
pub struct Backend {
    pub(crate) config: Config,
    pub(crate) listen: Option<SocketAddr>,
    pub(crate) plugins: Vec<PluginPlan>,
    pub(crate) factories: HashMap<&'static str, Arc<ServiceFactory>>,
    pub(crate) health: Arc<RootHealth>,
    pub(crate) server_info: Arc<OnceLock<Arc<ServerInfo>>>,
}

impl fmt::Debug for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backend")
            .field(
                "plugins",
                &self
                    .plugins
                    .iter()
                    .map(|p| p.id.clone())
                    .collect::<Vec<_>>(),
            )
            .field("services", &self.factories.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Backend {
    /// Starts a builder with no features.
    pub fn builder() -> BackendBuilder {
        BackendBuilder::default()
    }

    /// The ids of the plugins, in registration order.
    pub fn plugin_ids(&self) -> Vec<String> {
        self.plugins.iter().map(|p| p.id.to_string()).collect()
    }

    /// The module ids of a plugin, in the order their `init`s run.
    pub fn module_order(&self, plugin_id: &str) -> Vec<String> {
        self.plugins
            .iter()
            .find(|p| &*p.id == plugin_id)
            .map(|p| p.modules.iter().map(|m| m.id.clone()).collect())
            .unwrap_or_default()
    }

    /// The backend's config.
    pub fn config(&self) -> &Config {
        &self.config
    }
}

#[derive(Debug)]
enum ConfigSource {
    File(PathBuf),
    Yaml(String),
    Value(serde_json::Value),
}

/// Builds a [`Backend`]; see [`Backend::builder`].
#[derive(Default)]
pub struct BackendBuilder {
    features: Vec<Feature>,
    discover: bool,
    config: Option<Config>,
    sources: Vec<ConfigSource>,
    listen: Option<SocketAddr>,
}

impl fmt::Debug for BackendBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendBuilder")
            .field("features", &self.features)
            .field("discover", &self.discover)
            .field("sources", &self.sources)
            .field("listen", &self.listen)
            .finish()
    }
}

impl BackendBuilder {
    /// Adds features: a plugin, a module, a service factory (replacing the default one for its
    /// ref; two factories for one ref are a wiring error), a [`Feature`], or a tuple or `Vec`
    /// of them — the one way to add anything to a backend, like bevy's `add_plugins`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use backlot::backend::{Backend, Feature, ServiceFactory};
    /// use backlot::services::core_services::{PLUGIN_METADATA, ROOT_CONFIG};
    /// use backlot::services::config::Config;
    ///
    /// let todo = Feature::plugin_fn("todo", |reg| {
    ///     reg.init(&PLUGIN_METADATA, |meta| async move {
    ///         assert_eq!(meta.id(), "todo");
    ///         Ok(())
    ///     })
    /// });
    /// let extra = Feature::module_fn("todo", "extra", |reg| reg.init((), |()| async { Ok(()) }));
    /// let config = ServiceFactory::root(&ROOT_CONFIG)
    ///     .build(|()| async { Ok(Arc::new(Config::empty())) });
    /// let backend = Backend::builder().add((todo, extra, config)).build()?;
    /// assert_eq!(backend.plugin_ids(), ["todo"]);
    /// assert_eq!(backend.module_order("todo"), ["extra"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    // A builder method, as bevy's `add_plugins`; `BackendBuilder + plugin` would read worse.
    #[allow(clippy::should_implement_trait)]
    pub fn add<M>(mut self, features: impl IntoFeatures<M>) -> Self {
        features.add_to(&mut self.features);
        self
    }

    /// The older name of [`add`](Self::add) for a plugin.
    #[doc(hidden)]
    #[must_use]
    pub fn add_plugin(self, plugin: impl BackendPlugin) -> Self {
        self.add(Feature::plugin(plugin))
    }

    /// The older name of [`add`](Self::add) for a module.
    #[doc(hidden)]
    #[must_use]
    pub fn add_module(self, module: impl BackendModule) -> Self {
        self.add(Feature::module(module))
    }

    /// The older name of [`add`](Self::add) for a service factory.
    #[doc(hidden)]
    #[must_use]
    pub fn add_service(self, factory: ServiceFactory) -> Self {
        self.add(factory)
    }

    /// The older name of [`add`](Self::add) for a [`Feature`].
    #[doc(hidden)]
    #[must_use]
    pub fn add_feature(self, feature: Feature) -> Self {
        self.add(feature)
    }

    /// Adds every feature linked into the binary with
    /// `inventory::submit!(FeatureRegistration::new(..))`, sorted by name. A plugin or module
    /// also added explicitly keeps the explicit one.
    #[must_use]
    pub fn discover_features(mut self) -> Self {
        self.discover = true;
        self
    }

    /// Uses an already-built config (replaces any files or YAML given).
    #[must_use]
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// Adds a YAML config file; later inputs win.
    #[must_use]
    pub fn config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.sources.push(ConfigSource::File(path.into()));
        self
    }

    /// Adds config from a YAML string; later inputs win.
    #[must_use]
    pub fn config_yaml(mut self, yaml: impl Into<String>) -> Self {
        self.sources.push(ConfigSource::Yaml(yaml.into()));
        self
    }

    /// Adds config from a JSON value; later inputs win.
    #[must_use]
    pub fn config_value(mut self, value: serde_json::Value) -> Self {
        self.sources.push(ConfigSource::Value(value));
        self
    }

    /// Listens on this address instead of `backend.listen` (port 0 picks a free port).
    #[must_use]
    pub fn listen_addr(mut self, addr: SocketAddr) -> Self {
        self.listen = Some(addr);
        self
    }

    fn load_config(&mut self) -> Result<Config, BackendError> {
        if let Some(config) = self.config.take() {
            return Ok(config);
        }
        if self.sources.is_empty() {
            return Ok(Config::empty());
        }
        let mut loader = ConfigLoader::new();
        for (i, source) in std::mem::take(&mut self.sources).into_iter().enumerate() {
            loader = match source {
                ConfigSource::File(path) => loader.file(path),
                ConfigSource::Yaml(yaml) => loader.yaml(format!("<yaml #{}>", i + 1), yaml),
                ConfigSource::Value(value) => loader.value(value),
            };
        }
        Ok(loader.load()?)
    }

    /// Validates the wiring and returns a backend ready to start.
    ///
    /// Fails with [`WiringError`] for duplicate plugins, modules or service overrides, modules
    /// without their plugin, extension points used across plugins, missing services, service
    /// dependency cycles and root services depending on plugin-scoped ones.
    pub fn build(mut self) -> Result<Backend, BackendError> {
        let config = self.load_config()?;
        let mut features = std::mem::take(&mut self.features);
        if self.discover {
            features.extend(discovered_features(&features));
        }
        let health = Arc::new(RootHealth::new());
        let server_info: Arc<OnceLock<Arc<ServerInfo>>> = Arc::new(OnceLock::new());
        let builtins = built_in_services(&config, &health, &server_info);
        let mut overrides: HashMap<&'static str, ServiceFactory> = HashMap::new();
        let mut plugins: Vec<Arc<dyn BackendPlugin>> = Vec::new();
        let mut modules: Vec<Arc<dyn BackendModule>> = Vec::new();
        for feature in features {
            match feature {
                Feature::Service(factory) => {
                    let id = factory.service_id();
                    if builtins
                        .iter()
                        .any(|b| !b.overridable && b.factory.service_id() == id)
                    {
                        return Err(WiringError::NotOverridable { service: id.into() }.into());
                    }
                    if overrides.insert(id, factory).is_some() {
                        return Err(
                            WiringError::DuplicateServiceFactory { service: id.into() }.into()
                        );
                    }
                }
                Feature::Plugin(p) => plugins.push(p),
                Feature::Module(m) => modules.push(m),
            }
        }
        let mut plans = plan_plugins(plugins, modules)?;
        let builtins = builtins
            .into_iter()
            .map(|b| (b.factory.service_id(), b.factory))
            .collect();
        let factories = resolve_factories(&plans, overrides, builtins)?;
        for plan in &mut plans {
            order_modules(plan)?;
        }
        Ok(Backend {
            config,
            listen: self.listen,
            plugins: plans,
            factories,
            health,
            server_info,
        })
    }

    /// Builds and starts the backend.
    pub async fn start(self) -> Result<super::BackendHandle, BackendError> {
        self.build()?.start().await
    }
}

/// A service the backend provides itself.
struct BuiltIn {
    factory: ServiceFactory,
    /// Whether a host may replace it (only the config may be).
    overridable: bool,
}

/// The services the backend provides itself: its config, each plugin's metadata, its health
/// and the bound server's address.
fn built_in_services(
    config: &Config,
    health: &Arc<RootHealth>,
    server_info: &Arc<OnceLock<Arc<ServerInfo>>>,
) -> Vec<BuiltIn> {
    let config = config.clone();
    let health = health.clone();
    let server_info = server_info.clone();
    let fixed = |factory| BuiltIn {
        factory,
        overridable: false,
    };
    vec![
        BuiltIn {
            factory: ServiceFactory::root(&ROOT_CONFIG).build(move |()| {
                let config = config.clone();
                async move { Ok(Arc::new(config)) }
            }),
            overridable: true,
        },
        fixed(
            ServiceFactory::plugin(&PLUGIN_METADATA)
                .build(|ctx, ()| async move { Ok(Arc::new(PluginMetadata::new(ctx.plugin_id()))) }),
        ),
        fixed(ServiceFactory::root(&ROOT_HEALTH).build(move |()| {
            let health = health.clone();
            async move { Ok(health) }
        })),
        fixed(ServiceFactory::root(&SERVER_INFO).build(move |()| {
            let info = server_info.get().cloned();
            async move { info.ok_or_else(|| "the server has not been bound yet".into()) }
        })),
    ]
}

fn discovered_features(explicit: &[Feature]) -> Vec<Feature> {
    let mut regs: Vec<&FeatureRegistration> =
        inventory::iter::<FeatureRegistration>.into_iter().collect();
    regs.sort_by_key(|r| r.name());
    let explicit_plugins: HashSet<String> = explicit
        .iter()
        .filter_map(|f| match f {
            Feature::Plugin(p) => Some(p.id().to_string()),
            _ => None,
        })
        .collect();
    let explicit_modules: HashSet<(String, String)> = explicit
        .iter()
        .filter_map(|f| match f {
            Feature::Module(m) => Some((m.plugin_id().to_string(), m.module_id().to_string())),
            _ => None,
        })
        .collect();
    let explicit_services: HashSet<&'static str> = explicit
        .iter()
        .filter_map(|f| match f {
            Feature::Service(s) => Some(s.service_id()),
            _ => None,
        })
        .collect();
    regs.into_iter()
        .map(FeatureRegistration::make)
        .filter(|f| match f {
            Feature::Plugin(p) => !explicit_plugins.contains(p.id()),
            Feature::Module(m) => {
                !explicit_modules.contains(&(m.plugin_id().to_string(), m.module_id().to_string()))
            }
            Feature::Service(s) => !explicit_services.contains(s.service_id()),
        })
        .collect()
}
