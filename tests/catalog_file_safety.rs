#![allow(missing_docs)]
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]
//! "Nothing lost, nothing leaked": the catalog reads only regular files below its roots, never
//! local files on behalf of remote content, and parses YAML within bounds. One test per attack,
//! each over HTTP against a real backend, checking the refusal (Backstage's error JSON) and
//! that nothing was read or stored.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use backlot::backend::Feature;
use backlot::plugins::catalog::CatalogPlugin;
use backlot::testing::{TestBackend, TestResponse};
use serde_json::{Value, json};

/// A secret that must never appear in a response.
const SECRET: &str = "s3cr3t-token-do-not-leak";

fn component(name: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
    )
}

/// A temp dir holding `root` (the only allowed file root) and `secret.yaml` beside it.
struct Dirs {
    _outer: tempfile::TempDir,
    root: PathBuf,
    secret: PathBuf,
}

fn dirs() -> Dirs {
    let outer = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(outer.path()).unwrap();
    let root = base.join("root");
    std::fs::create_dir(&root).unwrap();
    let secret = base.join("secret.yaml");
    std::fs::write(
        &secret,
        format!("{}  description: {SECRET}\n", component("leaked")),
    )
    .unwrap();
    Dirs {
        _outer: outer,
        root,
        secret,
    }
}

/// The tests measure the process's memory, so they run one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn start(root: &Path, extra_yaml: &str) -> TestBackend {
    TestBackend::builder()
        .feature(Feature::plugin(CatalogPlugin::new()))
        .config_yaml(format!(
            "backend:\n  reading:\n    fileAllow: ['{}']\ncatalog:\n  processingInterval: {{ minutes: 60 }}\n",
            root.display()
        ))
        .config_yaml(extra_yaml.to_owned())
        .start()
        .await
        .expect("backend starts")
}

const FILES_ALLOWED: &str = "catalog:\n  allowedLocationTypes: [url, file]\n";

async fn post(b: &TestBackend, path: &str, body: &Value) -> TestResponse {
    b.client()
        .post_json(&format!("/api/catalog{path}"), body)
        .await
        .unwrap()
}

async fn get(b: &TestBackend, path: &str) -> TestResponse {
    b.client()
        .get(&format!("/api/catalog{path}"))
        .await
        .unwrap()
}

/// Checks Backstage's error JSON and returns the message.
fn assert_error(res: &TestResponse, status: u16, name: &str) -> String {
    assert_eq!(res.status(), status, "{}", res.text());
    assert!(!res.text().contains(SECRET), "{}", res.text());
    let body: Value = res.json().unwrap();
    assert_eq!(body["error"]["name"], name, "{body}");
    assert_eq!(body["response"]["statusCode"], status, "{body}");
    assert!(body["request"]["method"].is_string(), "{body}");
    assert!(body["request"]["url"].is_string(), "{body}");
    body["error"]["message"].as_str().unwrap().to_owned()
}

/// Every entity, as one JSON text.
async fn all_entities(b: &TestBackend) -> Vec<Value> {
    let res = get(b, "/entities").await;
    assert_eq!(res.status(), 200);
    assert!(
        !res.text().contains(SECRET),
        "secret leaked into the catalog"
    );
    res.json().unwrap()
}

fn file_body(target: &str) -> Value {
    json!({ "type": "file", "target": target })
}

/// Tries to register (dry run and for real) and analyze `target`; each must be a 400
/// `InputError`. Returns the registration's message.
async fn refused_everywhere(b: &TestBackend, target: &str) -> String {
    let message = assert_error(
        &post(b, "/locations", &file_body(target)).await,
        400,
        "InputError",
    );
    assert_error(
        &post(b, "/locations?dryRun=true", &file_body(target)).await,
        400,
        "InputError",
    );
    assert_error(
        &post(
            b,
            "/analyze-location",
            &json!({ "location": file_body(target) }),
        )
        .await,
        400,
        "InputError",
    );
    message
}

/// Runs `f` and fails if it takes longer than `limit`.
async fn promptly<F: std::future::Future>(limit: Duration, f: F) -> F::Output {
    tokio::time::timeout(limit, f)
        .await
        .expect("the request returned promptly")
}

#[tokio::test]
async fn dev_zero_as_file_target_is_refused() {
    let _serial = SERIAL.lock().await;
    let d = dirs();
    // A symlink inside the root to the device is refused as well.
    std::os::unix::fs::symlink("/dev/zero", d.root.join("zero.yaml")).unwrap();
    let b = start(&d.root, FILES_ALLOWED).await;
    let before = all_entities(&b).await.len();
    for target in [
        "/dev/zero".to_owned(),
        d.root.join("zero.yaml").display().to_string(),
    ] {
        let message = promptly(Duration::from_secs(10), refused_everywhere(&b, &target)).await;
        assert!(message.contains("is not allowed"), "{message}");
    }
    assert_eq!(all_entities(&b).await.len(), before);
    b.stop().await.unwrap();
}

#[tokio::test]
async fn fifo_inside_the_root_is_refused_promptly() {
    let _serial = SERIAL.lock().await;
    let d = dirs();
    let fifo = d.root.join("pipe.yaml");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let b = start(&d.root, FILES_ALLOWED).await;
    let before = all_entities(&b).await.len();
    let started = Instant::now();
    let message = promptly(
        Duration::from_secs(10),
        refused_everywhere(&b, &fifo.display().to_string()),
    )
    .await;
    println!("fifo: {message}");
    assert!(message.contains("not a regular file"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(all_entities(&b).await.len(), before);
    b.stop().await.unwrap();
}

#[tokio::test]
async fn etc_passwd_is_refused_without_telling_what_exists() {
    let _serial = SERIAL.lock().await;
    let d = dirs();
    let b = start(&d.root, FILES_ALLOWED).await;
    let before = all_entities(&b).await.len();
    let cwd = std::env::current_dir().unwrap();
    let escaped = cwd.join("../../x");
    let escaped_abs = {
        // The API makes relative targets absolute lexically.
        let mut out = PathBuf::new();
        for c in escaped.components() {
            match c {
                std::path::Component::ParentDir => {
                    out.pop();
                }
                other => out.push(other.as_os_str()),
            }
        }
        out
    };
    let mut shapes = Vec::new();
    for (target, absolute) in [
        ("/etc/passwd".to_owned(), "/etc/passwd".to_owned()),
        ("/nonexistent-xyz".to_owned(), "/nonexistent-xyz".to_owned()),
        ("../../x".to_owned(), escaped_abs.display().to_string()),
    ] {
        let message = refused_everywhere(&b, &target).await;
        assert!(message.contains("is not allowed"), "{message}");
        assert!(!message.contains("root:"), "{message}");
        assert!(!message.to_lowercase().contains("not found"), "{message}");
        assert!(!message.contains("No such file"), "{message}");
        shapes.push(message.replace(&absolute, "<target>"));
    }
    println!("{shapes:#?}");
    assert!(shapes.windows(2).all(|w| w[0] == w[1]), "{shapes:#?}");
    assert_eq!(all_entities(&b).await.len(), before);
    b.stop().await.unwrap();
}

#[tokio::test]
async fn dot_dot_escape_is_refused() {
    let _serial = SERIAL.lock().await;
    let d = dirs();
    let b = start(&d.root, FILES_ALLOWED).await;
    let before = all_entities(&b).await.len();
    let target = format!("{}/../secret.yaml", d.root.display());
    let message = refused_everywhere(&b, &target).await;
    assert!(message.contains("is not allowed"), "{message}");
    let entities = all_entities(&b).await;
    assert_eq!(entities.len(), before);
    assert!(!entities.iter().any(|e| e["metadata"]["name"] == "leaked"));
    b.stop().await.unwrap();
}

#[tokio::test]
async fn symlink_escape_is_refused() {
    let _serial = SERIAL.lock().await;
    let d = dirs();
    std::os::unix::fs::symlink(&d.secret, d.root.join("link.yaml")).unwrap();
    std::os::unix::fs::symlink(d.root.parent().unwrap(), d.root.join("up")).unwrap();
    std::os::unix::fs::symlink("/nonexistent-xyz", d.root.join("dangling.yaml")).unwrap();
    let b = start(&d.root, FILES_ALLOWED).await;
    let before = all_entities(&b).await.len();
    let mut shapes = Vec::new();
    for name in ["link.yaml", "up/secret.yaml", "dangling.yaml"] {
        let target = d.root.join(name).display().to_string();
        let message = refused_everywhere(&b, &target).await;
        assert!(message.contains("is not allowed"), "{message}");
        shapes.push(message.replace(&target, "<target>"));
    }
    // A dangling link is not told apart from a link to an existing file.
    assert!(shapes.windows(2).all(|w| w[0] == w[1]), "{shapes:#?}");
    let entities = all_entities(&b).await;
    assert_eq!(entities.len(), before);
    assert!(!entities.iter().any(|e| e["metadata"]["name"] == "leaked"));
    b.stop().await.unwrap();
}

#[tokio::test]
async fn default_config_refuses_file_registration_but_reads_config_locations() {
    let _serial = SERIAL.lock().await;
    let d = dirs();
    let configured = d.root.join("configured.yaml");
    std::fs::write(&configured, component("configured")).unwrap();
    let registered = d.root.join("registered.yaml");
    std::fs::write(&registered, component("registered")).unwrap();
    let b = start(
        &d.root,
        &format!(
            "catalog:\n  locations:\n    - type: file\n      target: {}\n",
            configured.display()
        ),
    )
    .await;
    let entities = all_entities(&b).await;
    assert!(
        entities
            .iter()
            .any(|e| e["metadata"]["name"] == "configured")
    );
    let before = entities.len();
    let target = registered.display().to_string();
    let message = refused_everywhere(&b, &target).await;
    assert!(message.contains("allowedLocationTypes"), "{message}");
    assert!(message.contains("[\"url\"]"), "{message}");
    // Moving a registered location to a file is refused the same way.
    let res = b
        .client()
        .put_json("/api/catalog/locations/some-id", &file_body(&target))
        .await
        .unwrap();
    assert_error(&res, 400, "InputError");
    let after = all_entities(&b).await;
    assert_eq!(after.len(), before);
    assert!(!after.iter().any(|e| e["metadata"]["name"] == "registered"));
    b.stop().await.unwrap();
}

/// Serves `yaml` documents by path on 127.0.0.1.
async fn serve(files: Vec<(&'static str, String)>) -> String {
    use axum::extract::Path as UrlPath;
    use axum::response::IntoResponse;
    let files = std::sync::Arc::new(files);
    let app = axum::Router::new().route(
        "/{file}",
        axum::routing::get(move |UrlPath(file): UrlPath<String>| {
            let files = std::sync::Arc::clone(&files);
            async move {
                match files.iter().find(|(name, _)| *name == file) {
                    Some((_, body)) => body.clone().into_response(),
                    None => axum::http::StatusCode::NOT_FOUND.into_response(),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn remote_yaml_cannot_pull_in_local_files() {
    let _serial = SERIAL.lock().await;
    let d = dirs();
    // The local file is inside the allowed root: only its origin forbids reading it.
    let local = d.root.join("app-config.local.yaml");
    std::fs::write(&local, format!("token: {SECRET}\n")).unwrap();
    let local_yaml = d.root.join("local-entities.yaml");
    std::fs::write(
        &local_yaml,
        format!("{}  description: {SECRET}\n", component("local-leak")),
    )
    .unwrap();
    let file_url = url::Url::from_file_path(&local).unwrap().to_string();
    let text = format!(
        "{}  definition:\n    $text: {file_url}\n",
        component("with-text")
    );
    let location = format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: remote-loc\nspec:\n  type: file\n  targets:\n    - {}\n    - {}\n",
        local_yaml.display(),
        url::Url::from_file_path(&local_yaml).unwrap()
    );
    let url_location = format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: remote-url-loc\nspec:\n  type: url\n  target: {}\n",
        url::Url::from_file_path(&local_yaml).unwrap()
    );
    let base = serve(vec![
        ("text.yaml", text),
        ("location.yaml", location),
        ("url-location.yaml", url_location),
    ])
    .await;
    let host = base.trim_start_matches("http://").to_owned();
    let b = start(
        &d.root,
        &format!("{FILES_ALLOWED}backend:\n  reading:\n    allow:\n      - host: '{host}'\n"),
    )
    .await;
    let before = all_entities(&b).await.len();
    // A dry run reports the refusal.
    let body = json!({ "type": "url", "target": format!("{base}/text.yaml") });
    let message = assert_error(
        &post(&b, "/locations?dryRun=true", &body).await,
        400,
        "InputError",
    );
    assert!(
        message.contains("may not refer to local files"),
        "{message}"
    );
    // Registering records the refusals on the Location entities; nothing local is read.
    for file in ["text.yaml", "location.yaml", "url-location.yaml"] {
        let body = json!({ "type": "url", "target": format!("{base}/{file}") });
        let res = post(&b, "/locations", &body).await;
        assert_eq!(res.status(), 201, "{}", res.text());
        assert!(!res.text().contains(SECRET));
    }
    let entities = all_entities(&b).await;
    assert!(
        !entities
            .iter()
            .any(|e| e["metadata"]["name"] == "local-leak")
    );
    assert!(
        !entities
            .iter()
            .any(|e| e["metadata"]["name"] == "with-text")
    );
    for name in ["remote-loc", "remote-url-loc"] {
        let res = get(&b, &format!("/entities/by-name/location/default/{name}")).await;
        assert_eq!(res.status(), 200, "{name}: {}", res.text());
        let entity: Value = res.json().unwrap();
        let items = entity["status"]["items"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            items.iter().any(|i| i["error"]["name"] == "NotAllowedError"
                && i["error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("may not refer to local files")),
            "{name}: {entity}"
        );
    }
    // Three generated Location entities and the two remote Location entities, nothing else.
    assert_eq!(entities.len(), before + 5, "{entities:#?}");
    b.stop().await.unwrap();
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .unwrap()
        .to_owned();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

#[tokio::test]
async fn quadratic_alias_bomb_is_refused_with_little_memory() {
    let _serial = SERIAL.lock().await;
    let d = dirs();
    // One list of 9,000 items, aliased 9,000 times: 81 million nodes from about 45 KB.
    let mut bomb = String::from(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: bomb\nspec:\n  a: &a [",
    );
    bomb.push_str(&vec!["1"; 9000].join(","));
    bomb.push_str("]\n  b: [");
    bomb.push_str(&vec!["*a"; 9000].join(","));
    bomb.push_str("]\n");
    assert!(bomb.len() < 48 * 1024, "{}", bomb.len());
    let file = d.root.join("bomb.yaml");
    std::fs::write(&file, &bomb).unwrap();
    let b = start(&d.root, FILES_ALLOWED).await;
    let before = all_entities(&b).await.len();
    let rss_before = rss_bytes();
    let started = Instant::now();
    let target = file.display().to_string();
    let message = assert_error(
        &post(&b, "/locations?dryRun=true", &file_body(&target)).await,
        400,
        "InputError",
    );
    assert!(message.contains("maxExpandedSize"), "{message}");
    let res = post(
        &b,
        "/analyze-location",
        &json!({ "location": file_body(&target) }),
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text());
    let res = post(&b, "/locations", &file_body(&target)).await;
    assert_eq!(res.status(), 201, "{}", res.text());
    let grown = rss_bytes().saturating_sub(rss_before);
    println!("alias bomb: {message}; RSS grew by {} KB", grown >> 10);
    assert!(grown < 100 << 20, "RSS grew by {} MB", grown >> 20);
    assert!(started.elapsed() < Duration::from_secs(30));
    // Only the generated Location entity was added, carrying the error.
    let entities = all_entities(&b).await;
    assert_eq!(entities.len(), before + 1);
    let location = &entities.iter().find(|e| e["kind"] == "Location").unwrap();
    assert!(
        location["status"].to_string().contains("maxExpandedSize"),
        "{location}"
    );
    b.stop().await.unwrap();
}

#[tokio::test]
async fn one_broken_document_keeps_the_others() {
    let _serial = SERIAL.lock().await;
    let d = dirs();
    let file = d.root.join("catalog.yaml");
    std::fs::write(
        &file,
        format!(
            "{}---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {{ name: [broken\n---\n{}",
            component("first"),
            component("third")
        ),
    )
    .unwrap();
    let b = start(&d.root, FILES_ALLOWED).await;
    let res = post(&b, "/locations", &file_body(&file.display().to_string())).await;
    assert_eq!(res.status(), 201, "{}", res.text());
    let entities = all_entities(&b).await;
    let names: Vec<&str> = entities
        .iter()
        .filter(|e| e["kind"] == "Component")
        .filter_map(|e| e["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names.contains(&"first") && names.contains(&"third"),
        "{names:?}"
    );
    let location = entities.iter().find(|e| e["kind"] == "Location").unwrap();
    let status = location["status"].to_string();
    println!("broken document: {status}");
    assert!(status.contains("YAML error in document 2"), "{location}");
    b.stop().await.unwrap();
}

#[tokio::test]
async fn file_over_max_size_is_refused_before_being_read() {
    let _serial = SERIAL.lock().await;
    let d = dirs();
    let file = d.root.join("huge.yaml");
    // 50 MB (sparse): above the default maxSize of 32 MiB.
    std::fs::File::create(&file)
        .unwrap()
        .set_len(50_000_000)
        .unwrap();
    let b = start(&d.root, FILES_ALLOWED).await;
    let before = all_entities(&b).await.len();
    let rss_before = rss_bytes();
    let target = file.display().to_string();
    for res in [
        post(&b, "/locations", &file_body(&target)).await,
        post(&b, "/locations?dryRun=true", &file_body(&target)).await,
        post(
            &b,
            "/analyze-location",
            &json!({ "location": file_body(&target) }),
        )
        .await,
    ] {
        assert!(res.text().len() < 4096, "{} bytes", res.text().len());
        let message = assert_error(&res, 400, "InputError");
        assert!(message.contains("exceeds the size limit"), "{message}");
    }
    assert!(rss_bytes().saturating_sub(rss_before) < 40 << 20);
    assert_eq!(all_entities(&b).await.len(), before);
    b.stop().await.unwrap();
}
