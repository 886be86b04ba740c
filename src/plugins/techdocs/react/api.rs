//! `TECHDOCS_API`: the utility API the reader fetches generated pages with.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::error::TechDocsApiError;
use crate::frontend::{ApiFactory, ApiRef, core_apis};
use crate::plugins::catalog::react::EntityParams;
use crate::services::http_client::{default_http_client, http_client};

/// Reads published TechDocs sites, like Backstage's `TechDocsStorageApi`. An app can install
/// another implementation with an `api:plugin.techdocs.storageservice` override.
///
/// ```
/// use backlot::plugins::catalog::react::EntityParams;
/// use backlot::plugins::techdocs::react::{TechDocsApi, TechDocsApiError};
///
/// /// A site whose every page says hello.
/// #[derive(Debug)]
/// struct Hello;
///
/// #[async_trait::async_trait]
/// impl TechDocsApi for Hello {
///     async fn static_file(&self, _: &EntityParams, _: &str) -> Result<String, TechDocsApiError> {
///         Ok("<article><h1>Hello</h1></article>".into())
///     }
///     fn static_base_url(&self, e: &EntityParams) -> String {
///         format!("/static/{}/{}/{}", e.namespace, e.kind, e.name)
///     }
/// }
/// let api: std::sync::Arc<dyn TechDocsApi> = std::sync::Arc::new(Hello);
/// # let _ = api;
/// ```
#[async_trait::async_trait]
pub trait TechDocsApi: Send + Sync + std::fmt::Debug {
    /// `GET /static/docs/:namespace/:kind/:name/:path`: a text file of the entity's site
    /// (the backend builds the site first if it has none).
    async fn static_file(
        &self,
        entity: &EntityParams,
        path: &str,
    ) -> Result<String, TechDocsApiError>;

    /// The URL browsers fetch the entity's site files (images) from.
    fn static_base_url(&self, entity: &EntityParams) -> String;
}

/// The TechDocs utility API (`plugin.techdocs.storageservice`).
pub static TECHDOCS_API: ApiRef<dyn TechDocsApi> = ApiRef::new("plugin.techdocs.storageservice");

/// What a path segment must not carry as is.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'\\')
    .add(b'`')
    .add(b'{')
    .add(b'}');

fn encode(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, SEGMENT).to_string()
}

/// [`TechDocsApi`] over HTTP against the techdocs backend. Requests wait at most the timeout
/// (20 s by default); a longer wait — a first build — is reported as
/// [`TechDocsApiError::Timeout`] so the reader can show its "building" state.
///
/// ```
/// use backlot::plugins::catalog::react::EntityParams;
/// use backlot::plugins::techdocs::react::{HttpTechDocsApi, TechDocsApi};
///
/// let api = HttpTechDocsApi::new("http://127.0.0.1:7007/api/techdocs", "http://localhost:7007/api/techdocs");
/// let e = EntityParams { namespace: "default".into(), kind: "component".into(), name: "shop".into() };
/// assert_eq!(api.static_base_url(&e), "http://localhost:7007/api/techdocs/static/docs/default/component/shop");
/// ```
#[derive(Debug, Clone)]
pub struct HttpTechDocsApi {
    base_url: String,
    external_base_url: String,
    timeout: Duration,
    http: reqwest::Client,
}

impl HttpTechDocsApi {
    /// A client fetching from `base_url`, with asset links under `external_base_url`.
    pub fn new(base_url: impl Into<String>, external_base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            external_base_url: external_base_url.into().trim_end_matches('/').to_string(),
            timeout: Duration::from_secs(20),
            http: default_http_client(),
        }
    }

    /// Sets how long a request may take before it counts as "still building".
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends through `http` (for its connect timeout and other settings).
    #[must_use]
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    /// The API factory: URLs from the `core.discovery` API (`techdocs`), the connect timeout
    /// from `backend.httpClient.connectTimeout` of the `core.config` API.
    ///
    /// ```
    /// use backlot::frontend::{ApiBlueprint, App, FrontendPlugin};
    /// use backlot::plugins::techdocs::react::{HttpTechDocsApi, TECHDOCS_API};
    ///
    /// let app = App::builder()
    ///     .feature(FrontendPlugin::new("techdocs").extension(ApiBlueprint::make(HttpTechDocsApi::factory())))
    ///     .build()?;
    /// assert!(app.apis().get(&TECHDOCS_API).is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn factory() -> ApiFactory {
        ApiFactory::builder(&TECHDOCS_API)
            .deps((&core_apis::DISCOVERY, &core_apis::CONFIG))
            .build(|(discovery, config)| {
                let http = http_client(&config)?;
                Ok(Arc::new(
                    Self::new(
                        discovery.base_url("techdocs"),
                        discovery.external_base_url("techdocs"),
                    )
                    .http_client(http),
                ) as Arc<dyn TechDocsApi>)
            })
    }

    fn entity_path(entity: &EntityParams) -> String {
        format!(
            "/static/docs/{}/{}/{}",
            encode(&entity.namespace),
            encode(&entity.kind),
            encode(&entity.name)
        )
    }
}

#[async_trait::async_trait]
impl TechDocsApi for HttpTechDocsApi {
    async fn static_file(
        &self,
        entity: &EntityParams,
        path: &str,
    ) -> Result<String, TechDocsApiError> {
        let file: Vec<String> = path.split('/').map(encode).collect();
        let url = format!(
            "{}{}/{}",
            self.base_url,
            Self::entity_path(entity),
            file.join("/")
        );
        let res = self
            .http
            .get(&url)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|source| {
                if source.is_timeout() {
                    TechDocsApiError::Timeout { url: url.clone() }
                } else {
                    TechDocsApiError::Transport {
                        url: url.clone(),
                        source,
                    }
                }
            })?;
        let status = res.status().as_u16();
        let body = res
            .bytes()
            .await
            .map_err(|source| TechDocsApiError::Transport {
                url: url.clone(),
                source,
            })?;
        if !(200..300).contains(&status) {
            let message = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect());
            return Err(TechDocsApiError::Response {
                url,
                status,
                message,
            });
        }
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    fn static_base_url(&self, entity: &EntityParams) -> String {
        format!("{}{}", self.external_base_url, Self::entity_path(entity))
    }
}
