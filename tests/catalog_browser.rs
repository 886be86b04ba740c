#![allow(missing_docs)]
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::print_stdout)]
//! The catalog UI in headless Chromium, driven over the W3C WebDriver protocol: a backend with
//! the catalog (the demo catalog) and the app, `chromedriver` from PATH. Without chromedriver
//! the test prints `skipped: chromedriver not found` (Debian: `apt-get install -y chromium
//! chromium-driver`).
//!
//! Screenshots of the index and an entity page land in `<target tmpdir>/screenshots/`.

mod support;

use std::path::PathBuf;

use backlot::backend::Feature;
use backlot::frontend::App;
use backlot::plugins::app::app_plugin;
use backlot::plugins::catalog::CatalogPlugin;
use backlot::plugins::catalog::frontend::catalog_frontend_plugin;
use backlot::testing::TestBackend;
use support::webdriver::Browser;

#[tokio::test]
async fn a_person_browses_the_catalog() {
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/demo-catalog/all.yaml");
    let backend = TestBackend::builder()
        .real_auth()
        .feature(Feature::plugin(backlot::plugins::auth::backend::plugin()))
        .config_yaml("auth:\n  environment: development\n  providers:\n    guest: {}\n")
        .feature(Feature::plugin(CatalogPlugin::new()))
        .feature(app_plugin(App::builder().feature(catalog_frontend_plugin())))
        .config_yaml(format!(
            "app:\n  title: Northwind Portal\ncatalog:\n  rules:\n    - allow: [Component, API, Resource, System, Domain, Group, User, Location, Template]\n  locations:\n    - type: file\n      target: {}\n",
            demo.display()
        ))
        .start()
        .await
        .unwrap();

    let Some(browser) = Browser::start().await else {
        backend.stop().await.unwrap();
        return;
    };
    browser.set_window_size(1440, 1000).await;
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();

    // The index: components by default, 20 rows, a total.
    browser.sign_in_as_guest(&backend.url("")).await;
    browser.goto(&backend.url("/catalog")).await;
    assert_eq!(browser.text_of("h1").await, "Catalog");
    assert_eq!(
        browser.title().await,
        "Catalog · Components · Northwind Portal"
    );
    assert_eq!(browser.find_all("table.bl-table tbody tr").await.len(), 20);
    assert_eq!(browser.text_of("caption").await, "All Components (25)");
    browser.screenshot(&shots.join("catalog.png")).await;

    // Pick the System kind (the optional script submits the form; else press Apply).
    browser
        .click(&browser.find("select[name=kind]").await)
        .await;
    browser
        .click(&browser.find("select[name=kind] option[value=system]").await)
        .await;
    if !browser.url_reaches("kind=system").await {
        browser
            .click(&browser.find(".cat-actions button").await)
            .await;
        assert!(browser.url_reaches("kind=system").await);
    }
    assert_eq!(browser.text_of("caption").await, "All Systems (7)");
    let names: Vec<String> = {
        let mut out = Vec::new();
        for e in browser.find_all("td a.cat-name").await {
            out.push(browser.text(&e).await);
        }
        out
    };
    assert_eq!(names.len(), 7);
    assert!(
        names.contains(&"Shipment Tracking".to_string()),
        "{names:?}"
    );

    // Open a system, then follow its owner link.
    browser
        .click(
            &browser
                .find("a.cat-name[href$='/system/shipment-tracking']")
                .await,
        )
        .await;
    assert!(
        browser
            .url_reaches("/catalog/default/system/shipment-tracking")
            .await
    );
    assert_eq!(browser.text_of("h1").await, "Shipment Tracking");
    let owner = browser.find(".cat-about a[href*='/group/']").await;
    assert_eq!(browser.text(&owner).await, "tracking-team");
    browser.click(&owner).await;
    assert!(
        browser
            .url_reaches("/catalog/default/group/tracking-team")
            .await
    );
    assert_eq!(browser.text_of("h1").await, "Tracking");
    let relations = browser.text_of("#card-relations + .bl-card-body").await;
    assert!(relations.contains("ada.okafor"), "{relations}");
    assert!(relations.contains("tracking-service"), "{relations}");

    // A component page, for the screenshot.
    browser
        .goto(&backend.url("/catalog/default/component/tracking-service"))
        .await;
    assert_eq!(browser.text_of("h1").await, "tracking-service");
    assert!(
        browser
            .text_of(".cat-about")
            .await
            .contains("shipment-tracking")
    );
    browser.screenshot(&shots.join("entity.png")).await;

    // A missing entity is a page a person can read.
    browser
        .goto(&backend.url("/catalog/default/component/nope"))
        .await;
    assert_eq!(browser.text_of("h1").await, "Page not found");

    browser.close().await;
    backend.stop().await.unwrap();
}
