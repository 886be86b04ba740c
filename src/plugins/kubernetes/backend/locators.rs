//! The cluster locators `config` and `catalog`.

use std::sync::Arc;

use async_trait::async_trait;

use crate::plugins::catalog::common::{Entity, EntityFilter, QueryEntitiesRequest};
use crate::plugins::catalog::node::CatalogApi;
use crate::plugins::kubernetes::node::{
    ANNOTATION_AUTH_PROVIDER, ClusterDetails, KubernetesClustersSupplier, KubernetesNodeError,
};
use crate::services::auth::Credentials;
use crate::services::logger::{LoggerService, LoggerServiceExt};

/// The annotation of a cluster Resource entity holding the API server's URL.
pub const ANNOTATION_API_SERVER: &str = "kubernetes.io/api-server";
/// The annotation of a cluster Resource entity holding its CA certificate.
pub const ANNOTATION_API_SERVER_CA: &str = "kubernetes.io/api-server-certificate-authority";
/// The annotation of a cluster Resource entity turning TLS verification off (`"true"`).
pub const ANNOTATION_SKIP_TLS_VERIFY: &str = "kubernetes.io/skip-tls-verify";
/// The annotation of a cluster Resource entity turning the metrics lookup off (`"true"`).
pub const ANNOTATION_SKIP_METRICS_LOOKUP: &str = "kubernetes.io/skip-metrics-lookup";
/// The annotation of a cluster Resource entity linking its dashboard.
pub const ANNOTATION_DASHBOARD_URL: &str = "kubernetes.io/dashboard-url";
/// The annotation of a cluster Resource entity naming its dashboard flavour.
pub const ANNOTATION_DASHBOARD_APP: &str = "kubernetes.io/dashboard-app";
/// The annotation of a cluster Resource entity holding dashboard parameters (JSON).
pub const ANNOTATION_DASHBOARD_PARAMETERS: &str = "kubernetes.io/dashboard-parameters";

/// The clusters of `type: config` locators.
#[derive(Debug, Clone)]
pub(crate) struct ConfigClusters(pub(crate) Vec<ClusterDetails>);

#[async_trait]
impl KubernetesClustersSupplier for ConfigClusters {
    async fn get_clusters(
        &self,
        _: &Credentials,
    ) -> Result<Vec<ClusterDetails>, KubernetesNodeError> {
        Ok(self.0.clone())
    }
}

/// The clusters of `type: catalog`: Resource entities of `spec.type: kubernetes-cluster`,
/// read with the plugin's own credentials.
#[derive(Debug, Clone)]
pub(crate) struct CatalogClusters {
    pub(crate) catalog: Arc<dyn CatalogApi>,
    pub(crate) credentials: Credentials,
}

/// The cluster a Resource entity describes; `None` when it lacks the API server or auth
/// provider annotation.
pub(crate) fn cluster_of_entity(entity: &Entity) -> Option<ClusterDetails> {
    let annotations = &entity.metadata.annotations;
    let get = |k: &str| {
        annotations
            .get(k)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let url = get(ANNOTATION_API_SERVER)?;
    get(ANNOTATION_AUTH_PROVIDER)?;
    let mut cluster = ClusterDetails::new(entity.metadata.name.clone(), url.trim_end_matches('/'));
    cluster.auth_metadata = annotations
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    cluster.title = entity.metadata.title.clone();
    cluster.ca_data = get(ANNOTATION_API_SERVER_CA).map(str::to_owned);
    cluster.skip_tls_verify = get(ANNOTATION_SKIP_TLS_VERIFY) == Some("true");
    cluster.skip_metrics_lookup = get(ANNOTATION_SKIP_METRICS_LOOKUP) == Some("true");
    cluster.dashboard_url = get(ANNOTATION_DASHBOARD_URL).map(str::to_owned);
    cluster.dashboard_app = get(ANNOTATION_DASHBOARD_APP).map(str::to_owned);
    cluster.dashboard_parameters =
        get(ANNOTATION_DASHBOARD_PARAMETERS).and_then(|p| serde_json::from_str(p).ok());
    Some(cluster)
}

#[async_trait]
impl KubernetesClustersSupplier for CatalogClusters {
    async fn get_clusters(
        &self,
        _: &Credentials,
    ) -> Result<Vec<ClusterDetails>, KubernetesNodeError> {
        let request = QueryEntitiesRequest {
            filter: vec![
                EntityFilter::new()
                    .with("kind", "Resource")
                    .with("spec.type", "kubernetes-cluster"),
            ],
            ..QueryEntitiesRequest::default()
        };
        let entities = self
            .catalog
            .query_all_entities(&request, &self.credentials)
            .await
            .map_err(|e| KubernetesNodeError::Locator(e.to_string()))?;
        Ok(entities.iter().filter_map(cluster_of_entity).collect())
    }
}

/// Several suppliers in order; the first cluster of a name wins. A failing supplier is logged
/// and skipped while another one answers.
#[derive(Debug)]
pub(crate) struct Combined {
    pub(crate) suppliers: Vec<Arc<dyn KubernetesClustersSupplier>>,
    pub(crate) logger: Arc<dyn LoggerService>,
}

#[async_trait]
impl KubernetesClustersSupplier for Combined {
    async fn get_clusters(
        &self,
        credentials: &Credentials,
    ) -> Result<Vec<ClusterDetails>, KubernetesNodeError> {
        let mut out: Vec<ClusterDetails> = Vec::new();
        let mut last_error = None;
        let mut answered = self.suppliers.is_empty();
        for supplier in &self.suppliers {
            match supplier.get_clusters(credentials).await {
                Ok(clusters) => {
                    answered = true;
                    for c in clusters {
                        if !out.iter().any(|o| o.name == c.name) {
                            out.push(c);
                        }
                    }
                }
                Err(e) => {
                    self.logger
                        .warn(&format!("kubernetes: a cluster locator failed: {e}"));
                    last_error = Some(e);
                }
            }
        }
        match last_error {
            Some(e) if !answered => Err(e),
            _ => Ok(out),
        }
    }
}
