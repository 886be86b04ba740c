//! The Kubernetes backend plugin, mounted at `/api/kubernetes` (Backstage
//! `@backstage/plugin-kubernetes-backend`).
//!
//! | route | answer |
//! |---|---|
//! | `GET /clusters` | `{"items": [{name, title?, dashboardUrl?, authProvider, oidcTokenProvider?}]}` (permission `kubernetes.clusters.read`) |
//! | `POST /services/{entityName}` | body `{entity, auth?}`: the entity's [`ObjectsByEntityResponse`] (permission `kubernetes.resources.read`) |
//! | `POST /resources/workloads/query` | body `{entityRef, auth}`: the same, the entity read from the catalog as the caller |
//! | `POST /resources/custom/query` | body `{entityRef, auth, customResources}`: only those custom resources |
//! | `ANY /proxy/{*path}` | the request streamed to the cluster named in `Backstage-Kubernetes-Cluster`; `Backstage-Kubernetes-Authorization` becomes `Authorization` upstream (permission `kubernetes.proxy`) |
//!
//! Clusters come from `kubernetes.clusterLocatorMethods` (`config`, `catalog`) unless a module
//! sets a supplier through [`KUBERNETES_CLUSTER_SUPPLIER`]; auth strategies are the built-in
//! `serviceAccount`, `oidc` and `x509ClientCert` plus those modules add through
//! [`KUBERNETES_AUTH_STRATEGIES`]. See `docs/kubernetes.md`.
//!
//! [`ObjectsByEntityResponse`]: crate::plugins::kubernetes::common::ObjectsByEntityResponse

mod auth;
mod client;
mod config;
mod fetch;
mod locators;
mod metrics;
mod objects;
mod router;

pub use auth::{OidcStrategy, ServiceAccountStrategy, X509ClientCertStrategy};
pub use config::{
    ClusterLocatorMethod, DEFAULT_CLUSTER_TIMEOUT, DEFAULT_MAX_CLUSTERS,
    DEFAULT_MAX_CONCURRENT_FETCHES, DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_RESPONSE_BYTES,
    KubernetesConfig, ServiceLocator,
};
pub use locators::{
    ANNOTATION_API_SERVER, ANNOTATION_API_SERVER_CA, ANNOTATION_DASHBOARD_APP,
    ANNOTATION_DASHBOARD_PARAMETERS, ANNOTATION_DASHBOARD_URL, ANNOTATION_SKIP_METRICS_LOOKUP,
    ANNOTATION_SKIP_TLS_VERIFY,
};
pub use metrics::parse_quantity;
pub use objects::ObjectType;

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::backend::{BackendPlugin, PluginRegistrar, Registration};
use crate::plugins::catalog::node::CATALOG;
use crate::plugins::kubernetes::common::permissions as k8s_permissions;
use crate::plugins::kubernetes::node::{
    KUBERNETES_AUTH_STRATEGIES, KUBERNETES_CLUSTER_SUPPLIER, KubernetesAuthStrategiesExtension,
    KubernetesClusterSupplierExtension, KubernetesClustersSupplier, KubernetesCredential,
};
use crate::services::auth::AUTH;
use crate::services::config::ConfigError;
use crate::services::core_services::{HTTP_ROUTER, LOGGER, ROOT_CONFIG};
use crate::services::http_client::HttpClientTimeouts;
use crate::services::permissions::{PERMISSIONS, PERMISSIONS_REGISTRY};

/// An error starting the Kubernetes backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KubernetesError {
    /// A `kubernetes.*` or `backend.httpClient.*` value is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A configured cluster cannot be used.
    #[error("invalid config at '{key}': {reason}")]
    Cluster {
        /// The config key of the cluster's value at fault.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

/// The Kubernetes backend plugin (id `kubernetes`).
///
/// ```
/// use backlot::backend::Backend;
/// use backlot::plugins::kubernetes;
///
/// let backend = Backend::builder().add(kubernetes::backend::plugin()).build()?;
/// assert_eq!(backend.plugin_ids(), ["kubernetes"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct KubernetesPlugin;

impl KubernetesPlugin {
    /// The plugin; modules customise it through [`KUBERNETES_CLUSTER_SUPPLIER`] and
    /// [`KUBERNETES_AUTH_STRATEGIES`].
    pub fn new() -> Self {
        Self
    }
}

/// The Kubernetes backend plugin, to add with
/// [`BackendBuilder::add`](crate::backend::BackendBuilder::add); the same as
/// [`KubernetesPlugin::new`].
pub fn plugin() -> KubernetesPlugin {
    KubernetesPlugin::new()
}

impl BackendPlugin for KubernetesPlugin {
    fn id(&self) -> &str {
        "kubernetes"
    }

    fn register(&self, reg: PluginRegistrar) -> Registration {
        let supplier_ext = Arc::new(KubernetesClusterSupplierExtension::default());
        let strategies_ext = Arc::new(KubernetesAuthStrategiesExtension::default());
        reg.extension_point(&KUBERNETES_CLUSTER_SUPPLIER, Arc::clone(&supplier_ext))
            .extension_point(&KUBERNETES_AUTH_STRATEGIES, Arc::clone(&strategies_ext))
            .init(
                (
                    &ROOT_CONFIG,
                    &LOGGER,
                    &HTTP_ROUTER,
                    &CATALOG,
                    &AUTH,
                    &PERMISSIONS,
                    &PERMISSIONS_REGISTRY,
                ),
                move |(config, logger, http, catalog, auth, permissions, registry)| async move {
                    let settings = KubernetesConfig::from_config(&config)?;
                    let timeouts = HttpClientTimeouts::from_config(&config)?;
                    registry.add_permissions(&k8s_permissions::all());
                    let mut strategies = auth::builtin_strategies();
                    strategies.extend(strategies_ext.auth_strategies());
                    let clients = client::ClusterClients::new(timeouts);
                    let mut names = BTreeSet::new();
                    let mut suppliers: Vec<Arc<dyn KubernetesClustersSupplier>> = Vec::new();
                    for method in &settings.cluster_locators {
                        match method {
                            ClusterLocatorMethod::Config(clusters) => {
                                for (key, cluster) in clusters {
                                    check_cluster(key, cluster, &strategies, &clients, &mut names)?;
                                }
                                suppliers.push(Arc::new(locators::ConfigClusters(
                                    clusters.iter().map(|(_, c)| c.clone()).collect(),
                                )));
                            }
                            ClusterLocatorMethod::Catalog => {
                                suppliers.push(Arc::new(locators::CatalogClusters {
                                    catalog: Arc::clone(&catalog),
                                    credentials: auth.own_service_credentials(),
                                }));
                            }
                        }
                    }
                    let supplier: Arc<dyn KubernetesClustersSupplier> =
                        match supplier_ext.cluster_supplier() {
                            Some(s) => s,
                            None => Arc::new(locators::Combined {
                                suppliers,
                                logger: Arc::clone(&logger),
                            }),
                        };
                    let fetcher = fetch::Fetcher {
                        clients,
                        permits: Arc::new(Semaphore::new(settings.max_concurrent_fetches)),
                        cluster_timeout: settings.cluster_timeout,
                        max_response_bytes: settings.max_response_bytes,
                    };
                    let state = Arc::new(router::AppState {
                        config: settings,
                        supplier,
                        strategies,
                        fetcher,
                        catalog,
                        permissions,
                        logger,
                    });
                    http.use_router(router::router(state));
                    Ok(())
                },
            )
    }
}

/// Checks a configured cluster at start: a unique name usable as a header value, a known
/// auth strategy that accepts its metadata, and usable TLS settings.
fn check_cluster(
    key: &str,
    cluster: &crate::plugins::kubernetes::node::ClusterDetails,
    strategies: &std::collections::BTreeMap<
        String,
        Arc<dyn crate::plugins::kubernetes::node::AuthenticationStrategy>,
    >,
    clients: &client::ClusterClients,
    names: &mut BTreeSet<String>,
) -> Result<(), KubernetesError> {
    let err = |field: &str, reason: String| KubernetesError::Cluster {
        key: format!("{key}.{field}"),
        reason,
    };
    if axum::http::HeaderValue::from_str(&cluster.name).is_err() {
        return Err(err("name", "must be printable ASCII".to_owned()));
    }
    if !names.insert(cluster.name.clone()) {
        return Err(err(
            "name",
            format!("duplicate cluster name '{}'", cluster.name),
        ));
    }
    let provider = cluster.auth_provider();
    let Some(strategy) = strategies.get(provider) else {
        return Err(err(
            "authProvider",
            format!(
                "unknown auth provider '{provider}' (known: {})",
                strategies.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        ));
    };
    let problems = strategy.validate_cluster(&cluster.auth_metadata);
    if !problems.is_empty() {
        return Err(err("authProvider", problems.join("; ")));
    }
    clients
        .client(cluster, &KubernetesCredential::Anonymous)
        .map_err(|e| {
            err(
                if cluster.ca_file.is_some() {
                    "caFile"
                } else {
                    "caData"
                },
                e.to_string(),
            )
        })?;
    Ok(())
}

/// Compiles the examples of the guide `docs/kubernetes.md` as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../../../../docs/kubernetes.md")]
pub struct KubernetesGuide;
