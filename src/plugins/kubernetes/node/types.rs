//! Clusters, credentials and the traits of custom locators and auth strategies.

use std::collections::BTreeMap;
use std::path::PathBuf;

use async_trait::async_trait;
use serde_json::Value;

use crate::plugins::kubernetes::common::{CustomResourceMatcher, KubernetesRequestAuth};
use crate::services::auth::Credentials;

/// Auth settings of a cluster: `kubernetes.io/auth-provider`, `serviceAccountToken`,
/// `kubernetes.io/oidc-token-provider`, … (Backstage's `AuthMetadata`).
pub type AuthMetadata = BTreeMap<String, String>;

/// The key of [`AuthMetadata`] naming the auth strategy (`serviceAccount`, `oidc`, …).
pub const ANNOTATION_AUTH_PROVIDER: &str = "kubernetes.io/auth-provider";
/// The key of [`AuthMetadata`] naming the sign-in provider whose token `oidc` clusters take.
pub const ANNOTATION_OIDC_TOKEN_PROVIDER: &str = "kubernetes.io/oidc-token-provider";
/// The key of [`AuthMetadata`] holding a `serviceAccount` cluster's bearer token.
pub const SERVICE_ACCOUNT_TOKEN_KEY: &str = "serviceAccountToken";
/// The key of [`AuthMetadata`] holding an `x509ClientCert` cluster's client certificate
/// (PEM, or base64 of PEM as in a kubeconfig's `client-certificate-data`).
pub const ANNOTATION_X509_CLIENT_CERT_DATA: &str = "kubernetes.io/x509-client-cert-data";
/// The key of [`AuthMetadata`] holding an `x509ClientCert` cluster's private key (PEM, or
/// base64 of PEM).
pub const ANNOTATION_X509_CLIENT_KEY_DATA: &str = "kubernetes.io/x509-client-key-data";

/// A cluster as a locator found it (Backstage's `ClusterDetails`).
///
/// ```
/// use backlot::plugins::kubernetes::node::ClusterDetails;
///
/// let cluster = ClusterDetails::new("prod", "https://10.0.0.1:6443")
///     .with_auth_provider("serviceAccount")
///     .with_auth_metadata("serviceAccountToken", "secret-token");
/// assert_eq!(cluster.auth_provider(), "serviceAccount");
/// assert_eq!(cluster.auth_metadata["serviceAccountToken"], "secret-token");
/// ```
#[derive(Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ClusterDetails {
    /// Unique name: the value of the `Backstage-Kubernetes-Cluster` header.
    pub name: String,
    /// The API server's base URL.
    pub url: String,
    /// Display title.
    pub title: Option<String>,
    /// Auth settings, read by the cluster's [`AuthenticationStrategy`].
    pub auth_metadata: AuthMetadata,
    /// Accept any server certificate.
    pub skip_tls_verify: bool,
    /// Do not ask `metrics.k8s.io` for pod usage.
    pub skip_metrics_lookup: bool,
    /// The CA certificate (PEM, or base64 of PEM) the server's certificate must chain to.
    pub ca_data: Option<String>,
    /// A file holding the CA certificate (PEM).
    pub ca_file: Option<PathBuf>,
    /// A link to the cluster's dashboard.
    pub dashboard_url: Option<String>,
    /// The dashboard flavour.
    pub dashboard_app: Option<String>,
    /// Parameters of the dashboard link.
    pub dashboard_parameters: Option<Value>,
    /// Custom resources fetched from this cluster instead of the global ones.
    pub custom_resources: Option<Vec<CustomResourceMatcher>>,
}

impl std::fmt::Debug for ClusterDetails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Auth metadata holds secrets: list its keys only.
        f.debug_struct("ClusterDetails")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("title", &self.title)
            .field("auth_metadata_keys", &self.auth_metadata.keys())
            .field("skip_tls_verify", &self.skip_tls_verify)
            .field("skip_metrics_lookup", &self.skip_metrics_lookup)
            .finish_non_exhaustive()
    }
}

impl ClusterDetails {
    /// A cluster named `name` at `url`, without auth settings.
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            url: url.into(),
            ..Self::default()
        }
    }

    /// Sets the auth strategy (`kubernetes.io/auth-provider`).
    #[must_use]
    pub fn with_auth_provider(self, provider: impl Into<String>) -> Self {
        self.with_auth_metadata(ANNOTATION_AUTH_PROVIDER, provider)
    }

    /// Sets one auth metadata entry.
    #[must_use]
    pub fn with_auth_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.auth_metadata.insert(key.into(), value.into());
        self
    }

    /// Sets the display title.
    #[must_use]
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Accepts any server certificate.
    #[must_use]
    pub fn with_skip_tls_verify(mut self, skip: bool) -> Self {
        self.skip_tls_verify = skip;
        self
    }

    /// Skips the pod metrics lookup.
    #[must_use]
    pub fn with_skip_metrics_lookup(mut self, skip: bool) -> Self {
        self.skip_metrics_lookup = skip;
        self
    }

    /// Sets the CA certificate (PEM or base64 of PEM).
    #[must_use]
    pub fn with_ca_data(mut self, ca: impl Into<String>) -> Self {
        self.ca_data = Some(ca.into());
        self
    }

    /// The auth strategy's name (`kubernetes.io/auth-provider`), empty when unset.
    pub fn auth_provider(&self) -> &str {
        self.auth_metadata
            .get(ANNOTATION_AUTH_PROVIDER)
            .map_or("", String::as_str)
    }
}

/// How a request authenticates to a cluster (Backstage's `KubernetesCredential`).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KubernetesCredential {
    /// `Authorization: Bearer <token>`.
    BearerToken(String),
    /// A TLS client certificate and its key (PEM).
    X509ClientCertificate {
        /// The certificate chain (PEM).
        cert: String,
        /// The private key (PEM).
        key: String,
    },
    /// No credentials.
    Anonymous,
}

impl std::fmt::Debug for KubernetesCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::BearerToken(_) => "BearerToken(..)",
            Self::X509ClientCertificate { .. } => "X509ClientCertificate(..)",
            Self::Anonymous => "Anonymous",
        })
    }
}

/// An error of a locator or an auth strategy.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KubernetesNodeError {
    /// The credentials of a request are missing or unusable for this cluster.
    #[error("{0}")]
    Credential(String),
    /// A cluster's settings are invalid.
    #[error("cluster '{cluster}': {reason}")]
    InvalidCluster {
        /// The cluster's name.
        cluster: String,
        /// What is wrong.
        reason: String,
    },
    /// A locator could not list its clusters.
    #[error("could not list clusters: {0}")]
    Locator(String),
}

/// Lists the clusters to query (Backstage's `KubernetesClustersSupplier`). The plugin asks on
/// every request; implementations cache as they see fit.
///
/// ```
/// use async_trait::async_trait;
/// use backlot::plugins::kubernetes::node::{
///     ClusterDetails, KubernetesClustersSupplier, KubernetesNodeError,
/// };
/// use backlot::services::auth::Credentials;
///
/// #[derive(Debug)]
/// struct OneCluster;
///
/// #[async_trait]
/// impl KubernetesClustersSupplier for OneCluster {
///     async fn get_clusters(
///         &self,
///         _credentials: &Credentials,
///     ) -> Result<Vec<ClusterDetails>, KubernetesNodeError> {
///         Ok(vec![ClusterDetails::new("dev", "http://127.0.0.1:8001")
///             .with_auth_provider("serviceAccount")])
///     }
/// }
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let clusters = OneCluster.get_clusters(&Credentials::none()).await?;
/// assert_eq!(clusters[0].name, "dev");
/// # Ok::<(), KubernetesNodeError>(())
/// # }).unwrap();
/// ```
#[async_trait]
pub trait KubernetesClustersSupplier: Send + Sync + std::fmt::Debug {
    /// The clusters, read on behalf of `credentials` (the caller of the route).
    async fn get_clusters(
        &self,
        credentials: &Credentials,
    ) -> Result<Vec<ClusterDetails>, KubernetesNodeError>;
}

/// Turns a cluster's auth metadata and the browser's tokens into a credential (Backstage's
/// `AuthenticationStrategy`), registered under the name clusters give as their
/// `authProvider`.
///
/// ```
/// use async_trait::async_trait;
/// use backlot::plugins::kubernetes::common::KubernetesRequestAuth;
/// use backlot::plugins::kubernetes::node::{
///     AuthMetadata, AuthenticationStrategy, ClusterDetails, KubernetesCredential,
///     KubernetesNodeError,
/// };
///
/// /// Reads the token from `authMetadata.vaultToken`.
/// #[derive(Debug)]
/// struct VaultToken;
///
/// #[async_trait]
/// impl AuthenticationStrategy for VaultToken {
///     async fn get_credential(
///         &self,
///         cluster: &ClusterDetails,
///         _auth: &KubernetesRequestAuth,
///     ) -> Result<KubernetesCredential, KubernetesNodeError> {
///         cluster
///             .auth_metadata
///             .get("vaultToken")
///             .map(|t| KubernetesCredential::BearerToken(t.clone()))
///             .ok_or_else(|| KubernetesNodeError::Credential("no vaultToken".into()))
///     }
///
///     fn validate_cluster(&self, metadata: &AuthMetadata) -> Vec<String> {
///         if metadata.contains_key("vaultToken") { vec![] } else { vec!["vaultToken is missing".into()] }
///     }
/// }
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let cluster = ClusterDetails::new("c", "http://127.0.0.1:1").with_auth_metadata("vaultToken", "t");
/// let credential = VaultToken.get_credential(&cluster, &Default::default()).await?;
/// assert_eq!(credential, KubernetesCredential::BearerToken("t".into()));
/// assert!(VaultToken.present_auth_metadata(&cluster.auth_metadata).is_empty());
/// # Ok::<(), KubernetesNodeError>(())
/// # }).unwrap();
/// ```
#[async_trait]
pub trait AuthenticationStrategy: Send + Sync + std::fmt::Debug {
    /// The credential for one request to `cluster`; `auth` holds the tokens the browser sent.
    async fn get_credential(
        &self,
        cluster: &ClusterDetails,
        auth: &KubernetesRequestAuth,
    ) -> Result<KubernetesCredential, KubernetesNodeError>;

    /// What is wrong with a cluster's auth metadata (empty when valid); checked at start for
    /// configured clusters.
    fn validate_cluster(&self, auth_metadata: &AuthMetadata) -> Vec<String> {
        let _ = auth_metadata;
        Vec::new()
    }

    /// The auth metadata the browser may see (`GET /clusters`); none by default.
    fn present_auth_metadata(&self, auth_metadata: &AuthMetadata) -> AuthMetadata {
        let _ = auth_metadata;
        AuthMetadata::new()
    }
}
