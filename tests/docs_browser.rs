//! In a real browser (headless Chromium over WebDriver): search from the sidebar box, open a
//! result, open the entity's Docs tab and follow links inside the docs. Skips without
//! chromedriver.
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used)] // helpers below only run inside tests

mod support;

use std::path::PathBuf;
use std::time::Duration;

use backlot::backend::Feature;
use backlot::frontend::App;
use backlot::plugins::app::app_plugin;
use backlot::plugins::catalog::CatalogPlugin;
use backlot::plugins::catalog::frontend::catalog_frontend_plugin;
use backlot::plugins::search::backend::{SearchCatalogCollatorModule, SearchPlugin};
use backlot::plugins::search::frontend::{SearchUiOptions, search_plugin};
use backlot::plugins::techdocs::backend::TechdocsPlugin;
use backlot::plugins::techdocs::frontend::techdocs_plugin;
use backlot::testing::TestBackend;
use serde_json::Value;
use support::webdriver::Browser;

fn demo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/demo-catalog")
}

async fn portal(tmp: &std::path::Path) -> TestBackend {
    let config = format!(
        "app:\n  title: Northwind Portal\nbackend:\n  reading:\n    fileAllow: ['{demo}']\n\
         catalog:\n  rules:\n    - allow: [Component, API, Resource, System, Domain, Group, User, Location, Template]\n  locations:\n    - type: file\n      target: {all}\n\
         search:\n  embedded:\n    inMemory: true\n  collators:\n    catalog:\n      schedule:\n        frequency: {{ trigger: manual }}\n        timeout: {{ minutes: 1 }}\n\
         techdocs:\n  builder: local\n  publisher:\n    type: local\n    local:\n      publishDirectory: '{publish}'\n",
        demo = demo_dir().display(),
        all = demo_dir().join("all.yaml").display(),
        publish = tmp.join("published").display(),
    );
    let backend = TestBackend::builder()
        .real_auth()
        .feature(Feature::plugin(backlot::plugins::auth::backend::plugin()))
        .config_yaml("auth:\n  environment: development\n  providers:\n    guest: {}\n")
        .config_yaml("backend:\n  auth:\n    externalAccess:\n      - type: static\n        options: { token: docs-browser-test-token-0123456789, subject: tests }\n")
        .config_yaml(config)
        .feature(Feature::plugin(CatalogPlugin::new()))
        .feature(Feature::plugin(SearchPlugin::new()))
        .feature(Feature::module(SearchCatalogCollatorModule))
        .feature(Feature::plugin(TechdocsPlugin::new()))
        .feature(app_plugin(App::builder().features([
            catalog_frontend_plugin(),
            search_plugin(SearchUiOptions::default()),
            techdocs_plugin(),
        ])))
        .start()
        .await
        .unwrap();
    let client = backend
        .client()
        .with_authorization("Bearer docs-browser-test-token-0123456789");
    let trigger = "/api/search/.backstage/scheduler/v1/tasks/search_index_software_catalog/trigger";
    for _ in 0..100 {
        let res = client
            .execute(client.request(reqwest::Method::POST, trigger))
            .await
            .unwrap();
        if res.status() == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for _ in 0..200 {
        let body: Value = client
            .get("/api/search/query?term=tracking")
            .await
            .unwrap()
            .json()
            .unwrap();
        if body["numberOfResults"].as_u64().unwrap_or(0) > 0 {
            return backend;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the catalog was never indexed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_then_read_the_docs() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let backend = portal(tmp.path()).await;
    let reader = "/docs/default/component/tracking-service";

    // Search from the sidebar box on the catalog page.
    browser.sign_in_as_guest(&backend.url("")).await;
    browser.goto(&backend.url("/catalog")).await;
    let input = browser
        .find("aside form[role=search] input[name=term]")
        .await;
    browser.type_text(&input, "tracking").await;
    let go = browser.find("aside form[role=search] button").await;
    browser.click(&go).await;
    browser
        .wait_for_url(|u| u.contains("/search?term=tracking"))
        .await;
    let count = browser.find(".bl-search-count").await;
    assert!(browser.text(&count).await.contains("for “tracking”"));

    // Open the tracking service's result.
    let result = browser
        .find(".bl-search-result-title a[href=\"/catalog/default/component/tracking-service\"]")
        .await;
    browser.click(&result).await;
    browser
        .wait_for_url(|u| u.ends_with("/catalog/default/component/tracking-service"))
        .await;

    // Its Docs tab shows the docs home with the site's nav.
    let tab = browser
        .find("a[href=\"/catalog/default/component/tracking-service/docs\"]")
        .await;
    browser.click(&tab).await;
    browser
        .wait_for_url(|u| u.ends_with("/tracking-service/docs"))
        .await;
    let architecture = browser
        .find(&format!(".bl-docs-nav a[href=\"{reader}/architecture/\"]"))
        .await;
    browser.click(&architecture).await;
    browser
        .wait_for_url(|u| u.ends_with(&format!("{reader}/architecture/")))
        .await;
    let article = browser.find("article.bl-docs-article").await;
    assert!(browser.text(&article).await.contains("One table per day"));

    // A link inside the docs stays in the reader.
    let alerts = browser
        .find(&format!("article a[href=\"{reader}/operations/alerts/\"]"))
        .await;
    browser.click(&alerts).await;
    browser
        .wait_for_url(|u| u.ends_with(&format!("{reader}/operations/alerts/")))
        .await;
    let article = browser.find("article.bl-docs-article").await;
    assert!(browser.text(&article).await.contains("Replica lag"));

    browser.close().await;
    backend.stop().await.unwrap();
}
