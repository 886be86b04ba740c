//! The search plugin in a test backend, with a fake catalog plugin serving
//! `/api/catalog/entities/by-query`: collator runs through the scheduler, then
//! `/api/search/query` answers in Backstage's shape.
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use backlot::backend::Feature;
use backlot::plugins::search::backend::{SearchCatalogCollatorModule, SearchPlugin};
use backlot::services::core_services::HTTP_ROUTER;
use backlot::testing::{TestBackend, TestClient};
use serde_json::{Value, json};

type Entities = Arc<Mutex<Vec<Value>>>;

fn component(name: &str, description: &str, kind: &str, lifecycle: &str) -> Value {
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": kind,
        "metadata": { "name": name, "description": description },
        "spec": { "type": "service", "lifecycle": lifecycle, "owner": "team-a" }
    })
}

/// `GET /entities/by-query` with `limit` and an offset cursor, like the catalog's.
async fn by_query(
    State(entities): State<Entities>,
    Query(params): Query<HashMap<String, String>>,
) -> Json<Value> {
    let all = entities.lock().unwrap().clone();
    let limit: usize = params
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(20);
    let offset: usize = params
        .get("cursor")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let items: Vec<Value> = all.iter().skip(offset).take(limit).cloned().collect();
    let mut page_info = json!({});
    if offset + limit < all.len() {
        page_info["nextCursor"] = json!((offset + limit).to_string());
    }
    Json(json!({ "items": items, "totalItems": all.len(), "pageInfo": page_info }))
}

fn fake_catalog(entities: Entities) -> Feature {
    Feature::plugin_fn("catalog", move |reg| {
        let entities = entities.clone();
        reg.init(&HTTP_ROUTER, move |http| async move {
            http.use_router(
                Router::new()
                    .route("/entities/by-query", get(by_query))
                    .with_state(entities),
            );
            Ok(())
        })
    })
}

/// A backend with the search plugin, its catalog collator and the fake catalog serving
/// `entities`.
async fn search_backend(config: &str, entities: &Entities) -> TestBackend {
    TestBackend::builder()
        .config_yaml(config)
        .feature(fake_catalog(entities.clone()))
        .feature(Feature::plugin(SearchPlugin::new()))
        .feature(Feature::module(SearchCatalogCollatorModule))
        .start()
        .await
        .unwrap()
}

const CONFIG: &str = r#"
search:
  embedded:
    inMemory: true
  collators:
    catalog:
      batchSize: 2
      schedule:
        frequency: { trigger: manual }
        timeout: { minutes: 1 }
"#;

async fn trigger(client: &TestClient) {
    let path = "/api/search/.backstage/scheduler/v1/tasks/search_index_software_catalog/trigger";
    for _ in 0..100 {
        let res = client
            .execute(client.request(reqwest::Method::POST, path))
            .await
            .unwrap();
        match res.status() {
            200 => return,
            409 => tokio::time::sleep(Duration::from_millis(50)).await,
            other => panic!("trigger answered {other}: {}", res.text()),
        }
    }
    panic!("collator task stayed busy");
}

async fn wait_for(client: &TestClient, path: &str, pred: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let res = client.get(path).await.unwrap();
        assert_eq!(res.status(), 200, "{}", res.text());
        let body: Value = res.json().unwrap();
        if pred(&body) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition never held for {path}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collated_catalog_is_searchable() {
    let entities: Entities = Arc::new(Mutex::new(vec![
        component("petstore", "Sells pets online", "Component", "production"),
        component("payments", "Card payments", "Component", "experimental"),
        component("inventory-api", "Stock levels", "API", "production"),
    ]));
    let backend = search_backend(CONFIG, &entities).await;
    let client = backend.client();

    // Nothing is indexed before the (manual) collator runs.
    let empty: Value = client
        .get("/api/search/query?term=pet")
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(empty["results"], json!([]));

    trigger(client).await;
    // Three entities over two catalog pages (batchSize 2).
    let body = wait_for(client, "/api/search/query", |b| b["numberOfResults"] == 3).await;
    assert_eq!(body["results"].as_array().unwrap().len(), 3);

    let body = wait_for(client, "/api/search/query?term=pet", |b| {
        b["numberOfResults"] == 1
    })
    .await;
    let result = &body["results"][0];
    assert_eq!(result["type"], "software-catalog");
    assert_eq!(result["rank"], 1);
    let doc = &result["document"];
    assert_eq!(doc["title"], "petstore");
    assert_eq!(doc["text"], "Sells pets online");
    assert_eq!(doc["location"], "/catalog/default/component/petstore");
    assert_eq!(doc["kind"], "Component");
    assert_eq!(doc["type"], "service");
    assert_eq!(doc["componentType"], "service");
    assert_eq!(doc["lifecycle"], "production");
    assert_eq!(doc["owner"], "team-a");
    assert_eq!(doc["namespace"], "default");
    assert_eq!(
        doc["authorization"]["resourceRef"],
        "component:default/petstore"
    );
    let highlight = &result["highlight"];
    let (pre, post) = (
        highlight["preTag"].as_str().unwrap(),
        highlight["postTag"].as_str().unwrap(),
    );
    assert_eq!(highlight["fields"]["title"], format!("{pre}petstore{post}"));
    assert!(body.get("nextPageCursor").is_none());

    // Backstage's bracket parameters.
    let body: Value = client
        .get("/api/search/query?filters%5Bkind%5D=API&types%5B0%5D=software-catalog")
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(body["numberOfResults"], 1);
    assert_eq!(body["results"][0]["document"]["title"], "inventory-api");
    let body: Value = client
        .get("/api/search/query?filters[lifecycle][0]=experimental&filters[lifecycle][1]=production&pageLimit=2")
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(body["numberOfResults"], 3);
    assert_eq!(body["results"].as_array().unwrap().len(), 2);
    let next = body["nextPageCursor"].as_str().unwrap();
    let body: Value = client
        .get(&format!("/api/search/query?filters[lifecycle][0]=experimental&filters[lifecycle][1]=production&pageLimit=2&pageCursor={next}"))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(body["results"].as_array().unwrap().len(), 1);
    assert_eq!(body["results"][0]["rank"], 3);
    assert!(body["previousPageCursor"].is_string());
    let body: Value = client
        .get("/api/search/query?types[0]=techdocs")
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(body["results"], json!([]));

    // A newly added entity becomes searchable after the next collator run.
    entities.lock().unwrap().push(component(
        "billing",
        "Invoices customers",
        "Component",
        "production",
    ));
    let body: Value = client
        .get("/api/search/query?term=billing")
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(body["results"], json!([]));
    trigger(client).await;
    let body = wait_for(client, "/api/search/query?term=invoices", |b| {
        b["numberOfResults"] == 1
    })
    .await;
    assert_eq!(
        body["results"][0]["document"]["location"],
        "/catalog/default/component/billing"
    );

    backend.stop().await.unwrap();
}

#[tokio::test]
async fn bad_parameters_are_input_errors() {
    let backend = TestBackend::builder()
        .config_yaml("search: { embedded: { inMemory: true }, maxPageLimit: 50 }")
        .feature(Feature::plugin(SearchPlugin::new()))
        .start()
        .await
        .unwrap();
    let client = backend.client();
    for path in [
        "/api/search/query?pageLimit=51",
        "/api/search/query?pageLimit=ten",
        "/api/search/query?pageCursor=not-a-cursor",
        "/api/search/query?types[x]=a",
    ] {
        let res = client.get(path).await.unwrap();
        assert_eq!(res.status(), 400, "{path}");
        let body: Value = res.json().unwrap();
        assert_eq!(body["error"]["name"], "InputError", "{path}");
        assert_eq!(body["response"]["statusCode"], 400);
    }
    let long = format!("/api/search/query?term={}", "a".repeat(101));
    assert_eq!(client.get(&long).await.unwrap().status(), 400);
    let ok = client
        .get("/api/search/query?pageLimit=50&unknown=1")
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    backend.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_indexing_memory_is_configurable_within_bounds_and_a_collated_catalog_arrives_page_by_page()
 {
    // Outside the bounds tantivy accepts: the plugin does not start.
    let err = TestBackend::builder()
        .config_yaml("search: { embedded: { inMemory: true, indexingMemoryBytes: 1000000 } }")
        .feature(Feature::plugin(SearchPlugin::new()))
        .start()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("search.embedded.indexingMemoryBytes"), "{err}");

    // The least budget, and 1,001 entities sent as 11 catalog pages of 100: every document
    // arrives, and a second run replaces them.
    let entities: Entities = Arc::new(Mutex::new(
        (0..1001)
            .map(|i| {
                component(
                    &format!("service-{i}"),
                    "Handles orders",
                    "Component",
                    "production",
                )
            })
            .collect(),
    ));
    let config = r#"
search:
  embedded:
    inMemory: true
    indexingMemoryBytes: 15000000
  collators:
    catalog:
      batchSize: 100
      schedule:
        frequency: { trigger: manual }
        timeout: { minutes: 1 }
"#;
    let backend = search_backend(config, &entities).await;
    let client = backend.client();
    trigger(client).await;
    wait_for(client, "/api/search/query?term=orders", |b| {
        b["numberOfResults"] == 1001
    })
    .await;
    entities.lock().unwrap().truncate(10);
    trigger(client).await;
    wait_for(client, "/api/search/query?term=orders", |b| {
        b["numberOfResults"] == 10
    })
    .await;
    backend.stop().await.unwrap();
}
