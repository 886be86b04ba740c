//! `CATALOG_API`: the utility API catalog pages (and other plugins' pages) read entities with.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use super::error::CatalogApiError;
use super::types::{EntityFilter, FacetValue, QueryEntitiesRequest, QueryEntitiesResponse};
use crate::frontend::{ApiFactory, ApiRef, core_apis};
use crate::plugins::catalog::common::{Entity, EntityRef};
use crate::services::discovery::DiscoveryService;

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

/// [`CatalogApi`] over HTTP, against the catalog backend at a base URL.
///
/// ```
/// use backlot::plugins::catalog::react::HttpCatalogApi;
///
/// let api = HttpCatalogApi::new("http://127.0.0.1:7007/api/catalog/");
/// assert_eq!(api.base_url(), "http://127.0.0.1:7007/api/catalog");
/// ```
#[derive(Debug, Clone)]
pub struct HttpCatalogApi {
    base_url: String,
    http: reqwest::Client,
}

impl HttpCatalogApi {
    /// A client for the catalog at `base_url` (e.g. `discovery.base_url("catalog")`).
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// The catalog's base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The API factory: base URL from the `core.discovery` API (`base_url("catalog")`).
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
            .dep(&core_apis::DISCOVERY)
            .build(|deps| {
                let discovery: Arc<dyn DiscoveryService> = deps.get(&core_apis::DISCOVERY)?;
                Ok(Arc::new(Self::new(discovery.base_url("catalog"))) as Arc<dyn CatalogApi>)
            })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    async fn send(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<(String, u16, bytes::Bytes), CatalogApiError> {
        let built = req
            .build()
            .map_err(|source| CatalogApiError::Transport {
                url: self.base_url.clone(),
                source,
            })?;
        let url = built.url().to_string();
        let res = self
            .http
            .execute(built)
            .await
            .map_err(|source| CatalogApiError::Transport {
                url: url.clone(),
                source,
            })?;
        let status = res.status().as_u16();
        let body = res
            .bytes()
            .await
            .map_err(|source| CatalogApiError::Transport {
                url: url.clone(),
                source,
            })?;
        if !(200..300).contains(&status) {
            let parsed: Option<Value> = serde_json::from_slice(&body).ok();
            let field = |key: &str| {
                parsed
                    .as_ref()
                    .and_then(|v| v["error"][key].as_str())
                    .map(str::to_string)
            };
            return Err(CatalogApiError::Response {
                name: field("name").unwrap_or_else(|| "Error".to_string()),
                message: field("message")
                    .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect()),
                url,
                status,
            });
        }
        Ok((url, status, body))
    }

    async fn send_json<T: serde::de::DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, CatalogApiError> {
        let (url, _, body) = self.send(req).await?;
        serde_json::from_slice(&body).map_err(|source| CatalogApiError::Decode { url, source })
    }
}

fn filter_params(filter: &[EntityFilter]) -> Vec<(&'static str, String)> {
    filter
        .iter()
        .filter(|f| !f.is_empty())
        .map(|f| ("filter", f.to_query_value()))
        .collect()
}

fn encode(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[async_trait::async_trait]
impl CatalogApi for HttpCatalogApi {
    async fn query_entities(
        &self,
        request: &QueryEntitiesRequest,
    ) -> Result<QueryEntitiesResponse, CatalogApiError> {
        let mut params: Vec<(&str, String)> = Vec::new();
        if let Some(cursor) = &request.cursor {
            params.push(("cursor", cursor.clone()));
        } else {
            params.extend(filter_params(&request.filter));
            for (field, order) in &request.order_fields {
                params.push(("orderField", format!("{field},{order}")));
            }
            if let Some(term) = &request.full_text_filter_term {
                params.push(("fullTextFilterTerm", term.clone()));
            }
        }
        if !request.fields.is_empty() {
            params.push(("fields", request.fields.join(",")));
        }
        if let Some(limit) = request.limit {
            params.push(("limit", limit.to_string()));
        }
        self.send_json(self.http.get(self.url("/entities/by-query")).query(&params))
            .await
    }

    async fn get_entity_by_ref(
        &self,
        entity_ref: &EntityRef,
    ) -> Result<Option<Entity>, CatalogApiError> {
        let path = format!(
            "/entities/by-name/{}/{}/{}",
            encode(entity_ref.kind()),
            encode(entity_ref.namespace()),
            encode(entity_ref.name())
        );
        match self.send_json(self.http.get(self.url(&path))).await {
            Ok(entity) => Ok(Some(entity)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn get_entities_by_refs(
        &self,
        refs: &[String],
    ) -> Result<Vec<Option<Entity>>, CatalogApiError> {
        #[derive(Deserialize)]
        struct Items {
            items: Vec<Option<Entity>>,
        }
        let body = json!({ "entityRefs": refs });
        let items: Items = self
            .send_json(self.http.post(self.url("/entities/by-refs")).json(&body))
            .await?;
        Ok(items.items)
    }

    async fn get_entity_facets(
        &self,
        facets: &[String],
        filter: &[EntityFilter],
    ) -> Result<BTreeMap<String, Vec<FacetValue>>, CatalogApiError> {
        #[derive(Deserialize)]
        struct Facets {
            facets: BTreeMap<String, Vec<FacetValue>>,
        }
        let mut params: Vec<(&str, String)> = facets.iter().map(|f| ("facet", f.clone())).collect();
        params.extend(filter_params(filter));
        let facets: Facets = self
            .send_json(self.http.get(self.url("/entity-facets")).query(&params))
            .await?;
        Ok(facets.facets)
    }
}
