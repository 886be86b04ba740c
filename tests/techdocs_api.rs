//! The TechDocs backend over HTTP, with a small fake catalog plugin serving entities by name.
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::print_stdout)] // test helpers outside #[test] fns

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use backlot::backend::Feature;
use backlot::plugins::techdocs::backend::TechdocsPlugin;
use backlot::plugins::techdocs::node::{
    GenerateOptions, Generator, LocalPublisher, MkDocsGenerator, Publisher,
};
use backlot::services::core_services::HTTP_ROUTER;
use backlot::testing::TestBackend;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type Entities = Arc<BTreeMap<String, Value>>;

/// A catalog plugin answering `GET /entities/by-name/:kind/:namespace/:name`.
fn fake_catalog(entities: Vec<Value>) -> Feature {
    let map: Entities = Arc::new(
        entities
            .into_iter()
            .map(|e| {
                let key = format!(
                    "{}/{}/{}",
                    e["kind"].as_str().unwrap().to_lowercase(),
                    e["metadata"]["namespace"].as_str().unwrap_or("default"),
                    e["metadata"]["name"].as_str().unwrap().to_lowercase()
                );
                (key, e)
            })
            .collect(),
    );
    Feature::plugin_fn("catalog", move |reg| {
        let map = map.clone();
        reg.init(&HTTP_ROUTER, move |http| async move {
            http.use_router(
                axum::Router::new()
                    .route(
                        "/entities/by-name/{kind}/{namespace}/{name}",
                        get(
                            |State(map): State<Entities>,
                             UrlPath((kind, ns, name)): UrlPath<(String, String, String)>| async move {
                                let key = format!(
                                    "{}/{}/{}",
                                    kind.to_lowercase(),
                                    ns.to_lowercase(),
                                    name.to_lowercase()
                                );
                                match map.get(&key) {
                                    Some(e) => Json(e.clone()).into_response(),
                                    None => StatusCode::NOT_FOUND.into_response(),
                                }
                            },
                        ),
                    )
                    .with_state(map),
            );
            Ok(())
        })
    })
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn entity(name: &str, dir: &Path, docs_ref: Option<&str>) -> Value {
    let mut annotations = json!({
        "backstage.io/managed-by-location": format!("file:{}", dir.join("catalog-info.yaml").display()),
    });
    if let Some(r) = docs_ref {
        annotations["backstage.io/techdocs-ref"] = json!(r);
    }
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": { "name": name, "namespace": "default", "uid": format!("uid-{name}"), "annotations": annotations },
        "spec": { "type": "service", "lifecycle": "production", "owner": "team-a" },
    })
}

struct Fixture {
    tmp: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let ok = tmp.path().join("ok");
        write(&ok, "catalog-info.yaml", "# catalog file\n");
        write(
            &ok,
            "mkdocs.yml",
            "site_name: Petstore\nsite_description: Pets\nnav:\n  - Home: index.md\n  - Guide: guide.md\n",
        );
        write(
            &ok,
            "docs/index.md",
            "# Petstore\n\nHello pets. [Guide](guide.md)\n",
        );
        write(&ok, "docs/guide.md", "# Guide\n\nVersion one.\n");
        write(
            &ok,
            "docs/img/cat.svg",
            "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
        );
        let broken = tmp.path().join("broken");
        write(
            &broken,
            "mkdocs.yml",
            "site_name: Broken\nnav:\n  - Home: index.md\n   - x: [\n",
        );
        write(&broken, "docs/index.md", "# Broken\n");
        let shared = tmp.path().join("shared");
        write(&shared, "mkdocs.yml", "site_name: Shared\n");
        write(&shared, "docs/index.md", "# Shared\n");
        Self { tmp }
    }

    fn path(&self) -> &Path {
        self.tmp.path()
    }

    fn publish_dir(&self) -> std::path::PathBuf {
        self.path().join("published")
    }

    fn entities(&self) -> Vec<Value> {
        vec![
            entity("petstore", &self.path().join("ok"), Some("dir:.")),
            entity("broken", &self.path().join("broken"), Some("dir:.")),
            entity("shared", &self.path().join("shared"), Some("dir:.")),
            entity("nodocs", &self.path().join("ok"), None),
        ]
    }

    async fn backend(&self, builder: &str) -> TestBackend {
        let config = format!(
            "backend:\n  reading:\n    fileAllow: ['{}']\ntechdocs:\n  builder: {builder}\n  cache:\n    ttl: 0\n  publisher:\n    type: local\n    local:\n      publishDirectory: '{}'\n",
            self.path().display(),
            self.publish_dir().display()
        );
        TestBackend::builder()
            .config_yaml(config)
            .feature(fake_catalog(self.entities()))
            .feature(Feature::plugin(TechdocsPlugin::new()))
            .start()
            .await
            .unwrap()
    }
}

/// Parses `event: x\ndata: y\n\n` blocks.
fn sse_events(body: &str) -> Vec<(String, String)> {
    body.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|block| {
            let mut event = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = v.trim().to_owned();
                }
            }
            (event, data)
        })
        .collect()
}

/// Sends a request line as given (no client-side path normalization).
async fn raw_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // As a signed-in user (the test backend's mock token): traversal must fail on its own
    // merits, not for want of credentials.
    let auth = backlot::testing::mock_credentials::user_header("user:default/mock");
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

const BASE: &str = "/api/techdocs/static/docs/default/Component/petstore";

#[tokio::test]
async fn local_builder_builds_on_first_view_and_serves_files() {
    let fx = Fixture::new();
    let backend = fx.backend("local").await;
    let c = backend.client();

    let res = c.get(&format!("{BASE}/")).await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    assert_eq!(res.header("content-type"), Some("text/html; charset=utf-8"));
    let html = res.text();
    assert!(html.contains("<h1 id=\"petstore\">Petstore</h1>"), "{html}");
    assert!(html.contains(r#"<a href="guide/">Guide</a>"#));
    // Published per entity, lowercased.
    assert!(
        fx.publish_dir()
            .join("default/component/petstore/index.html")
            .exists()
    );

    let guide = c.get(&format!("{BASE}/guide/")).await.unwrap();
    assert_eq!(guide.status(), 200);
    assert!(guide.text().contains("Version one."));
    // A directory without trailing slash serves its index.html too.
    let guide = c.get(&format!("{BASE}/guide")).await.unwrap();
    assert_eq!(guide.status(), 200);
    let css = c
        .get(&format!("{BASE}/assets/stylesheets/techdocs.css"))
        .await
        .unwrap();
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    let svg = c.get(&format!("{BASE}/img/cat.svg")).await.unwrap();
    assert_eq!(svg.header("content-type"), Some("image/svg+xml"));
    let index = c
        .get(&format!("{BASE}/search/search_index.json"))
        .await
        .unwrap();
    assert!(
        index
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );

    let missing = c.get(&format!("{BASE}/nope.html")).await.unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().unwrap();
    assert_eq!(body["error"]["name"], "NotFoundError");

    let unknown = c
        .get("/api/techdocs/static/docs/default/Component/ghost/index.html")
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let nodocs = c
        .get("/api/techdocs/static/docs/default/Component/nodocs/")
        .await
        .unwrap();
    assert_eq!(nodocs.status(), 404);
    let body: Value = nodocs.json().unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("techdocs-ref"),
        "{body}"
    );
    backend.stop().await.unwrap();
}

#[tokio::test]
async fn metadata_endpoints() {
    let fx = Fixture::new();
    let backend = fx.backend("local").await;
    let c = backend.client();

    let before = c
        .get("/api/techdocs/metadata/techdocs/default/Component/petstore")
        .await
        .unwrap();
    assert_eq!(before.status(), 404);

    assert_eq!(c.get(&format!("{BASE}/")).await.unwrap().status(), 200);
    let meta: Value = c
        .get("/api/techdocs/metadata/techdocs/default/Component/petstore")
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(meta["site_name"], "Petstore");
    assert_eq!(meta["site_description"], "Pets");
    assert!(meta["etag"].as_str().is_some_and(|e| !e.is_empty()));
    assert!(meta["build_timestamp"].as_i64().unwrap() > 0);
    assert!(
        meta["files"]
            .as_array()
            .unwrap()
            .contains(&json!("guide/index.html"))
    );

    let entity: Value = c
        .get("/api/techdocs/metadata/entity/default/Component/petstore")
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(entity["metadata"]["name"], "petstore");
    assert_eq!(entity["locationMetadata"]["type"], "dir");
    assert_eq!(
        entity["locationMetadata"]["target"],
        fx.path().join("ok").display().to_string()
    );
    let missing = c
        .get("/api/techdocs/metadata/entity/default/Component/ghost")
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    backend.stop().await.unwrap();
}

#[tokio::test]
async fn sync_streams_logs_and_reports_updates() {
    let fx = Fixture::new();
    let backend = fx.backend("local").await;
    let c = backend.client();
    let sync = "/api/techdocs/sync/default/Component/petstore";

    let res = c.get(sync).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.header("content-type")
            .unwrap()
            .starts_with("text/event-stream")
    );
    assert_eq!(res.header("cache-control"), Some("no-cache"));
    let events = sse_events(&res.text());
    assert!(events.iter().any(|(e, _)| e == "log"), "{events:?}");
    assert_eq!(
        events.last().unwrap(),
        &("finish".to_owned(), r#"{"updated":true}"#.to_owned())
    );
    for (e, data) in &events {
        if e == "log" {
            assert!(
                serde_json::from_str::<String>(data).is_ok(),
                "log data is a JSON string: {data}"
            );
        }
    }

    // Unchanged source: not rebuilt.
    let events = sse_events(&c.get(sync).await.unwrap().text());
    assert_eq!(events.last().unwrap().1, r#"{"updated":false}"#);

    // Changed source: rebuilt and served.
    write(
        &fx.path().join("ok"),
        "docs/guide.md",
        "# Guide\n\nVersion two.\n",
    );
    let events = sse_events(&c.get(sync).await.unwrap().text());
    assert_eq!(
        events.last().unwrap().1,
        r#"{"updated":true}"#,
        "{events:?}"
    );
    let guide = c.get(&format!("{BASE}/guide/")).await.unwrap();
    assert!(guide.text().contains("Version two."));

    let missing = c
        .get("/api/techdocs/sync/default/Component/ghost")
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    backend.stop().await.unwrap();
}

#[tokio::test]
async fn traversal_attempts_are_rejected() {
    let fx = Fixture::new();
    let secret = fx.path().join("published/secret.txt");
    write(&fx.path().join("published"), "secret.txt", "top secret");
    assert!(secret.exists());
    let backend = fx.backend("local").await;
    assert_eq!(
        backend
            .client()
            .get(&format!("{BASE}/"))
            .await
            .unwrap()
            .status(),
        200
    );
    let addr = backend.handle().local_addr();
    for path in [
        format!("{BASE}/../../../secret.txt"),
        format!("{BASE}/%2e%2e/%2e%2e/%2e%2e/secret.txt"),
        format!("{BASE}/..%2F..%2F..%2Fsecret.txt"),
        format!("{BASE}/%2Fetc%2Fpasswd"),
        format!("{BASE}//etc/passwd"),
        format!("{BASE}/..%5C..%5Csecret.txt"),
        format!("{BASE}/guide%5Cindex.html"),
        "/api/techdocs/static/docs/default/Component/..%2F..%2F/secret.txt".to_owned(),
        "/api/techdocs/static/docs/..%2F..%2Fpublished/x/y/secret.txt".to_owned(),
    ] {
        let (status, body) = raw_get(addr, &path).await;
        assert!(status == 400 || status == 404, "{path}: {status} {body}");
        assert!(!body.contains("top secret"), "{path} leaked");
        assert!(!body.contains("root:"), "{path} leaked");
        assert!(
            body.contains("\"error\""),
            "{path}: error JSON expected, got {body}"
        );
    }
    let (status, body) = raw_get(addr, &format!("{BASE}/../../../secret.txt")).await;
    assert_eq!(status, 400, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["name"], "InputError");
    backend.stop().await.unwrap();
}

#[tokio::test]
async fn external_builder_serves_only_published_docs() {
    let fx = Fixture::new();
    let backend = fx.backend("external").await;
    let c = backend.client();

    assert_eq!(c.get(&format!("{BASE}/")).await.unwrap().status(), 404);
    let events = sse_events(
        &c.get("/api/techdocs/sync/default/Component/petstore")
            .await
            .unwrap()
            .text(),
    );
    assert_eq!(
        events,
        vec![("finish".to_owned(), r#"{"updated":false}"#.to_owned())]
    );
    assert_eq!(c.get(&format!("{BASE}/")).await.unwrap().status(), 404);

    // What CI does: generate, then publish.
    let site = tempfile::tempdir().unwrap();
    MkDocsGenerator::new()
        .generate(
            &fx.path().join("ok"),
            site.path(),
            &GenerateOptions::new().etag("ci"),
        )
        .unwrap();
    LocalPublisher::new(fx.publish_dir())
        .publish(&"default/Component/petstore".parse().unwrap(), site.path())
        .await
        .unwrap();

    let res = c.get(&format!("{BASE}/")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().contains("Hello pets."));
    let meta: Value = c
        .get("/api/techdocs/metadata/techdocs/default/Component/petstore")
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(meta["etag"], "ci");
    backend.stop().await.unwrap();
}

#[tokio::test]
async fn broken_mkdocs_yml_gives_a_clear_error() {
    let fx = Fixture::new();
    let backend = fx.backend("local").await;
    let c = backend.client();

    let res = c
        .get("/api/techdocs/static/docs/default/Component/broken/")
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let body: Value = res.json().unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("mkdocs.yml at line"), "{message}");
    assert!(
        message.contains(&fx.path().join("broken").display().to_string()),
        "{message}"
    );

    let events = sse_events(
        &c.get("/api/techdocs/sync/default/Component/broken")
            .await
            .unwrap()
            .text(),
    );
    let (kind, data) = events.last().unwrap();
    assert_eq!(kind, "error");
    assert!(
        serde_json::from_str::<String>(data)
            .unwrap()
            .contains("mkdocs.yml")
    );

    // The backend still serves other entities.
    assert_eq!(c.get(&format!("{BASE}/")).await.unwrap().status(), 200);
    backend.stop().await.unwrap();
}

#[tokio::test]
async fn concurrent_first_views_share_one_build() {
    let fx = Fixture::new();
    let backend = fx.backend("local").await;
    let url = "/api/techdocs/static/docs/default/Component/shared/index.html";
    let c = backend.client();
    let results = futures::future::join_all((0..8).map(|_| c.get(url))).await;
    for res in results {
        let res = res.unwrap();
        assert_eq!(res.status(), 200, "{}", res.text());
        assert!(res.text().contains("Shared"));
    }
    let builds = backend
        .logger()
        .messages()
        .iter()
        .filter(|m| m.starts_with("Preparing docs for entity component:default/shared"))
        .count();
    assert_eq!(builds, 1, "{:?}", backend.logger().messages());
    backend.stop().await.unwrap();
}
