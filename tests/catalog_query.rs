#![allow(missing_docs)]
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]
//! Entity queries answered by the catalog's in-memory index: Backstage's predicate forms
//! (`POST /entities/by-query`, `POST /entity-facets`), keyset cursors that stay exact while the
//! catalog changes, and two backends sharing one database seeing each other's writes. Once
//! per database backend (`sqlite::*`, `postgres::*`, `mysql::*`).

#[macro_use]
mod support;

use std::path::Path;
use std::time::Duration;

use backlot::backend::Feature;
use backlot::plugins::catalog::CatalogPlugin;
use backlot::testing::{TestBackend, TestResponse};
use serde_json::{Value, json};

const RULES: &str =
    "  rules:\n    - allow: [Component, API, Location, Group, User, System, Domain, Resource]\n";

/// The database section of the test's backend: a fresh prefix on PostgreSQL / MySQL, a
/// SQLite file in `dir` (so that two backends can share it).
fn database_yaml(dir: &Path) -> String {
    if support::database_backend() == "sqlite" {
        return format!(
            "backend:\n  database:\n    client: better-sqlite3\n    connection:\n      directory: '{}'\n",
            dir.display()
        );
    }
    support::database_yaml("q")
}

async fn start(database: &str, catalog: &str) -> TestBackend {
    TestBackend::builder()
        .config_yaml(support::file_locations_yaml())
        .feature(Feature::plugin(CatalogPlugin::new()))
        .config_yaml(database.to_owned())
        .config_yaml(catalog.to_owned())
        .start()
        .await
        .expect("backend starts")
}

fn catalog_config(file: &Path) -> String {
    format!(
        "catalog:\n  processingInterval: {{ minutes: 60 }}\n{RULES}  locations:\n    - type: file\n      target: {}\n",
        file.display()
    )
}

fn component(name: &str, spec_type: &str, tags: &str) -> String {
    format!(
        "---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n  tags: [{tags}]\nspec:\n  type: {spec_type}\n  lifecycle: production\n  owner: team-a\n"
    )
}

fn catalog_text(n: usize) -> String {
    let mut text = String::from(
        "---\napiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\nspec:\n  type: team\n  children: []\n",
    );
    for i in 0..n {
        let t = if i % 2 == 0 { "service" } else { "website" };
        let tags = if i % 3 == 0 { "java, web" } else { "go" };
        text.push_str(&component(&format!("svc-{i:02}"), t, tags));
    }
    text
}

async fn post(b: &TestBackend, path: &str, body: &Value) -> TestResponse {
    b.client()
        .post_json(&format!("/api/catalog{path}"), body)
        .await
        .unwrap()
}

async fn query(b: &TestBackend, body: Value) -> Value {
    let res = post(b, "/entities/by-query", &body).await;
    assert_eq!(res.status(), 200, "{}", res.text());
    res.json().unwrap()
}

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["metadata"]["name"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_input_error(res: &TestResponse, needle: &str) {
    assert_eq!(res.status(), 400, "{}", res.text());
    let body: Value = res.json().unwrap();
    assert_eq!(body["error"]["name"], "InputError", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(needle),
        "{message} should mention {needle}"
    );
}

async fn predicates_select_order_and_project_like_filters() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("catalog.yaml");
    std::fs::write(&file, catalog_text(20)).unwrap();
    let b = start(&database_yaml(dir.path()), &catalog_config(&file)).await;

    let v = query(
        &b,
        json!({ "query": { "kind": "Component", "spec.type": "SERVICE" }, "limit": 100 }),
    )
    .await;
    assert_eq!(v["totalItems"], 10);
    let v = query(
        &b,
        json!({ "query": { "$any": [{ "kind": "group" }, { "metadata.tags": "java" }] }, "limit": 100 }),
    )
    .await;
    assert_eq!(v["totalItems"], 1 + 7);
    let v = query(
        &b,
        json!({ "query": { "kind": "component", "$not": { "spec.type": { "$in": ["website"] } } } }),
    )
    .await;
    assert_eq!(v["totalItems"], 10);
    let v = query(
        &b,
        json!({ "query": { "spec.owner": { "$exists": false }, "kind": { "$in": ["group", "component"] } } }),
    )
    .await;
    assert_eq!(names(&v), vec!["team-a"]);
    let v = query(
        &b,
        json!({ "query": { "metadata.name": { "$hasPrefix": "svc-1" } }, "limit": 100 }),
    )
    .await;
    assert_eq!(v["totalItems"], 10);

    // Order, projection and full text, all from the body.
    let v = query(
        &b,
        json!({
            "query": { "kind": "component" },
            "orderBy": [{ "field": "spec.type", "order": "desc" }, { "field": "metadata.name", "order": "asc" }],
            "fields": ["metadata.name", "spec.type"],
            "limit": 3,
        }),
    )
    .await;
    assert_eq!(
        v["items"],
        json!([
            { "metadata": { "name": "svc-01" }, "spec": { "type": "website" } },
            { "metadata": { "name": "svc-03" }, "spec": { "type": "website" } },
            { "metadata": { "name": "svc-05" }, "spec": { "type": "website" } },
        ])
    );
    let v = query(
        &b,
        json!({ "fullTextFilter": { "term": "SVC-0", "fields": ["metadata.name"] }, "limit": 100 }),
    )
    .await;
    assert_eq!(v["totalItems"], 10);

    // The GET filter and the POST predicate agree.
    let get: Value = b
        .client()
        .get("/api/catalog/entities/by-query?filter=kind=component,metadata.tags=java&limit=100")
        .await
        .unwrap()
        .json()
        .unwrap();
    let posted = query(
        &b,
        json!({ "query": { "kind": "component", "metadata.tags": { "$contains": "java" } }, "limit": 100 }),
    )
    .await;
    assert_eq!(get["items"], posted["items"]);
    assert_eq!(get["totalItems"], 7);

    // Backstage's item keys: `metadata.tags.java` holds where `java` is a tag.
    let tagged: Value = b
        .client()
        .get("/api/catalog/entities?filter=metadata.tags.java&fields=metadata.name")
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(tagged.as_array().unwrap().len(), 7);
    let v = query(
        &b,
        json!({ "query": { "metadata.tags.java": "true", "spec.type": "website" }, "limit": 100 }),
    )
    .await;
    assert_eq!(v["totalItems"], 3);

    // Facets with a predicate.
    let res = post(
        &b,
        "/entity-facets",
        &json!({ "facets": ["spec.type", "metadata.tags"], "query": { "kind": "component", "metadata.tags": "java" } }),
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text());
    let f: Value = res.json().unwrap();
    assert_eq!(
        f["facets"]["spec.type"],
        json!([{ "value": "service", "count": 4 }, { "value": "website", "count": 3 }])
    );
    assert_eq!(
        f["facets"]["metadata.tags"],
        json!([{ "value": "java", "count": 7 }, { "value": "web", "count": 7 }])
    );

    // Bad input names what is wrong.
    assert_input_error(
        &post(
            &b,
            "/entities/by-query",
            &json!({ "query": { "kind": { "$between": [1, 2] } } }),
        )
        .await,
        "kind.$between",
    );
    assert_input_error(
        &post(
            &b,
            "/entities/by-query",
            &json!({ "query": { "$any": {} } }),
        )
        .await,
        "$any",
    );
    assert_input_error(
        &post(&b, "/entities/by-query", &json!({ "query": [] })).await,
        "expected an object",
    );
    assert_input_error(
        &post(
            &b,
            "/entities/by-query",
            &json!({ "orderBy": [{ "field": "kind", "order": "up" }] }),
        )
        .await,
        "orderBy",
    );
    assert_input_error(
        &post(&b, "/entities/by-query", &json!({ "limit": "ten" })).await,
        "invalid request body",
    );
    assert_input_error(
        &post(&b, "/entities/by-query", &json!({ "cursor": "garbage!" })).await,
        "cursor",
    );
    assert_input_error(
        &post(&b, "/entity-facets", &json!({ "facets": [] })).await,
        "facets",
    );
    assert_input_error(
        &post(
            &b,
            "/entity-facets",
            &json!({ "facets": ["kind"], "query": { "$not": 3 } }),
        )
        .await,
        "$not",
    );
    b.stop().await.unwrap();
}

async fn keyset_cursors_neither_repeat_nor_skip_while_the_catalog_changes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("catalog.yaml");
    std::fs::write(&file, catalog_text(30)).unwrap();
    let b = start(&database_yaml(dir.path()), &catalog_config(&file)).await;

    let first = query(
        &b,
        json!({ "query": { "kind": "component" }, "orderBy": [{ "field": "metadata.name" }], "limit": 8 }),
    )
    .await;
    assert_eq!(first["totalItems"], 30);
    assert!(first["pageInfo"].get("prevCursor").is_none());
    let mut seen = names(&first);
    let second = query(
        &b,
        json!({ "cursor": first["pageInfo"]["nextCursor"], "limit": 8 }),
    )
    .await;
    seen.extend(names(&second));

    // Entities sorting before the position appear while we page: offsets would repeat items.
    let mut text = catalog_text(30);
    text.push_str(&component("aaa-new", "service", "go"));
    text.push_str(&component("svc-00a", "service", "go"));
    std::fs::write(&file, text).unwrap();
    // Reprocess the config location's file.
    let all: Value = b
        .client()
        .get("/api/catalog/entities?filter=kind=location")
        .await
        .unwrap()
        .json()
        .unwrap();
    for l in all.as_array().unwrap() {
        let r = format!(
            "location:default/{}",
            l["metadata"]["name"].as_str().unwrap()
        );
        assert_eq!(
            post(&b, "/refresh", &json!({ "entityRef": r }))
                .await
                .status(),
            200
        );
    }

    let mut cursor = second["pageInfo"]["nextCursor"].as_str().map(str::to_owned);
    let mut last_page = second.clone();
    while let Some(c) = cursor.take() {
        let page = query(&b, json!({ "cursor": c, "limit": 8 })).await;
        assert_eq!(page["totalItems"], 32, "totals follow the catalog");
        seen.extend(names(&page));
        cursor = page["pageInfo"]["nextCursor"].as_str().map(str::to_owned);
        last_page = page;
    }
    let expected: Vec<String> = (0..30).map(|i| format!("svc-{i:02}")).collect();
    assert_eq!(
        seen, expected,
        "every original entity exactly once, in order"
    );

    // prevCursor walks back to exactly the page before.
    let back = query(
        &b,
        json!({ "cursor": last_page["pageInfo"]["prevCursor"], "limit": 8 }),
    )
    .await;
    assert_eq!(
        names(&back),
        vec![
            "svc-16", "svc-17", "svc-18", "svc-19", "svc-20", "svc-21", "svc-22", "svc-23"
        ][..]
            .to_vec()
    );
    assert!(back["pageInfo"]["nextCursor"].is_string());
    assert!(back["pageInfo"]["prevCursor"].is_string());
    b.stop().await.unwrap();
}

async fn by_name(backend: &TestBackend, name: &str) -> u16 {
    let path = format!("/api/catalog/entities/by-name/component/default/{name}");
    backend.client().get(&path).await.unwrap().status()
}

async fn backends_sharing_a_database_see_each_others_writes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("catalog.yaml");
    std::fs::write(&file, catalog_text(4)).unwrap();
    let database = database_yaml(dir.path());
    let config = catalog_config(&file);
    let a = start(&database, &config).await;
    let b = start(&database, &config).await;
    assert_eq!(by_name(&b, "svc-01").await, 200);

    // A registers a location; B serves its entities once it has noticed.
    let extra = dir.path().join("extra.yaml");
    std::fs::write(&extra, component("from-a", "service", "go")).unwrap();
    let res = post(
        &a,
        "/locations",
        &json!({ "type": "file", "target": extra.display().to_string() }),
    )
    .await;
    assert_eq!(res.status(), 201, "{}", res.text());
    let location_id = res.json::<Value>().unwrap()["location"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        by_name(&a, "from-a").await,
        200,
        "the writer sees it at once"
    );
    let mut waited = Duration::ZERO;
    while by_name(&b, "from-a").await != 200 {
        assert!(waited < Duration::from_secs(10), "B never saw A's entity");
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += Duration::from_millis(100);
    }
    println!("B saw A's new entity after {waited:?}");
    let facets: Value = b
        .client()
        .get("/api/catalog/entity-facets?facet=kind")
        .await
        .unwrap()
        .json()
        .unwrap();
    assert!(
        facets["facets"]["kind"]
            .as_array()
            .unwrap()
            .contains(&json!({ "value": "Component", "count": 5 }))
    );

    // A deletes it again; B drops it too.
    let res = a
        .client()
        .delete(&format!("/api/catalog/locations/{location_id}"))
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let mut waited = Duration::ZERO;
    while by_name(&b, "from-a").await != 404 {
        assert!(
            waited < Duration::from_secs(10),
            "B kept A's deleted entity"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += Duration::from_millis(100);
    }
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

per_database_backend!(
    predicates_select_order_and_project_like_filters,
    keyset_cursors_neither_repeat_nor_skip_while_the_catalog_changes,
    backends_sharing_a_database_see_each_others_writes,
);
