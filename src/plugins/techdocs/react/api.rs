//! `TECHDOCS_API`: the utility API the reader fetches generated pages with.

use std::sync::Arc;
use std::time::Duration;

use super::error::TechDocsApiError;
use crate::frontend::{ApiFactory, ApiRef, FetchApi, FetchError, core_apis};
use crate::plugins::catalog::react::EntityParams;
use crate::services::http_client::default_http_client;

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
    fetch: FetchApi,
}

impl HttpTechDocsApi {
    /// A client fetching from `base_url`, with asset links under `external_base_url`.
    pub fn new(base_url: impl Into<String>, external_base_url: impl Into<String>) -> Self {
        let base_url = base_url.into().trim_end_matches('/').to_string();
        Self {
            fetch: FetchApi::fixed(base_url.clone(), default_http_client()),
            base_url,
            external_base_url: external_base_url.into().trim_end_matches('/').to_string(),
            timeout: Duration::from_secs(20),
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
        self.fetch = FetchApi::fixed(self.base_url.clone(), http);
        self
    }

    /// The API factory: requests through the `core.fetch` API (base URL from discovery,
    /// timeouts from `backend.httpClient.*`, its credential), asset links under the
    /// `core.discovery` API's external URL of `techdocs`.
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
            .deps((&core_apis::DISCOVERY, &core_apis::FETCH))
            .build(|(discovery, fetch)| {
                Ok(Arc::new(Self {
                    base_url: fetch.base_url("techdocs"),
                    external_base_url: discovery
                        .external_base_url("techdocs")
                        .trim_end_matches('/')
                        .to_string(),
                    timeout: Duration::from_secs(20),
                    fetch: (*fetch).clone(),
                }) as Arc<dyn TechDocsApi>)
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
        self.fetch
            .get_text_url(&url, Some(self.timeout))
            .await
            .map_err(|e| match e {
                FetchError::Transport { url, source } if source.is_timeout() => {
                    TechDocsApiError::Timeout { url }
                }
                FetchError::Transport { url, source } => {
                    TechDocsApiError::Transport { url, source }
                }
                FetchError::Response { url, status, error } => TechDocsApiError::Response {
                    url,
                    status,
                    message: error.message,
                },
                FetchError::Decode { url, .. } => TechDocsApiError::Response {
                    url,
                    status: 200,
                    message: "the response could not be decoded".to_string(),
                },
            })
    }

    fn static_base_url(&self, entity: &EntityParams) -> String {
        format!("{}{}", self.external_base_url, Self::entity_path(entity))
    }
}
