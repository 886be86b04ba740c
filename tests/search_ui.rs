//! The search page over HTTP: a test backend with the search plugin (embedded engine) fed by
//! a fake catalog, and the app serving the search frontend plugin.
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used)] // helpers below only run inside tests

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use backlot::backend::Feature;
use backlot::frontend::App;
use backlot::plugins::app::app_plugin;
use backlot::plugins::search::backend::{SearchCatalogCollatorModule, SearchPlugin};
use backlot::plugins::search::frontend::{SearchUiOptions, search_plugin};
use backlot::services::core_services::HTTP_ROUTER;
use backlot::testing::{TestBackend, TestClient};
use serde_json::{Value, json};

fn component(name: &str, description: &str) -> Value {
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": { "name": name, "description": description },
        "spec": { "type": "service", "lifecycle": "production", "owner": "team-a" }
    })
}

async fn by_query(
    State(entities): State<Arc<Vec<Value>>>,
    Query(params): Query<HashMap<String, String>>,
) -> Json<Value> {
    let limit: usize = params
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(20);
    let offset: usize = params
        .get("cursor")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let items: Vec<Value> = entities.iter().skip(offset).take(limit).cloned().collect();
    let mut page_info = json!({});
    if offset + limit < entities.len() {
        page_info["nextCursor"] = json!((offset + limit).to_string());
    }
    Json(json!({ "items": items, "totalItems": entities.len(), "pageInfo": page_info }))
}

fn fake_catalog(entities: Vec<Value>) -> Feature {
    let entities = Arc::new(entities);
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

const CONFIG: &str = r#"
search:
  maxTermLength: 40
  embedded:
    inMemory: true
  collators:
    catalog:
      schedule:
        frequency: { trigger: manual }
        timeout: { minutes: 1 }
"#;

async fn backend() -> TestBackend {
    let entities = vec![
        component("parcel-a", "Parcels <script>alert(1)</script> for depots"),
        component("parcel-b", "Parcels for trucks"),
        component("parcel-c", "Parcels for drivers"),
        component("parcel-d", "Parcels for recipients"),
        component("parcel-e", "Parcels for planners"),
        component("billing", "Invoices"),
    ];
    let backend = TestBackend::builder()
        .config_yaml(CONFIG)
        .feature(fake_catalog(entities))
        .feature(Feature::plugin(SearchPlugin::new()))
        .feature(Feature::module(SearchCatalogCollatorModule))
        .feature(app_plugin(App::builder().feature(search_plugin(
            SearchUiOptions::default().page_limit(2),
        ))))
        .start()
        .await
        .unwrap();
    let client = backend.client();
    let trigger = "/api/search/.backstage/scheduler/v1/tasks/search_index_software_catalog/trigger";
    let mut triggered = false;
    for _ in 0..100 {
        let res = client
            .execute(client.request(reqwest::Method::POST, trigger))
            .await
            .unwrap();
        if res.status() == 200 {
            triggered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(triggered, "collator never triggered");
    for _ in 0..200 {
        let body: Value = client
            .get("/api/search/query")
            .await
            .unwrap()
            .json()
            .unwrap();
        if body["numberOfResults"] == 6 {
            return backend;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the catalog was never indexed");
}

async fn page(client: &TestClient, path: &str) -> (u16, String) {
    let res = client.get(path).await.unwrap();
    (res.status(), res.text())
}

fn links_with_rel(html: &str, rel: &str) -> Option<String> {
    let marker = format!("rel=\"{rel}\" href=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].replace("&amp;", "&"))
}

fn result_titles(html: &str) -> Vec<String> {
    html.split("class=\"bl-search-result-title\"")
        .skip(1)
        .filter_map(|s| {
            let s = &s[s.find("href=\"")? + 6..];
            Some(s[..s.find('"')?].to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_are_escaped_highlighted_counted_and_paged() {
    let backend = backend().await;
    let client = backend.client();

    let (status, html) = page(client, "/search?term=parcels").await;
    assert_eq!(status, 200, "{html}");
    // Five matches, two per page, and the type picker counts them.
    assert!(html.contains("5 results for “parcels”"), "{html}");
    assert!(html.contains("Software Catalog (5)"), "{html}");
    assert!(html.contains("All (5)"), "{html}");
    assert_eq!(result_titles(&html).len(), 2, "{html}");
    assert!(html.contains("<h2>Software Catalog</h2>"), "{html}");
    // Matches are marked; nothing from the documents is markup.
    assert!(html.contains("<mark>"), "{html}");
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(links_with_rel(&html, "prev").is_none());

    // Follow the pages forward and back.
    let mut seen = result_titles(&html);
    let mut next = links_with_rel(&html, "next").expect("a next link on page 1");
    assert!(next.starts_with("/search?term=parcels&"), "{next}");
    while !next.is_empty() {
        let (status, html) = page(client, &next).await;
        assert_eq!(status, 200, "{html}");
        assert!(links_with_rel(&html, "prev").is_some(), "{html}");
        seen.extend(result_titles(&html));
        next = links_with_rel(&html, "next").unwrap_or_default();
    }
    seen.sort();
    assert_eq!(
        seen,
        ["a", "b", "c", "d", "e"].map(|s| format!("/catalog/default/component/parcel-{s}"))
    );

    // The document with a script tag: escaped, with the match still marked.
    let (_, html) = page(client, "/search?term=depots").await;
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(
        html.contains("<mark>depots</mark>") || html.contains("<mark>Depots</mark>"),
        "{html}"
    );
    assert!(!html.contains("<script>alert"), "{html}");

    // Filtering by type keeps the type in paging links and marks the picker.
    let (_, html) = page(client, "/search?term=parcels&types=software-catalog").await;
    assert!(html.contains("aria-current=\"page\""), "{html}");
    let next = links_with_rel(&html, "next").unwrap();
    assert!(next.contains("types=software-catalog"), "{next}");
    let (_, html) = page(client, "/search?term=parcels&types=techdocs").await;
    assert!(html.contains("No results"), "{html}");

    backend.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_error_and_nav_box() {
    let backend = backend().await;
    let client = backend.client();

    let (status, html) = page(client, "/search?term=nothing-matches-this").await;
    assert_eq!(status, 200);
    assert!(html.contains("No results"), "{html}");
    assert!(html.contains("0 results"), "{html}");

    // A term over search.maxTermLength: the backend refuses it, the page says so.
    let long = "x".repeat(60);
    let (status, html) = page(client, &format!("/search?term={long}")).await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("role=\"alert\""), "{html}");
    assert!(html.contains("Invalid search"), "{html}");

    // The sidebar carries a search box on every page, submitting to the search page.
    let (_, html) = page(client, "/nowhere").await;
    let aside = &html[html.find("<aside").unwrap()..html.find("</aside>").unwrap()];
    assert!(aside.contains("role=\"search\""), "{aside}");
    assert!(aside.contains("action=\"/search\""), "{aside}");
    assert!(aside.contains("name=\"term\""), "{aside}");

    backend.stop().await.unwrap();
}
