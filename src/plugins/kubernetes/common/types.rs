//! The JSON of `/api/kubernetes`, field for field as Backstage's
//! `@backstage/plugin-kubernetes-common` types spell it. Kubernetes objects stay the cluster's
//! JSON text unchanged ([`KubernetesObject`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::object::KubernetesObject;

/// The annotation naming an entity's workloads: objects labelled
/// `backstage.io/kubernetes-id=<value>` belong to it.
pub const KUBERNETES_ID_ANNOTATION: &str = "backstage.io/kubernetes-id";
/// The annotation holding a label selector used verbatim (it wins over the id).
pub const KUBERNETES_LABEL_SELECTOR_ANNOTATION: &str = "backstage.io/kubernetes-label-selector";
/// The annotation limiting lookups to one namespace.
pub const KUBERNETES_NAMESPACE_ANNOTATION: &str = "backstage.io/kubernetes-namespace";
/// The header of a `/proxy` request naming the cluster it goes to.
pub const CLUSTER_HEADER: &str = "Backstage-Kubernetes-Cluster";
/// The header of a `/proxy` request carrying the cluster's own credentials
/// (`Bearer <token>`), sent upstream as `Authorization`.
pub const CLUSTER_AUTHORIZATION_HEADER: &str = "Backstage-Kubernetes-Authorization";

/// The answer of `GET /clusters`.
///
/// ```
/// use backlot::plugins::kubernetes::common::ClustersResponse;
///
/// let body: ClustersResponse = serde_json::from_str(
///     r#"{"items":[{"name":"prod","authProvider":"serviceAccount"}]}"#,
/// )?;
/// assert_eq!(body.items[0].name, "prod");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClustersResponse {
    /// One entry per cluster the locators found.
    pub items: Vec<ClusterSummary>,
}

/// A cluster as `GET /clusters` lists it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSummary {
    /// The cluster's unique name (the value of the `Backstage-Kubernetes-Cluster` header).
    pub name: String,
    /// Its display title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// A link to the cluster's dashboard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dashboard_url: Option<String>,
    /// The auth strategy (`serviceAccount`, `oidc`, …).
    pub auth_provider: String,
    /// For `oidc`: which sign-in provider's token the browser side passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc_token_provider: Option<String>,
}

/// Tokens the browser side passes for clusters with client-side auth (`oidc`, `google`):
/// `{"oidc": {"okta": "<token>"}, "google": "<token>"}`.
pub type KubernetesRequestAuth = BTreeMap<String, Value>;

/// The body of `POST /services/{entityName}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KubernetesRequestBody {
    /// The whole catalog entity.
    pub entity: Value,
    /// Client-side tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<KubernetesRequestAuth>,
}

/// The body of `POST /resources/workloads/query`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadsByEntityRequest {
    /// The entity, as `kind:namespace/name`.
    pub entity_ref: String,
    /// Client-side tokens.
    #[serde(default)]
    pub auth: KubernetesRequestAuth,
}

/// The body of `POST /resources/custom/query`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomResourcesByEntityRequest {
    /// The entity, as `kind:namespace/name`.
    pub entity_ref: String,
    /// Client-side tokens.
    #[serde(default)]
    pub auth: KubernetesRequestAuth,
    /// The custom resources to fetch.
    pub custom_resources: Vec<CustomResourceMatcher>,
}

/// A custom resource kind (`kubernetes.customResources[]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomResourceMatcher {
    /// API group, e.g. `argoproj.io`.
    pub group: String,
    /// Version within the group, e.g. `v1alpha1`.
    pub api_version: String,
    /// Plural resource name, e.g. `rollouts`.
    pub plural: String,
}

/// The answer of the entity routes: one item per cluster.
///
/// ```
/// use backlot::plugins::kubernetes::common::ObjectsByEntityResponse;
///
/// let body: ObjectsByEntityResponse = serde_json::from_str(r#"{"items":[{
///     "cluster": {"name": "prod"},
///     "resources": [{"type": "pods", "resources": [{"metadata": {"name": "web-1"}}]}],
///     "podMetrics": [],
///     "errors": [{"errorType": "UNAUTHORIZED_ERROR", "statusCode": 401,
///                 "resourcePath": "/apis/apps/v1/deployments"}]
/// }]}"#)?;
/// assert_eq!(body.items[0].resources[0].kind, "pods");
/// let pod = body.items[0].resources[0].resources[0].to_value()?;
/// assert_eq!(pod["metadata"]["name"], "web-1");
/// assert_eq!(body.items[0].errors[0].status_code, Some(401));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObjectsByEntityResponse {
    /// One entry per cluster.
    pub items: Vec<ClusterObjects>,
}

/// What one cluster answered for an entity.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterObjects {
    /// The cluster.
    pub cluster: ClusterAttributes,
    /// The objects, grouped by type.
    pub resources: Vec<FetchResponse>,
    /// Usage of the entity's pods, where the cluster serves `metrics.k8s.io`.
    #[serde(default)]
    pub pod_metrics: Vec<ClientPodStatus>,
    /// What failed on this cluster; the others are unaffected.
    #[serde(default)]
    pub errors: Vec<KubernetesFetchError>,
}

/// A cluster as an [`ObjectsByEntityResponse`] names it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterAttributes {
    /// The cluster's name.
    pub name: String,
    /// Its display title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// A link to its dashboard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dashboard_url: Option<String>,
    /// The dashboard flavour (`standard`, `rancher`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dashboard_app: Option<String>,
    /// Parameters of the dashboard link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dashboard_parameters: Option<Value>,
}

/// The objects of one type: `{"type": "pods", "resources": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FetchResponse {
    /// `pods`, `services`, `configmaps`, `deployments`, `replicasets`,
    /// `horizontalpodautoscalers`, `ingresses`, `jobs`, `cronjobs`, `statefulsets`,
    /// `daemonsets`, `limitranges`, `resourcequotas` or `customresources`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The cluster's objects, unchanged.
    pub resources: Vec<KubernetesObject>,
}

/// Backstage's `KubernetesErrorTypes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KubernetesErrorType {
    /// The cluster answered 400.
    BadRequest,
    /// The cluster answered 401 or 403.
    #[serde(rename = "UNAUTHORIZED_ERROR")]
    Unauthorized,
    /// The cluster answered 404.
    NotFound,
    /// The cluster answered 5xx.
    SystemError,
    /// Any other status.
    UnknownError,
    /// No answer at all: connection refused, TLS failure, timeout.
    FetchError,
}

impl KubernetesErrorType {
    /// The type of an HTTP status a cluster answered.
    ///
    /// ```
    /// use backlot::plugins::kubernetes::common::KubernetesErrorType;
    ///
    /// assert_eq!(KubernetesErrorType::from_status(403), KubernetesErrorType::Unauthorized);
    /// assert_eq!(KubernetesErrorType::from_status(503), KubernetesErrorType::SystemError);
    /// ```
    pub fn from_status(status: u16) -> Self {
        match status {
            400 => Self::BadRequest,
            401 | 403 => Self::Unauthorized,
            404 => Self::NotFound,
            500..=599 => Self::SystemError,
            _ => Self::UnknownError,
        }
    }
}

/// One failure on one cluster (`StatusError` or `RawFetchError`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesFetchError {
    /// What kind of failure.
    pub error_type: KubernetesErrorType,
    /// The HTTP status the cluster answered, if it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// The API path that failed, e.g. `/api/v1/pods`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_path: Option<String>,
    /// A description (always set for `FETCH_ERROR`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Current usage against requests and limits (cores for CPU, bytes for memory).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientCurrentResourceUsage {
    /// Current usage.
    pub current_usage: f64,
    /// Sum of the containers' requests.
    pub request_total: f64,
    /// Sum of the containers' limits.
    pub limit_total: f64,
}

/// Usage of one container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientContainerStatus {
    /// The container's name.
    pub container: String,
    /// CPU usage.
    pub cpu_usage: ClientCurrentResourceUsage,
    /// Memory usage.
    pub memory_usage: ClientCurrentResourceUsage,
}

/// Usage of one pod.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientPodStatus {
    /// The pod object.
    pub pod: KubernetesObject,
    /// CPU usage (cores).
    pub cpu: ClientCurrentResourceUsage,
    /// Memory usage (bytes).
    pub memory: ClientCurrentResourceUsage,
    /// Per container.
    pub containers: Vec<ClientContainerStatus>,
}
