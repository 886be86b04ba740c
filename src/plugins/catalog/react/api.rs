//! `CATALOG_API`: the utility API catalog pages (and other plugins' pages) read entities with.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::error::CatalogApiError;
use crate::frontend::{ApiFactory, ApiRef, SignedInUser, core_apis};
use crate::plugins::catalog::common::{
    CatalogClient, Entity, EntityFilter, EntityRef, FacetValue, QueryEntitiesRequest,
    QueryEntitiesResponse,
};
use crate::services::http_client::http_client;

/// Reads the catalog, like Backstage's `CatalogApi`. Pages get it with
/// `req.api(&CATALOG_API)?`; an app can install another implementation (a fake in tests) with
/// an `api:plugin.catalog` override.
///
/// ```
/// use std::collections::BTreeMap;
/// use backlot::plugins::catalog::common::{Entity, EntityRef};
/// use backlot::plugins::catalog::react::{
///     CatalogApi, CatalogApiError, EntityFilter, FacetValue, QueryEntitiesRequest, QueryEntitiesResponse,
/// };
///
/// /// A catalog with nothing in it.
/// #[derive(Debug)]
/// struct Empty;
///
/// #[async_trait::async_trait]
/// impl CatalogApi for Empty {
///     async fn query_entities(&self, _: &QueryEntitiesRequest) -> Result<QueryEntitiesResponse, CatalogApiError> {
///         Ok(QueryEntitiesResponse { items: vec![], total_items: 0, page_info: Default::default() })
///     }
///     async fn get_entity_by_ref(&self, _: &EntityRef) -> Result<Option<Entity>, CatalogApiError> {
///         Ok(None)
///     }
///     async fn get_entities_by_refs(&self, refs: &[String]) -> Result<Vec<Option<Entity>>, CatalogApiError> {
///         Ok(refs.iter().map(|_| None).collect())
///     }
///     async fn get_entity_facets(&self, _: &[String], _: &[EntityFilter]) -> Result<BTreeMap<String, Vec<FacetValue>>, CatalogApiError> {
///         Ok(BTreeMap::new())
///     }
/// }
/// let api: std::sync::Arc<dyn CatalogApi> = std::sync::Arc::new(Empty);
/// # let _ = api;
/// ```
#[async_trait::async_trait]
pub trait CatalogApi: Send + Sync + std::fmt::Debug {
    /// `GET /entities/by-query`: one page; follow `page_info.next_cursor`.
    async fn query_entities(
        &self,
        request: &QueryEntitiesRequest,
    ) -> Result<QueryEntitiesResponse, CatalogApiError>;

    /// `GET /entities/by-name/{kind}/{namespace}/{name}`; `None` when it does not exist.
    async fn get_entity_by_ref(
        &self,
        entity_ref: &EntityRef,
    ) -> Result<Option<Entity>, CatalogApiError>;

    /// `POST /entities/by-refs`: entities in the order of `refs`, `None` for missing ones.
    async fn get_entities_by_refs(
        &self,
        refs: &[String],
    ) -> Result<Vec<Option<Entity>>, CatalogApiError>;

    /// `GET /entity-facets`: facet → values with counts, most frequent first.
    async fn get_entity_facets(
        &self,
        facets: &[String],
        filter: &[EntityFilter],
    ) -> Result<BTreeMap<String, Vec<FacetValue>>, CatalogApiError>;
}

/// The catalog utility API (`plugin.catalog`).
pub static CATALOG_API: ApiRef<dyn CatalogApi> = ApiRef::new("plugin.catalog");

/// [`CatalogApi`] over HTTP: the catalog's [`CatalogClient`] against the catalog backend.
/// Each call carries the token of the signed-in user whose page is rendering
/// ([`SignedInUser::current_token`](crate::frontend::SignedInUser::current_token)); the client
/// itself, shared by every page of the app, never holds a user's token.
///
/// ```
/// use backlot::plugins::catalog::react::HttpCatalogApi;
///
/// let api = HttpCatalogApi::new("http://127.0.0.1:7007/api/catalog/");
/// assert_eq!(api.client().base_url(), "http://127.0.0.1:7007/api/catalog");
/// ```
#[derive(Debug, Clone)]
pub struct HttpCatalogApi {
    client: CatalogClient,
}

impl HttpCatalogApi {
    /// A client for the catalog at `base_url` (e.g. `discovery.base_url("catalog")`).
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            client: CatalogClient::new(base_url),
        }
    }

    /// A client for the catalog at `base_url` sending through `http` (for its timeouts).
    pub fn with_client(base_url: impl Into<String>, http: reqwest::Client) -> Self {
        Self {
            client: CatalogClient::with_client(base_url, http),
        }
    }

    /// The underlying client (without a user's token).
    pub fn client(&self) -> &CatalogClient {
        &self.client
    }

    /// The client for one call: with the rendering user's token, if any.
    fn call(&self) -> std::borrow::Cow<'_, CatalogClient> {
        match SignedInUser::current_token() {
            Some(token) => std::borrow::Cow::Owned(self.client.with_token(&token)),
            None => std::borrow::Cow::Borrowed(&self.client),
        }
    }

    /// The API factory: base URL from the `core.discovery` API (`base_url("catalog")`),
    /// timeouts from `backend.httpClient.*` of the `core.config` API.
    ///
    /// ```
    /// use backlot::frontend::{ApiBlueprint, App, FrontendPlugin};
    /// use backlot::plugins::catalog::react::{CATALOG_API, HttpCatalogApi};
    ///
    /// let app = App::builder()
    ///     .feature(FrontendPlugin::new("catalog").extension(ApiBlueprint::make(HttpCatalogApi::factory())))
    ///     .build()?;
    /// assert!(app.apis().get(&CATALOG_API).is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn factory() -> ApiFactory {
        ApiFactory::builder(&CATALOG_API)
            .deps((&core_apis::DISCOVERY, &core_apis::CONFIG))
            .build(|(discovery, config)| {
                let http = http_client(&config)?;
                Ok(
                    Arc::new(Self::with_client(discovery.base_url("catalog"), http))
                        as Arc<dyn CatalogApi>,
                )
            })
    }
}

#[async_trait::async_trait]
impl CatalogApi for HttpCatalogApi {
    async fn query_entities(
        &self,
        request: &QueryEntitiesRequest,
    ) -> Result<QueryEntitiesResponse, CatalogApiError> {
        Ok(self.call().query_entities(request).await?)
    }

    async fn get_entity_by_ref(
        &self,
        entity_ref: &EntityRef,
    ) -> Result<Option<Entity>, CatalogApiError> {
        Ok(self.call().get_entity_by_ref(entity_ref).await?)
    }

    async fn get_entities_by_refs(
        &self,
        refs: &[String],
    ) -> Result<Vec<Option<Entity>>, CatalogApiError> {
        Ok(self.call().get_entities_by_refs(refs, &[]).await?)
    }

    async fn get_entity_facets(
        &self,
        facets: &[String],
        filter: &[EntityFilter],
    ) -> Result<BTreeMap<String, Vec<FacetValue>>, CatalogApiError> {
        Ok(self.call().get_entity_facets(facets, filter).await?)
    }
}
