//! `SEARCH_API`: the utility API search pages query with.

use std::sync::Arc;

use super::error::SearchApiError;
use crate::frontend::{ApiFactory, ApiRef, FetchApi, FetchError, RouteRef, core_apis};
use crate::plugins::search::common::{FilterValue, SearchQuery, SearchResultSet};
use crate::services::http_client::default_http_client;

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
    fetch: FetchApi,
}

impl HttpSearchApi {
    /// A client for the search backend at `base_url` (e.g. `discovery.base_url("search")`).
    pub fn new(base_url: impl Into<String>) -> Self {
        Self::with_client(base_url, default_http_client())
    }

    /// A client for the search backend at `base_url` sending through `http` (for its
    /// timeouts).
    pub fn with_client(base_url: impl Into<String>, http: reqwest::Client) -> Self {
        let base_url = base_url.into().trim_end_matches('/').to_string();
        Self {
            fetch: FetchApi::fixed(base_url.clone(), http),
            base_url,
        }
    }

    /// The API factory: calls go through the `core.fetch` API (base URL from discovery,
    /// timeouts from `backend.httpClient.*`, its credential, decoded error JSON).
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
            .deps(&core_apis::FETCH)
            .build(|fetch| {
                Ok(Arc::new(Self {
                    base_url: fetch.base_url("search"),
                    fetch: (*fetch).clone(),
                }) as Arc<dyn SearchApi>)
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
        self.fetch
            .get_json_url(&self.query_url(query))
            .await
            .map_err(|e| match e {
                FetchError::Transport { url, source } => SearchApiError::Transport { url, source },
                FetchError::Response { url, status, error } => SearchApiError::Response {
                    url,
                    status,
                    message: error.message,
                },
                FetchError::Decode { url, source } => SearchApiError::Decode { url, source },
            })
    }
}
