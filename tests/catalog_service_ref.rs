//! The `CATALOG` service ref: a test replaces it with a mock, and TechDocs reads its entities
//! through it, without a catalog plugin.
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use async_trait::async_trait;
use backlot::backend::{Feature, ServiceFactory};
use backlot::plugins::catalog::common::{
    CatalogClientError, Entity, EntityRef, QueryEntitiesRequest, QueryEntitiesResponse,
};
use backlot::plugins::catalog::node::{CATALOG, CatalogApi};
use backlot::plugins::techdocs::backend::TechdocsPlugin;
use backlot::services::auth::Credentials;
use backlot::testing::TestBackend;
use serde_json::{Value, json};

/// A catalog of one entity.
#[derive(Debug)]
struct OneEntity(Entity);

#[async_trait]
impl CatalogApi for OneEntity {
    async fn entity_by_ref(
        &self,
        entity_ref: &EntityRef,
        _credentials: &Credentials,
    ) -> Result<Option<Entity>, CatalogClientError> {
        let matches = entity_ref
            .to_string()
            .eq_ignore_ascii_case(&self.0.ref_string());
        Ok(matches.then(|| self.0.clone()))
    }

    async fn query_entities(
        &self,
        _request: &QueryEntitiesRequest,
        _credentials: &Credentials,
    ) -> Result<QueryEntitiesResponse, CatalogClientError> {
        Ok(QueryEntitiesResponse {
            items: vec![self.0.clone()],
            total_items: 1,
            ..QueryEntitiesResponse::default()
        })
    }
}

#[tokio::test]
async fn techdocs_reads_entities_through_a_mocked_catalog_ref() {
    let entity: Entity = serde_json::from_value(json!({
        "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
        "metadata": {
            "name": "petstore",
            "annotations": { "backstage.io/techdocs-ref": "url:https://example.com/petstore" }
        },
        "spec": { "type": "service", "lifecycle": "production", "owner": "team-a" }
    }))
    .unwrap();
    let mock = Arc::new(OneEntity(entity));
    let backend = TestBackend::builder()
        .service(ServiceFactory::plugin(&CATALOG).build(move |_ctx, ()| {
            let mock = mock.clone();
            async move { Ok(mock as Arc<dyn CatalogApi>) }
        }))
        .feature(Feature::plugin(TechdocsPlugin::new()))
        .start()
        .await
        .unwrap();

    let res = backend
        .client()
        .get("/api/techdocs/metadata/entity/default/component/petstore")
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    let body: Value = res.json().unwrap();
    assert_eq!(body["metadata"]["name"], "petstore");
    assert_eq!(body["locationMetadata"]["type"], "url");
    assert_eq!(
        body["locationMetadata"]["target"],
        "https://example.com/petstore"
    );

    let res = backend
        .client()
        .get("/api/techdocs/metadata/entity/default/component/unknown")
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    backend.stop().await.unwrap();
}
