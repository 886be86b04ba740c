//! Per-cluster HTTP clients (TLS settings and client certificates), built from the backend's
//! `backend.httpClient` timeouts and cached.

use std::collections::HashMap;

use base64::Engine as _;
use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use crate::plugins::kubernetes::node::{ClusterDetails, KubernetesCredential};
use crate::services::http_client::HttpClientTimeouts;

/// Clients cached at most (a new certificate or cluster beyond it clears the cache).
const MAX_CACHED_CLIENTS: usize = 256;

/// PEM text from PEM or base64 of PEM.
pub(crate) fn pem_text(value: &str) -> String {
    let trimmed = value.trim();
    if trimmed.starts_with("-----BEGIN") {
        return trimmed.to_owned();
    }
    let compact: String = trimmed.chars().filter(|c| !c.is_whitespace()).collect();
    match base64::engine::general_purpose::STANDARD.decode(compact.as_bytes()) {
        Ok(bytes) => String::from_utf8(bytes).unwrap_or_else(|_| trimmed.to_owned()),
        Err(_) => trimmed.to_owned(),
    }
}

/// The certificates of a PEM bundle; an error when it holds none.
fn certificates(pem: &[u8]) -> Result<Vec<reqwest::Certificate>, String> {
    if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
        return Err("no PEM certificate found".to_owned());
    }
    let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no PEM certificate found".to_owned());
    }
    Ok(certs)
}

/// Why a cluster's client cannot be built.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    #[error("invalid caData: {0}")]
    CaData(String),
    #[error("cannot read caFile: {0}")]
    CaFile(String),
    #[error("invalid client certificate or key: {0}")]
    Identity(String),
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

/// The clients of every cluster, by cluster settings and client certificate.
#[derive(Debug)]
pub(crate) struct ClusterClients {
    timeouts: HttpClientTimeouts,
    cache: Mutex<HashMap<String, reqwest::Client>>,
}

impl ClusterClients {
    pub(crate) fn new(timeouts: HttpClientTimeouts) -> Self {
        Self {
            timeouts,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The client for `cluster` with `credential` (its certificate when x509).
    pub(crate) fn client(
        &self,
        cluster: &ClusterDetails,
        credential: &KubernetesCredential,
    ) -> Result<reqwest::Client, ClientError> {
        let mut hasher = Sha256::new();
        for part in [
            cluster.name.as_str(),
            cluster.url.as_str(),
            if cluster.skip_tls_verify { "1" } else { "0" },
            cluster.ca_data.as_deref().unwrap_or(""),
            &cluster
                .ca_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ] {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
        if let KubernetesCredential::X509ClientCertificate { cert, key } = credential {
            hasher.update(cert.as_bytes());
            hasher.update([0]);
            hasher.update(key.as_bytes());
        }
        let cache_key = format!("{:x}", hasher.finalize());
        if let Some(c) = self.cache.lock().get(&cache_key) {
            return Ok(c.clone());
        }
        let client = self.build(cluster, credential)?;
        let mut cache = self.cache.lock();
        if cache.len() >= MAX_CACHED_CLIENTS {
            cache.clear();
        }
        cache.insert(cache_key, client.clone());
        Ok(client)
    }

    fn build(
        &self,
        cluster: &ClusterDetails,
        credential: &KubernetesCredential,
    ) -> Result<reqwest::Client, ClientError> {
        let mut builder = self
            .timeouts
            .builder()
            .redirect(reqwest::redirect::Policy::none())
            .danger_accept_invalid_certs(cluster.skip_tls_verify);
        if let Some(ca) = &cluster.ca_data {
            for cert in certificates(pem_text(ca).as_bytes()).map_err(ClientError::CaData)? {
                builder = builder.add_root_certificate(cert);
            }
        }
        if let Some(path) = &cluster.ca_file {
            let pem = std::fs::read(path).map_err(|e| ClientError::CaFile(e.to_string()))?;
            for cert in certificates(&pem).map_err(ClientError::CaFile)? {
                builder = builder.add_root_certificate(cert);
            }
        }
        if let KubernetesCredential::X509ClientCertificate { cert, key } = credential {
            let pem = format!("{}\n{}\n", pem_text(cert), pem_text(key));
            let identity = reqwest::Identity::from_pem(pem.as_bytes())
                .map_err(|e| ClientError::Identity(e.to_string()))?;
            builder = builder.identity(identity);
        }
        builder
            .build()
            .map_err(|e| ClientError::Build(e.to_string()))
    }
}
