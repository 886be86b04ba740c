//! `kubernetes.*` configuration.

use std::path::PathBuf;
use std::time::Duration;

use crate::plugins::kubernetes::common::CustomResourceMatcher;
use crate::plugins::kubernetes::node::{
    ANNOTATION_AUTH_PROVIDER, ANNOTATION_OIDC_TOKEN_PROVIDER, ANNOTATION_X509_CLIENT_CERT_DATA,
    ANNOTATION_X509_CLIENT_KEY_DATA, ClusterDetails, SERVICE_ACCOUNT_TOKEN_KEY,
};
use crate::services::config::{Config, ConfigError};

use super::objects::ObjectType;

/// The default of `kubernetes.limits.clusterTimeout`.
pub const DEFAULT_CLUSTER_TIMEOUT: Duration = Duration::from_secs(10);
/// The default of `kubernetes.limits.maxResponseBytes` (per list a cluster answers).
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 32 * 1024 * 1024;
/// The default of `kubernetes.limits.maxConcurrentFetches` (in flight, over all clusters).
pub const DEFAULT_MAX_CONCURRENT_FETCHES: u64 = 64;
/// The default of `kubernetes.limits.maxRequestBytes` (bodies of the entity routes).
pub const DEFAULT_MAX_REQUEST_BYTES: u64 = 1024 * 1024;
/// The default of `kubernetes.limits.maxClusters` (clusters queried per request).
pub const DEFAULT_MAX_CLUSTERS: u64 = 100;

/// Which clusters an entity's workloads are looked for in (`kubernetes.serviceLocatorMethod`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServiceLocator {
    /// Every cluster (`multiTenant`).
    MultiTenant,
    /// Only the clusters (Resource entities) the entity has a `dependsOn` relation to
    /// (`catalogRelation`).
    CatalogRelation,
}

/// Where clusters come from (`kubernetes.clusterLocatorMethods[]`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ClusterLocatorMethod {
    /// `type: config`: the clusters listed in the config, each with its config key
    /// (`kubernetes.clusterLocatorMethods[0].clusters[1]`).
    Config(Vec<(String, ClusterDetails)>),
    /// `type: catalog`: Resource entities of `spec.type: kubernetes-cluster`.
    Catalog,
}

/// The plugin's settings.
///
/// ```
/// use std::time::Duration;
/// use backlot::plugins::kubernetes::backend::KubernetesConfig;
/// use backlot::services::config::Config;
///
/// let config = Config::from_value(serde_json::json!({"kubernetes": {
///     "serviceLocatorMethod": {"type": "multiTenant"},
///     "clusterLocatorMethods": [{"type": "config", "clusters": [{
///         "name": "prod", "url": "https://10.0.0.1:6443",
///         "authProvider": "serviceAccount", "serviceAccountToken": "t"
///     }]}],
///     "objectTypes": ["pods", "deployments"],
///     "limits": {"clusterTimeout": "3s"},
/// }}));
/// let k8s = KubernetesConfig::from_config(&config)?;
/// assert_eq!(k8s.cluster_timeout, Duration::from_secs(3));
/// assert_eq!(k8s.object_types.len(), 2);
/// # Ok::<(), backlot::services::config::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct KubernetesConfig {
    /// `kubernetes.serviceLocatorMethod.type`.
    pub service_locator: ServiceLocator,
    /// `kubernetes.clusterLocatorMethods`.
    pub cluster_locators: Vec<ClusterLocatorMethod>,
    /// `kubernetes.objectTypes` (default: Backstage's default set).
    pub object_types: Vec<ObjectType>,
    /// `kubernetes.customResources`.
    pub custom_resources: Vec<CustomResourceMatcher>,
    /// `kubernetes.limits.clusterTimeout`: how long one cluster may take to answer a request.
    pub cluster_timeout: Duration,
    /// `kubernetes.limits.maxResponseBytes`: the largest body read from a cluster per list.
    pub max_response_bytes: u64,
    /// `kubernetes.limits.maxConcurrentFetches`: requests to clusters in flight at once.
    pub max_concurrent_fetches: usize,
    /// `kubernetes.limits.maxRequestBytes`: the largest body of an entity route.
    pub max_request_bytes: usize,
    /// `kubernetes.limits.maxClusters`: clusters queried per request at most.
    pub max_clusters: usize,
}

fn invalid(path: String, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        path,
        message: message.into(),
    }
}

fn key(config: &Config, rel: &str) -> String {
    let prefix = config.path_prefix();
    if prefix.is_empty() {
        rel.to_owned()
    } else {
        format!("{prefix}.{rel}")
    }
}

fn positive(config: &Config, path: &str, default: u64) -> Result<u64, ConfigError> {
    match config.opt_u64(path)? {
        None => Ok(default),
        Some(0) => Err(invalid(key(config, path), "must be greater than 0")),
        Some(n) => Ok(n),
    }
}

impl KubernetesConfig {
    /// Reads `kubernetes.*`.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the key of the first invalid value.
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        let Some(k8s) = config.opt_config("kubernetes")? else {
            return Self::from_kubernetes(&Config::from_value(serde_json::json!({})));
        };
        Self::from_kubernetes(&k8s)
    }

    fn from_kubernetes(k8s: &Config) -> Result<Self, ConfigError> {
        let service_locator = match k8s.opt_string("serviceLocatorMethod.type")?.as_deref() {
            None | Some("multiTenant") => ServiceLocator::MultiTenant,
            Some("catalogRelation") => ServiceLocator::CatalogRelation,
            Some(other) => {
                return Err(invalid(
                    key(k8s, "serviceLocatorMethod.type"),
                    format!(
                        "unsupported service locator '{other}' (supported: multiTenant, catalogRelation)"
                    ),
                ));
            }
        };
        let mut cluster_locators = Vec::new();
        for method in k8s
            .opt_config_array("clusterLocatorMethods")?
            .unwrap_or_default()
        {
            match method.string("type")?.as_str() {
                "config" => {
                    let mut clusters = Vec::new();
                    for c in method.opt_config_array("clusters")?.unwrap_or_default() {
                        clusters.push((c.path_prefix().to_owned(), cluster_from_config(&c)?));
                    }
                    cluster_locators.push(ClusterLocatorMethod::Config(clusters));
                }
                "catalog" => cluster_locators.push(ClusterLocatorMethod::Catalog),
                other => {
                    return Err(invalid(
                        key(&method, "type"),
                        format!(
                            "unsupported cluster locator '{other}' (supported: config, catalog)"
                        ),
                    ));
                }
            }
        }
        let object_types = match k8s.opt_string_array("objectTypes")? {
            None => ObjectType::defaults(),
            Some(names) => {
                let mut out = Vec::new();
                for (i, name) in names.iter().enumerate() {
                    let Some(t) = ObjectType::from_name(name) else {
                        return Err(invalid(
                            format!("{}[{i}]", key(k8s, "objectTypes")),
                            format!(
                                "unknown object type (known: {})",
                                ObjectType::names().join(", ")
                            ),
                        ));
                    };
                    out.push(t);
                }
                out
            }
        };
        let custom_resources = custom_resources(k8s, "customResources")?.unwrap_or_default();
        let cluster_timeout = match k8s.opt_duration("limits.clusterTimeout")? {
            None => DEFAULT_CLUSTER_TIMEOUT,
            Some(d) if d.is_zero() => {
                return Err(invalid(
                    key(k8s, "limits.clusterTimeout"),
                    "must be positive",
                ));
            }
            Some(d) => d,
        };
        let to_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        Ok(Self {
            service_locator,
            cluster_locators,
            object_types,
            custom_resources,
            cluster_timeout,
            max_response_bytes: positive(
                k8s,
                "limits.maxResponseBytes",
                DEFAULT_MAX_RESPONSE_BYTES,
            )?,
            max_concurrent_fetches: to_usize(positive(
                k8s,
                "limits.maxConcurrentFetches",
                DEFAULT_MAX_CONCURRENT_FETCHES,
            )?),
            max_request_bytes: to_usize(positive(
                k8s,
                "limits.maxRequestBytes",
                DEFAULT_MAX_REQUEST_BYTES,
            )?),
            max_clusters: to_usize(positive(k8s, "limits.maxClusters", DEFAULT_MAX_CLUSTERS)?),
        })
    }
}

fn custom_resources(
    config: &Config,
    path: &str,
) -> Result<Option<Vec<CustomResourceMatcher>>, ConfigError> {
    let Some(items) = config.opt_config_array(path)? else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for item in items {
        let matcher = CustomResourceMatcher {
            group: item.string("group")?,
            api_version: item.string("apiVersion")?,
            plural: item.string("plural")?,
        };
        for (field, value) in [
            ("group", &matcher.group),
            ("apiVersion", &matcher.api_version),
            ("plural", &matcher.plural),
        ] {
            if !super::objects::is_path_segment(value) {
                return Err(invalid(key(&item, field), "must be a plain path segment"));
            }
        }
        out.push(matcher);
    }
    Ok(Some(out))
}

/// One entry of `clusters` of a `config` locator.
fn cluster_from_config(c: &Config) -> Result<ClusterDetails, ConfigError> {
    let name = c.string("name")?;
    let url = c.string("url")?;
    match url::Url::parse(&url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
        _ => return Err(invalid(key(c, "url"), "must be an http(s) URL")),
    }
    let auth_provider = c.string("authProvider")?;
    let mut cluster =
        ClusterDetails::new(name, url.trim_end_matches('/')).with_auth_provider(auth_provider);
    if let Some(extra) = c.opt_config("authMetadata")? {
        if let serde_json::Value::Object(map) = extra.as_value() {
            for (k, v) in map {
                let Some(v) = v.as_str() else {
                    return Err(invalid(key(c, "authMetadata"), "values must be strings"));
                };
                cluster.auth_metadata.insert(k.clone(), v.to_owned());
            }
        }
    }
    for (cfg_key, meta_key) in [
        ("serviceAccountToken", SERVICE_ACCOUNT_TOKEN_KEY),
        ("oidcTokenProvider", ANNOTATION_OIDC_TOKEN_PROVIDER),
        ("clientCertData", ANNOTATION_X509_CLIENT_CERT_DATA),
        ("clientKeyData", ANNOTATION_X509_CLIENT_KEY_DATA),
    ] {
        if let Some(v) = c.opt_string(cfg_key)? {
            cluster.auth_metadata.insert(meta_key.to_owned(), v);
        }
    }
    for (cfg_key, meta_key) in [
        ("clientCertFile", ANNOTATION_X509_CLIENT_CERT_DATA),
        ("clientKeyFile", ANNOTATION_X509_CLIENT_KEY_DATA),
    ] {
        if let Some(path) = c.opt_string(cfg_key)? {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| invalid(key(c, cfg_key), format!("cannot read the file: {e}")))?;
            cluster.auth_metadata.insert(meta_key.to_owned(), text);
        }
    }
    debug_assert!(cluster.auth_metadata.contains_key(ANNOTATION_AUTH_PROVIDER));
    cluster.title = c.opt_string("title")?;
    cluster.skip_tls_verify = c.opt_bool("skipTLSVerify")?.unwrap_or(false);
    cluster.skip_metrics_lookup = c.opt_bool("skipMetricsLookup")?.unwrap_or(false);
    cluster.ca_data = c.opt_string("caData")?;
    if let Some(path) = c.opt_string("caFile")? {
        if !std::path::Path::new(&path).is_file() {
            return Err(invalid(key(c, "caFile"), "is not a readable file"));
        }
        cluster.ca_file = Some(PathBuf::from(path));
    }
    cluster.dashboard_url = c.opt_string("dashboardUrl")?;
    cluster.dashboard_app = c.opt_string("dashboardApp")?;
    cluster.dashboard_parameters = c.get("dashboardParameters").cloned();
    cluster.custom_resources = custom_resources(c, "customResources")?;
    Ok(cluster)
}
