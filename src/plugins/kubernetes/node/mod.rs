//! What modules of the `kubernetes` plugin build on (Backstage
//! `@backstage/plugin-kubernetes-node`): [`ClusterDetails`], the
//! [`KubernetesClustersSupplier`] and [`AuthenticationStrategy`] traits, and the extension
//! points [`KUBERNETES_CLUSTER_SUPPLIER`] and [`KUBERNETES_AUTH_STRATEGIES`] through which a
//! module replaces the cluster locators or adds an auth strategy.

mod extension_points;
mod types;

pub use extension_points::{
    KUBERNETES_AUTH_STRATEGIES, KUBERNETES_CLUSTER_SUPPLIER, KubernetesAuthStrategiesExtension,
    KubernetesClusterSupplierExtension,
};
pub use types::{
    ANNOTATION_AUTH_PROVIDER, ANNOTATION_OIDC_TOKEN_PROVIDER, ANNOTATION_X509_CLIENT_CERT_DATA,
    ANNOTATION_X509_CLIENT_KEY_DATA, AuthMetadata, AuthenticationStrategy, ClusterDetails,
    KubernetesClustersSupplier, KubernetesCredential, KubernetesNodeError,
    SERVICE_ACCOUNT_TOKEN_KEY,
};
