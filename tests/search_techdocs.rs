//! The TechDocs collator end to end: the demo catalog in the catalog backend, the techdocs
//! backend building sites on first fetch, and the search plugin indexing their pages.
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used)] // helpers below only run inside tests

use std::path::{Path, PathBuf};
use std::time::Duration;

use backlot::backend::Feature;
use backlot::plugins::catalog::CatalogPlugin;
use backlot::plugins::search::backend::{
    SearchCatalogCollatorModule, SearchPlugin, SearchTechdocsCollatorModule,
    TECHDOCS_DOCUMENT_TYPE, collator_task_id,
};
use backlot::plugins::techdocs::backend::TechdocsPlugin;
use backlot::testing::{TestBackend, TestClient};
use serde_json::Value;

fn demo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/demo-catalog")
}

/// A second location: a component whose mkdocs.yml does not parse.
fn broken_location(root: &Path) -> PathBuf {
    std::fs::create_dir_all(root.join("broken-docs/docs")).unwrap();
    std::fs::write(
        root.join("catalog-info.yaml"),
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: broken-docs\n  annotations:\n    backstage.io/techdocs-ref: dir:./broken-docs\nspec:\n  type: service\n  lifecycle: production\n  owner: tracking-team\n",
    )
    .unwrap();
    std::fs::write(
        root.join("broken-docs/mkdocs.yml"),
        "site_name: Broken\nnav:\n  - Home: index.md\n   - x: [\n",
    )
    .unwrap();
    std::fs::write(root.join("broken-docs/docs/index.md"), "# Broken drain\n").unwrap();
    root.join("catalog-info.yaml")
}

async fn backend(tmp: &Path) -> TestBackend {
    let extra = broken_location(&tmp.join("extra"));
    let config = format!(
        "backend:\n  reading:\n    fileAllow: ['{demo}', '{tmp}']\n\
         catalog:\n  rules:\n    - allow: [Component, API, Resource, System, Domain, Group, User, Location, Template]\n  locations:\n    - type: file\n      target: {all}\n    - type: file\n      target: {extra}\n\
         techdocs:\n  builder: local\n  publisher:\n    type: local\n    local:\n      publishDirectory: '{publish}'\n\
         search:\n  embedded:\n    inMemory: true\n  collators:\n    catalog:\n      schedule:\n        frequency: {{ trigger: manual }}\n        timeout: {{ minutes: 1 }}\n    techdocs:\n      schedule:\n        frequency: {{ trigger: manual }}\n        timeout: {{ minutes: 5 }}\n",
        demo = demo_dir().display(),
        tmp = tmp.display(),
        all = demo_dir().join("all.yaml").display(),
        extra = extra.display(),
        publish = tmp.join("published").display(),
    );
    TestBackend::builder()
        .config_yaml(config)
        .feature(Feature::plugin(CatalogPlugin::new()))
        .feature(Feature::plugin(TechdocsPlugin::new()))
        .feature(Feature::plugin(SearchPlugin::new()))
        .feature(Feature::module(SearchCatalogCollatorModule))
        .feature(Feature::module(SearchTechdocsCollatorModule))
        .start()
        .await
        .unwrap()
}

async fn trigger(client: &TestClient, doc_type: &str) {
    let path = format!(
        "/api/search/.backstage/scheduler/v1/tasks/{}/trigger",
        collator_task_id(doc_type)
    );
    for _ in 0..100 {
        let res = client
            .execute(client.request(reqwest::Method::POST, &path))
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

/// Polls a query until it has results (at most ~60 s: the first run builds every site).
async fn wait_for_results(client: &TestClient, path: &str) -> Vec<Value> {
    for _ in 0..600 {
        let res = client.get(path).await.unwrap();
        assert_eq!(res.status(), 200, "{}", res.text());
        let body: Value = res.json().unwrap();
        let results = body["results"].as_array().cloned().unwrap_or_default();
        if !results.is_empty() {
            return results;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no results for {path}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_pages_are_searchable_and_broken_sites_are_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let backend = backend(tmp.path()).await;
    let client = backend.client();
    trigger(client, TECHDOCS_DOCUMENT_TYPE).await;

    // "drain" appears only in the tracking service's runbook page (and in the broken site).
    let results = wait_for_results(client, "/api/search/query?term=drain&types[0]=techdocs").await;
    assert!(
        results.iter().all(|r| r["type"] == "techdocs"),
        "{results:?}"
    );
    let locations: Vec<&str> = results
        .iter()
        .map(|r| r["document"]["location"].as_str().unwrap())
        .collect();
    assert!(
        locations
            .iter()
            .all(|l| l.starts_with("/docs/default/component/tracking-service/operations/runbook/")),
        "{locations:?}"
    );
    let doc = &results[0]["document"];
    assert_eq!(doc["kind"], "component");
    assert_eq!(doc["namespace"], "default");
    assert_eq!(doc["name"], "tracking-service");
    assert_eq!(doc["owner"], "tracking-team");
    assert!(
        doc["path"]
            .as_str()
            .unwrap()
            .starts_with("operations/runbook/"),
        "{doc}"
    );

    // The shared demo docs are indexed for every entity pointing at them.
    let results =
        wait_for_results(client, "/api/search/query?term=weekday&types[0]=techdocs").await;
    assert!(
        results.iter().any(|r| {
            let l = r["document"]["location"].as_str().unwrap();
            l.starts_with("/docs/default/") && l.contains("/guides/releasing/")
        }),
        "{results:?}"
    );

    // Catalog documents are not mixed in, and the catalog's own type has no docs text.
    let res = client
        .get("/api/search/query?term=drain&types[0]=software-catalog")
        .await
        .unwrap();
    let body: Value = res.json().unwrap();
    assert_eq!(body["results"].as_array().unwrap().len(), 0, "{body}");
    backend.stop().await.unwrap();
}
