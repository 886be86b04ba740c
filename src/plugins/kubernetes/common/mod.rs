//! What the Kubernetes backend and its clients share (Backstage
//! `@backstage/plugin-kubernetes-common`): the wire types of `/api/kubernetes`.

pub mod permissions;
mod types;

pub use types::{
    CLUSTER_AUTHORIZATION_HEADER, CLUSTER_HEADER, ClientContainerStatus,
    ClientCurrentResourceUsage, ClientPodStatus, ClusterAttributes, ClusterObjects, ClusterSummary,
    ClustersResponse, CustomResourceMatcher, CustomResourcesByEntityRequest, FetchResponse,
    KUBERNETES_ID_ANNOTATION, KUBERNETES_LABEL_SELECTOR_ANNOTATION,
    KUBERNETES_NAMESPACE_ANNOTATION, KubernetesErrorType, KubernetesFetchError,
    KubernetesRequestAuth, KubernetesRequestBody, ObjectsByEntityResponse,
    WorkloadsByEntityRequest,
};
