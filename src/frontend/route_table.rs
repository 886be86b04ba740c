//! The route table of an app: page paths checked for axum, route refs resolved along the
//! extension tree, and external route bindings from code and `app.routes.bindings`.

use serde_json::Value;

use super::core_data::ROUTE_REF;
use super::error::AppError;
use super::plugin::FrontendPlugin;
use super::routing::{AnyExternalRoute, AnyRouteRef, Routes, pattern_params};
use super::tree::AppTree;
use crate::services::config::Config;

/// The path param that carries the rest of a path below a page.
pub(crate) const REST_PARAM: &str = "bl_rest";

/// `/a/:b` → `/a/{b}`, refusing what axum would misread.
pub(crate) fn axum_pattern(path: &str) -> Result<String, String> {
    if !path.starts_with('/') {
        return Err("a page path starts with '/'".to_string());
    }
    if path.contains(['{', '}', '*', '?', '#']) {
        return Err(
            "use ':name' for params; '{', '}', '*', '?' and '#' are not allowed".to_string(),
        );
    }
    let trimmed = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    let mut out = String::new();
    for segment in trimmed.split('/').skip(1) {
        out.push('/');
        match segment.strip_prefix(':') {
            Some(name) if !name.is_empty() && name != REST_PARAM => {
                out.push('{');
                out.push_str(name);
                out.push('}');
            }
            Some(_) => return Err(format!("bad param segment '{segment}'")),
            None => out.push_str(segment),
        }
    }
    Ok(if out.is_empty() { "/".to_string() } else { out })
}

pub(crate) fn join_route_chain(chain: &[String]) -> String {
    let mut out = String::new();
    for part in chain {
        let p = part.trim_matches('/');
        if !p.is_empty() {
            out.push('/');
            out.push_str(p);
        }
    }
    if out.is_empty() { "/".to_string() } else { out }
}

pub(crate) fn build_routes(
    tree: &AppTree,
    plugins: &[FrontendPlugin],
    code_bindings: &[(AnyExternalRoute, AnyRouteRef)],
    config: &Config,
) -> Result<Routes, AppError> {
    let mut routes = Routes::default();
    for id in tree.node_ids() {
        let Some(node) = tree.node(id) else { continue };
        let Some(route) = node.outputs().and_then(|o| o.get(&ROUTE_REF)) else {
            continue;
        };
        let path = join_route_chain(&tree.route_path_chain(id));
        let present = pattern_params(&path);
        if let Some(missing) = route.param_names().iter().find(|n| !present.contains(n)) {
            return Err(AppError::InvalidPagePath {
                extension: node.id().to_string(),
                path,
                reason: format!("route ref '{}' needs param ':{missing}'", route.id()),
            });
        }
        routes.paths.entry(route.id()).or_insert(path);
    }

    let plugin_route = |key: &str| -> Option<AnyRouteRef> {
        let (plugin, name) = key.split_once('.')?;
        plugins
            .iter()
            .find(|p| p.id() == plugin)?
            .routes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| *r)
    };
    let mut externals: Vec<(String, String, AnyExternalRoute)> = Vec::new();
    for plugin in plugins {
        for (name, ext) in &plugin.external_routes {
            externals.push((plugin.id().to_string(), name.clone(), *ext));
        }
    }

    // Default targets first, then bindings in code, then config.
    for (_, _, ext) in &externals {
        if let Some(target) = ext.default_target.and_then(&plugin_route) {
            if target.params() == ext.params {
                routes.bindings.insert(ext.id, target);
            }
        }
    }
    for (ext, target) in code_bindings {
        if !externals.iter().any(|(_, _, e)| e.id == ext.id) {
            return Err(AppError::InvalidRouteBinding {
                binding: ext.id.to_string(),
                reason: "the external route belongs to no installed plugin".to_string(),
            });
        }
        routes.bindings.insert(ext.id, *target);
    }
    if let Some(value) = config.get("app.routes.bindings") {
        let Value::Object(map) = value else {
            return Err(AppError::InvalidRouteBinding {
                binding: "app.routes.bindings".to_string(),
                reason: "expected a map of '<plugin>.<externalRoute>: <plugin>.<route>'"
                    .to_string(),
            });
        };
        for (key, target) in map {
            let bad = |reason: &str| AppError::InvalidRouteBinding {
                binding: key.clone(),
                reason: reason.to_string(),
            };
            let (plugin, name) = key
                .split_once('.')
                .ok_or_else(|| bad("expected '<plugin>.<externalRoute>'"))?;
            let ext = externals
                .iter()
                .find(|(p, n, _)| p == plugin && n == name)
                .map(|(_, _, e)| *e)
                .ok_or_else(|| bad("no installed plugin has this external route"))?;
            match target {
                Value::Bool(false) => {
                    routes.bindings.remove(ext.id);
                }
                Value::String(t) => {
                    let route = plugin_route(t).ok_or_else(|| {
                        bad(&format!(
                            "target '{t}' is not a route of an installed plugin"
                        ))
                    })?;
                    if route.params() != ext.params {
                        return Err(bad(&format!("target '{t}' takes different params")));
                    }
                    routes.bindings.insert(ext.id, route);
                }
                _ => return Err(bad("the target must be '<plugin>.<route>' or false")),
            }
        }
    }
    for (plugin, name, ext) in &externals {
        if !ext.optional && !routes.bindings.contains_key(ext.id) {
            return Err(AppError::UnboundExternalRoute {
                plugin: plugin.clone(),
                route: name.clone(),
            });
        }
    }
    Ok(routes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_paths_for_axum() {
        assert_eq!(axum_pattern("/").unwrap(), "/");
        assert_eq!(axum_pattern("/catalog/").unwrap(), "/catalog");
        assert_eq!(
            axum_pattern("/catalog/:namespace/:kind/:name").unwrap(),
            "/catalog/{namespace}/{kind}/{name}"
        );
        for bad in ["catalog", "/a/{b}", "/a/*", "/a/:", "/a?b"] {
            assert!(axum_pattern(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn joins_route_chains() {
        assert_eq!(
            join_route_chain(&["/".into(), "/catalog".into(), "docs/".into()]),
            "/catalog/docs"
        );
        assert_eq!(join_route_chain(&[]), "/");
    }
}
