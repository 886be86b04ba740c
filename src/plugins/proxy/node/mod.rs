//! What other plugins' modules use from the proxy: the [`PROXY_ENDPOINTS`] extension point
//! (Backstage's `@backstage/plugin-proxy-node`).

use std::fmt;

use parking_lot::Mutex;
use serde_json::{Map, Value};

use crate::backend::ExtensionPoint;

/// Where modules add proxy endpoints (Backstage's `proxyEndpointsExtensionPoint`, id
/// `proxy.endpoints`). An endpoint takes the same value as one under `proxy.endpoints` in the
/// config (a target URL, or an object with `target`, `headers`, `credentials`, ...); an
/// endpoint of the config with the same route wins.
///
/// ```
/// use backlot::backend::Feature;
/// use backlot::plugins::proxy::node::PROXY_ENDPOINTS;
/// use serde_json::json;
///
/// let module = Feature::module_fn("proxy", "acme-endpoints", |reg| {
///     reg.init(&PROXY_ENDPOINTS, |endpoints| async move {
///         endpoints.get()?.add_proxy_endpoint(
///             "/acme",
///             json!({ "target": "http://acme.internal:8080/api", "allowedMethods": ["GET"] }),
///         );
///         Ok(())
///     })
/// });
/// # let _ = module;
/// ```
pub static PROXY_ENDPOINTS: ExtensionPoint<ProxyEndpoints> = ExtensionPoint::new("proxy.endpoints");

/// The endpoints modules added through [`PROXY_ENDPOINTS`], by route.
///
/// ```
/// use backlot::plugins::proxy::node::ProxyEndpoints;
/// use serde_json::json;
///
/// let endpoints = ProxyEndpoints::default();
/// endpoints.add_proxy_endpoint("/a", json!("http://a.internal"));
/// endpoints.add_proxy_endpoints(
///     json!({ "/b": { "target": "http://b.internal" } }).as_object().cloned().unwrap_or_default(),
/// );
/// assert_eq!(endpoints.endpoints().len(), 2);
/// ```
#[derive(Default)]
pub struct ProxyEndpoints {
    endpoints: Mutex<Map<String, Value>>,
}

impl fmt::Debug for ProxyEndpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyEndpoints")
            .field("routes", &self.endpoints.lock().keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ProxyEndpoints {
    /// Adds endpoints, route → config value; a later value for a route replaces an earlier.
    pub fn add_proxy_endpoints(&self, endpoints: Map<String, Value>) {
        self.endpoints.lock().extend(endpoints);
    }

    /// Adds one endpoint.
    pub fn add_proxy_endpoint(&self, route: impl Into<String>, endpoint: Value) {
        self.endpoints.lock().insert(route.into(), endpoint);
    }

    /// The endpoints added so far.
    pub fn endpoints(&self) -> Map<String, Value> {
        self.endpoints.lock().clone()
    }
}
