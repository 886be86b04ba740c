//! Integration tests of the URL reader service: a real HTTP server on 127.0.0.1 and real
//! files in temporary directories.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use backlot::services::url_reader::{
    AllowRule, ReadTreeOptions, ReadUrlOptions, SearchOptions, UrlReaderError, UrlReaderService,
    UrlReaders,
};
use serde_json::json;

const CATALOG: &str = "apiVersion: backstage.io/v1alpha1\nkind: Component\n";
const CATALOG_ETAG: &str = "\"catalog-v1\"";
const LAST_MODIFIED: &str = "Wed, 21 Oct 2015 07:28:00 GMT";

#[derive(Clone, Default)]
struct Hits(Arc<AtomicUsize>);

struct Server {
    addr: SocketAddr,
    hits: Hits,
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn host(&self) -> String {
        self.addr.to_string()
    }
}

async fn catalog(headers: HeaderMap) -> Response {
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == CATALOG_ETAG.as_bytes())
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, CATALOG_ETAG)]).into_response();
    }
    if headers.contains_key(header::IF_MODIFIED_SINCE) {
        let since = headers[header::IF_MODIFIED_SINCE]
            .to_str()
            .unwrap_or_default();
        let since = chrono::DateTime::parse_from_rfc2822(since).unwrap();
        let modified = chrono::DateTime::parse_from_rfc2822(LAST_MODIFIED).unwrap();
        if modified <= since {
            return StatusCode::NOT_MODIFIED.into_response();
        }
    }
    (
        [
            (header::ETAG, CATALOG_ETAG),
            (header::LAST_MODIFIED, LAST_MODIFIED),
        ],
        CATALOG,
    )
        .into_response()
}

async fn start_server() -> Server {
    let hits = Hits::default();
    let addr_slot: Arc<std::sync::OnceLock<SocketAddr>> = Arc::default();
    let slot = Arc::clone(&addr_slot);
    let app = Router::new()
        .route("/catalog-info.yaml", get(catalog))
        .route("/docs/a.yaml", get(|| async { "docs a" }))
        .route("/private/a.yaml", get(|| async { "private a" }))
        .route(
            "/error",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route(
            "/ignores-conditionals",
            get(|| async { ([(header::ETAG, "\"fixed\"")], "same as ever") }),
        )
        .route(
            "/big",
            get(|| async { vec![b'x'; 4096] }), // sets Content-Length
        )
        .route(
            "/big-stream",
            get(|| async {
                let chunks = (0..64).map(|_| Ok::<_, std::io::Error>(vec![b'y'; 256]));
                Body::from_stream(futures::stream::iter(chunks)) // no Content-Length
            }),
        )
        .route(
            "/auth",
            get(|headers: HeaderMap| async move {
                headers
                    .get(header::AUTHORIZATION)
                    .map(|v| v.to_str().unwrap_or_default().to_owned())
                    .unwrap_or_default()
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route(
            "/redirect-in",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/docs/a.yaml")]) }),
        )
        .route(
            "/redirect-out",
            get(move || {
                let port = slot.get().map(|a| a.port()).unwrap_or_default();
                async move {
                    let to = format!("http://localhost:{port}/docs/a.yaml");
                    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
                }
            }),
        )
        .layer(axum::middleware::from_fn_with_state(
            hits.clone(),
            |State(hits): State<Hits>, req, next: axum::middleware::Next| async move {
                hits.0.fetch_add(1, Ordering::SeqCst);
                next.run(req).await
            },
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    addr_slot.set(addr).unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Server { addr, hits }
}

fn readers_for(server: &Server, extra: serde_json::Value) -> UrlReaders {
    let mut reading = json!({ "allow": [{ "host": server.host() }], "fileAllow": [] });
    if let (Some(base), Some(extra)) = (reading.as_object_mut(), extra.as_object()) {
        base.extend(extra.clone());
    }
    UrlReaders::from_config(Some(&reading)).unwrap()
}

// ---------------------------------------------------------------------------------------
// HTTP

#[tokio::test]
async fn http_read_url_returns_body_etag_and_last_modified() {
    let server = start_server().await;
    let readers = readers_for(&server, json!({}));
    let res = readers
        .read_url(&server.url("/catalog-info.yaml"), &ReadUrlOptions::new())
        .await
        .unwrap();
    assert_eq!(res.text().unwrap(), CATALOG);
    assert_eq!(res.etag.as_deref(), Some(CATALOG_ETAG));
    assert_eq!(
        res.last_modified_at.unwrap().to_rfc3339(),
        "2015-10-21T07:28:00+00:00"
    );
}

#[tokio::test]
async fn http_etag_round_trip_is_not_modified() {
    let server = start_server().await;
    let readers = readers_for(&server, json!({}));
    let url = server.url("/catalog-info.yaml");
    let first = readers
        .read_url(&url, &ReadUrlOptions::new())
        .await
        .unwrap();
    let err = readers
        .read_url(&url, &ReadUrlOptions::new().etag(first.etag.unwrap()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, UrlReaderError::NotModified { ref url } if url.ends_with("/catalog-info.yaml"))
    );

    // A different etag reads again.
    let res = readers
        .read_url(&url, &ReadUrlOptions::new().etag("\"stale\""))
        .await
        .unwrap();
    assert_eq!(res.text().unwrap(), CATALOG);
}

#[tokio::test]
async fn http_last_modified_after_sends_if_modified_since() {
    let server = start_server().await;
    let readers = readers_for(&server, json!({}));
    let url = server.url("/catalog-info.yaml");
    let first = readers
        .read_url(&url, &ReadUrlOptions::new())
        .await
        .unwrap();
    let modified = first.last_modified_at.unwrap();
    let err = readers
        .read_url(&url, &ReadUrlOptions::new().last_modified_after(modified))
        .await
        .unwrap_err();
    assert!(err.is_not_modified());
    let earlier = modified - chrono::Duration::days(1);
    assert!(
        readers
            .read_url(&url, &ReadUrlOptions::new().last_modified_after(earlier))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn http_same_etag_on_a_200_is_not_modified() {
    let server = start_server().await;
    let readers = readers_for(&server, json!({}));
    let url = server.url("/ignores-conditionals");
    let first = readers
        .read_url(&url, &ReadUrlOptions::new())
        .await
        .unwrap();
    assert_eq!(first.etag.as_deref(), Some("\"fixed\""));
    let err = readers
        .read_url(&url, &ReadUrlOptions::new().etag("\"fixed\""))
        .await
        .unwrap_err();
    assert!(err.is_not_modified());
}

#[tokio::test]
async fn http_404_is_not_found_and_500_is_http_error() {
    let server = start_server().await;
    let readers = readers_for(&server, json!({}));
    let err = readers
        .read_url(&server.url("/nope.yaml"), &ReadUrlOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, UrlReaderError::NotFound { ref url } if url.ends_with("/nope.yaml")));
    let err = readers
        .read_url(&server.url("/error"), &ReadUrlOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, UrlReaderError::Http { status: 500, .. }));
}

#[tokio::test]
async fn http_hosts_not_listed_are_not_allowed_even_localhost() {
    let server = start_server().await;
    let readers = UrlReaders::from_config(Some(&json!({ "fileAllow": [] }))).unwrap();
    for url in [
        server.url("/catalog-info.yaml"),
        format!("http://localhost:{}/catalog-info.yaml", server.addr.port()),
    ] {
        let err = readers
            .read_url(&url, &ReadUrlOptions::new())
            .await
            .unwrap_err();
        assert!(
            matches!(err, UrlReaderError::NotAllowed { url: ref u } if *u == url),
            "{err:?}"
        );
    }
    // Listing 127.0.0.1 without the port does not allow a non-default port either.
    let readers =
        UrlReaders::from_config(Some(&json!({ "allow": [{ "host": "127.0.0.1" }] }))).unwrap();
    let err = readers
        .read_url(&server.url("/catalog-info.yaml"), &ReadUrlOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, UrlReaderError::NotAllowed { .. }));
    assert_eq!(
        server.hits.0.load(Ordering::SeqCst),
        0,
        "nothing reached the server"
    );
}

#[tokio::test]
async fn http_wildcard_host_matches_subdomains() {
    let server = start_server().await;
    let port = server.addr.port();
    let readers = UrlReaders::builder()
        .config(Some(
            &json!({ "allow": [{ "host": format!("*.git.test:{port}") }] }),
        ))
        .unwrap()
        .resolve("docs.git.test", server.addr)
        .resolve("deep.docs.git.test", server.addr)
        .resolve("git.test", server.addr)
        .build()
        .unwrap();
    for host in ["docs.git.test", "deep.docs.git.test"] {
        let res = readers
            .read_url(
                &format!("http://{host}:{port}/docs/a.yaml"),
                &ReadUrlOptions::new(),
            )
            .await
            .unwrap();
        assert_eq!(res.text().unwrap(), "docs a");
    }
    let err = readers
        .read_url(
            &format!("http://git.test:{port}/docs/a.yaml"),
            &ReadUrlOptions::new(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, UrlReaderError::NotAllowed { .. }));
}

#[tokio::test]
async fn http_path_prefixes_limit_what_is_allowed() {
    let server = start_server().await;
    let readers = UrlReaders::from_config(Some(&json!({
        "allow": [{ "host": server.host(), "paths": ["/docs/"] }],
    })))
    .unwrap();
    let res = readers
        .read_url(&server.url("/docs/a.yaml"), &ReadUrlOptions::new())
        .await
        .unwrap();
    assert_eq!(res.text().unwrap(), "docs a");
    for path in [
        "/private/a.yaml",
        "/docs/../private/a.yaml",
        "/docs/%2e%2e/private/a.yaml",
        "/docsx",
    ] {
        let err = readers
            .read_url(&server.url(path), &ReadUrlOptions::new())
            .await
            .unwrap_err();
        assert!(
            matches!(err, UrlReaderError::NotAllowed { .. }),
            "{path}: {err:?}"
        );
    }
}

#[tokio::test]
async fn http_redirects_are_followed_only_to_allowed_urls() {
    let server = start_server().await;
    let readers = readers_for(&server, json!({}));
    let res = readers
        .read_url(&server.url("/redirect-in"), &ReadUrlOptions::new())
        .await
        .unwrap();
    assert_eq!(res.text().unwrap(), "docs a");

    let err = readers
        .read_url(&server.url("/redirect-out"), &ReadUrlOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err, UrlReaderError::NotAllowed { ref url } if url.starts_with("http://localhost:")),
        "{err:?}"
    );
}

#[tokio::test]
async fn http_too_large_with_and_without_content_length() {
    let server = start_server().await;
    let readers = readers_for(&server, json!({ "maxSize": 1024 }));
    for path in ["/big", "/big-stream"] {
        let err = readers
            .read_url(&server.url(path), &ReadUrlOptions::new())
            .await
            .unwrap_err();
        assert!(
            matches!(err, UrlReaderError::TooLarge { limit: 1024, ref url } if url.ends_with(path)),
            "{path}: {err:?}"
        );
    }
    // The same bodies fit under a larger limit.
    let readers = readers_for(&server, json!({ "maxSize": "16KiB" }));
    for path in ["/big", "/big-stream"] {
        let res = readers
            .read_url(&server.url(path), &ReadUrlOptions::new())
            .await
            .unwrap();
        assert_eq!(
            res.bytes.len(),
            if path == "/big" { 4096 } else { 64 * 256 }
        );
    }
}

#[tokio::test]
async fn http_timeout_is_enforced() {
    let server = start_server().await;
    let readers = readers_for(&server, json!({ "timeout": 200 }));
    let started = std::time::Instant::now();
    let err = readers
        .read_url(&server.url("/slow"), &ReadUrlOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, UrlReaderError::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn http_token_is_sent_as_bearer() {
    let server = start_server().await;
    let readers = readers_for(&server, json!({}));
    let res = readers
        .read_url(&server.url("/auth"), &ReadUrlOptions::new().token("s3cret"))
        .await
        .unwrap();
    assert_eq!(res.text().unwrap(), "Bearer s3cret");
}

#[tokio::test]
async fn http_search_exact_url_yields_one_file_or_none() {
    let server = start_server().await;
    let readers = readers_for(&server, json!({}));
    let url = server.url("/catalog-info.yaml");
    let res = readers.search(&url, &SearchOptions::new()).await.unwrap();
    assert_eq!(res.files.len(), 1);
    assert_eq!(res.files[0].url, url);
    assert_eq!(&res.files[0].content[..], CATALOG.as_bytes());
    assert_eq!(res.etag, CATALOG_ETAG);

    let err = readers
        .search(&url, &SearchOptions::new().etag(res.etag))
        .await
        .unwrap_err();
    assert!(err.is_not_modified());

    let none = readers
        .search(&server.url("/missing.yaml"), &SearchOptions::new())
        .await
        .unwrap();
    assert!(none.files.is_empty());
    assert_eq!(none.etag, "");

    let err = readers
        .search(&server.url("/**/catalog-info.yaml"), &SearchOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, UrlReaderError::Unsupported { .. }));
    let err = readers
        .read_tree(&server.url("/"), &ReadTreeOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        UrlReaderError::Unsupported {
            operation: "read_tree",
            ..
        }
    ));
}

// ---------------------------------------------------------------------------------------
// Files

fn write(root: &Path, rel: &str, content: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

fn file_readers(root: &Path, extra: serde_json::Value) -> UrlReaders {
    let mut reading = json!({ "fileAllow": ["."] });
    if let (Some(base), Some(extra)) = (reading.as_object_mut(), extra.as_object()) {
        base.extend(extra.clone());
    }
    UrlReaders::builder()
        .config(Some(&reading))
        .unwrap()
        .base_dir(root)
        .build()
        .unwrap()
}

#[tokio::test]
async fn file_read_url_accepts_paths_and_file_urls_with_content_etags() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "catalog-info.yaml", CATALOG);
    let readers = file_readers(tmp.path(), json!({}));
    let abs = tmp.path().join("catalog-info.yaml");
    let inputs = [
        "catalog-info.yaml".to_owned(),
        "./catalog-info.yaml".to_owned(),
        "file:catalog-info.yaml".to_owned(),
        abs.display().to_string(),
        url::Url::from_file_path(&abs).unwrap().to_string(),
    ];
    let mut etags = Vec::new();
    for input in &inputs {
        let res = readers
            .read_url(input, &ReadUrlOptions::new())
            .await
            .unwrap();
        assert_eq!(res.text().unwrap(), CATALOG, "{input}");
        assert!(res.last_modified_at.is_some());
        etags.push(res.etag.unwrap());
    }
    assert!(etags.windows(2).all(|w| w[0] == w[1]));

    let err = readers
        .read_url(
            "catalog-info.yaml",
            &ReadUrlOptions::new().etag(etags[0].clone()),
        )
        .await
        .unwrap_err();
    assert!(err.is_not_modified());

    write(tmp.path(), "catalog-info.yaml", "kind: System\n");
    let changed = readers
        .read_url(
            "catalog-info.yaml",
            &ReadUrlOptions::new().etag(etags[0].clone()),
        )
        .await
        .unwrap();
    assert_eq!(changed.text().unwrap(), "kind: System\n");
    assert_ne!(changed.etag.unwrap(), etags[0]);

    let err = readers
        .read_url("missing.yaml", &ReadUrlOptions::new())
        .await
        .unwrap_err();
    assert!(err.is_not_found());
}

#[tokio::test]
async fn file_traversal_outside_the_allowed_root_is_not_allowed() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "secret.txt", "secret");
    write(tmp.path(), "app/catalog-info.yaml", CATALOG);
    write(tmp.path(), "app/sub/x.yaml", "x");
    let app = tmp.path().join("app");
    let readers = file_readers(&app, json!({}));
    let app_url = url::Url::from_file_path(&app).unwrap();

    for input in [
        "../secret.txt".to_owned(),
        "file:../secret.txt".to_owned(),
        "sub/../../secret.txt".to_owned(),
        format!("{app_url}/../secret.txt"),
        format!("{app_url}/%2e%2e/secret.txt"),
        tmp.path().join("secret.txt").display().to_string(),
        "/etc/passwd".to_owned(),
        "file:///etc/passwd".to_owned(),
    ] {
        let err = readers
            .read_url(&input, &ReadUrlOptions::new())
            .await
            .unwrap_err();
        assert!(
            matches!(err, UrlReaderError::NotAllowed { .. }),
            "{input}: {err:?}"
        );
    }
    // `..` that stays inside the root is fine.
    let res = readers
        .read_url("sub/../catalog-info.yaml", &ReadUrlOptions::new())
        .await
        .unwrap();
    assert_eq!(res.text().unwrap(), CATALOG);
    // A missing file outside the root is refused, not reported as missing.
    let err = readers
        .read_url("../missing.txt", &ReadUrlOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, UrlReaderError::NotAllowed { .. }));
    // Trees and searches obey the same roots.
    let err = readers
        .read_tree("..", &ReadTreeOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, UrlReaderError::NotAllowed { .. }));
    let err = readers
        .search("../**/*.txt", &SearchOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, UrlReaderError::NotAllowed { .. }));

    // Listing the parent directory in fileAllow allows it.
    let readers = file_readers(&app, json!({ "fileAllow": [".", ".."] }));
    let res = readers
        .read_url("../secret.txt", &ReadUrlOptions::new())
        .await
        .unwrap();
    assert_eq!(res.text().unwrap(), "secret");
}

#[tokio::test]
async fn file_read_tree_reads_nested_dirs_with_filter_and_etag() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "site/mkdocs.yml", "site_name: x");
    write(tmp.path(), "site/docs/index.md", "# index");
    write(tmp.path(), "site/docs/guide/setup.md", "# setup");
    write(tmp.path(), "site/docs/guide/img/logo.png", "png");
    let readers = file_readers(tmp.path(), json!({}));

    let tree = readers
        .read_tree("site", &ReadTreeOptions::new())
        .await
        .unwrap();
    let paths: Vec<_> = tree.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "docs/guide/img/logo.png",
            "docs/guide/setup.md",
            "docs/index.md",
            "mkdocs.yml"
        ]
    );
    assert!(tree.files.iter().all(|f| f.last_modified_at.is_some()));

    let md = readers
        .read_tree(
            "file:site",
            &ReadTreeOptions::new().glob("**/*.md").unwrap(),
        )
        .await
        .unwrap();
    let paths: Vec<_> = md.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["docs/guide/setup.md", "docs/index.md"]);
    assert_ne!(md.etag, tree.etag);

    let err = readers
        .read_tree("site", &ReadTreeOptions::new().etag(tree.etag.clone()))
        .await
        .unwrap_err();
    assert!(err.is_not_modified());

    write(tmp.path(), "site/docs/new.md", "# new");
    let changed = readers
        .read_tree("site", &ReadTreeOptions::new().etag(tree.etag.clone()))
        .await
        .unwrap();
    assert_eq!(changed.files.len(), 5);
    assert_ne!(changed.etag, tree.etag);

    // Written out again, the tree is the same files.
    let out = tempfile::tempdir().unwrap();
    let dir = changed.dir(out.path()).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("docs/guide/setup.md")).unwrap(),
        "# setup"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("docs/new.md")).unwrap(),
        "# new"
    );

    let err = readers
        .read_tree("nope", &ReadTreeOptions::new())
        .await
        .unwrap_err();
    assert!(err.is_not_found());
}

#[tokio::test]
async fn file_search_glob_finds_matching_files() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "repo/catalog-info.yaml", "root");
    write(tmp.path(), "repo/services/a/catalog-info.yaml", "a");
    write(tmp.path(), "repo/services/b/catalog-info.yaml", "b");
    write(tmp.path(), "repo/services/b/other.yaml", "other");
    let readers = file_readers(tmp.path(), json!({}));
    let repo = tmp.path().join("repo");

    // Plain path pattern: plain path results.
    let res = readers
        .search(
            &format!("{}/**/catalog-info.yaml", repo.display()),
            &SearchOptions::new(),
        )
        .await
        .unwrap();
    let urls: Vec<_> = res.files.iter().map(|f| f.url.clone()).collect();
    assert_eq!(
        urls,
        [
            repo.join("catalog-info.yaml").display().to_string(),
            repo.join("services/a/catalog-info.yaml")
                .display()
                .to_string(),
            repo.join("services/b/catalog-info.yaml")
                .display()
                .to_string(),
        ]
    );
    let contents: Vec<_> = res.files.iter().map(|f| f.content.clone()).collect();
    assert_eq!(contents, ["root", "a", "b"]);

    // file: URL pattern: file URL results.
    let pattern = format!(
        "{}/services/*/catalog-info.yaml",
        url::Url::from_file_path(&repo).unwrap()
    );
    let res2 = readers
        .search(&pattern, &SearchOptions::new())
        .await
        .unwrap();
    assert_eq!(res2.files.len(), 2);
    assert!(res2.files.iter().all(|f| f.url.starts_with("file:///")));

    // Unchanged: not modified; changed: new etag.
    let err = readers
        .search(&pattern, &SearchOptions::new().etag(res2.etag.clone()))
        .await
        .unwrap_err();
    assert!(err.is_not_modified());
    write(tmp.path(), "repo/services/c/catalog-info.yaml", "c");
    let res3 = readers
        .search(&pattern, &SearchOptions::new().etag(res2.etag.clone()))
        .await
        .unwrap();
    assert_eq!(res3.files.len(), 3);

    // No glob: the one file, or none.
    let one = readers
        .search("repo/catalog-info.yaml", &SearchOptions::new())
        .await
        .unwrap();
    assert_eq!(one.files.len(), 1);
    let none = readers
        .search("repo/missing.yaml", &SearchOptions::new())
        .await
        .unwrap();
    assert!(none.files.is_empty());
    let none = readers
        .search("missing-dir/**/*.yaml", &SearchOptions::new())
        .await
        .unwrap();
    assert!(none.files.is_empty());
}

#[tokio::test]
async fn file_too_large_for_read_url_tree_and_search() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "big/huge.txt", &"z".repeat(2048));
    write(tmp.path(), "many/a.txt", &"a".repeat(600));
    write(tmp.path(), "many/b.txt", &"b".repeat(600));
    let readers = file_readers(tmp.path(), json!({ "maxSize": 1024 }));

    let err = readers
        .read_url("big/huge.txt", &ReadUrlOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err, UrlReaderError::TooLarge { limit: 1024, .. }),
        "{err:?}"
    );
    // Each file fits; together they do not.
    assert!(
        readers
            .read_url("many/a.txt", &ReadUrlOptions::new())
            .await
            .is_ok()
    );
    let err = readers
        .read_tree("many", &ReadTreeOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, UrlReaderError::TooLarge { .. }), "{err:?}");
    let err = readers
        .search("many/*.txt", &SearchOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, UrlReaderError::TooLarge { .. }), "{err:?}");
    // A filter that leaves one file keeps the tree under the limit.
    let tree = readers
        .read_tree("many", &ReadTreeOptions::new().filter(|p, _| p == "a.txt"))
        .await
        .unwrap();
    assert_eq!(tree.total_size(), 600);
}

#[tokio::test]
async fn files_and_http_through_the_service_trait() {
    let server = start_server().await;
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "catalog-info.yaml", CATALOG);
    let readers = UrlReaders::builder()
        .allow(AllowRule::parse(&server.host()).unwrap())
        .file_roots([tmp.path()])
        .base_dir(tmp.path())
        .build()
        .unwrap();
    let service: Arc<dyn UrlReaderService> = Arc::new(readers);
    let from_file = service
        .read_url("catalog-info.yaml", &ReadUrlOptions::new())
        .await
        .unwrap();
    let from_http = service
        .read_url(&server.url("/catalog-info.yaml"), &ReadUrlOptions::new())
        .await
        .unwrap();
    assert_eq!(from_file.bytes, from_http.bytes);
    let err = service
        .read_url("ftp://example.com/x", &ReadUrlOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, UrlReaderError::NotAllowed { ref url } if url == "ftp://example.com/x"));
    let err = service
        .read_url("http://[::1", &ReadUrlOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, UrlReaderError::InvalidUrl { .. }));
}
