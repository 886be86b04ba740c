//! Fetches an entity's objects from its clusters: every cluster and every type at once, under
//! a per-cluster deadline, a response-size cap and a cap on requests in flight. A failure
//! becomes an entry of that cluster's `errors`; it never fails the response.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::client::ClusterClients;
use super::metrics::{PodMetricsList, PodSummary, pod_statuses};
use super::objects::{ListTarget, list_path};
use crate::plugins::kubernetes::common::{
    ClusterAttributes, ClusterObjects, FetchResponse, KubernetesErrorType, KubernetesFetchError,
    KubernetesObject,
};
use crate::plugins::kubernetes::node::{ClusterDetails, KubernetesCredential};
use crate::services::http_client::{CappedBodyError, read_body_capped};

/// What to fetch for one entity.
#[derive(Debug, Clone)]
pub(crate) struct FetchPlan {
    /// Built-in types and custom resources, in response order.
    pub(crate) targets: Vec<ListTarget>,
    /// The label selector, sent as `labelSelector`.
    pub(crate) label_selector: String,
    /// Only this namespace when set.
    pub(crate) namespace: Option<String>,
}

/// The fetching machinery shared by all requests.
#[derive(Debug)]
pub(crate) struct Fetcher {
    pub(crate) clients: ClusterClients,
    pub(crate) permits: Arc<Semaphore>,
    pub(crate) cluster_timeout: Duration,
    pub(crate) max_response_bytes: u64,
}

#[derive(Debug, Deserialize)]
struct List<T> {
    #[serde(default = "Vec::new")]
    items: Vec<T>,
}

fn fetch_error(path: &str, message: String) -> KubernetesFetchError {
    KubernetesFetchError {
        error_type: KubernetesErrorType::FetchError,
        status_code: None,
        resource_path: Some(path.to_owned()),
        message: Some(message),
    }
}

/// The message of a Kubernetes `Status` body, or the body's start.
fn status_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<Value>(body)
        && let Some(m) = v.get("message").and_then(Value::as_str)
    {
        return m.to_owned();
    }
    String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned()
}

/// Whether the cluster's `metrics.k8s.io` is absent (404, or not served).
fn is_absent(e: &KubernetesFetchError) -> bool {
    e.status_code == Some(404)
}

impl Fetcher {
    /// Everything one cluster has for `plan`, with `credential` (or the error getting it).
    pub(crate) async fn fetch_cluster(
        &self,
        cluster: &ClusterDetails,
        credential: Result<KubernetesCredential, String>,
        plan: &FetchPlan,
    ) -> ClusterObjects {
        let mut objects = ClusterObjects {
            cluster: ClusterAttributes {
                name: cluster.name.clone(),
                title: cluster.title.clone(),
                dashboard_url: cluster.dashboard_url.clone(),
                dashboard_app: cluster.dashboard_app.clone(),
                dashboard_parameters: cluster.dashboard_parameters.clone(),
            },
            ..ClusterObjects::default()
        };
        let credential = match credential {
            Ok(c) => c,
            Err(message) => {
                objects.errors.push(KubernetesFetchError {
                    error_type: KubernetesErrorType::Unauthorized,
                    status_code: None,
                    resource_path: None,
                    message: Some(message),
                });
                return objects;
            }
        };
        let client = match self.clients.client(cluster, &credential) {
            Ok(c) => c,
            Err(e) => {
                objects.errors.push(fetch_error("", e.to_string()));
                return objects;
            }
        };
        let deadline = Instant::now() + self.cluster_timeout;
        let ns = plan.namespace.as_deref();
        let lists = futures::future::join_all(plan.targets.iter().map(|target| {
            let path = target.path(ns);
            let client = &client;
            let credential = &credential;
            async move {
                let res = self
                    .get_json::<List<KubernetesObject>>(
                        client,
                        cluster,
                        credential,
                        &path,
                        &plan.label_selector,
                        deadline,
                    )
                    .await;
                (target, res)
            }
        }))
        .await;
        for (target, res) in lists {
            match res {
                Ok(list) => objects.resources.push(FetchResponse {
                    kind: target.kind.clone(),
                    resources: list.items,
                }),
                Err(e) => objects.errors.push(e),
            }
        }
        if !cluster.skip_metrics_lookup {
            self.add_metrics(&mut objects, &client, cluster, &credential, plan, deadline)
                .await;
        }
        objects
    }

    /// Pod metrics for the namespaces of the entity's pods and its label selector only (never
    /// the whole cluster's metrics).
    async fn add_metrics(
        &self,
        objects: &mut ClusterObjects,
        client: &reqwest::Client,
        cluster: &ClusterDetails,
        credential: &KubernetesCredential,
        plan: &FetchPlan,
        deadline: Instant,
    ) {
        let pods: Vec<(&KubernetesObject, PodSummary)> = objects
            .resources
            .iter()
            .filter(|r| r.kind == "pods")
            .flat_map(|r| r.resources.iter())
            .filter_map(|p| PodSummary::of(p).map(|s| (p, s)))
            .collect();
        if pods.is_empty() {
            return;
        }
        let namespaces: BTreeSet<&str> = pods
            .iter()
            .filter_map(|(_, s)| s.metadata.namespace.as_deref())
            .filter(|ns| super::objects::is_path_segment(ns))
            .collect();
        let results = futures::future::join_all(namespaces.iter().map(|ns| {
            let path = list_path("metrics.k8s.io", "v1beta1", "pods", Some(ns));
            async move {
                self.get_json::<PodMetricsList>(
                    client,
                    cluster,
                    credential,
                    &path,
                    &plan.label_selector,
                    deadline,
                )
                .await
            }
        }))
        .await;
        let mut metrics = Vec::new();
        for r in results {
            match r {
                Ok(list) => metrics.extend(list.items),
                Err(e) if is_absent(&e) => {}
                Err(e) => objects.errors.push(e),
            }
        }
        let statuses = pod_statuses(&pods, &metrics);
        objects.pod_metrics = statuses;
    }

    /// `GET <cluster><path>?labelSelector=...`, decoded, within the deadline and size cap.
    async fn get_json<T: DeserializeOwned>(
        &self,
        client: &reqwest::Client,
        cluster: &ClusterDetails,
        credential: &KubernetesCredential,
        path: &str,
        label_selector: &str,
        deadline: Instant,
    ) -> Result<T, KubernetesFetchError> {
        let work = async {
            let _permit = self
                .permits
                .acquire()
                .await
                .map_err(|e| fetch_error(path, e.to_string()))?;
            let mut request = client
                .get(format!("{}{}", cluster.url, path))
                .header(reqwest::header::ACCEPT, "application/json");
            if !label_selector.is_empty() {
                request = request.query(&[("labelSelector", label_selector)]);
            }
            if let KubernetesCredential::BearerToken(token) = credential {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.map_err(|e| {
                fetch_error(
                    path,
                    format!(
                        "request to cluster '{}' failed: {}",
                        cluster.name,
                        chain(&e)
                    ),
                )
            })?;
            let status = response.status();
            let body = self.read_capped(response, path).await?;
            if !status.is_success() {
                return Err(KubernetesFetchError {
                    error_type: KubernetesErrorType::from_status(status.as_u16()),
                    status_code: Some(status.as_u16()),
                    resource_path: Some(path.to_owned()),
                    message: Some(status_message(&body)),
                });
            }
            serde_json::from_slice::<T>(&body).map_err(|e| {
                fetch_error(
                    path,
                    format!("invalid JSON from cluster '{}': {e}", cluster.name),
                )
            })
        };
        match tokio::time::timeout_at(deadline, work).await {
            Ok(r) => r,
            Err(_) => Err(fetch_error(
                path,
                format!(
                    "cluster '{}' did not answer within {:?} (kubernetes.limits.clusterTimeout)",
                    cluster.name, self.cluster_timeout
                ),
            )),
        }
    }

    async fn read_capped(
        &self,
        response: reqwest::Response,
        path: &str,
    ) -> Result<Vec<u8>, KubernetesFetchError> {
        let cap = self.max_response_bytes;
        read_body_capped(response, cap).await.map_err(|e| match e {
            CappedBodyError::TooLarge { .. } => too_large(path, cap),
            CappedBodyError::Transport(e) => {
                fetch_error(path, format!("reading the answer failed: {}", chain(&e)))
            }
        })
    }
}

fn too_large(path: &str, cap: u64) -> KubernetesFetchError {
    fetch_error(
        path,
        format!("the answer is larger than {cap} bytes (kubernetes.limits.maxResponseBytes)"),
    )
}

fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
