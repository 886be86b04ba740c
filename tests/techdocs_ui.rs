//! The TechDocs pages over HTTP: the demo catalog (with its mkdocs sites) in the catalog
//! backend, the techdocs backend building on first view, and the app serving the catalog and
//! techdocs frontend plugins.
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used)] // helpers below only run inside tests

use std::path::{Path, PathBuf};

use backlot::backend::Feature;
use backlot::frontend::App;
use backlot::plugins::app::app_plugin;
use backlot::plugins::catalog::CatalogPlugin;
use backlot::plugins::catalog::frontend::catalog_frontend_plugin;
use backlot::plugins::techdocs::backend::TechdocsPlugin;
use backlot::plugins::techdocs::frontend::techdocs_plugin;
use backlot::testing::{TestBackend, TestClient};

fn demo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/demo-catalog")
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A second location: a component whose mkdocs.yml does not parse, one without mkdocs.yml.
fn broken_location(root: &Path) -> PathBuf {
    let component = |name: &str| {
        format!(
            "---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n  annotations:\n    backstage.io/techdocs-ref: dir:./{name}\nspec:\n  type: service\n  lifecycle: production\n  owner: tracking-team\n"
        )
    };
    write(
        root,
        "catalog-info.yaml",
        &format!("{}{}", component("broken-docs"), component("no-mkdocs")),
    );
    write(
        root,
        "broken-docs/mkdocs.yml",
        "site_name: Broken\nnav:\n  - Home: index.md\n   - x: [\n",
    );
    write(root, "broken-docs/docs/index.md", "# Broken\n");
    write(root, "no-mkdocs/docs/index.md", "# Nothing\n");
    root.join("catalog-info.yaml")
}

async fn backend(tmp: &Path) -> TestBackend {
    let extra = broken_location(&tmp.join("extra"));
    let config = format!(
        "app:\n  title: Northwind Portal\nbackend:\n  reading:\n    fileAllow: ['{demo}', '{tmp}']\n\
         catalog:\n  rules:\n    - allow: [Component, API, Resource, System, Domain, Group, User, Location, Template]\n  locations:\n    - type: file\n      target: {all}\n    - type: file\n      target: {extra}\n\
         techdocs:\n  builder: local\n  publisher:\n    type: local\n    local:\n      publishDirectory: '{publish}'\n",
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
        .feature(app_plugin(
            App::builder().features([catalog_frontend_plugin(), techdocs_plugin()]),
        ))
        .start()
        .await
        .unwrap()
}

async fn page(client: &TestClient, path: &str) -> (u16, String) {
    let res = client.get(path).await.unwrap();
    (res.status(), res.text())
}

fn section<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let s = html
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {html}"));
    let e = html[s..].find(end).map_or(html.len(), |e| s + e);
    &html[s..e]
}

fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(|s| s.replace("&amp;", "&"))
        .collect()
}

const READER: &str = "/docs/default/component/tracking-service";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_lists_entities_with_docs() {
    let tmp = tempfile::tempdir().unwrap();
    let backend = backend(tmp.path()).await;
    let (status, html) = page(backend.client(), "/docs").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(&format!("href=\"{READER}\"")), "{html}");
    assert!(
        html.contains("href=\"/docs/default/component/broken-docs\""),
        "{html}"
    );
    // Groups and users carry no techdocs-ref and are not listed.
    assert!(!html.contains("/docs/default/group/"), "{html}");
    backend.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reader_shows_the_site_with_its_nav_and_rewritten_links() {
    let tmp = tempfile::tempdir().unwrap();
    let backend = backend(tmp.path()).await;
    let client = backend.client();

    let (status, html) = page(client, READER).await;
    assert_eq!(status, 200, "{html}");
    // Inside the portal layout.
    assert!(html.contains("<aside class=\"bl-sidebar\""), "{html}");
    assert!(
        html.contains("<title>Tracking Service · Northwind Portal</title>"),
        "{html}"
    );
    let nav = section(&html, "<nav class=\"bl-docs-nav\"", "</nav>");
    let nav_links = hrefs(nav);
    for target in [
        "/",
        "/architecture/",
        "/operations/runbook/",
        "/operations/alerts/",
    ] {
        assert!(
            nav_links.contains(&format!("{READER}{target}")),
            "{target} not in {nav_links:?}"
        );
    }
    assert!(nav.contains("Operations"), "{nav}");
    let article = section(&html, "<article class=\"bl-docs-article\"", "</article>");
    assert!(article.contains("<table"), "{article}");
    assert!(article.contains("admonition"), "{article}");
    assert!(!article.contains("<script"), "{article}");
    // Links in the article stay in the reader; images come from the techdocs backend.
    let links = hrefs(article);
    assert!(
        links.contains(&format!("{READER}/architecture/")),
        "{links:?}"
    );
    assert!(
        links.contains(&format!("{READER}/operations/runbook/")),
        "{links:?}"
    );
    let img = article
        .split("src=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap();
    assert!(
        img.ends_with("/api/techdocs/static/docs/default/component/tracking-service/flow.svg"),
        "{img}"
    );
    let path = &img[img.find("/api/").unwrap()..];
    let res = client.get(path).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().contains("<svg"));

    // A nested page: its relative links resolve against its own directory.
    let (status, html) = page(client, &format!("{READER}/operations/runbook/")).await;
    assert_eq!(status, 200, "{html}");
    let article = section(&html, "<article class=\"bl-docs-article\"", "</article>");
    assert!(article.contains("Drain the scan queue"), "{article}");
    assert!(hrefs(article).contains(&format!("{READER}/")), "{article}");
    let nav = section(&html, "<nav class=\"bl-docs-nav\"", "</nav>");
    assert!(nav.contains("md-nav__item--active"), "{nav}");
    // Without the trailing slash the same page is found.
    let (status, _) = page(client, &format!("{READER}/operations/runbook")).await;
    assert_eq!(status, 200);

    backend.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_messages_not_crashes() {
    let tmp = tempfile::tempdir().unwrap();
    let backend = backend(tmp.path()).await;
    let client = backend.client();

    let (status, html) = page(client, "/docs/default/component/broken-docs").await;
    assert_eq!(status, 404, "{html}");
    assert!(html.contains("Documentation not available"), "{html}");
    assert!(html.contains("mkdocs.yml"), "{html}");
    assert!(html.contains("<aside class=\"bl-sidebar\""), "{html}");

    let (status, html) = page(client, "/docs/default/component/no-mkdocs").await;
    assert_eq!(status, 404, "{html}");
    assert!(html.contains("role=\"alert\""), "{html}");

    let (status, html) = page(client, "/docs/default/component/does-not-exist").await;
    assert_eq!(status, 404, "{html}");
    assert!(html.contains("Documentation not available"), "{html}");

    let (status, html) = page(client, &format!("{READER}/no/such/page/")).await;
    assert_eq!(status, 404, "{html}");
    assert!(html.contains("role=\"alert\""), "{html}");

    backend.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entity_page_has_a_docs_tab() {
    let tmp = tempfile::tempdir().unwrap();
    let backend = backend(tmp.path()).await;
    let client = backend.client();

    let (status, html) = page(client, "/catalog/default/component/tracking-service").await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("href=\"/catalog/default/component/tracking-service/docs\""),
        "{html}"
    );

    let (status, html) = page(client, "/catalog/default/component/tracking-service/docs").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(&format!("href=\"{READER}\"")), "{html}");
    let nav = section(&html, "<nav class=\"bl-docs-nav\"", "</nav>");
    assert!(
        hrefs(nav).contains(&format!("{READER}/architecture/")),
        "{nav}"
    );

    // The tab is only there for entities with docs.
    let (_, html) = page(client, "/catalog/default/group/tracking-team").await;
    assert!(
        !html.contains("/catalog/default/group/tracking-team/docs\""),
        "{html}"
    );

    backend.stop().await.unwrap();
}

/// A techdocs backend that takes 3 s per request, as during a first build.
async fn slow_techdocs() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new().fallback(|| async {
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        "<article><h1>Late</h1></article>"
    });
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (format!("http://{addr}"), task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_build_shows_progress_and_reloads() {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::Request;
    use backlot::frontend::{ApiBlueprint, ApiFactory};
    use backlot::plugins::techdocs::react::{HttpTechDocsApi, TECHDOCS_API, TechDocsApi};
    use tower::ServiceExt;

    let (url, server) = slow_techdocs().await;
    let api = HttpTechDocsApi::new(&url, &url).timeout(std::time::Duration::from_millis(200));
    let app = App::builder()
        .feature(techdocs_plugin())
        .extensions([ApiBlueprint::make(ApiFactory::instance(
            &TECHDOCS_API,
            Arc::new(api) as Arc<dyn TechDocsApi>,
        ))])
        .build()
        .unwrap();
    let res = app
        .router()
        .oneshot(Request::get(READER).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    let html = String::from_utf8(body.to_vec()).unwrap();
    assert!(html.contains("Building documentation"), "{html}");
    assert!(html.contains("<progress"), "{html}");
    assert!(html.contains("http-equiv=\"refresh\""), "{html}");
    assert!(html.contains(&format!("href=\"{READER}\"")), "{html}");
    server.abort();
}
