//! `SEARCH_API`: the utility API search pages query with.

use std::sync::Arc;

use serde_json::Value;

use super::error::SearchApiError;
use crate::frontend::{ApiFactory, ApiRef, RouteRef, core_apis};
use crate::plugins::search::common::{FilterValue, SearchQuery, SearchResultSet};
use crate::services::discovery::DiscoveryService;
use crate::services::http_client::{default_http_client, http_client};

/// The search page (`/search` by default), bindable as `search.root`.
pub static SEARCH_ROUTE: RouteRef = RouteRef::new("search.root");

/// Queries the search backend, like Backstage's `SearchApi`. An app can install another
/// implementation (a fake in tests) with an `api:plugin.search.queryservice` override.
///
/// ```
/// use backlot::plugins::search::common::{SearchQuery, SearchResultSet};
/// use backlot::plugins::search::react::{SearchApi, SearchApiError};
///
/// /// Finds nothing.
/// #[derive(Debug)]
/// struct Nothing;
///
/// #[async_trait::async_trait]
/// impl SearchApi for Nothing {
///     async fn query(&self, _: &SearchQuery) -> Result<SearchResultSet, SearchApiError> {
///         Ok(SearchResultSet::default())
///     }
/// }
/// let api: std::sync::Arc<dyn SearchApi> = std::sync::Arc::new(Nothing);
/// # let _ = api;
/// ```
#[async_trait::async_trait]
pub trait SearchApi: Send + Sync + std::fmt::Debug {
    /// `GET /query`: one page of results.
    async fn query(&self, query: &SearchQuery) -> Result<SearchResultSet, SearchApiError>;
}

/// The search utility API (`plugin.search.queryservice`).
pub static SEARCH_API: ApiRef<dyn SearchApi> = ApiRef::new("plugin.search.queryservice");

/// [`SearchApi`] over HTTP, against the search backend at a base URL.
///
/// ```
/// use backlot::plugins::search::common::{FilterValue, SearchQuery};
/// use backlot::plugins::search::react::HttpSearchApi;
///
/// let api = HttpSearchApi::new("http://127.0.0.1:7007/api/search/");
/// let query = SearchQuery::new("rust docs")
///     .with_types(["techdocs"])
///     .with_filter("kind", FilterValue::One("component".into()));
/// assert_eq!(
///     api.query_url(&query),
///     "http://127.0.0.1:7007/api/search/query?term=rust+docs&types%5B0%5D=techdocs&filters%5Bkind%5D=component"
/// );
/// ```
#[derive(Debug, Clone)]
pub struct HttpSearchApi {
    base_url: String,
    http: reqwest::Client,
}

impl HttpSearchApi {
    /// A client for the search backend at `base_url` (e.g. `discovery.base_url("search")`).
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            http: default_http_client(),
        }
    }

    /// A client for the search backend at `base_url` sending through `http` (for its
    /// timeouts).
    pub fn with_client(base_url: impl Into<String>, http: reqwest::Client) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            http,
        }
    }

    /// The API factory: base URL from the `core.discovery` API (`base_url("search")`),
    /// timeouts from `backend.httpClient.*` of the `core.config` API.
    ///
    /// ```
    /// use backlot::frontend::{ApiBlueprint, App, FrontendPlugin};
    /// use backlot::plugins::search::react::{HttpSearchApi, SEARCH_API};
    ///
    /// let app = App::builder()
    ///     .feature(FrontendPlugin::new("search").extension(ApiBlueprint::make(HttpSearchApi::factory())))
    ///     .build()?;
    /// assert!(app.apis().get(&SEARCH_API).is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn factory() -> ApiFactory {
        ApiFactory::builder(&SEARCH_API)
            .dep(&core_apis::DISCOVERY)
            .dep(&core_apis::CONFIG)
            .build(|deps| {
                let discovery: Arc<dyn DiscoveryService> = deps.get(&core_apis::DISCOVERY)?;
                let http = http_client(&*deps.get(&core_apis::CONFIG)?)?;
                Ok(
                    Arc::new(Self::with_client(discovery.base_url("search"), http))
                        as Arc<dyn SearchApi>,
                )
            })
    }

    /// The `/query` URL for a query, in the bracket form Backstage's client sends.
    pub fn query_url(&self, query: &SearchQuery) -> String {
        let mut params = url::form_urlencoded::Serializer::new(String::new());
        params.append_pair("term", &query.term);
        for (i, t) in query.types.iter().enumerate() {
            params.append_pair(&format!("types[{i}]"), t);
        }
        for (field, value) in &query.filters {
            match value {
                FilterValue::One(v) => {
                    params.append_pair(&format!("filters[{field}]"), v);
                }
                FilterValue::AnyOf(values) => {
                    for (i, v) in values.iter().enumerate() {
                        params.append_pair(&format!("filters[{field}][{i}]"), v);
                    }
                }
            }
        }
        if let Some(cursor) = &query.page_cursor {
            params.append_pair("pageCursor", cursor);
        }
        if let Some(limit) = query.page_limit {
            params.append_pair("pageLimit", &limit.to_string());
        }
        format!("{}/query?{}", self.base_url, params.finish())
    }
}

#[async_trait::async_trait]
impl SearchApi for HttpSearchApi {
    async fn query(&self, query: &SearchQuery) -> Result<SearchResultSet, SearchApiError> {
        let url = self.query_url(query);
        let transport = |source| SearchApiError::Transport {
            url: url.clone(),
            source,
        };
        let res = self.http.get(&url).send().await.map_err(transport)?;
        let status = res.status().as_u16();
        let body = res.bytes().await.map_err(transport)?;
        if !(200..300).contains(&status) {
            let message = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect());
            return Err(SearchApiError::Response {
                url,
                status,
                message,
            });
        }
        serde_json::from_slice(&body).map_err(|source| SearchApiError::Decode { url, source })
    }
}
