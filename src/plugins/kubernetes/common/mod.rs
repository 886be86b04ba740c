//! What the Kubernetes backend and its clients share (Backstage
//! `@backstage/plugin-kubernetes-common`): the wire types of `/api/kubernetes`, and the
//! detection of problems in the objects they carry ([`detect_errors`]).

mod object;
pub mod permissions;
mod problems;
mod types;

pub(crate) use object::DecodedObjects;
pub use object::KubernetesObject;
pub(crate) use problems::detect_decoded_errors;
pub use problems::{
    DetectedError, DetectedErrorType, DetectedErrorsByCluster, FixSolution, ProposedFix,
    ResourceRef, detect_cluster_errors, detect_errors, detect_errors_at,
};

pub use types::{
    CLUSTER_AUTHORIZATION_HEADER, CLUSTER_HEADER, ClientContainerStatus,
    ClientCurrentResourceUsage, ClientPodStatus, ClusterAttributes, ClusterObjects, ClusterSummary,
    ClustersResponse, CustomResourceMatcher, CustomResourcesByEntityRequest, FetchResponse,
    KUBERNETES_ID_ANNOTATION, KUBERNETES_LABEL_SELECTOR_ANNOTATION,
    KUBERNETES_NAMESPACE_ANNOTATION, KubernetesErrorType, KubernetesFetchError,
    KubernetesRequestAuth, KubernetesRequestBody, ObjectsByEntityResponse,
    WorkloadsByEntityRequest,
};
