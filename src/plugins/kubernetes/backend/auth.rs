//! The built-in auth strategies: `serviceAccount`, `oidc`, `x509ClientCert`.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::plugins::kubernetes::common::KubernetesRequestAuth;
use crate::plugins::kubernetes::node::{
    ANNOTATION_OIDC_TOKEN_PROVIDER, ANNOTATION_X509_CLIENT_CERT_DATA,
    ANNOTATION_X509_CLIENT_KEY_DATA, AuthMetadata, AuthenticationStrategy, ClusterDetails,
    KubernetesCredential, KubernetesNodeError, SERVICE_ACCOUNT_TOKEN_KEY,
};

/// `serviceAccount`: the bearer token `serviceAccountToken` of the cluster's auth metadata.
///
/// ```
/// use backlot::plugins::kubernetes::backend::ServiceAccountStrategy;
/// use backlot::plugins::kubernetes::node::{AuthenticationStrategy, ClusterDetails, KubernetesCredential};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let cluster = ClusterDetails::new("c", "https://k8s:6443")
///     .with_auth_metadata("serviceAccountToken", "t0k");
/// let credential = ServiceAccountStrategy.get_credential(&cluster, &Default::default()).await?;
/// assert_eq!(credential, KubernetesCredential::BearerToken("t0k".into()));
/// # Ok::<(), backlot::plugins::kubernetes::node::KubernetesNodeError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ServiceAccountStrategy;

#[async_trait]
impl AuthenticationStrategy for ServiceAccountStrategy {
    async fn get_credential(
        &self,
        cluster: &ClusterDetails,
        _auth: &KubernetesRequestAuth,
    ) -> Result<KubernetesCredential, KubernetesNodeError> {
        match cluster.auth_metadata.get(SERVICE_ACCOUNT_TOKEN_KEY) {
            Some(token) if !token.is_empty() => {
                Ok(KubernetesCredential::BearerToken(token.clone()))
            }
            _ => Err(KubernetesNodeError::Credential(format!(
                "cluster '{}' has no serviceAccountToken",
                cluster.name
            ))),
        }
    }

    fn validate_cluster(&self, auth_metadata: &AuthMetadata) -> Vec<String> {
        if auth_metadata
            .get(SERVICE_ACCOUNT_TOKEN_KEY)
            .is_some_and(|t| !t.is_empty())
        {
            Vec::new()
        } else {
            vec!["serviceAccountToken is required for authProvider 'serviceAccount'".to_owned()]
        }
    }
}

/// `oidc`: the token the browser passes in the request body as `auth.oidc.<provider>`, where
/// the provider is the cluster's `kubernetes.io/oidc-token-provider` (`oidcTokenProvider`).
///
/// ```
/// use backlot::plugins::kubernetes::backend::OidcStrategy;
/// use backlot::plugins::kubernetes::node::{AuthenticationStrategy, ClusterDetails, KubernetesCredential};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let cluster = ClusterDetails::new("c", "https://k8s:6443")
///     .with_auth_metadata("kubernetes.io/oidc-token-provider", "okta");
/// let auth = serde_json::from_value(serde_json::json!({"oidc": {"okta": "id-token"}}))?;
/// let credential = OidcStrategy.get_credential(&cluster, &auth).await?;
/// assert_eq!(credential, KubernetesCredential::BearerToken("id-token".into()));
/// assert!(OidcStrategy.get_credential(&cluster, &Default::default()).await.is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct OidcStrategy;

#[async_trait]
impl AuthenticationStrategy for OidcStrategy {
    async fn get_credential(
        &self,
        cluster: &ClusterDetails,
        auth: &KubernetesRequestAuth,
    ) -> Result<KubernetesCredential, KubernetesNodeError> {
        let provider = cluster
            .auth_metadata
            .get(ANNOTATION_OIDC_TOKEN_PROVIDER)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| {
                KubernetesNodeError::Credential(
                    "oidc authProvider requires a configured oidcTokenProvider".to_owned(),
                )
            })?;
        match auth
            .get("oidc")
            .and_then(|o| o.get(provider.as_str()))
            .and_then(|t| t.as_str())
        {
            Some(token) if !token.is_empty() => {
                Ok(KubernetesCredential::BearerToken(token.to_owned()))
            }
            _ => Err(KubernetesNodeError::Credential(format!(
                "Auth token not found under oidc.{provider} in request body"
            ))),
        }
    }

    fn validate_cluster(&self, auth_metadata: &AuthMetadata) -> Vec<String> {
        if auth_metadata
            .get(ANNOTATION_OIDC_TOKEN_PROVIDER)
            .is_some_and(|p| !p.is_empty())
        {
            Vec::new()
        } else {
            vec!["oidcTokenProvider is required for authProvider 'oidc'".to_owned()]
        }
    }

    fn present_auth_metadata(&self, auth_metadata: &AuthMetadata) -> AuthMetadata {
        auth_metadata
            .iter()
            .filter(|(k, _)| k.as_str() == ANNOTATION_OIDC_TOKEN_PROVIDER)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// `x509ClientCert`: a TLS client certificate and key from the cluster's auth metadata
/// (config `clientCertData`/`clientKeyData` or `clientCertFile`/`clientKeyFile`; PEM or base64
/// of PEM, as a kubeconfig's `client-certificate-data`).
///
/// ```
/// use backlot::plugins::kubernetes::backend::X509ClientCertStrategy;
/// use backlot::plugins::kubernetes::node::AuthenticationStrategy;
///
/// let errors = X509ClientCertStrategy.validate_cluster(&Default::default());
/// assert_eq!(errors.len(), 1);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct X509ClientCertStrategy;

#[async_trait]
impl AuthenticationStrategy for X509ClientCertStrategy {
    async fn get_credential(
        &self,
        cluster: &ClusterDetails,
        _auth: &KubernetesRequestAuth,
    ) -> Result<KubernetesCredential, KubernetesNodeError> {
        let get = |k: &str| {
            cluster
                .auth_metadata
                .get(k)
                .map(|v| super::client::pem_text(v))
                .ok_or_else(|| {
                    KubernetesNodeError::Credential(format!(
                        "cluster '{}' has no client certificate and key",
                        cluster.name
                    ))
                })
        };
        Ok(KubernetesCredential::X509ClientCertificate {
            cert: get(ANNOTATION_X509_CLIENT_CERT_DATA)?,
            key: get(ANNOTATION_X509_CLIENT_KEY_DATA)?,
        })
    }

    fn validate_cluster(&self, auth_metadata: &AuthMetadata) -> Vec<String> {
        if auth_metadata.contains_key(ANNOTATION_X509_CLIENT_CERT_DATA)
            && auth_metadata.contains_key(ANNOTATION_X509_CLIENT_KEY_DATA)
        {
            Vec::new()
        } else {
            vec!["clientCertData and clientKeyData (or clientCertFile and clientKeyFile) are required for authProvider 'x509ClientCert'".to_owned()]
        }
    }
}

/// The built-in strategies by name.
pub(crate) fn builtin_strategies() -> BTreeMap<String, Arc<dyn AuthenticationStrategy>> {
    let mut map: BTreeMap<String, Arc<dyn AuthenticationStrategy>> = BTreeMap::new();
    map.insert(
        "serviceAccount".to_owned(),
        Arc::new(ServiceAccountStrategy),
    );
    map.insert("oidc".to_owned(), Arc::new(OidcStrategy));
    map.insert(
        "x509ClientCert".to_owned(),
        Arc::new(X509ClientCertStrategy),
    );
    map
}
