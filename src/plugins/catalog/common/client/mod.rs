//! A typed HTTP client for the catalog's REST API (`/api/catalog`), like Backstage's
//! `CatalogClient`.

use serde::Deserialize;
use serde_json::{Value, json};

mod types;

pub use types::{
    AddLocationResponse, CatalogClientError, EntityFilter, FacetValue, GetEntitiesRequest,
    Location, PageInfo, QueryEntitiesRequest, QueryEntitiesResponse, QueryLocationsRequest,
    QueryLocationsResponse,
};

use super::{Entity, EntityRef};

/// A client for the catalog's REST API.
///
/// Entities are parsed into [`Entity`]; when `fields` narrows them, include `apiVersion`,
/// `kind` and `metadata.name`.
///
/// ```no_run
/// use backlot::plugins::catalog::common::{CatalogClient, EntityFilter, QueryEntitiesRequest};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = CatalogClient::new("http://localhost:7007/api/catalog");
/// let mut request = QueryEntitiesRequest {
///     filter: vec![EntityFilter::new().with("kind", "component")],
///     limit: Some(100),
///     ..Default::default()
/// };
/// loop {
///     let page = client.query_entities(&request).await?;
///     for entity in &page.items {
///         println!("{}", entity.ref_string());
///     }
///     match page.page_info.next_cursor {
///         Some(cursor) => request.cursor = Some(cursor),
///         None => break,
///     }
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct CatalogClient {
    base_url: String,
    http: reqwest::Client,
    token: Option<String>,
}

impl std::fmt::Debug for CatalogClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogClient")
            .field("base_url", &self.base_url)
            .field("has_token", &self.token.is_some())
            .finish_non_exhaustive()
    }
}

impl CatalogClient {
    /// A client for the catalog at `base_url` (e.g. `discovery.base_url("catalog")`).
    pub fn new(base_url: impl Into<String>) -> Self {
        Self::with_client(
            base_url,
            crate::services::http_client::default_http_client(),
        )
    }

    /// A client sending through `http`.
    pub fn with_client(base_url: impl Into<String>, http: reqwest::Client) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            http,
            token: None,
        }
    }

    /// The same client sending `Authorization: Bearer <token>` (a user's identity token, a
    /// plugin token for `catalog`, or an external access token) with every request.
    ///
    /// ```
    /// use backlot::plugins::catalog::common::CatalogClient;
    ///
    /// let client = CatalogClient::new("http://127.0.0.1:7007/api/catalog").with_token("abc");
    /// assert_eq!(client.token(), Some("abc"));
    /// ```
    pub fn with_token(&self, token: &str) -> Self {
        Self {
            token: Some(token.to_string()),
            ..self.clone()
        }
    }

    /// The token sent with every request, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The catalog's base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    async fn send(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<(String, String, bytes::Bytes), CatalogClientError> {
        let req = match &self.token {
            Some(token) => req.bearer_auth(token),
            None => req,
        };
        let built = req
            .build()
            .map_err(|source| CatalogClientError::Transport {
                method: "?".into(),
                url: self.base_url.clone(),
                source,
            })?;
        let method = built.method().to_string();
        let url = built.url().to_string();
        let res =
            self.http
                .execute(built)
                .await
                .map_err(|source| CatalogClientError::Transport {
                    method: method.clone(),
                    url: url.clone(),
                    source,
                })?;
        let status = res.status();
        let body = res
            .bytes()
            .await
            .map_err(|source| CatalogClientError::Transport {
                method: method.clone(),
                url: url.clone(),
                source,
            })?;
        if !status.is_success() {
            let parsed: Option<Value> = serde_json::from_slice(&body).ok();
            let name = parsed
                .as_ref()
                .and_then(|v| v["error"]["name"].as_str())
                .map(str::to_string)
                .unwrap_or_else(|| default_error_name(status.as_u16()).to_string());
            let message = parsed
                .as_ref()
                .and_then(|v| v["error"]["message"].as_str())
                .map(str::to_string)
                .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect());
            return Err(CatalogClientError::Response {
                method,
                url,
                status: status.as_u16(),
                name,
                message,
            });
        }
        Ok((method, url, body))
    }

    async fn send_json<T: serde::de::DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, CatalogClientError> {
        let (method, url, body) = self.send(req).await?;
        serde_json::from_slice(&body).map_err(|source| CatalogClientError::Decode {
            method,
            url,
            source,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// `GET /entities`: entities matching the filter, with offset paging.
    pub async fn get_entities(
        &self,
        request: &GetEntitiesRequest,
    ) -> Result<Vec<Entity>, CatalogClientError> {
        let mut params: Vec<(&str, String)> = filter_params(&request.filter);
        if !request.fields.is_empty() {
            params.push(("fields", request.fields.join(",")));
        }
        if let Some(limit) = request.limit {
            params.push(("limit", limit.to_string()));
        }
        if let Some(offset) = request.offset {
            params.push(("offset", offset.to_string()));
        }
        self.send_json(self.http.get(self.url("/entities")).query(&params))
            .await
    }

    /// `GET /entities/by-query`: one page of entities; follow `page_info.next_cursor`.
    pub async fn query_entities(
        &self,
        request: &QueryEntitiesRequest,
    ) -> Result<QueryEntitiesResponse, CatalogClientError> {
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

    /// `GET /entities/by-name/{kind}/{namespace}/{name}`; `None` when it does not exist.
    pub async fn get_entity_by_ref(
        &self,
        entity_ref: &EntityRef,
    ) -> Result<Option<Entity>, CatalogClientError> {
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

    /// `POST /entities/by-refs`: entities in the order of `refs`, `None` for missing ones.
    pub async fn get_entities_by_refs(
        &self,
        refs: &[String],
        fields: &[String],
    ) -> Result<Vec<Option<Entity>>, CatalogClientError> {
        #[derive(Deserialize)]
        struct Items {
            items: Vec<Option<Entity>>,
        }
        let mut body = json!({ "entityRefs": refs });
        if !fields.is_empty() {
            body["fields"] = json!(fields);
        }
        let items: Items = self
            .send_json(self.http.post(self.url("/entities/by-refs")).json(&body))
            .await?;
        Ok(items.items)
    }

    /// `GET /entity-facets`: facet → values with counts.
    pub async fn get_entity_facets(
        &self,
        facets: &[String],
        filter: &[EntityFilter],
    ) -> Result<std::collections::BTreeMap<String, Vec<FacetValue>>, CatalogClientError> {
        #[derive(Deserialize)]
        struct Facets {
            facets: std::collections::BTreeMap<String, Vec<FacetValue>>,
        }
        let mut params: Vec<(&str, String)> = facets.iter().map(|f| ("facet", f.clone())).collect();
        params.extend(filter_params(filter));
        let facets: Facets = self
            .send_json(self.http.get(self.url("/entity-facets")).query(&params))
            .await?;
        Ok(facets.facets)
    }

    /// `POST /locations`: registers a location (or, with `dry_run`, only reads it).
    pub async fn add_location(
        &self,
        location_type: &str,
        target: &str,
        dry_run: bool,
    ) -> Result<AddLocationResponse, CatalogClientError> {
        let mut req = self
            .http
            .post(self.url("/locations"))
            .json(&json!({ "type": location_type, "target": target }));
        if dry_run {
            req = req.query(&[("dryRun", "true")]);
        }
        self.send_json(req).await
    }

    /// `POST /locations/by-query`: one page of registered locations matching
    /// `request.query`; follow `page_info.next_cursor` for the rest.
    ///
    /// ```no_run
    /// use backlot::plugins::catalog::common::{CatalogClient, QueryLocationsRequest};
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = CatalogClient::new("http://localhost:7007/api/catalog");
    /// let mut request = QueryLocationsRequest {
    ///     query: Some(serde_json::json!({ "type": "url" })),
    ///     limit: Some(50),
    ///     ..Default::default()
    /// };
    /// loop {
    ///     let page = client.query_locations(&request).await?;
    ///     for location in &page.items {
    ///         println!("{} {}:{}", location.id, location.location_type, location.target);
    ///     }
    ///     match page.page_info.next_cursor {
    ///         Some(cursor) => request.cursor = Some(cursor),
    ///         None => break,
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn query_locations(
        &self,
        request: &QueryLocationsRequest,
    ) -> Result<QueryLocationsResponse, CatalogClientError> {
        self.send_json(
            self.http
                .post(self.url("/locations/by-query"))
                .json(request),
        )
        .await
    }

    /// `PUT /locations/{id}`: points a registered location at a new type and target (the
    /// old target's entities are removed, the new target's ingested); answers the updated
    /// location.
    pub async fn update_location(
        &self,
        id: &str,
        location_type: &str,
        target: &str,
    ) -> Result<Location, CatalogClientError> {
        let path = format!("/locations/{}", encode(id));
        self.send_json(
            self.http
                .put(self.url(&path))
                .json(&json!({ "type": location_type, "target": target })),
        )
        .await
    }

    /// `DELETE /locations/{id}`.
    pub async fn remove_location(&self, id: &str) -> Result<(), CatalogClientError> {
        let path = format!("/locations/{}", encode(id));
        self.send(self.http.delete(self.url(&path)))
            .await
            .map(|_| ())
    }

    /// `POST /refresh`: schedules an entity for processing now.
    pub async fn refresh_entity(&self, entity_ref: &str) -> Result<(), CatalogClientError> {
        self.send(
            self.http
                .post(self.url("/refresh"))
                .json(&json!({ "entityRef": entity_ref })),
        )
        .await
        .map(|_| ())
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

fn default_error_name(status: u16) -> &'static str {
    match status {
        400 => "InputError",
        401 => "AuthenticationError",
        403 => "NotAllowedError",
        404 => "NotFoundError",
        409 => "ConflictError",
        501 => "NotImplementedError",
        503 => "ServiceUnavailableError",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::catalog::common::RefDefaults;

    #[test]
    fn filter_from_config() {
        let f = EntityFilter::from_json(
            &json!({ "kind": ["Component", "API"], "spec.type": "service" }),
        )
        .unwrap();
        assert_eq!(
            f.to_query_value(),
            "kind=Component,kind=API,spec.type=service"
        );
        assert!(EntityFilter::from_json(&json!({ "kind": 1 })).is_none());
    }

    async fn serve() -> String {
        use axum::Router;
        use axum::http::StatusCode;
        use axum::routing::{delete, get, post};
        let entity = json!({ "apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": { "name": "a" } });
        let e1 = entity.clone();
        let e2 = entity.clone();
        let app = Router::new()
            .route(
                "/api/catalog/entities",
                get(move |q: axum::extract::RawQuery| {
                    let e = e1.clone();
                    async move {
                        assert_eq!(q.0.as_deref(), Some("filter=kind%3Dcomponent&fields=kind%2Cmetadata.name&limit=5&offset=10"));
                        axum::Json(json!([e]))
                    }
                }),
            )
            .route(
                "/api/catalog/entities/by-name/component/default/a",
                get(move || async move { axum::Json(e2.clone()) }),
            )
            .route(
                "/api/catalog/entities/by-name/component/default/missing",
                get(|| async {
                    (StatusCode::NOT_FOUND, axum::Json(json!({ "error": { "name": "NotFoundError", "message": "no entity" }, "response": { "statusCode": 404 } })))
                }),
            )
            .route(
                "/api/catalog/entities/by-refs",
                post(move |body: axum::Json<Value>| {
                    let e = entity.clone();
                    async move {
                        assert_eq!(body.0["entityRefs"], json!(["component:default/a", "component:default/x"]));
                        axum::Json(json!({ "items": [e, null] }))
                    }
                }),
            )
            .route(
                "/api/catalog/entity-facets",
                get(|| async { axum::Json(json!({ "facets": { "kind": [{ "value": "Component", "count": 2 }] } })) }),
            )
            .route(
                "/api/catalog/locations",
                post(|| async {
                    (StatusCode::CONFLICT, axum::Json(json!({ "error": { "name": "ConflictError", "message": "already registered" }, "response": { "statusCode": 409 } })))
                }),
            )
            .route(
                "/api/catalog/locations/by-query",
                post(|body: axum::Json<Value>| async move {
                    if body.0.get("cursor").is_some() {
                        assert_eq!(body.0, json!({ "cursor": "next" }));
                        return axum::Json(json!({
                            "items": [{ "id": "2", "type": "url", "target": "https://x/b.yaml" }],
                            "totalItems": 2,
                            "pageInfo": {},
                        }));
                    }
                    assert_eq!(body.0, json!({ "query": { "type": "url" }, "limit": 1 }));
                    axum::Json(json!({
                        "items": [{ "id": "1", "type": "url", "target": "https://x/a.yaml" }],
                        "totalItems": 2,
                        "pageInfo": { "nextCursor": "next" },
                    }))
                }),
            )
            .route(
                "/api/catalog/locations/{id}",
                delete(|| async { StatusCode::NO_CONTENT }).put(
                    |axum::extract::Path(id): axum::extract::Path<String>,
                     body: axum::Json<Value>| async move {
                        if id != "a b" {
                            return (StatusCode::NOT_FOUND, axum::Json(json!({ "error": { "name": "NotFoundError", "message": "no location" }, "response": { "statusCode": 404 } })));
                        }
                        (
                            StatusCode::OK,
                            axum::Json(json!({ "id": id, "type": body.0["type"], "target": body.0["target"] })),
                        )
                    },
                ),
            )
            .route("/api/catalog/refresh", post(|| async { StatusCode::OK }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}/api/catalog")
    }

    #[tokio::test]
    async fn calls_the_catalog_api_and_maps_errors() {
        let client = CatalogClient::new(serve().await);
        let got = client
            .get_entities(&GetEntitiesRequest {
                filter: vec![EntityFilter::new().with("kind", "component")],
                fields: vec!["kind".into(), "metadata.name".into()],
                limit: Some(5),
                offset: Some(10),
            })
            .await
            .unwrap();
        assert_eq!(got.len(), 1);
        let a = EntityRef::parse("component:a", RefDefaults::default()).unwrap();
        assert_eq!(
            client
                .get_entity_by_ref(&a)
                .await
                .unwrap()
                .unwrap()
                .metadata
                .name,
            "a"
        );
        let missing = EntityRef::parse("component:missing", RefDefaults::default()).unwrap();
        assert!(client.get_entity_by_ref(&missing).await.unwrap().is_none());
        let refs = client
            .get_entities_by_refs(
                &["component:default/a".into(), "component:default/x".into()],
                &[],
            )
            .await
            .unwrap();
        assert!(refs[0].is_some() && refs[1].is_none());
        let facets = client
            .get_entity_facets(&["kind".into()], &[])
            .await
            .unwrap();
        assert_eq!(facets["kind"][0].count, 2);
        let err = client
            .add_location("url", "https://x/y.yaml", false)
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(409));
        assert_eq!(err.name(), Some("ConflictError"));
        assert!(matches!(err, CatalogClientError::Response { .. }));
        client.remove_location("abc").await.unwrap();
        let mut request = QueryLocationsRequest {
            query: Some(json!({ "type": "url" })),
            limit: Some(1),
            cursor: None,
        };
        let page = client.query_locations(&request).await.unwrap();
        assert_eq!(page.total_items, 2);
        assert_eq!(page.items[0].target, "https://x/a.yaml");
        request = QueryLocationsRequest {
            cursor: page.page_info.next_cursor,
            ..QueryLocationsRequest::default()
        };
        let page = client.query_locations(&request).await.unwrap();
        assert_eq!(page.items[0].id, "2");
        assert!(page.page_info.next_cursor.is_none());
        let updated = client
            .update_location("a b", "url", "https://x/c.yaml")
            .await
            .unwrap();
        assert_eq!(
            updated,
            Location {
                id: "a b".into(),
                location_type: "url".into(),
                target: "https://x/c.yaml".into(),
            }
        );
        let err = client
            .update_location("nope", "url", "https://x/c.yaml")
            .await
            .unwrap_err();
        assert_eq!(err.name(), Some("NotFoundError"));
        client.refresh_entity("component:default/a").await.unwrap();
        let down = CatalogClient::new("http://127.0.0.1:1/api/catalog");
        assert!(matches!(
            down.refresh_entity("x").await,
            Err(CatalogClientError::Transport { .. })
        ));
    }

    #[test]
    fn page_parses() {
        let page: QueryEntitiesResponse = serde_json::from_value(json!({
            "items": [{ "apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": { "name": "a" } }],
            "totalItems": 3,
            "pageInfo": { "nextCursor": "abc" }
        }))
        .unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.page_info.next_cursor.as_deref(), Some("abc"));
    }
}
