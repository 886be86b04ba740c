#![allow(missing_docs)]
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used)]
//! The catalog UI over HTTP: the demo catalog served by the catalog backend, rendered by the
//! catalog frontend plugin through the `app` plugin.

use std::path::PathBuf;

use backlot::backend::{BackendError, Feature};
use backlot::frontend::{App, FrontendPlugin, ui};
use backlot::plugins::app::app_plugin;
use backlot::plugins::catalog::CatalogPlugin;
use backlot::plugins::catalog::common::{Entity, validate_entity};
use backlot::plugins::catalog::frontend::catalog_frontend_plugin;
use backlot::plugins::catalog::react::{
    EntityCardBlueprint, EntityContentBlueprint, EntityPredicate,
};
use backlot::testing::TestBackend;
use maud::html;

fn demo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/demo-catalog")
}

fn demo_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![demo_dir()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn config(dir: &std::path::Path) -> String {
    format!(
        "app:\n  title: Northwind Portal\ncatalog:\n  rules:\n    - allow: [Component, API, Resource, System, Domain, Group, User, Location, Template]\n  locations:\n    - type: file\n      target: {}\n",
        dir.join("all.yaml").display()
    )
}

/// A plugin of another team adding a tab and a card to entity pages.
fn ops_plugin() -> FrontendPlugin {
    FrontendPlugin::new("ops")
        .extension(
            EntityContentBlueprint::new("runbook", "Runbook", |req| async move {
                Ok(html! { p class="runbook" { "Runbook of " (req.entity().metadata.name) } })
            })
            .filter(EntityPredicate::kinds(&["component"]))
            .build(),
        )
        .extension(
            EntityCardBlueprint::new("oncall", |_req| async move {
                Ok(ui::card("On call", html! { p { "Pager <duty>" } }))
            })
            .build(),
        )
}

async fn backend() -> Result<TestBackend, BackendError> {
    TestBackend::builder()
        .feature(Feature::plugin(CatalogPlugin::new()))
        .feature(app_plugin(
            App::builder().features([catalog_frontend_plugin(), ops_plugin()]),
        ))
        .config_yaml(config(&demo_dir()))
        .start()
        .await
}

#[test]
fn demo_catalog_is_valid_and_covers_every_kind() {
    let mut kinds = std::collections::BTreeMap::new();
    for path in demo_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value = serde_yaml::Value::deserialize(doc).unwrap();
            let entity: Entity =
                serde_yaml::from_value(value).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            validate_entity(&entity).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            *kinds.entry(entity.kind.clone()).or_insert(0) += 1;
        }
    }
    let total: usize = kinds.values().sum();
    assert!((60..=90).contains(&total), "{total} entities: {kinds:?}");
    for kind in [
        "Domain",
        "System",
        "Component",
        "API",
        "Resource",
        "Group",
        "User",
        "Location",
        "Template",
    ] {
        assert!(kinds.contains_key(kind), "no {kind} in {kinds:?}");
    }
}

use serde::Deserialize;

#[tokio::test]
async fn index_lists_components_with_filters_sorting_and_paging() {
    let backend = backend().await.unwrap();
    let res = backend.client().get("/catalog").await.unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text();
    assert!(
        body.contains("<title>Catalog · Components · Northwind Portal</title>"),
        "{body}"
    );
    assert!(body.contains("All Components (25)"), "{body}");
    // The kind picker lists every kind with its count, Component selected.
    assert!(
        body.contains("<option value=\"component\" selected>Component (25)</option>"),
        "{body}"
    );
    assert!(
        body.contains("<option value=\"group\">Group (14)</option>"),
        "{body}"
    );
    // Facet filters for the kind.
    assert!(
        body.contains("name=\"lifecycle\" value=\"deprecated\""),
        "{body}"
    );
    assert!(
        body.contains("<option value=\"group:default/tracking-team\">tracking-team"),
        "{body}"
    );
    // 20 rows on the first page, then a next link carrying a cursor.
    assert_eq!(body.matches("class=\"bl-link cat-name\"").count(), 20);
    let next = body
        .split("rel=\"next\" href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .replace("&amp;", "&");
    assert!(next.contains("cursor="), "{next}");
    let page2 = backend.client().get(&next).await.unwrap().text();
    assert_eq!(page2.matches("class=\"bl-link cat-name\"").count(), 5);
    assert!(page2.contains("rel=\"prev\""));
    assert!(!page2.contains("rel=\"next\""));

    // Filters: type and lifecycle, text search, sort.
    let res = backend
        .client()
        .get("/catalog?kind=component&type=website&sort=name&order=desc")
        .await
        .unwrap()
        .text();
    assert!(res.contains("All Components (4)"), "{res}");
    let first = res.find(">recipient-tracking-page<").unwrap();
    let last = res.find(">customer-portal-web<").unwrap();
    assert!(first < last, "descending by name");
    let res = backend
        .client()
        .get("/catalog?kind=component&lifecycle=deprecated")
        .await
        .unwrap()
        .text();
    assert!(
        res.contains("All Components (1)") && res.contains("legacy-billing-batch"),
        "{res}"
    );
    let res = backend
        .client()
        .get("/catalog?kind=api&q=invoices")
        .await
        .unwrap()
        .text();
    assert!(res.contains("invoices-api"), "{res}");
    assert!(!res.contains(">tracking-api<"), "{res}");
    let res = backend
        .client()
        .get("/catalog?kind=system&owner=group:default/payments-team")
        .await
        .unwrap()
        .text();
    assert!(
        res.contains("All Systems (1)") && res.contains(">Billing<"),
        "{res}"
    );
    backend.stop().await.unwrap();
}

#[tokio::test]
async fn entity_pages_show_cards_tabs_and_404() {
    let backend = backend().await.unwrap();
    let res = backend
        .client()
        .get("/catalog/default/component/tracking-service")
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text();
    assert!(
        body.contains("<h1 class=\"bl-header-title\">tracking-service</h1>"),
        "{body}"
    );
    // About: owner and system links resolved through relations.
    assert!(
        body.contains("href=\"/catalog/default/group/tracking-team\">tracking-team</a>"),
        "{body}"
    );
    assert!(
        body.contains("href=\"/catalog/default/system/shipment-tracking\">shipment-tracking</a>"),
        "{body}"
    );
    // APIs card, subcomponents (has part), relations and the other plugin's card, escaped.
    assert!(body.contains("Provides</dt>"), "{body}");
    assert!(
        body.contains("Subcomponents") && body.contains("tracking-search-indexer"),
        "{body}"
    );
    assert!(body.contains("Depends on</dt>"), "{body}");
    assert!(body.contains("Pager &lt;duty&gt;"), "{body}");
    // Tabs: Overview and the attached Runbook tab.
    assert!(
        body.contains("href=\"/catalog/default/component/tracking-service/runbook\">Runbook</a>"),
        "{body}"
    );
    let tab = backend
        .client()
        .get("/catalog/default/component/tracking-service/runbook")
        .await
        .unwrap();
    assert_eq!(tab.status(), 200);
    assert!(tab.text().contains("Runbook of tracking-service"));

    // The runbook tab is for components only.
    let system = backend
        .client()
        .get("/catalog/default/system/shipment-tracking")
        .await
        .unwrap()
        .text();
    assert!(!system.contains("/runbook"), "{system}");
    assert!(
        system.contains("Has part") && system.contains("Stores every scan event"),
        "{system}"
    );
    assert!(
        system.contains("href=\"/catalog/default/domain/shipping\">shipping</a>"),
        "{system}"
    );
    let missing_tab = backend
        .client()
        .get("/catalog/default/system/shipment-tracking/runbook")
        .await
        .unwrap();
    assert_eq!(missing_tab.status(), 404);

    // A user: member of a team, with email.
    let user = backend
        .client()
        .get("/catalog/default/user/ada.okafor")
        .await
        .unwrap()
        .text();
    assert!(
        user.contains("Ada Okafor") && user.contains("mailto:ada.okafor@northwind.example"),
        "{user}"
    );

    let missing = backend
        .client()
        .get("/catalog/default/component/no-such-thing")
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(missing.text().contains("no-such-thing"));
    assert_eq!(
        backend
            .client()
            .get("/catalog/nope")
            .await
            .unwrap()
            .status(),
        404
    );
    backend.stop().await.unwrap();
}
