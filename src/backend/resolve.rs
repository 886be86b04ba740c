//! Resolving the wiring: which factory serves each service a plugin, module or factory
//! depends on, with missing services, cycles and scope mistakes reported by name.

use std::collections::HashMap;
use std::sync::Arc;

use super::deps::{DepKey, DepKind};
use super::error::WiringError;
use super::plan::PluginPlan;
use super::service_factory::{FactoryKind, ServiceFactory};
use super::service_ref::{ServiceKey, ServiceScope};
use crate::services::auth::{AUTH, HTTP_AUTH};
use crate::services::core_services::{
    ROOT_CONFIG, ROOT_HTTP_ROUTER, ROOT_LIFECYCLE, ROOT_LOGGER, ROOT_METRICS,
};

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

pub(crate) fn resolve_factories(
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
        ROOT_LIFECYCLE.key(),
        ROOT_HTTP_ROUTER.key(),
        ROOT_LOGGER.key(),
        ROOT_CONFIG.key(),
        ROOT_METRICS.key(),
    ] {
        resolver.visit(key, "the backend", "the backend")?;
    }
    // Every plugin's routes sit behind its auth services.
    if !plans.is_empty() {
        for key in [AUTH.key(), HTTP_AUTH.key()] {
            resolver.visit(key, "the backend", "the backend")?;
        }
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
