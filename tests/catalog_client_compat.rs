#![allow(missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]
//! Backstage's own `@backstage/catalog-client` (npm), given a token, works against the catalog
//! with auth on; without one it gets 401. Needs `node` and the package installed where
//! `BACKLOT_TEST_CATALOG_CLIENT_MODULES` points (its `node_modules`; `.ci/run` installs it);
//! without the variable the test says it is skipped.

use backlot::backend::Backend;
use backlot::plugins::catalog;
use serde_json::{Value, json};

const TOKEN: &str = "catalog-client-compat-token-0123456789";

const CATALOG: &str = r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: { name: parcel-tracker }
spec: { type: service, lifecycle: production, owner: group:team-a }
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: { name: route-planner }
spec: { type: service, lifecycle: experimental, owner: group:team-a }
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: { name: team-a }
spec: { type: team, children: [] }
"#;

fn run_client(modules: &str, base: &str, token: &str) -> Value {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/catalog_client/client.js"
    );
    let out = std::process::Command::new("node")
        .arg(script)
        .args([base, token, "component:default/parcel-tracker"])
        .env("CATALOG_CLIENT_MODULES", modules)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("client prints JSON")
}

#[tokio::test]
async fn backstages_catalog_client_reads_with_a_token_and_is_refused_without() {
    let Ok(modules) = std::env::var("BACKLOT_TEST_CATALOG_CLIENT_MODULES") else {
        println!("skipped: BACKLOT_TEST_CATALOG_CLIENT_MODULES is not set");
        return;
    };
    assert!(
        std::path::Path::new(&modules)
            .join("@backstage/catalog-client/package.json")
            .exists(),
        "BACKLOT_TEST_CATALOG_CLIENT_MODULES={modules} holds no @backstage/catalog-client"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("catalog.yaml");
    std::fs::write(&file, CATALOG).unwrap();
    let backend = Backend::builder()
        .listen_addr("127.0.0.1:0".parse().unwrap())
        .config_yaml(format!(
            "backend:\n  database:\n    client: better-sqlite3\n    connection: ':memory:'\n  auth:\n    externalAccess:\n      - type: static\n        options: {{ token: {TOKEN}, subject: compat }}\ncatalog:\n  rules:\n    - allow: [Component, Group]\n  locations:\n    - type: file\n      target: {}\n",
            file.display()
        ))
        .add(catalog::backend::plugin())
        .start()
        .await
        .unwrap();
    let base = backend.base_url().to_string();

    let with_token = tokio::task::spawn_blocking({
        let (modules, base) = (modules.clone(), base.clone());
        move || run_client(&modules, &base, TOKEN)
    })
    .await
    .unwrap();
    assert_eq!(
        with_token["byRef"],
        json!({"ok": "parcel-tracker"}),
        "{with_token}"
    );
    assert_eq!(
        with_token["entities"],
        json!({"ok": ["parcel-tracker", "route-planner"]}),
        "{with_token}"
    );
    assert_eq!(
        with_token["query"],
        json!({"ok": {"totalItems": 2, "page": 1, "hasNext": true}}),
        "{with_token}"
    );
    assert_eq!(
        with_token["facets"],
        json!({"ok": ["Component:2", "Group:1", "Location:1"]}),
        "{with_token}"
    );

    let without = tokio::task::spawn_blocking(move || run_client(&modules, &base, "-"))
        .await
        .unwrap();
    for call in ["byRef", "entities", "query", "facets"] {
        assert_eq!(without[call]["status"], 401, "{call}: {without}");
    }
    backend.stop().await.unwrap();
}
