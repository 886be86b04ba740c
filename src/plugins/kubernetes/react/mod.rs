//! Building blocks for Kubernetes pages (Backstage's `@backstage/plugin-kubernetes-react`):
//! the [`KubernetesApi`] utility API ([`KUBERNETES_API`], over HTTP by
//! [`HttpKubernetesApi`] against `/api/kubernetes` with the signed-in user's token), its
//! typed errors ([`KubernetesApiError`]) and the source of client-side cluster tokens
//! ([`KubernetesAuthTokens`]).
//!
//! ```no_run
//! use backlot::plugins::kubernetes::common::{KubernetesRequestBody, detect_errors};
//! use backlot::plugins::kubernetes::react::{HttpKubernetesApi, KubernetesApi};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let api = HttpKubernetesApi::new("http://127.0.0.1:7007/api/kubernetes").with_token("a user token");
//! let entity = serde_json::json!({
//!     "kind": "Component",
//!     "metadata": {"name": "shop", "annotations": {"backstage.io/kubernetes-id": "shop"}}
//! });
//! let objects = api.get_objects_by_entity(&KubernetesRequestBody { entity, auth: None }).await?;
//! for (cluster, problems) in detect_errors(&objects) {
//!     println!("{cluster}: {} problems", problems.len());
//! }
//! # Ok(()) }
//! ```

mod api;
mod auth;
mod error;

pub use api::{
    DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_REQUEST_TIMEOUT, HttpKubernetesApi, KUBERNETES_API,
    KubernetesApi,
};
pub use auth::KubernetesAuthTokens;
pub use error::KubernetesApiError;
