//! `KUBERNETES_API`: the utility API the Kubernetes tab reads an entity's objects with.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::auth::KubernetesAuthTokens;
use super::error::KubernetesApiError;
use crate::frontend::{ApiFactory, ApiRef, BackendError, SignedInUser, core_apis};
use crate::plugins::kubernetes::common::{
    ClusterSummary, ClustersResponse, CustomResourcesByEntityRequest, KubernetesRequestAuth,
    KubernetesRequestBody, ObjectsByEntityResponse, WorkloadsByEntityRequest,
};
use crate::services::config::Config;
use crate::services::http_client::{CappedBodyError, http_client, read_body_capped};

/// Reads an entity's Kubernetes objects, like Backstage's `KubernetesApi`. Pages get it with
/// `req.api(&KUBERNETES_API)?`; an app can install another implementation with an
/// `api:plugin.kubernetes.service` override. The query endpoints answer
/// [`KubernetesApiError::Unsupported`] unless implemented.
///
/// ```
/// use backlot::plugins::kubernetes::common::{
///     ClusterSummary, KubernetesRequestBody, ObjectsByEntityResponse,
/// };
/// use backlot::plugins::kubernetes::react::{KubernetesApi, KubernetesApiError};
///
/// /// A Kubernetes without clusters.
/// #[derive(Debug)]
/// struct NoClusters;
///
/// #[async_trait::async_trait]
/// impl KubernetesApi for NoClusters {
///     async fn get_clusters(&self) -> Result<Vec<ClusterSummary>, KubernetesApiError> {
///         Ok(vec![])
///     }
///     async fn get_objects_by_entity(
///         &self,
///         _: &KubernetesRequestBody,
///     ) -> Result<ObjectsByEntityResponse, KubernetesApiError> {
///         Ok(ObjectsByEntityResponse::default())
///     }
/// }
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let body = KubernetesRequestBody { entity: serde_json::json!({"metadata": {"name": "shop"}}), auth: None };
/// assert!(NoClusters.get_objects_by_entity(&body).await?.items.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[async_trait::async_trait]
pub trait KubernetesApi: Send + Sync + std::fmt::Debug {
    /// `GET /clusters`: the clusters the backend knows.
    async fn get_clusters(&self) -> Result<Vec<ClusterSummary>, KubernetesApiError>;

    /// `POST /services/{entityName}`: the entity's objects, one item per cluster. Without
    /// `auth` in the request, an implementation adds the client-side tokens it can get.
    async fn get_objects_by_entity(
        &self,
        request: &KubernetesRequestBody,
    ) -> Result<ObjectsByEntityResponse, KubernetesApiError>;

    /// `POST /resources/workloads/query`.
    async fn get_workloads_by_entity(
        &self,
        request: &WorkloadsByEntityRequest,
    ) -> Result<ObjectsByEntityResponse, KubernetesApiError> {
        let _ = request;
        Err(KubernetesApiError::Unsupported {
            operation: "get_workloads_by_entity",
        })
    }

    /// `POST /resources/custom/query`.
    async fn get_custom_objects_by_entity(
        &self,
        request: &CustomResourcesByEntityRequest,
    ) -> Result<ObjectsByEntityResponse, KubernetesApiError> {
        let _ = request;
        Err(KubernetesApiError::Unsupported {
            operation: "get_custom_objects_by_entity",
        })
    }
}

/// The Kubernetes utility API (`plugin.kubernetes.service`).
pub static KUBERNETES_API: ApiRef<dyn KubernetesApi> = ApiRef::new("plugin.kubernetes.service");

/// The default of `kubernetes.frontend.maxResponseBytes`.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;
/// The default of `kubernetes.frontend.requestTimeout`.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What a path segment must not carry as is.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// [`KubernetesApi`] over HTTP against the Kubernetes backend (`/api/kubernetes`). Each call
/// carries the token of the signed-in user whose page is rendering (or the one set with
/// [`with_token`](Self::with_token)), waits at most the request timeout and reads at most
/// the response limit.
///
/// Clusters whose auth provider is client-side (`oidc`, `google`) need a token of the user
/// at that provider in the request's `auth`. A page rendered on the server has none of its
/// own (the portal's session holds the Backstage identity token only), so the client adds
/// tokens only when given a [`KubernetesAuthTokens`] source; it then asks `GET /clusters`
/// which providers are needed, like Backstage's `KubernetesAuthProviders`.
///
/// ```
/// use backlot::plugins::kubernetes::react::HttpKubernetesApi;
///
/// let api = HttpKubernetesApi::new("http://127.0.0.1:7007/api/kubernetes/");
/// assert_eq!(api.services_url("shop/../x"), "http://127.0.0.1:7007/api/kubernetes/services/shop%2F..%2Fx");
/// ```
#[derive(Clone)]
pub struct HttpKubernetesApi {
    base_url: String,
    http: reqwest::Client,
    token: Option<String>,
    timeout: Duration,
    max_response_bytes: usize,
    auth_tokens: Option<Arc<dyn KubernetesAuthTokens>>,
}

impl std::fmt::Debug for HttpKubernetesApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpKubernetesApi")
            .field("base_url", &self.base_url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("auth_tokens", &self.auth_tokens)
            .finish_non_exhaustive()
    }
}

impl HttpKubernetesApi {
    /// A client for the Kubernetes backend at `base_url` (`…/api/kubernetes`), with the
    /// default limits.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self::with_client(
            base_url,
            crate::services::http_client::default_http_client(),
        )
    }

    /// A client sending through `http` (for its connect timeout).
    pub fn with_client(base_url: impl Into<String>, http: reqwest::Client) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            http,
            token: None,
            timeout: DEFAULT_REQUEST_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            auth_tokens: None,
        }
    }

    /// Sends this token instead of the rendering user's (a script or a test).
    #[must_use]
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Sets how long a request may take, the answer included.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the largest answer read; a larger one is [`KubernetesApiError::TooLarge`].
    #[must_use]
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = limit;
        self
    }

    /// Adds client-side cluster tokens from `tokens` to requests that carry no `auth`.
    #[must_use]
    pub fn auth_tokens(mut self, tokens: Arc<dyn KubernetesAuthTokens>) -> Self {
        self.auth_tokens = Some(tokens);
        self
    }

    /// The URL of `path` (starting with `/`) on the backend.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The URL of `POST /services/{entityName}`.
    pub fn services_url(&self, entity_name: &str) -> String {
        self.url(&format!(
            "/services/{}",
            percent_encoding::utf8_percent_encode(entity_name, SEGMENT)
        ))
    }

    /// Applies `kubernetes.frontend.requestTimeout` and `kubernetes.frontend.maxResponseBytes`.
    ///
    /// ```
    /// use backlot::plugins::kubernetes::react::HttpKubernetesApi;
    /// use backlot::services::config::Config;
    ///
    /// let config = Config::from_value(serde_json::json!({
    ///     "kubernetes": {"frontend": {"requestTimeout": "5s", "maxResponseBytes": 1048576}}
    /// }));
    /// let api = HttpKubernetesApi::new("http://127.0.0.1:7007/api/kubernetes").configure(&config)?;
    /// assert!(format!("{api:?}").contains("max_response_bytes: 1048576"));
    /// assert!(HttpKubernetesApi::new("x").configure(&Config::from_value(serde_json::json!({
    ///     "kubernetes": {"frontend": {"maxResponseBytes": 0}}
    /// }))).is_err());
    /// # Ok::<(), backlot::services::config::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`ConfigError`](crate::services::config::ConfigError) naming the key of a value
    /// that is not a positive duration or byte count.
    pub fn configure(
        mut self,
        config: &Config,
    ) -> Result<Self, crate::services::config::ConfigError> {
        const TIMEOUT: &str = "kubernetes.frontend.requestTimeout";
        const MAX: &str = "kubernetes.frontend.maxResponseBytes";
        if let Some(t) = config.opt_duration(TIMEOUT)? {
            if t.is_zero() {
                return Err(invalid(TIMEOUT, "must be a positive duration"));
            }
            self.timeout = t;
        }
        if let Some(max) = config.opt_u64(MAX)? {
            if max == 0 {
                return Err(invalid(MAX, "must be a positive number of bytes"));
            }
            self.max_response_bytes = usize::try_from(max).unwrap_or(usize::MAX);
        }
        Ok(self)
    }

    /// The API factory: base URL from the `core.discovery` API (`base_url("kubernetes")`),
    /// connect timeout from `backend.httpClient.*`, limits from `kubernetes.frontend.*`
    /// ([`configure`](Self::configure)).
    ///
    /// ```
    /// use backlot::frontend::{ApiBlueprint, App, FrontendPlugin};
    /// use backlot::plugins::kubernetes::react::{HttpKubernetesApi, KUBERNETES_API};
    ///
    /// let app = App::builder()
    ///     .feature(FrontendPlugin::new("kubernetes").extension(ApiBlueprint::make(HttpKubernetesApi::factory())))
    ///     .build()?;
    /// assert!(app.apis().get(&KUBERNETES_API).is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn factory() -> ApiFactory {
        ApiFactory::builder(&KUBERNETES_API)
            .deps((&core_apis::DISCOVERY, &core_apis::CONFIG))
            .build(|(discovery, config)| {
                let http = http_client(&config)?;
                let api =
                    Self::with_client(discovery.base_url("kubernetes"), http).configure(&config)?;
                Ok(Arc::new(api) as Arc<dyn KubernetesApi>)
            })
    }

    async fn send<B: Serialize + Sync>(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&B>,
    ) -> Result<bytes::Bytes, KubernetesApiError> {
        let transport = |source| KubernetesApiError::Transport {
            url: url.to_string(),
            source,
        };
        let mut request = self.http.request(method, url).timeout(self.timeout);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        } else if let Some(token) = SignedInUser::current_token() {
            request = request.bearer_auth(&*token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let res = request.send().await.map_err(transport)?;
        let status = res.status().as_u16();
        let body = read_body_capped(res, self.max_response_bytes as u64)
            .await
            .map_err(|e| match e {
                CappedBodyError::TooLarge { .. } => KubernetesApiError::TooLarge {
                    url: url.to_string(),
                    limit: self.max_response_bytes,
                },
                CappedBodyError::Transport(e) => transport(e),
            })?;
        if !(200..300).contains(&status) {
            let error = BackendError::from_body(&body);
            return Err(KubernetesApiError::Response {
                url: url.to_string(),
                status,
                name: error.name,
                message: error.message,
            });
        }
        Ok(body.into())
    }

    async fn json<B: Serialize + Sync, T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&B>,
    ) -> Result<T, KubernetesApiError> {
        let bytes = self.send(method, url, body).await?;
        serde_json::from_slice(&bytes).map_err(|source| KubernetesApiError::Decode {
            url: url.to_string(),
            source,
        })
    }

    /// The `auth` of a request: a token per client-side provider the clusters use, from the
    /// token source (none without one).
    async fn client_side_auth(&self) -> Result<Option<KubernetesRequestAuth>, KubernetesApiError> {
        let Some(tokens) = &self.auth_tokens else {
            return Ok(None);
        };
        let clusters = self.get_clusters().await?;
        let mut auth = KubernetesRequestAuth::new();
        for cluster in &clusters {
            match cluster.auth_provider.as_str() {
                "oidc" => {
                    let Some(provider) = cluster.oidc_token_provider.as_deref() else {
                        continue;
                    };
                    let has = auth.get("oidc").and_then(|o| o.get(provider)).is_some();
                    if has {
                        continue;
                    }
                    if let Some(token) = tokens.token("oidc", Some(provider)).await {
                        let entry = auth
                            .entry("oidc".to_string())
                            .or_insert_with(|| Value::Object(Map::new()));
                        if let Value::Object(map) = entry {
                            map.insert(provider.to_string(), Value::String(token));
                        }
                    }
                }
                provider @ "google" if !auth.contains_key(provider) => {
                    if let Some(token) = tokens.token(provider, None).await {
                        auth.insert(provider.to_string(), Value::String(token));
                    }
                }
                _ => {}
            }
        }
        Ok((!auth.is_empty()).then_some(auth))
    }
}

fn invalid(key: &str, message: &str) -> crate::services::config::ConfigError {
    crate::services::config::ConfigError::Invalid {
        path: key.to_string(),
        message: message.to_string(),
    }
}

#[async_trait::async_trait]
impl KubernetesApi for HttpKubernetesApi {
    async fn get_clusters(&self) -> Result<Vec<ClusterSummary>, KubernetesApiError> {
        let answer: ClustersResponse = self
            .json::<(), _>(reqwest::Method::GET, &self.url("/clusters"), None)
            .await?;
        Ok(answer.items)
    }

    async fn get_objects_by_entity(
        &self,
        request: &KubernetesRequestBody,
    ) -> Result<ObjectsByEntityResponse, KubernetesApiError> {
        let name = request
            .entity
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let url = self.services_url(name);
        if request.auth.is_some() {
            return self.json(reqwest::Method::POST, &url, Some(request)).await;
        }
        let body = KubernetesRequestBody {
            entity: request.entity.clone(),
            auth: self.client_side_auth().await?,
        };
        self.json(reqwest::Method::POST, &url, Some(&body)).await
    }

    async fn get_workloads_by_entity(
        &self,
        request: &WorkloadsByEntityRequest,
    ) -> Result<ObjectsByEntityResponse, KubernetesApiError> {
        let url = self.url("/resources/workloads/query");
        self.json(reqwest::Method::POST, &url, Some(request)).await
    }

    async fn get_custom_objects_by_entity(
        &self,
        request: &CustomResourcesByEntityRequest,
    ) -> Result<ObjectsByEntityResponse, KubernetesApiError> {
        let url = self.url("/resources/custom/query");
        self.json(reqwest::Method::POST, &url, Some(request)).await
    }
}
