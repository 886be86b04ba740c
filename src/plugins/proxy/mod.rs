//! The proxy plugin: Backstage's `/api/proxy`, forwarding requests from the portal to other
//! services (a CI SaaS, an internal API) with the secrets kept on the server.
//!
//! - [`node`]: the [`PROXY_ENDPOINTS`](node::PROXY_ENDPOINTS) extension point, where modules
//!   add endpoints (`proxy.endpoints`, Backstage's `proxyEndpointsExtensionPoint`).
//! - [`backend`]: the backend plugin [`ProxyPlugin`](backend::ProxyPlugin), mounted at
//!   `/api/proxy`, configured by `proxy.endpoints` as in Backstage.
//!
//! The guide is `docs/proxy.md`.

pub mod backend;
pub mod node;
