#![allow(missing_docs)]
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]
//! The catalog's registered-locations API (`POST /locations/by-query`, `PUT /locations/{id}`)
//! and URL locations read through the backend's URL reader, over a real backend, once per
//! database backend (`sqlite::*`, `postgres::*`, `mysql::*`).

#[macro_use]
mod support;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use backlot::backend::Feature;
use backlot::plugins::catalog::CatalogPlugin;
use backlot::testing::{TestBackend, TestResponse};
use serde_json::{Value, json};

fn database_yaml() -> String {
    support::database_yaml("loc")
}

async fn start(extra_yaml: &str) -> TestBackend {
    TestBackend::builder()
        .config_yaml(support::file_locations_yaml())
        .feature(Feature::plugin(CatalogPlugin::new()))
        .config_yaml(database_yaml())
        .config_yaml(format!(
            "catalog:\n  processingInterval: {{ minutes: 60 }}\n{extra_yaml}"
        ))
        .start()
        .await
        .expect("backend starts")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, text).unwrap();
    p
}

fn component(name: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
    )
}

async fn get(b: &TestBackend, path: &str) -> TestResponse {
    b.client()
        .get(&format!("/api/catalog{path}"))
        .await
        .unwrap()
}

async fn post(b: &TestBackend, path: &str, body: &Value) -> TestResponse {
    b.client()
        .post_json(&format!("/api/catalog{path}"), body)
        .await
        .unwrap()
}

async fn put(b: &TestBackend, path: &str, body: &Value) -> TestResponse {
    b.client()
        .put_json(&format!("/api/catalog{path}"), body)
        .await
        .unwrap()
}

fn assert_error(res: &TestResponse, status: u16, name: &str) -> String {
    assert_eq!(res.status(), status, "{}", res.text());
    let body: Value = res.json().unwrap();
    assert_eq!(body["error"]["name"], name, "{body}");
    assert_eq!(body["response"]["statusCode"], status);
    body["error"]["message"].as_str().unwrap().to_owned()
}

/// Registers a file location holding one component; returns its id.
async fn register(b: &TestBackend, file: &Path) -> String {
    let res = post(
        b,
        "/locations",
        &json!({ "type": "file", "target": file.display().to_string() }),
    )
    .await;
    assert_eq!(res.status(), 201, "{}", res.text());
    let v: Value = res.json().unwrap();
    v["location"]["id"].as_str().unwrap().to_owned()
}

async fn by_query(b: &TestBackend, body: &Value) -> Value {
    let res = post(b, "/locations/by-query", body).await;
    assert_eq!(res.status(), 200, "{}", res.text());
    res.json().unwrap()
}

fn targets(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["target"].as_str().unwrap().to_owned())
        .collect()
}

async fn by_query_walks_every_matching_location_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let b = start("  locations: []\n").await;
    let mut keep = Vec::new();
    for i in 1..=9 {
        let f = write(
            dir.path(),
            &format!("keep-{i:02}.yaml"),
            &component(&format!("keep-{i}")),
        );
        register(&b, &f).await;
        keep.push(f.display().to_string());
    }
    let mut drop_ids = Vec::new();
    for i in 1..=4 {
        let f = write(
            dir.path(),
            &format!("drop-{i:02}.yaml"),
            &component(&format!("drop-{i}")),
        );
        drop_ids.push(register(&b, &f).await);
    }
    let drop_prefix = dir.path().join("drop-").display().to_string();
    let query = json!({ "$all": [
        { "type": "FILE" },
        { "$not": { "target": { "$hasPrefix": drop_prefix } } },
    ] });

    let first = by_query(&b, &json!({ "query": query, "limit": 2 })).await;
    assert_eq!(first["totalItems"], 9, "{first}");
    assert_eq!(targets(&first), keep[..2].to_vec());
    for item in first["items"].as_array().unwrap() {
        let keys: HashSet<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(keys, HashSet::from(["id", "type", "target"]), "{item}");
    }

    // Between pages: one location sorting before the cursor, one after it, and one of the
    // next page's locations deleted. Nothing repeats, nothing is skipped.
    let before = write(dir.path(), "keep-00.yaml", &component("keep-0"));
    register(&b, &before).await;
    let after = write(dir.path(), "keep-99.yaml", &component("keep-99"));
    register(&b, &after).await;
    let all: Value = by_query(&b, &json!({ "query": { "target": keep[4].clone() } })).await;
    let removed_id = all["items"][0]["id"].as_str().unwrap().to_owned();
    let res = b
        .client()
        .delete(&format!("/api/catalog/locations/{removed_id}"))
        .await
        .unwrap();
    assert_eq!(res.status(), 204);

    let mut seen = targets(&first);
    let mut cursor = first["pageInfo"]["nextCursor"].as_str().unwrap().to_owned();
    let mut pages = 1;
    loop {
        let page = by_query(&b, &json!({ "cursor": cursor })).await;
        pages += 1;
        assert!(page["items"].as_array().unwrap().len() <= 2, "{page}");
        assert_eq!(page["totalItems"], 10, "{page}");
        seen.extend(targets(&page));
        match page["pageInfo"]["nextCursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
        assert!(pages < 20, "paging does not end");
    }
    let mut expected: Vec<String> = keep.iter().filter(|t| **t != keep[4]).cloned().collect();
    expected.push(after.display().to_string());
    assert_eq!(seen, expected);

    // A cursor's page size can be overridden; the predicate stays the cursor's.
    let page = by_query(&b, &json!({ "query": query, "limit": 1 })).await;
    let next = page["pageInfo"]["nextCursor"].as_str().unwrap();
    let page = by_query(&b, &json!({ "cursor": next, "limit": 100, "query": {} })).await;
    assert_eq!(targets(&page).len(), 9, "{page}");
    assert!(page["pageInfo"].get("nextCursor").is_none());

    // No body, or an empty one: every location on one page (default limit 1000).
    let res = b
        .client()
        .execute(
            b.client()
                .request(reqwest::Method::POST, "/api/catalog/locations/by-query"),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    let everything: Value = res.json().unwrap();
    assert_eq!(everything["totalItems"], 14);
    assert_eq!(everything["items"].as_array().unwrap().len(), 14);
    assert_eq!(everything["pageInfo"], json!({}));

    // Fields: id, and alternatives.
    let one = by_query(
        &b,
        &json!({ "query": { "id": drop_ids[2].to_uppercase() } }),
    )
    .await;
    assert_eq!(one["totalItems"], 1);
    assert_eq!(one["items"][0]["id"], drop_ids[2].as_str());
    let some = by_query(
        &b,
        &json!({ "query": { "$any": [
            { "id": { "$in": [drop_ids[0].clone(), drop_ids[1].clone()] } },
            { "target": after.display().to_string() },
        ] } }),
    )
    .await;
    assert_eq!(some["totalItems"], 3);
    let none = by_query(&b, &json!({ "query": { "type": "url" } })).await;
    assert_eq!(
        none,
        json!({ "items": [], "totalItems": 0, "pageInfo": {} })
    );
    b.stop().await.unwrap();
}

async fn by_query_rejects_bad_input_naming_the_field() {
    let b = start("  locations: []\n").await;
    let cases = [
        (json!({ "limit": 0 }), "limit"),
        (json!({ "limit": -3 }), "limit"),
        (json!({ "limit": "ten" }), "limit"),
        (json!({ "cursor": "" }), "cursor"),
        (json!({ "cursor": 7 }), "cursor"),
        (json!({ "cursor": "not a cursor!" }), "cursor"),
        (json!({ "cursor": "eyJsaW1pdCI6Mn0" }), "cursor"), // {"limit":2}: no position
        (json!({ "query": { "$nope": [] } }), "query"),
        (json!({ "query": { "type": { "$in": "file" } } }), "query"),
        (json!({ "query": "type=file" }), "query"),
        (json!(["query"]), "body"),
    ];
    for (body, field) in cases {
        let message = assert_error(
            &post(&b, "/locations/by-query", &body).await,
            400,
            "InputError",
        );
        assert!(
            message.contains(field),
            "{body}: '{message}' should name {field}"
        );
    }
    let res = b
        .client()
        .execute(
            b.client()
                .request(reqwest::Method::POST, "/api/catalog/locations/by-query")
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await
        .unwrap();
    let message = assert_error(&res, 400, "InputError");
    assert!(message.contains("request body"), "{message}");
    b.stop().await.unwrap();
}

async fn put_points_a_location_at_a_new_target() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.yaml", &component("svc-a"));
    let b_file = write(dir.path(), "b.yaml", &component("svc-b"));
    let c = write(
        dir.path(),
        "c/catalog-info.yaml",
        &format!("{}---\n{}", component("svc-c"), component("svc-c2")),
    );
    let b = start("  locations: []\n").await;
    let id = register(&b, &a).await;
    let other = register(&b, &b_file).await;
    assert_eq!(
        get(&b, "/entities/by-name/component/default/svc-a")
            .await
            .status(),
        200
    );

    let res = put(
        &b,
        &format!("/locations/{id}"),
        &json!({ "type": "file", "target": c.display().to_string() }),
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text());
    let updated: Value = res.json().unwrap();
    assert_eq!(
        updated,
        json!({ "id": id, "type": "file", "target": c.display().to_string() })
    );
    // The old target's entities are gone, the new target's are there at once.
    assert_eq!(
        get(&b, "/entities/by-name/component/default/svc-a")
            .await
            .status(),
        404
    );
    for name in ["svc-c", "svc-c2", "svc-b"] {
        let res = get(&b, &format!("/entities/by-name/component/default/{name}")).await;
        assert_eq!(res.status(), 200, "{name}: {}", res.text());
    }
    let location_targets: Vec<String> = get(&b, "/entities?filter=kind=location")
        .await
        .json::<Value>()
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["spec"]["target"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        !location_targets.contains(&a.display().to_string()),
        "{location_targets:?}"
    );
    assert!(location_targets.contains(&c.display().to_string()));
    let got: Value = get(&b, &format!("/locations/{id}")).await.json().unwrap();
    assert_eq!(got, updated);
    let by_entity: Value = get(&b, "/locations/by-entity/component/default/svc-c")
        .await
        .json()
        .unwrap();
    assert_eq!(by_entity["id"], id.as_str());

    // The same spec again changes nothing.
    let res = put(
        &b,
        &format!("/locations/{id}"),
        &json!({ "type": "file", "target": c.display().to_string() }),
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text());
    assert_eq!(res.json::<Value>().unwrap(), updated);

    // Unknown id, another location's spec, unreadable or empty targets, broken bodies.
    let body = json!({ "type": "file", "target": a.display().to_string() });
    assert_error(
        &put(&b, "/locations/nope", &body).await,
        404,
        "NotFoundError",
    );
    let message = assert_error(
        &put(
            &b,
            &format!("/locations/{id}"),
            &json!({ "type": "file", "target": b_file.display().to_string() }),
        )
        .await,
        409,
        "ConflictError",
    );
    assert!(message.contains("b.yaml"), "{message}");
    let message = assert_error(
        &put(
            &b,
            &format!("/locations/{id}"),
            &json!({ "type": "file", "target": dir.path().join("missing.yaml").display().to_string() }),
        )
        .await,
        400,
        "InputError",
    );
    assert!(message.contains("missing.yaml"), "{message}");
    let message = assert_error(
        &put(
            &b,
            &format!("/locations/{id}"),
            &json!({ "type": "file", "target": " " }),
        )
        .await,
        400,
        "InputError",
    );
    assert!(message.contains("target"), "{message}");
    let message = assert_error(
        &put(&b, &format!("/locations/{id}"), &json!({ "type": "file" })).await,
        400,
        "InputError",
    );
    assert!(message.contains("target"), "{message}");
    // Nothing of that changed the location or its entities.
    let got: Value = get(&b, &format!("/locations/{id}")).await.json().unwrap();
    assert_eq!(got, updated);
    assert_eq!(
        get(&b, "/entities/by-name/component/default/svc-c")
            .await
            .status(),
        200
    );
    let got: Value = get(&b, &format!("/locations/{other}"))
        .await
        .json()
        .unwrap();
    assert_eq!(got["target"], b_file.display().to_string());
    b.stop().await.unwrap();
}

async fn put_is_refused_in_read_only_mode() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.yaml", &component("svc-a"));
    let b = start("  readonly: true\n  locations: []\n").await;
    let message = assert_error(
        &put(
            &b,
            "/locations/any-id",
            &json!({ "type": "file", "target": a.display().to_string() }),
        )
        .await,
        403,
        "NotAllowedError",
    );
    assert!(message.contains("read-only"), "{message}");
    b.stop().await.unwrap();
}

/// A web server on 127.0.0.1 serving a small catalog below `/catalog/`, counting requests.
struct CatalogServer {
    base: String,
    hits: Arc<AtomicUsize>,
}

async fn serve_catalog(prefix: &'static str) -> CatalogServer {
    use axum::extract::Path as UrlPath;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let app = axum::Router::new().route(
        "/catalog/{file}",
        axum::routing::get(move |UrlPath(file): UrlPath<String>| {
            let counter = Arc::clone(&counter);
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                match file.as_str() {
                    // A Location entity whose relative target resolves against this URL.
                    "all.yaml" => format!(
                        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: {prefix}-all\nspec:\n  targets: [./svc.yaml]\n"
                    )
                    .into_response(),
                    "svc.yaml" => format!(
                        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {prefix}-svc\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n  notes:\n    $text: ./notes.txt\n"
                    )
                    .into_response(),
                    "notes.txt" => format!("served by {prefix}").into_response(),
                    "other.yaml" => component(&format!("{prefix}-other")).into_response(),
                    "moved.yaml" => component(&format!("{prefix}-moved")).into_response(),
                    _ => StatusCode::NOT_FOUND.into_response(),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    CatalogServer {
        base: format!("http://{addr}/catalog"),
        hits,
    }
}

fn host_of(base: &str) -> String {
    let url = url::Url::parse(base).unwrap();
    format!("{}:{}", url.host_str().unwrap(), url.port().unwrap())
}

async fn url_locations_are_read_through_backend_reading_allow() {
    let allowed = serve_catalog("allowed").await;
    let denied = serve_catalog("denied").await;
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "local.yaml", &component("local-svc"));
    let allowed_all = format!("{}/all.yaml", allowed.base);
    let denied_all = format!("{}/all.yaml", denied.base);
    let b = TestBackend::builder()
        .config_yaml(support::file_locations_yaml())
        .feature(Feature::plugin(CatalogPlugin::new()))
        .config_yaml(database_yaml())
        .config_yaml(format!(
            "backend:\n  reading:\n    allow:\n      - host: '{}'\n",
            host_of(&allowed.base)
        ))
        .config_yaml(format!(
            "catalog:\n  processingInterval: {{ minutes: 60 }}\n  locations:\n    - type: url\n      target: {allowed_all}\n    - type: url\n      target: {denied_all}\n    - type: file\n      target: {}\n",
            file.display()
        ))
        .start()
        .await
        .expect("backend starts despite a disallowed location");

    // The allowed host's entities, with the relative target and placeholder resolved
    // against the URL; the file location as before.
    let svc: Value = get(&b, "/entities/by-name/component/default/allowed-svc")
        .await
        .json()
        .unwrap();
    assert_eq!(svc["spec"]["notes"], "served by allowed", "{svc}");
    assert_eq!(
        svc["metadata"]["annotations"]["backstage.io/managed-by-location"],
        format!("url:{}/svc.yaml", allowed.base)
    );
    assert_eq!(
        get(&b, "/entities/by-name/component/default/local-svc")
            .await
            .status(),
        200
    );
    assert!(allowed.hits.load(Ordering::SeqCst) >= 3);

    // The disallowed host is never contacted; its location records why.
    assert_eq!(
        get(&b, "/entities/by-name/location/default/denied-all")
            .await
            .status(),
        404
    );
    assert_eq!(denied.hits.load(Ordering::SeqCst), 0);
    let locations: Value = get(&b, "/entities?filter=kind=location")
        .await
        .json()
        .unwrap();
    let denied_location = locations
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["spec"]["target"] == denied_all.as_str())
        .unwrap_or_else(|| panic!("no Location entity for {denied_all}: {locations}"));
    let message = denied_location["status"]["items"][0]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no status error: {denied_location}"));
    assert!(
        message.contains("backend.reading.allow") && message.contains(&denied_all),
        "{message}"
    );

    // Registering or moving a location to the disallowed host is refused with the reason.
    let message = assert_error(
        &post(
            &b,
            "/locations",
            &json!({ "type": "url", "target": format!("{}/other.yaml", denied.base) }),
        )
        .await,
        400,
        "InputError",
    );
    assert!(message.contains("backend.reading.allow"), "{message}");
    let res = post(
        &b,
        "/locations",
        &json!({ "type": "url", "target": format!("{}/other.yaml", allowed.base) }),
    )
    .await;
    assert_eq!(res.status(), 201, "{}", res.text());
    let id = res.json::<Value>().unwrap()["location"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        get(&b, "/entities/by-name/component/default/allowed-other")
            .await
            .status(),
        200
    );
    let message = assert_error(
        &put(
            &b,
            &format!("/locations/{id}"),
            &json!({ "type": "url", "target": format!("{}/other.yaml", denied.base) }),
        )
        .await,
        400,
        "InputError",
    );
    assert!(message.contains("backend.reading.allow"), "{message}");
    let message = assert_error(
        &put(
            &b,
            &format!("/locations/{id}"),
            &json!({ "type": "url", "target": format!("{}/missing.yaml", allowed.base) }),
        )
        .await,
        400,
        "InputError",
    );
    assert!(message.contains("not found"), "{message}");
    assert_eq!(denied.hits.load(Ordering::SeqCst), 0);

    // Moving it to another allowed URL swaps the entities.
    let res = put(
        &b,
        &format!("/locations/{id}"),
        &json!({ "type": "url", "target": format!("{}/moved.yaml", allowed.base) }),
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text());
    assert_eq!(
        get(&b, "/entities/by-name/component/default/allowed-other")
            .await
            .status(),
        404
    );
    let by_entity: Value = get(&b, "/locations/by-entity/component/default/allowed-moved")
        .await
        .json()
        .unwrap();
    assert_eq!(by_entity["id"], id.as_str());
    b.stop().await.unwrap();
}

async fn catalog_client_queries_and_updates_locations() {
    use backlot::plugins::catalog::common::{CatalogClient, Location, QueryLocationsRequest};
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.yaml", &component("svc-a"));
    let b_file = write(dir.path(), "b.yaml", &component("svc-b"));
    let c = write(dir.path(), "c.yaml", &component("svc-c"));
    let b = start("  locations: []\n").await;
    let anonymous = CatalogClient::new(b.url("/api/catalog"));
    let err = anonymous
        .query_locations(&QueryLocationsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.name()),
        (Some(401), Some("AuthenticationError"))
    );
    let client = anonymous.with_token(&backlot::testing::mock_credentials::user_token(
        "user:default/jane",
    ));
    let id = client
        .add_location("file", &a.display().to_string(), false)
        .await
        .unwrap()
        .location
        .id;
    client
        .add_location("file", &b_file.display().to_string(), false)
        .await
        .unwrap();

    let mut request = QueryLocationsRequest {
        query: Some(json!({ "type": "file" })),
        limit: Some(1),
        cursor: None,
    };
    let mut seen = Vec::new();
    loop {
        let page = client.query_locations(&request).await.unwrap();
        assert_eq!(page.total_items, 2);
        seen.extend(page.items.into_iter().map(|l| l.target));
        match page.page_info.next_cursor {
            Some(cursor) => request.cursor = Some(cursor),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [a.display().to_string(), b_file.display().to_string()]
    );

    let updated = client
        .update_location(&id, "file", &c.display().to_string())
        .await
        .unwrap();
    assert_eq!(
        updated,
        Location {
            id: id.clone(),
            location_type: "file".into(),
            target: c.display().to_string(),
        }
    );
    let page = client
        .query_locations(&QueryLocationsRequest {
            query: Some(json!({ "target": c.display().to_string() })),
            ..QueryLocationsRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items, [updated]);
    let err = client
        .update_location("nope", "file", &c.display().to_string())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    let err = client
        .update_location(&id, "file", &b_file.display().to_string())
        .await
        .unwrap_err();
    assert_eq!(err.name(), Some("ConflictError"));
    let err = client
        .query_locations(&QueryLocationsRequest {
            limit: Some(0),
            ..QueryLocationsRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.name(), Some("InputError"));
    b.stop().await.unwrap();
}

per_database_backend!(
    by_query_walks_every_matching_location_exactly_once,
    by_query_rejects_bad_input_naming_the_field,
    put_points_a_location_at_a_new_target,
    put_is_refused_in_read_only_mode,
    url_locations_are_read_through_backend_reading_allow,
    catalog_client_queries_and_updates_locations,
);
