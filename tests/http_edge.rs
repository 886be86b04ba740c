#![allow(missing_docs)]
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]
//! The hardened HTTP edge over a real backend on 127.0.0.1: JSON-only plugin APIs (CSRF),
//! slow and numerous clients, URL and header sizes, catalog limits and cursors, `dataDir`,
//! and the search and docs pages' answers.

mod support;

use std::time::{Duration, Instant};

use backlot::backend::Feature;
use backlot::plugins::catalog::CatalogPlugin;
use backlot::testing::{TestBackend, TestResponse};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn catalog(extra_yaml: &str) -> TestBackend {
    TestBackend::builder()
        .feature(Feature::plugin(CatalogPlugin::new()))
        .config_yaml(support::file_locations_yaml())
        .config_yaml(format!(
            "catalog:\n  processingInterval: {{ minutes: 60 }}\n{extra_yaml}"
        ))
        .start()
        .await
        .expect("backend starts")
}

/// Checks the error JSON and returns its message.
fn assert_error(res: &TestResponse, status: u16, name: &str) -> String {
    assert_eq!(res.status(), status, "{}", res.text());
    let body: Value = res.json().unwrap_or_else(|e| panic!("{e}: {}", res.text()));
    assert_eq!(body["error"]["name"], name, "{body}");
    assert_eq!(body["response"]["statusCode"], status, "{body}");
    body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Sends raw bytes and reads the answer until the server closes the connection.
async fn raw(addr: std::net::SocketAddr, request: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("answered in time")
        .unwrap();
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn text_plain_post_to_a_json_api_is_refused_with_415_and_nothing_is_stored() {
    let b = catalog("").await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("catalog-info.yaml");
    std::fs::write(
        &target,
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: csrf\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n",
    )
    .unwrap();
    let body = json!({"type": "file", "target": target.display().to_string()}).to_string();
    for content_type in [
        Some("text/plain"),
        Some("text/plain;charset=UTF-8"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let mut req = b
            .client()
            .request(reqwest::Method::POST, "/api/catalog/locations")
            .body(body.clone());
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let res = b.client().execute(req).await.unwrap();
        let message = assert_error(&res, 415, "UnsupportedMediaTypeError");
        assert!(message.contains("JSON"), "{message}");
    }
    let locations: Value = b
        .client()
        .get("/api/catalog/locations")
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(locations, json!([]), "nothing was stored");

    // JSON, including a vendor type with parameters, is accepted.
    for ct in [
        "application/json",
        "application/vnd.backstage+json; charset=utf-8",
    ] {
        let res = b
            .client()
            .execute(
                b.client()
                    .request(reqwest::Method::POST, "/api/catalog/locations?dryRun=true")
                    .header("content-type", ct)
                    .body(body.clone()),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "{ct}: {}", res.text());
    }
    b.stop().await.unwrap();
}

#[tokio::test]
async fn long_urls_answer_414_and_large_heads_431_with_error_json() {
    let b = catalog("backend:\n  server:\n    maxUrlLength: 2048\n    maxHeaderSize: 4096\n").await;
    let addr = b.handle().local_addr();

    // Over maxUrlLength: the backend's own check.
    let long = format!("/api/catalog/entities?filter={}", "a".repeat(3000));
    let res = b.client().get(&long).await.unwrap();
    let message = assert_error(&res, 414, "UriTooLongError");
    assert!(message.contains("2048"), "{message}");

    // Headers over maxHeaderSize.
    let res = b
        .client()
        .execute(
            b.client()
                .request(reqwest::Method::GET, "/api/catalog/entities")
                .header("x-big", "b".repeat(5000)),
        )
        .await
        .unwrap();
    assert_error(&res, 431, "HeadersTooLargeError");

    // Over 64 KiB: the HTTP parser's own answer, rewritten into the error JSON.
    let huge = format!(
        "GET /api/catalog/entities?filter={} HTTP/1.1\r\nhost: x\r\n\r\n",
        "a".repeat(70 * 1024)
    );
    let (status, body) = raw(addr, huge.as_bytes()).await;
    assert!(status == 414 || status == 431, "{status}");
    let body: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(body["response"]["statusCode"], status);
    assert!(body["error"]["name"].as_str().unwrap().ends_with("Error"));

    // 64 KiB URL within a head hyper can parse: 414.
    let b2 =
        catalog("backend:\n  server:\n    maxUrlLength: 100000\n    maxHeaderSize: 100000\n").await;
    let at_limit = format!(
        "GET /api/catalog/entities?filter={} HTTP/1.1\r\nhost: x\r\n\r\n",
        "a".repeat(66 * 1024)
    );
    let (status, body) = raw(b2.handle().local_addr(), at_limit.as_bytes()).await;
    assert_eq!(status, 414, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["name"], "UriTooLongError");

    // Headers over hyper's buffer: 431 with the error JSON.
    let big_head = format!(
        "GET / HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "b".repeat(300 * 1024)
    );
    let (status, body) = raw(addr, big_head.as_bytes()).await;
    assert_eq!(status, 431, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["name"], "HeadersTooLargeError");
    b.stop().await.unwrap();
    b2.stop().await.unwrap();
}

/// The soft open-files limit (raising it needs `unsafe` here, which the crate forbids).
fn open_files_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).map(str::to_string))
        })
        .and_then(|soft| soft.parse().ok())
        .unwrap_or(1024)
}

#[tokio::test]
async fn half_open_connections_are_closed_and_capped_while_others_are_served() {
    // Each half-open connection costs the test a descriptor, plus one on the server side for
    // the quarter the server holds; stay well under the open-files limit.
    let limit = open_files_limit();
    let wanted = 10_000usize;
    let count = wanted.min(limit.saturating_sub(2048) * 4 / 5).max(100);
    if count < wanted {
        println!(
            "open-files limit {limit}: using {count} half-open connections instead of {wanted}"
        );
    }
    let max_connections = (count / 4).max(10);
    let b = TestBackend::builder()
        .config_yaml(format!(
            "backend:\n  server:\n    headersTimeout: 1s\n    maxConnections: {max_connections}\n"
        ))
        .start()
        .await
        .expect("backend starts");
    let addr = b.handle().local_addr();

    let started = Instant::now();
    let mut half_open = Vec::with_capacity(count);
    for _ in 0..count {
        let Ok(Ok(mut stream)) =
            tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr)).await
        else {
            continue;
        };
        // A partial request line, never finished.
        let _ = stream
            .write_all(b"GET /.backstage/health/v1/liveness HT")
            .await;
        half_open.push(stream);
    }
    println!(
        "opened {} half-open connections in {:?}",
        half_open.len(),
        started.elapsed()
    );
    assert!(
        half_open.len() > max_connections,
        "more half-open connections than the cap"
    );

    // A well-behaved client is served within a bounded time although the half-open
    // connections outnumber the cap: the header timeout frees their slots.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let url = b.url("/.backstage/health/v1/liveness");
    let deadline = Instant::now() + Duration::from_secs(20);
    let served_after = loop {
        match client.get(&url).send().await {
            Ok(res) if res.status() == 200 => break started.elapsed(),
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
            other => panic!("not served within 20 s: {other:?}"),
        }
    };
    println!("served after {served_after:?}");

    // Every half-open connection is closed by the server (EOF or reset), none stays open.
    let closed = futures::future::join_all(half_open.into_iter().map(|mut stream| async move {
        let mut buf = [0u8; 1024];
        loop {
            match tokio::time::timeout(Duration::from_secs(15), stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }))
    .await;
    let still_open = closed.iter().filter(|c| !**c).count();
    assert_eq!(
        still_open, 0,
        "{still_open} half-open connections were left open"
    );

    // And the server still serves.
    let res = client.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    b.stop().await.unwrap();
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    let b = TestBackend::builder()
        .config_yaml("backend:\n  server:\n    keepAliveTimeout: 300ms\n    headersTimeout: 10s\n")
        .start()
        .await
        .expect("backend starts");
    let mut stream = TcpStream::connect(b.handle().local_addr()).await.unwrap();
    stream
        .write_all(b"GET /.backstage/health/v1/liveness HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("the idle connection is closed")
        .unwrap();
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
    assert!(started.elapsed() < Duration::from_secs(3));
    b.stop().await.unwrap();
}

#[tokio::test]
async fn slow_requests_time_out_with_error_json() {
    use axum::Router;
    use axum::routing::get;
    use backlot::services::core_services::HTTP_ROUTER;

    let slow = Feature::plugin_fn("slow", |reg| {
        reg.init(&HTTP_ROUTER, |http| async move {
            http.use_router(Router::new().route(
                "/wait",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    "done"
                }),
            ));
            Ok(())
        })
    });
    let b = TestBackend::builder()
        .feature(slow)
        .config_yaml("backend:\n  server:\n    requestTimeout: 300ms\n")
        .start()
        .await
        .expect("backend starts");
    let started = Instant::now();
    let res = b.client().get("/api/slow/wait").await.unwrap();
    let message = assert_error(&res, 503, "ServiceUnavailableError");
    assert!(message.contains("requestTimeout"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(5));
    b.stop().await.unwrap();
}

/// Registers a file location holding `names` and waits until the catalog serves them.
async fn seed(b: &TestBackend, dir: &std::path::Path, names: &[&str]) {
    let docs: Vec<String> = names
        .iter()
        .map(|n| {
            format!(
                "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {n}\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
            )
        })
        .collect();
    let target = dir.join("catalog-info.yaml");
    std::fs::write(&target, docs.join("---\n")).unwrap();
    let res = b
        .client()
        .post_json(
            "/api/catalog/locations",
            &json!({"type": "file", "target": target.display().to_string()}),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let res = b
            .client()
            .get("/api/catalog/entities?filter=kind=component")
            .await
            .unwrap();
        let items: Vec<Value> = res.json().unwrap_or_default();
        if items.len() >= names.len() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "entities not ingested: {}",
            res.text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn catalog_limits_are_capped_by_max_page_limit() {
    let b = catalog("  maxPageLimit: 2\n").await;
    let dir = tempfile::tempdir().unwrap();
    seed(&b, dir.path(), &["a", "b", "c"]).await;

    let res = b
        .client()
        .get("/api/catalog/entities?filter=kind=component&limit=1000000000000")
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    assert_eq!(res.json::<Vec<Value>>().unwrap().len(), 2);
    assert!(
        res.header("link")
            .is_some_and(|l| l.contains("rel=\"next\""))
    );

    let res = b
        .client()
        .get("/api/catalog/entities/by-query?filter=kind=component&limit=1000000000000")
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    let body: Value = res.json().unwrap();
    assert_eq!(body["items"].as_array().unwrap().len(), 2, "{body}");
    assert_eq!(body["totalItems"], 3);
    assert!(body["pageInfo"]["nextCursor"].is_string(), "{body}");

    let res = b
        .client()
        .post_json(
            "/api/catalog/locations/by-query",
            &json!({"limit": 1_000_000_000_000u64}),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    b.stop().await.unwrap();
}

#[tokio::test]
async fn a_crafted_cursor_with_a_40_deep_predicate_is_refused_with_400() {
    use base64::Engine as _;

    let b = catalog("").await;
    let craft = |depth: usize| {
        let mut q = json!({"In": {"key": "kind", "values": ["component"]}});
        for _ in 0..depth {
            q = json!({ "Not": q });
        }
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(json!({"q": q, "o": []}).to_string())
    };
    // The shape is right: a shallow crafted cursor is accepted.
    let res = b
        .client()
        .get(&format!(
            "/api/catalog/entities/by-query?cursor={}",
            craft(2)
        ))
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());

    let res = b
        .client()
        .get(&format!(
            "/api/catalog/entities/by-query?cursor={}",
            craft(40)
        ))
        .await
        .unwrap();
    let message = assert_error(&res, 400, "InputError");
    assert!(message.contains("nested deeper than 32"), "{message}");
    let res = b
        .client()
        .post_json(
            "/api/catalog/entities/by-query",
            &json!({"cursor": craft(40)}),
        )
        .await
        .unwrap();
    assert_error(&res, 400, "InputError");
    b.stop().await.unwrap();
}

async fn wait_ok(b: &TestBackend, path: &str, what: &str) -> TestResponse {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let res = b.client().get(path).await.unwrap();
        if res.status() == 200 && !res.text().contains("\"results\":[]") && res.text() != "[]" {
            return res;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {} {}",
            res.status(),
            res.text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_and_techdocs_write_under_backend_data_dir() {
    use backlot::plugins::search::backend::{
        SearchCatalogCollatorModule, SearchPlugin, collator_task_id,
    };
    use backlot::plugins::techdocs::backend::TechdocsPlugin;

    let cwd_data = std::env::current_dir().unwrap().join("data");
    let cwd_data_before = cwd_data.exists();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("portal-data");
    std::fs::create_dir_all(tmp.path().join("site/docs")).unwrap();
    std::fs::write(tmp.path().join("site/mkdocs.yml"), "site_name: Edge\n").unwrap();
    std::fs::write(tmp.path().join("site/docs/index.md"), "# Edge docs\n").unwrap();
    std::fs::write(
        tmp.path().join("catalog-info.yaml"),
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: edgedocs\n  annotations:\n    backstage.io/techdocs-ref: dir:./site\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n",
    )
    .unwrap();
    let config = format!(
        "backend:\n  dataDir: '{data}'\n  reading:\n    fileAllow: ['{tmp}']\n\
         catalog:\n  processingInterval: {{ minutes: 60 }}\n  locations:\n    - type: file\n      target: {target}\n\
         techdocs:\n  builder: local\n\
         search:\n  collators:\n    catalog:\n      schedule:\n        frequency: {{ trigger: manual }}\n        timeout: {{ minutes: 1 }}\n",
        data = data.display(),
        tmp = tmp.path().display(),
        target = tmp.path().join("catalog-info.yaml").display(),
    );
    let b = TestBackend::builder()
        .config_yaml(config)
        .feature(Feature::plugin(CatalogPlugin::new()))
        .feature(Feature::plugin(TechdocsPlugin::new()))
        .feature(Feature::plugin(SearchPlugin::new()))
        .feature(Feature::module(SearchCatalogCollatorModule))
        .start()
        .await
        .expect("backend starts");
    wait_ok(
        &b,
        "/api/catalog/entities?filter=metadata.name=edgedocs",
        "catalog",
    )
    .await;

    // TechDocs builds on first fetch and publishes under <dataDir>/techdocs.
    wait_ok(
        &b,
        "/api/techdocs/static/docs/default/Component/edgedocs/index.html",
        "techdocs",
    )
    .await;
    let published = data.join("techdocs");
    assert!(
        published.is_dir(),
        "nothing published under {}",
        published.display()
    );

    // The embedded search index lives under <dataDir>/search.
    let trigger = format!(
        "/api/search/.backstage/scheduler/v1/tasks/{}/trigger",
        collator_task_id("software-catalog")
    );
    let res = b
        .client()
        .execute(b.client().request(reqwest::Method::POST, &trigger))
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    wait_ok(&b, "/api/search/query?term=edgedocs", "search").await;
    let index = data.join("search");
    assert!(
        std::fs::read_dir(&index).is_ok_and(|mut d| d.next().is_some()),
        "no search index under {}",
        index.display()
    );
    b.stop().await.unwrap();
    assert_eq!(
        cwd_data.exists(),
        cwd_data_before,
        "nothing is written under ./data"
    );
}

#[tokio::test]
async fn search_and_docs_pages_take_query_and_answer_bad_requests_with_400() {
    use backlot::frontend::App;
    use backlot::plugins::app::app_plugin;
    use backlot::plugins::catalog::frontend::catalog_frontend_plugin;
    use backlot::plugins::search::backend::SearchPlugin;
    use backlot::plugins::search::frontend::{SearchUiOptions, search_plugin};
    use backlot::plugins::techdocs::frontend::techdocs_plugin;

    let b = TestBackend::builder()
        .config_yaml(
            "catalog:\n  processingInterval: { minutes: 60 }\n\
             search:\n  maxTermLength: 20\n  embedded:\n    inMemory: true\n",
        )
        .feature(Feature::plugin(CatalogPlugin::new()))
        .feature(Feature::plugin(SearchPlugin::new()))
        .feature(app_plugin(App::builder().features([
            catalog_frontend_plugin(),
            search_plugin(SearchUiOptions::default()),
            techdocs_plugin(),
        ])))
        .start()
        .await
        .expect("backend starts");

    // Backstage's search page parameter.
    let res = b.client().get("/search?query=parcels").await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    assert!(res.text().contains("value=\"parcels\""), "{}", res.text());

    // A term the backend refuses (400): the page says why, with a 400, not a 502.
    let long = "x".repeat(40);
    for path in [
        format!("/search?query={long}"),
        format!("/search?term={long}"),
    ] {
        let res = b.client().get(&path).await.unwrap();
        assert_eq!(res.status(), 400, "{path}: {}", res.text());
        assert!(res.text().contains("Invalid search"), "{}", res.text());
        assert!(res.text().contains("role=\"alert\""), "{}", res.text());
    }

    // The docs index with a cursor the catalog refuses.
    let res = b.client().get("/docs?cursor=not-a-cursor").await.unwrap();
    assert_eq!(res.status(), 400, "{}", res.text());
    assert!(res.text().contains("Invalid request"), "{}", res.text());
    b.stop().await.unwrap();
}

#[tokio::test]
async fn app_pages_give_up_on_a_silent_backend_after_the_client_request_timeout() {
    use axum::Router;
    use axum::routing::get;
    use backlot::frontend::App;
    use backlot::plugins::app::app_plugin;
    use backlot::plugins::search::frontend::{SearchUiOptions, search_plugin};
    use backlot::services::core_services::HTTP_ROUTER;
    use backlot::services::http_router::{AuthPolicy, AuthPolicyAllow};

    // A "search" backend that never answers. Its route is open (an `unauthenticated` auth
    // policy), so the page's call reaches the handler whoever renders it.
    let silent = Feature::plugin_fn("search", |reg| {
        reg.init(&HTTP_ROUTER, |http| async move {
            http.add_auth_policy(AuthPolicy {
                path: "/query".into(),
                allow: AuthPolicyAllow::Unauthenticated,
            });
            http.use_router(Router::new().route(
                "/query",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    "{}"
                }),
            ));
            Ok(())
        })
    });
    let b = TestBackend::builder()
        .config_yaml("backend:\n  httpClient:\n    requestTimeout: 300ms\n")
        .feature(silent)
        .feature(app_plugin(
            App::builder().feature(search_plugin(SearchUiOptions::default())),
        ))
        .start()
        .await
        .expect("backend starts");
    let started = Instant::now();
    let res = b.client().get("/search?query=x").await.unwrap();
    assert_eq!(res.status(), 502, "{}", res.text());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    b.stop().await.unwrap();
}
