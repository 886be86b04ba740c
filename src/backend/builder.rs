//! `Backend::builder()`: collects features and config, validates the wiring.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use super::deps::{DepKey, DepKind};
use super::error::{BackendError, WiringError};
use super::plugin::{
    BackendModule, BackendPlugin, Feature, FeatureRegistration, PluginRegistrar, Registration,
};
use super::registry::PluginExtensionPoints;
use super::service_factory::{FactoryKind, ServiceFactory};
use super::service_ref::{ServiceKey, ServiceScope};
use crate::services::config::{Config, ConfigLoader};
use crate::services::core_services::{
    PLUGIN_METADATA, ROOT_CONFIG, ROOT_HEALTH, SERVER_INFO, ServerInfo,
};
use crate::services::health::RootHealth;

/// Services the backend provides itself; they cannot be overridden.
const BUILT_IN: [&str; 3] = ["core.pluginMetadata", "core.rootHealth", "core.serverInfo"];

/// A backend: a DI container of plugins, modules and services. It has no features of its own.
///
/// ```no_run
/// use backlot::backend::{Backend, Feature};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let backend = Backend::builder()
///     .config_yaml("backend:\n  listen: { host: 127.0.0.1, port: 7007 }\n")
///     .add_feature(Feature::plugin_fn("todo", |reg| reg.init((), |()| async { Ok(()) })))
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

pub(crate) struct PluginPlan {
    pub(crate) id: Arc<str>,
    pub(crate) registration: Registration,
    /// In the order their `init`s run.
    pub(crate) modules: Vec<ModulePlan>,
    pub(crate) extension_points: PluginExtensionPoints,
}

pub(crate) struct ModulePlan {
    pub(crate) id: String,
    pub(crate) registration: Registration,
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
    /// Adds a plugin.
    #[must_use]
    pub fn add_plugin(mut self, plugin: impl BackendPlugin) -> Self {
        self.features.push(Feature::plugin(plugin));
        self
    }

    /// Adds a module.
    #[must_use]
    pub fn add_module(mut self, module: impl BackendModule) -> Self {
        self.features.push(Feature::module(module));
        self
    }

    /// Adds a service factory that replaces the default one for its ref. Two factories for one
    /// ref are a wiring error.
    #[must_use]
    pub fn add_service(mut self, factory: ServiceFactory) -> Self {
        self.features.push(Feature::Service(factory));
        self
    }

    /// Adds any feature.
    #[must_use]
    pub fn add_feature(mut self, feature: Feature) -> Self {
        self.features.push(feature);
        self
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
        let mut overrides: HashMap<&'static str, ServiceFactory> = HashMap::new();
        let mut plugins: Vec<Arc<dyn BackendPlugin>> = Vec::new();
        let mut modules: Vec<Arc<dyn BackendModule>> = Vec::new();
        for feature in features {
            match feature {
                Feature::Service(factory) => {
                    let id = factory.service_id();
                    if BUILT_IN.contains(&id) {
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
        let config_for_factory = config.clone();
        let mut builtins: HashMap<&'static str, ServiceFactory> = HashMap::new();
        builtins.insert(
            ROOT_CONFIG.id(),
            ServiceFactory::root(&ROOT_CONFIG).build(move |()| {
                let config = config_for_factory.clone();
                async move { Ok(Arc::new(config)) }
            }),
        );
        builtins.insert(
            PLUGIN_METADATA.id(),
            crate::services::core_services::plugin_metadata_factory(),
        );
        let health = Arc::new(RootHealth::new());
        let health_for_factory = health.clone();
        builtins.insert(
            ROOT_HEALTH.id(),
            ServiceFactory::root(&ROOT_HEALTH).build(move |()| {
                let health = health_for_factory.clone();
                async move { Ok(health) }
            }),
        );
        let server_info: Arc<OnceLock<Arc<ServerInfo>>> = Arc::new(OnceLock::new());
        let info_for_factory = server_info.clone();
        builtins.insert(
            SERVER_INFO.id(),
            ServiceFactory::root(&SERVER_INFO).build(move |()| {
                let info = info_for_factory.get().cloned();
                async move { info.ok_or_else(|| "the server has not been bound yet".into()) }
            }),
        );
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

/// Whether `id` matches `[a-z][a-z0-9]*(-[a-z0-9]+)*`, in any case.
pub(crate) fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() => {}
        _ => return false,
    }
    let mut prev_dash = false;
    for c in chars {
        if c == '-' {
            if prev_dash {
                return false;
            }
            prev_dash = true;
        } else if c.is_ascii_alphanumeric() {
            prev_dash = false;
        } else {
            return false;
        }
    }
    !prev_dash
}

fn plan_plugins(
    plugins: Vec<Arc<dyn BackendPlugin>>,
    modules: Vec<Arc<dyn BackendModule>>,
) -> Result<Vec<PluginPlan>, WiringError> {
    let mut plans: Vec<PluginPlan> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for plugin in plugins {
        let id = plugin.id().to_string();
        if !valid_id(&id) {
            return Err(WiringError::InvalidId { what: "plugin", id });
        }
        if index.contains_key(&id) {
            return Err(WiringError::DuplicatePlugin { plugin: id });
        }
        let id: Arc<str> = Arc::from(id.as_str());
        let registration = plugin.register(PluginRegistrar::new());
        let mut extension_points = PluginExtensionPoints::new(id.clone());
        for provided in &registration.extension_points {
            if extension_points.points.contains_key(provided.key.id) {
                return Err(WiringError::DuplicateExtensionPoint {
                    plugin: id.to_string(),
                    extension_point: provided.key.id.into(),
                });
            }
            extension_points.add(provided);
        }
        for dep in &registration.deps {
            if let DepKind::ExtensionPoint(key) = dep.0 {
                return Err(WiringError::PluginUsesExtensionPoint {
                    plugin: id.to_string(),
                    extension_point: key.id.into(),
                });
            }
        }
        index.insert(id.to_string(), plans.len());
        plans.push(PluginPlan {
            id,
            registration,
            modules: Vec::new(),
            extension_points,
        });
    }
    let mut seen: HashSet<(String, String)> = HashSet::new();
    for module in modules {
        let plugin = module.plugin_id().to_string();
        let id = module.module_id().to_string();
        if !valid_id(&id) {
            return Err(WiringError::InvalidId { what: "module", id });
        }
        if !seen.insert((plugin.clone(), id.clone())) {
            return Err(WiringError::DuplicateModule { plugin, module: id });
        }
        let Some(&i) = index.get(&plugin) else {
            return Err(WiringError::ModuleWithoutPlugin { plugin, module: id });
        };
        let registration = module.register(PluginRegistrar::new());
        let plan = &mut plans[i];
        for provided in &registration.extension_points {
            if plan.extension_points.points.contains_key(provided.key.id) {
                return Err(WiringError::DuplicateExtensionPoint {
                    plugin,
                    extension_point: provided.key.id.into(),
                });
            }
            plan.extension_points.add(provided);
        }
        plan.modules.push(ModulePlan { id, registration });
    }
    // Extension points used by modules must be their own plugin's.
    let owners: HashMap<&'static str, Arc<str>> = plans
        .iter()
        .flat_map(|p| p.extension_points.points.keys().map(|k| (*k, p.id.clone())))
        .collect();
    for plan in &plans {
        for module in &plan.modules {
            for dep in &module.registration.deps {
                let DepKind::ExtensionPoint(key) = dep.0 else {
                    continue;
                };
                if plan.extension_points.points.contains_key(key.id) {
                    continue;
                }
                return Err(match owners.get(key.id) {
                    Some(owner) => WiringError::ForeignExtensionPoint {
                        plugin: plan.id.to_string(),
                        module: module.id.clone(),
                        extension_point: key.id.into(),
                        owner: owner.to_string(),
                    },
                    None => WiringError::MissingExtensionPoint {
                        plugin: plan.id.to_string(),
                        module: module.id.clone(),
                        extension_point: key.id.into(),
                    },
                });
            }
        }
    }
    Ok(plans)
}

/// Orders a plugin's modules so that a module providing an extension point runs before the
/// modules using it; otherwise registration order.
fn order_modules(plan: &mut PluginPlan) -> Result<(), WiringError> {
    let n = plan.modules.len();
    let mut provider: HashMap<&'static str, usize> = HashMap::new();
    for (i, m) in plan.modules.iter().enumerate() {
        for p in &m.registration.extension_points {
            provider.insert(p.key.id, i);
        }
    }
    let mut after: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut indegree = vec![0usize; n];
    for (i, m) in plan.modules.iter().enumerate() {
        for dep in &m.registration.deps {
            if let DepKind::ExtensionPoint(key) = dep.0 {
                if let Some(&p) = provider.get(key.id) {
                    if p != i {
                        after[p].push(i);
                        indegree[i] += 1;
                    }
                }
            }
        }
    }
    let mut order = Vec::with_capacity(n);
    let mut done = vec![false; n];
    while order.len() < n {
        let Some(next) = (0..n).find(|&i| !done[i] && indegree[i] == 0) else {
            let start = (0..n).find(|&i| !done[i]).unwrap_or(0);
            let mut cycle = vec![plan.modules[start].id.clone()];
            let mut cur = start;
            // Walk backwards along "must run after" edges until a module repeats.
            let mut visited = vec![start];
            loop {
                let Some(prev) = (0..n).find(|&p| !done[p] && after[p].contains(&cur)) else {
                    break;
                };
                cycle.push(plan.modules[prev].id.clone());
                if visited.contains(&prev) {
                    break;
                }
                visited.push(prev);
                cur = prev;
            }
            cycle.reverse();
            return Err(WiringError::ModuleCycle {
                plugin: plan.id.to_string(),
                cycle,
            });
        };
        done[next] = true;
        order.push(next);
        for &j in &after[next] {
            indegree[j] -= 1;
        }
    }
    let mut slots: Vec<Option<ModulePlan>> = std::mem::take(&mut plan.modules)
        .into_iter()
        .map(Some)
        .collect();
    plan.modules = order.into_iter().filter_map(|i| slots[i].take()).collect();
    Ok(())
}

struct FactoryResolver {
    overrides: HashMap<&'static str, ServiceFactory>,
    builtins: HashMap<&'static str, ServiceFactory>,
    resolved: HashMap<&'static str, Arc<ServiceFactory>>,
    in_progress: Vec<&'static str>,
}

impl FactoryResolver {
    fn visit(&mut self, key: ServiceKey, dependant: &str, root: &str) -> Result<(), WiringError> {
        if let Some(existing) = self.resolved.get(key.id) {
            if existing.service.type_id != key.type_id {
                return Err(WiringError::ConflictingServiceRef {
                    service: key.id.into(),
                });
            }
            return Ok(());
        }
        if let Some(pos) = self.in_progress.iter().position(|id| *id == key.id) {
            let mut cycle: Vec<String> = self.in_progress[pos..]
                .iter()
                .map(|s| s.to_string())
                .collect();
            cycle.push(key.id.to_string());
            return Err(WiringError::DependencyCycle {
                dependant: root.to_string(),
                cycle,
            });
        }
        let factory = self
            .overrides
            .remove(key.id)
            .or_else(|| self.builtins.remove(key.id))
            .or_else(|| key.default_factory.map(|f| f()))
            .ok_or_else(|| WiringError::MissingService {
                dependant: dependant.to_string(),
                service: key.id.into(),
            })?;
        if factory.service.type_id != key.type_id {
            return Err(WiringError::ConflictingServiceRef {
                service: key.id.into(),
            });
        }
        self.in_progress.push(key.id);
        let me = format!("service '{}'", key.id);
        let is_root = matches!(factory.kind, FactoryKind::Root(_));
        let mut root_only: Vec<DepKey> = Vec::new();
        if let FactoryKind::Plugin { root_deps, .. } = &factory.kind {
            root_only.extend(root_deps.iter().copied());
        }
        let deps = factory.deps.clone();
        let result = (|| {
            for dep in root_only {
                self.visit_dep(dep, &me, root, true, key.id)?;
            }
            for dep in deps {
                self.visit_dep(dep, &me, root, is_root, key.id)?;
            }
            Ok(())
        })();
        self.in_progress.pop();
        result?;
        self.resolved.insert(key.id, Arc::new(factory));
        Ok(())
    }

    fn visit_dep(
        &mut self,
        dep: DepKey,
        dependant: &str,
        root: &str,
        root_only: bool,
        service: &'static str,
    ) -> Result<(), WiringError> {
        match dep.0 {
            DepKind::Service(k) => {
                if root_only && k.scope == ServiceScope::Plugin {
                    return Err(WiringError::RootDependsOnPluginScope {
                        service: service.into(),
                        dependency: k.id.into(),
                    });
                }
                self.visit(k, dependant, root)
            }
            DepKind::ExtensionPoint(k) => Err(WiringError::MissingService {
                dependant: dependant.to_string(),
                service: format!(
                    "{} (an extension point; service factories cannot use them)",
                    k.id
                ),
            }),
        }
    }
}

fn resolve_factories(
    plans: &[PluginPlan],
    overrides: HashMap<&'static str, ServiceFactory>,
    builtins: HashMap<&'static str, ServiceFactory>,
) -> Result<HashMap<&'static str, Arc<ServiceFactory>>, WiringError> {
    let mut resolver = FactoryResolver {
        overrides,
        builtins,
        resolved: HashMap::new(),
        in_progress: Vec::new(),
    };
    // Services the backend itself always needs.
    for key in [
        crate::services::core_services::ROOT_LIFECYCLE.key(),
        crate::services::core_services::ROOT_HTTP_ROUTER.key(),
        crate::services::core_services::ROOT_LOGGER.key(),
        ROOT_CONFIG.key(),
    ] {
        resolver.visit(key, "the backend", "the backend")?;
    }
    for plan in plans {
        let who = format!("plugin '{}'", plan.id);
        for dep in &plan.registration.deps {
            if let DepKind::Service(k) = dep.0 {
                resolver.visit(k, &who, &who)?;
            }
        }
        for module in &plan.modules {
            let who = format!("module '{}' for plugin '{}'", module.id, plan.id);
            for dep in &module.registration.deps {
                if let DepKind::Service(k) = dep.0 {
                    resolver.visit(k, &who, &who)?;
                }
            }
        }
    }
    // Overrides nobody asked for yet stay available (a plugin may reach them lazily).
    let leftover: Vec<ServiceFactory> = resolver.overrides.drain().map(|(_, f)| f).collect();
    for factory in leftover {
        let key = factory.service;
        resolver.overrides.insert(key.id, factory);
        resolver.visit(key, "the backend", "the backend")?;
    }
    Ok(resolver.resolved)
}
