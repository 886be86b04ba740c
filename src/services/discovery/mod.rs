//! The discovery service (`core.discovery`): where each plugin's API lives.
//!
//! By default every plugin is served by this backend: internal URLs use the listen address,
//! external ones `backend.baseUrl`. `discovery.endpoints` points plugins at other deployments:
//!
//! ```yaml
//! discovery:
//!   endpoints:
//!     - target: http://search-backend:7007/api/{{pluginId}}
//!       plugins: [search]
//!     - target:
//!         internal: http://catalog.internal/api/{{ pluginId }}
//!         external: https://portal.example.com/api/{{ pluginId }}
//!       plugins: [catalog]
//! ```

use std::fmt;

use crate::services::config::{Config, ConfigError};

/// Finds the base URL of a plugin's API.
///
/// ```
/// use backlot::services::config::Config;
/// use backlot::services::discovery::{DiscoveryService, HostDiscovery};
///
/// let config = Config::from_value(serde_json::json!({
///     "backend": { "baseUrl": "https://portal.example.com" },
///     "discovery": { "endpoints": [
///         { "target": "http://search:7007/api/{{pluginId}}", "plugins": ["search"] }
///     ] }
/// }));
/// let discovery = HostDiscovery::from_config(&config, "http://localhost:7007")?;
/// assert_eq!(discovery.base_url("catalog"), "http://localhost:7007/api/catalog");
/// assert_eq!(discovery.external_base_url("catalog"), "https://portal.example.com/api/catalog");
/// assert_eq!(discovery.base_url("search"), "http://search:7007/api/search");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait DiscoveryService: Send + Sync + fmt::Debug + 'static {
    /// The URL other backends use to call `plugin_id`.
    fn base_url(&self, plugin_id: &str) -> String;
    /// The URL browsers use to call `plugin_id`.
    fn external_base_url(&self, plugin_id: &str) -> String;
}

#[derive(Debug, Clone)]
struct Endpoint {
    internal: String,
    external: String,
    plugins: Vec<String>,
}

/// The default discovery: this backend, plus `discovery.endpoints` overrides.
#[derive(Debug, Clone)]
pub struct HostDiscovery {
    internal_base: String,
    external_base: String,
    endpoints: Vec<Endpoint>,
}

impl HostDiscovery {
    /// Reads `backend.baseUrl` and `discovery.endpoints`; `internal_base` is this backend's
    /// own address as other backends reach it (e.g. `http://localhost:7007`).
    pub fn from_config(config: &Config, internal_base: &str) -> Result<Self, ConfigError> {
        let internal_base = internal_base.trim_end_matches('/').to_string();
        let external_base = config
            .opt_string("backend.baseUrl")?
            .map(|s| s.trim_end_matches('/').to_string())
            .unwrap_or_else(|| internal_base.clone());
        let mut endpoints = Vec::new();
        for (i, endpoint) in config
            .opt_config_array("discovery.endpoints")?
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let path = |key: &str| format!("discovery.endpoints[{i}].{key}");
            let (internal, external) = match endpoint.get("target") {
                Some(serde_json::Value::String(s)) => (s.clone(), s.clone()),
                Some(serde_json::Value::Object(_)) => {
                    let internal = endpoint.opt_string("target.internal")?;
                    let external = endpoint.opt_string("target.external")?;
                    match (internal, external) {
                        (Some(i), Some(e)) => (i, e),
                        (Some(i), None) => (i.clone(), i),
                        (None, Some(e)) => (e.clone(), e),
                        (None, None) => {
                            return Err(ConfigError::Missing {
                                path: path("target.internal"),
                            });
                        }
                    }
                }
                Some(_) => {
                    return Err(ConfigError::WrongType {
                        path: path("target"),
                        expected: "a string or an object with internal and external",
                    });
                }
                None => {
                    return Err(ConfigError::Missing {
                        path: path("target"),
                    });
                }
            };
            let plugins = endpoint.opt_string_array("plugins")?.unwrap_or_default();
            endpoints.push(Endpoint {
                internal,
                external,
                plugins,
            });
        }
        Ok(Self {
            internal_base,
            external_base,
            endpoints,
        })
    }

    fn endpoint(&self, plugin_id: &str) -> Option<&Endpoint> {
        self.endpoints
            .iter()
            .find(|e| e.plugins.iter().any(|p| p == plugin_id))
    }
}

fn substitute(template: &str, plugin_id: &str) -> String {
    template
        .replace("{{pluginId}}", plugin_id)
        .replace("{{ pluginId }}", plugin_id)
}

impl DiscoveryService for HostDiscovery {
    fn base_url(&self, plugin_id: &str) -> String {
        match self.endpoint(plugin_id) {
            Some(e) => substitute(&e.internal, plugin_id),
            None => format!("{}/api/{plugin_id}", self.internal_base),
        }
    }

    fn external_base_url(&self, plugin_id: &str) -> String {
        match self.endpoint(plugin_id) {
            Some(e) => substitute(&e.external, plugin_id),
            None => format!("{}/api/{plugin_id}", self.external_base),
        }
    }
}
