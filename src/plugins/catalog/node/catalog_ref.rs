//! The [`CATALOG`] service ref (Backstage's `catalogServiceRef`): how other plugins read the
//! catalog, with typed answers, by default over HTTP through discovery.

use std::sync::Arc;

use async_trait::async_trait;

use crate::backend::{ServiceFactory, ServiceRef};
use crate::plugins::catalog::common::{
    AddLocationResponse, CatalogClient, CatalogClientError, Entity, EntityRef,
    QueryEntitiesRequest, QueryEntitiesResponse,
};
use crate::services::auth::{AUTH, AuthService, Credentials};
use crate::services::core_services::{DISCOVERY, ROOT_CONFIG};
use crate::services::http_client::http_client;

/// What a backend plugin asks the catalog, as the caller `credentials` stand for: a user
/// (pass the request's credentials, so the catalog shows what that user may see) or the plugin
/// itself (`auth.own_service_credentials()`). The default implementation is the public
/// [`CatalogClient`] on the catalog's base URL from discovery, sending a plugin token minted
/// for `catalog` with each call; tests replace it with a mock through a service factory for
/// [`CATALOG`].
///
/// ```
/// use std::sync::Arc;
/// use async_trait::async_trait;
/// use backlot::backend::ServiceFactory;
/// use backlot::plugins::catalog::common::{
///     CatalogClientError, Entity, EntityRef, QueryEntitiesRequest, QueryEntitiesResponse,
/// };
/// use backlot::plugins::catalog::node::{CATALOG, CatalogApi};
/// use backlot::services::auth::Credentials;
///
/// /// A catalog holding no entities.
/// #[derive(Debug)]
/// struct EmptyCatalog;
///
/// #[async_trait]
/// impl CatalogApi for EmptyCatalog {
///     async fn entity_by_ref(
///         &self,
///         _: &EntityRef,
///         _: &Credentials,
///     ) -> Result<Option<Entity>, CatalogClientError> {
///         Ok(None)
///     }
///     async fn query_entities(
///         &self,
///         _: &QueryEntitiesRequest,
///         _: &Credentials,
///     ) -> Result<QueryEntitiesResponse, CatalogClientError> {
///         Ok(QueryEntitiesResponse::default())
///     }
/// }
///
/// // Given to `TestBackend::builder().service(..)` or `Backend::builder().add_service(..)`.
/// let mock = ServiceFactory::plugin(&CATALOG)
///     .build(|_ctx, ()| async { Ok(Arc::new(EmptyCatalog) as Arc<dyn CatalogApi>) });
/// # let _ = mock;
/// ```
#[async_trait]
pub trait CatalogApi: Send + Sync + std::fmt::Debug {
    /// The entity `entity_ref` names, or `None` when the catalog has none.
    async fn entity_by_ref(
        &self,
        entity_ref: &EntityRef,
        credentials: &Credentials,
    ) -> Result<Option<Entity>, CatalogClientError>;

    /// One page of entities; follow `page_info.next_cursor`.
    async fn query_entities(
        &self,
        request: &QueryEntitiesRequest,
        credentials: &Credentials,
    ) -> Result<QueryEntitiesResponse, CatalogClientError>;

    /// Every entity `request` matches, following the cursor page by page.
    async fn query_all_entities(
        &self,
        request: &QueryEntitiesRequest,
        credentials: &Credentials,
    ) -> Result<Vec<Entity>, CatalogClientError> {
        let mut request = request.clone();
        let mut entities = Vec::new();
        loop {
            let page = self.query_entities(&request, credentials).await?;
            let done = page.items.is_empty();
            entities.extend(page.items);
            match page.page_info.next_cursor {
                Some(cursor) if !done => request.cursor = Some(cursor),
                _ => return Ok(entities),
            }
        }
    }

    /// Registers a location (`POST /locations`) of `location_type` (`url`, `file`) at
    /// `target` and returns it with the entities read from it; with `dry_run` the catalog only
    /// reads it and says whether it `exists` already. The default answers that this catalog
    /// does not support it, so read-only implementations need not care.
    async fn add_location(
        &self,
        location_type: &str,
        target: &str,
        dry_run: bool,
        credentials: &Credentials,
    ) -> Result<AddLocationResponse, CatalogClientError> {
        let _ = (dry_run, credentials);
        Err(CatalogClientError::Response {
            method: "POST".to_string(),
            url: "/locations".to_string(),
            status: 501,
            name: "NotImplementedError".to_string(),
            message: format!(
                "this catalog does not support registering locations (type {location_type}, target {target})"
            ),
        })
    }
}

/// A plain client sends its own token ([`CatalogClient::with_token`], such as an external
/// access token of another deployment) or none, whatever credentials are passed.
#[async_trait]
impl CatalogApi for CatalogClient {
    async fn entity_by_ref(
        &self,
        entity_ref: &EntityRef,
        _credentials: &Credentials,
    ) -> Result<Option<Entity>, CatalogClientError> {
        self.get_entity_by_ref(entity_ref).await
    }

    async fn query_entities(
        &self,
        request: &QueryEntitiesRequest,
        _credentials: &Credentials,
    ) -> Result<QueryEntitiesResponse, CatalogClientError> {
        CatalogClient::query_entities(self, request).await
    }

    async fn add_location(
        &self,
        location_type: &str,
        target: &str,
        dry_run: bool,
        _credentials: &Credentials,
    ) -> Result<AddLocationResponse, CatalogClientError> {
        CatalogClient::add_location(self, location_type, target, dry_run).await
    }
}

/// The default [`CatalogApi`]: a [`CatalogClient`] sending a plugin token for `catalog`,
/// minted per call on behalf of the given credentials.
#[derive(Debug)]
struct AuthedCatalogClient {
    client: CatalogClient,
    auth: Arc<dyn AuthService>,
}

impl AuthedCatalogClient {
    async fn client_for(
        &self,
        credentials: &Credentials,
    ) -> Result<CatalogClient, CatalogClientError> {
        let token = self
            .auth
            .plugin_request_token(credentials, "catalog")
            .await
            .map_err(|e| CatalogClientError::Response {
                method: "-".to_string(),
                url: self.client.base_url().to_string(),
                status: 401,
                name: "AuthenticationError".to_string(),
                message: e.to_string(),
            })?;
        Ok(self.client.with_token(&token))
    }
}

#[async_trait]
impl CatalogApi for AuthedCatalogClient {
    async fn entity_by_ref(
        &self,
        entity_ref: &EntityRef,
        credentials: &Credentials,
    ) -> Result<Option<Entity>, CatalogClientError> {
        self.client_for(credentials)
            .await?
            .get_entity_by_ref(entity_ref)
            .await
    }

    async fn query_entities(
        &self,
        request: &QueryEntitiesRequest,
        credentials: &Credentials,
    ) -> Result<QueryEntitiesResponse, CatalogClientError> {
        self.client_for(credentials)
            .await?
            .query_entities(request)
            .await
    }

    async fn add_location(
        &self,
        location_type: &str,
        target: &str,
        dry_run: bool,
        credentials: &Credentials,
    ) -> Result<AddLocationResponse, CatalogClientError> {
        self.client_for(credentials)
            .await?
            .add_location(location_type, target, dry_run)
            .await
    }
}

/// The catalog as other plugins see it (`catalog.client`, plugin scope). By default a
/// [`CatalogClient`] on `discovery.base_url("catalog")`, with the outgoing timeouts of
/// `backend.http`.
///
/// ```
/// use backlot::backend::Feature;
/// use backlot::plugins::catalog::common::QueryEntitiesRequest;
/// use backlot::plugins::catalog::node::CATALOG;
///
/// let plugin = Feature::plugin_fn("inventory", |reg| {
///     reg.init(&CATALOG, |catalog| async move {
///         // e.g. catalog.query_all_entities(&QueryEntitiesRequest::default(), &credentials)
///         let _ = catalog;
///         Ok(())
///     })
/// });
/// # let _ = plugin;
/// ```
pub static CATALOG: ServiceRef<dyn CatalogApi> =
    ServiceRef::plugin("catalog.client").with_default(catalog_factory);

fn catalog_factory() -> ServiceFactory {
    ServiceFactory::plugin(&CATALOG)
        .deps((&ROOT_CONFIG, &DISCOVERY, &AUTH))
        .build(|_ctx, (config, discovery, auth)| async move {
            let client =
                CatalogClient::with_client(discovery.base_url("catalog"), http_client(&config)?);
            Ok(Arc::new(AuthedCatalogClient { client, auth }) as Arc<dyn CatalogApi>)
        })
}
