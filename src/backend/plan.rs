//! Planning the plugins: ids checked, each plugin's modules and extension points gathered and
//! checked, modules ordered so that an extension point's provider runs before its users.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::deps::DepKind;
use super::error::WiringError;
use super::plugin::{BackendModule, BackendPlugin, PluginRegistrar, Registration};
use super::registry::PluginExtensionPoints;

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

pub(crate) fn plan_plugins(
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
                if let Some(type_id) = plan.extension_points.types.get(key.id) {
                    if *type_id != key.type_id {
                        return Err(WiringError::ConflictingExtensionPoint {
                            plugin: plan.id.to_string(),
                            module: module.id.clone(),
                            extension_point: key.id.into(),
                        });
                    }
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
pub(crate) fn order_modules(plan: &mut PluginPlan) -> Result<(), WiringError> {
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
            // Every module left waits on another one left: walk backwards along "must run
            // after" edges until a module repeats; the walk from there is the cycle.
            let mut walk = vec![(0..n).find(|&i| !done[i]).unwrap_or(0)];
            while let Some(prev) = walk
                .last()
                .and_then(|&cur| (0..n).find(|&p| !done[p] && after[p].contains(&cur)))
            {
                if let Some(k) = walk.iter().position(|&w| w == prev) {
                    walk.drain(..k);
                    walk.push(prev);
                    break;
                }
                walk.push(prev);
            }
            walk.reverse();
            let cycle: Vec<String> = walk.iter().map(|&i| plan.modules[i].id.clone()).collect();
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
