//! The service registry: which factory serves each service, and the instances built so far.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use super::deps::{AnyArc, DepKey, DepKind, Resolved, ResolvedKind};
use super::error::BoxError;
use super::plugin::ProvidedExtensionPoint;
use super::service_factory::{BoxFut, FactoryKind, ServiceFactory};
use super::service_ref::{ServiceKey, ServiceScope};

/// A failure building a service.
#[derive(Debug)]
pub(crate) struct ResolveError {
    pub(crate) service: &'static str,
    pub(crate) source: BoxError,
}

type Cell = Arc<OnceCell<AnyArc>>;

/// Extension points a plugin (and its modules) provide, with the flag that closes them.
pub(crate) struct PluginExtensionPoints {
    pub(crate) plugin: Arc<str>,
    pub(crate) points: HashMap<&'static str, AnyArc>,
    /// The type each extension point was registered with.
    pub(crate) types: HashMap<&'static str, std::any::TypeId>,
    pub(crate) closed: Arc<std::sync::atomic::AtomicBool>,
}

pub(crate) struct Registry {
    factories: HashMap<&'static str, Arc<ServiceFactory>>,
    root_instances: Mutex<HashMap<&'static str, Cell>>,
    root_contexts: Mutex<HashMap<&'static str, Cell>>,
    plugin_instances: Mutex<HashMap<(&'static str, Arc<str>), Cell>>,
}

impl Registry {
    pub(crate) fn new(factories: HashMap<&'static str, Arc<ServiceFactory>>) -> Self {
        Self {
            factories,
            root_instances: Mutex::new(HashMap::new()),
            root_contexts: Mutex::new(HashMap::new()),
            plugin_instances: Mutex::new(HashMap::new()),
        }
    }

    fn cell<K: std::hash::Hash + Eq>(map: &Mutex<HashMap<K, Cell>>, key: K) -> Cell {
        match map.lock() {
            Ok(mut m) => m.entry(key).or_default().clone(),
            Err(poisoned) => poisoned.into_inner().entry(key).or_default().clone(),
        }
    }

    /// Builds every root-scoped service, in id order; root services are eager.
    pub(crate) async fn init_root_services(self: &Arc<Self>) -> Result<(), ResolveError> {
        let mut roots: Vec<ServiceKey> = self
            .factories
            .values()
            .filter(|f| matches!(f.kind, FactoryKind::Root(_)))
            .map(|f| f.service)
            .collect();
        roots.sort_by_key(|k| k.id);
        for key in roots {
            self.get(key, None).await?;
        }
        Ok(())
    }

    /// Gets (building when needed) the instance of `key` for `plugin` (ignored for root
    /// services).
    pub(crate) fn get(
        self: &Arc<Self>,
        key: ServiceKey,
        plugin: Option<Arc<str>>,
    ) -> BoxFut<Result<AnyArc, ResolveError>> {
        let this = self.clone();
        Box::pin(async move {
            let factory = this
                .factories
                .get(key.id)
                .cloned()
                .ok_or_else(|| ResolveError {
                    service: key.id,
                    source: format!("no factory for service '{}'", key.id).into(),
                })?;
            match (&factory.kind, key.scope) {
                (FactoryKind::Root(build), _) => {
                    let cell = Self::cell(&this.root_instances, key.id);
                    let value = cell
                        .get_or_try_init(|| async {
                            let resolved = this.resolve(&factory.deps, None, None).await?;
                            build(resolved).await.map_err(|source| ResolveError {
                                service: key.id,
                                source,
                            })
                        })
                        .await?;
                    Ok(value.clone())
                }
                (
                    FactoryKind::Plugin {
                        root_deps,
                        root_context,
                        build,
                    },
                    _,
                ) => {
                    let plugin = plugin.ok_or_else(|| ResolveError {
                        service: key.id,
                        source: "plugin-scoped service requested outside a plugin".into(),
                    })?;
                    let cell = Self::cell(&this.plugin_instances, (key.id, plugin.clone()));
                    let value = cell
                        .get_or_try_init(|| async {
                            let ctx_cell = Self::cell(&this.root_contexts, key.id);
                            let ctx = ctx_cell
                                .get_or_try_init(|| async {
                                    let resolved = this.resolve(root_deps, None, None).await?;
                                    root_context(resolved).await.map_err(|source| ResolveError {
                                        service: key.id,
                                        source,
                                    })
                                })
                                .await?
                                .clone();
                            let resolved = this
                                .resolve(&factory.deps, Some(plugin.clone()), None)
                                .await?;
                            build(ctx, plugin.clone(), resolved)
                                .await
                                .map_err(|source| ResolveError {
                                    service: key.id,
                                    source,
                                })
                        })
                        .await?;
                    Ok(value.clone())
                }
            }
        })
    }

    /// Resolves a dependency list for `plugin`, with its extension points for modules.
    pub(crate) async fn resolve(
        self: &Arc<Self>,
        deps: &[DepKey],
        plugin: Option<Arc<str>>,
        extension_points: Option<&PluginExtensionPoints>,
    ) -> Result<Vec<Resolved>, ResolveError> {
        let mut out = Vec::with_capacity(deps.len());
        for dep in deps {
            match dep.0 {
                DepKind::Service(key) => {
                    let plugin = match key.scope {
                        ServiceScope::Root => None,
                        ServiceScope::Plugin => plugin.clone(),
                    };
                    out.push(Resolved(ResolvedKind::Service(
                        self.get(key, plugin).await?,
                    )));
                }
                DepKind::ExtensionPoint(key) => {
                    let points = extension_points.ok_or_else(|| ResolveError {
                        service: key.id,
                        source: "extension points are only available to modules".into(),
                    })?;
                    let value = points
                        .points
                        .get(key.id)
                        .cloned()
                        .ok_or_else(|| ResolveError {
                            service: key.id,
                            source: format!("extension point '{}' is not registered", key.id)
                                .into(),
                        })?;
                    out.push(Resolved(ResolvedKind::ExtensionPoint {
                        value,
                        plugin: points.plugin.clone(),
                        closed: points.closed.clone(),
                    }));
                }
            }
        }
        Ok(out)
    }
}

impl PluginExtensionPoints {
    pub(crate) fn new(plugin: Arc<str>) -> Self {
        Self {
            plugin,
            points: HashMap::new(),
            types: HashMap::new(),
            closed: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        }
    }

    pub(crate) fn add(&mut self, provided: &ProvidedExtensionPoint) {
        self.points.insert(provided.key.id, provided.value.clone());
        self.types.insert(provided.key.id, provided.key.type_id);
    }
}
