//! A split deployment: three processes of the `portal` example — `catalog,auth`,
//! `search,techdocs` and `app` — on 127.0.0.1, finding each other through
//! `discovery.endpoints` and calling each other with plugin tokens. The app's pages show data
//! of the other two; killing the search process breaks the search page only.
//!
//! The test builds the example with the same cargo, target directory, profile and features
//! as itself (a no-op when it is fresh), then starts the binary; children are killed on drop.

#![allow(missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/cluster/mod.rs"]
mod cluster;

use cluster::{free_port, portal_binary};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

#[test]
fn every_cargo_feature_is_passed_to_the_example_build() {
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .expect("Cargo.toml");
    let section = manifest
        .split("\n[features]\n")
        .nth(1)
        .and_then(|rest| rest.split("\n[").next())
        .expect("a [features] section");
    for line in section.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name = line.split('=').next().unwrap_or_default().trim();
        if name != "default" {
            assert!(
                cluster::FEATURES.iter().any(|(_, known)| *known == name),
                "feature '{name}' of Cargo.toml is missing from FEATURES in tests/support/cluster"
            );
        }
    }
}

/// A portal process, killed when dropped; its output goes to `dir/log`.
struct Portal {
    name: &'static str,
    child: Child,
    log: PathBuf,
    url: String,
}

impl Portal {
    fn start(bin: &Path, root: &Path, name: &'static str, plugins: &str, port: u16) -> Self {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("port.yaml"),
            format!("backend:\n  listen:\n    port: {port}\n"),
        )
        .unwrap();
        let log = dir.join("log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(bin)
            .current_dir(&dir)
            .args(["--config", "../split.yaml", "--config", "port.yaml"])
            .args(["--plugins", plugins])
            // The default level logs every request, which the plugin-token checks read.
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        Self {
            name,
            child,
            log,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until readiness answers 200; panics with the log if the process exits first.
    async fn ready(&mut self, http: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("{} exited with {status}:\n{}", self.name, self.log());
            }
            let url = format!("{}/.backstage/health/v1/readiness", self.url);
            if let Ok(res) = http.get(&url).send().await
                && res.status() == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} not ready in 60 s:\n{}",
                self.name,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Portal {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The config every process reads: where each plugin lives, sign-in, the demo catalog.
fn shared_config(catalog_port: u16, search_port: u16, app_port: u16) -> String {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo-catalog");
    let demo = demo.display();
    format!(
        r#"app:
  title: Split portal
  baseUrl: http://127.0.0.1:{app_port}
  signInPage:
    userCookiePlugins: [techdocs]
backend:
  baseUrl: http://127.0.0.1:{app_port}
  listen:
    host: 127.0.0.1
  reading:
    fileAllow: ['{demo}']
auth:
  environment: development
  providers:
    guest: {{}}
catalog:
  rules:
    - allow: [Component, API, Resource, System, Domain, Group, User, Location, Template]
  locations:
    - type: file
      target: '{demo}/all.yaml'
search:
  collators:
    catalog:
      schedule:
        frequency: {{ seconds: 2 }}
        timeout: {{ minutes: 1 }}
        initialDelay: {{ seconds: 0 }}
techdocs:
  builder: local
  publisher:
    type: local
discovery:
  endpoints:
    - target: http://127.0.0.1:{catalog_port}/api/{{{{pluginId}}}}
      plugins: [catalog, auth]
    - target:
        internal: http://127.0.0.1:{search_port}/api/{{{{ pluginId }}}}
        external: http://127.0.0.1:{search_port}/api/{{{{ pluginId }}}}
      plugins: [search, techdocs]
"#
    )
}

async fn page(http: &reqwest::Client, url: &str, cookie: &str) -> (u16, String) {
    let res = http.get(url).header("cookie", cookie).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn api(http: &reqwest::Client, url: &str, token: &str) -> (u16, Value) {
    let res = http.get(url).bearer_auth(token).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Polls `check` every 200 ms for up to 30 s; panics with `what` and the last value.
async fn eventually<T: std::fmt::Debug, F: std::future::Future<Output = (bool, T)>>(
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (ok, value) = check().await;
        if ok {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}; last: {value:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn an_unknown_plugin_id_is_refused_with_the_known_ids() {
    let bin = portal_binary();
    let out = Command::new(&bin)
        .args(["--plugins", "catalog,nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The ids the portal had when this test was written; more may follow.
    assert!(
        stderr.contains("unknown plugin id 'nope'")
            && stderr.contains("known plugin ids: catalog, auth, search, techdocs")
            && ["scaffolder", "hello", "app"]
                .iter()
                .all(|id| stderr.contains(&format!(", {id}"))),
        "{stderr}"
    );
    let out = Command::new(&bin)
        .args(["--plugins", "search,search"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("'search' is given twice"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_search_and_app_processes_serve_the_portal_together() {
    let bin = tokio::task::spawn_blocking(portal_binary).await.unwrap();
    let root = tempfile::tempdir().unwrap();
    let (catalog_port, search_port, app_port) = (free_port(), free_port(), free_port());
    std::fs::write(
        root.path().join("split.yaml"),
        shared_config(catalog_port, search_port, app_port),
    )
    .unwrap();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let mut catalog = Portal::start(&bin, root.path(), "catalog", "catalog,auth", catalog_port);
    let mut search = Portal::start(&bin, root.path(), "search", "search,techdocs", search_port);
    let mut app = Portal::start(&bin, root.path(), "app", "app", app_port);
    catalog.ready(&http).await;
    search.ready(&http).await;
    app.ready(&http).await;

    // Each process serves only its own plugins.
    let (status, _) = api(&http, &format!("{}/api/catalog/entities", app.url), "x").await;
    assert_eq!(status, 404, "the app process has no catalog");
    let (status, _) = api(&http, &format!("{}/api/search/query", catalog.url), "x").await;
    assert_eq!(status, 404, "the catalog process has no search");

    // Sign in on the app: it asks the auth plugin of the catalog process.
    let res = http
        .post(format!("{}/signin/guest", app.url))
        .form(&[("next", "/catalog")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{}", app.log());
    let cookies: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("backlot-session="))
        .expect("session cookie")
        .clone();
    assert!(
        cookies.iter().any(|c| c.starts_with("backstage-auth=")),
        "the techdocs process issued its user cookie through the app: {cookies:?}"
    );
    let json = URL_SAFE_NO_PAD
        .decode(session.strip_prefix("backlot-session=v1.").unwrap())
        .unwrap();
    let token = serde_json::from_slice::<Value>(&json).unwrap()["t"]
        .as_str()
        .unwrap()
        .to_string();

    // The APIs answer through each process, for the user the auth plugin signed in.
    let (status, _) = api(&http, &format!("{}/api/catalog/entities", catalog.url), "").await;
    assert_eq!(status, 401, "default-deny on the catalog process");
    let (status, entity) = api(
        &http,
        &format!(
            "{}/api/catalog/entities/by-name/component/default/tracking-service",
            catalog.url
        ),
        &token,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(entity["metadata"]["name"], "tracking-service");
    // TechDocs on the search process reads the entity from the catalog process as the user.
    let (status, meta) = api(
        &http,
        &format!(
            "{}/api/techdocs/metadata/entity/default/component/tracking-service",
            search.url
        ),
        &token,
    )
    .await;
    assert_eq!(status, 200, "{meta}");
    assert_eq!(meta["metadata"]["name"], "tracking-service", "{meta}");
    // The search collator reads the catalog process with a plugin token of `search`.
    let hits = eventually("search indexes the catalog of the other process", || {
        let (http, url, token) = (
            http.clone(),
            format!("{}/api/search/query?term=tracking", search.url),
            token.clone(),
        );
        async move {
            let (status, body) = api(&http, &url, &token).await;
            let locations: Vec<String> = body["results"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["document"]["location"].as_str().map(str::to_string))
                .collect();
            let ok = status == 200
                && locations
                    .iter()
                    .any(|l| l.ends_with("/component/tracking-service"));
            (ok, (status, locations))
        }
    })
    .await;
    assert!(!hits.1.is_empty());

    // The app's pages, with data from the other two processes.
    let (status, body) = page(&http, &format!("{}/catalog", app.url), &session).await;
    assert_eq!(status, 200, "{body}");
    // The first page of the list, sorted by name.
    let first = r#"href="/catalog/default/component/auth-service""#;
    assert!(
        body.contains(first),
        "catalog page lists the entities: {body}"
    );
    let entity_page = format!("{}/catalog/default/component/tracking-service", app.url);
    let (status, body) = page(&http, &entity_page, &session).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("tracking-api"),
        "entity page shows its relations"
    );
    let (status, body) = page(
        &http,
        &format!("{}/search?query=tracking", app.url),
        &session,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("/catalog/default/component/tracking-service"),
        "search page links the result: {body}"
    );
    let docs = format!("{}/docs/default/component/tracking-service", app.url);
    let (status, body) = page(&http, &docs, &session).await;
    assert_eq!(status, 200, "{body}\n{}", search.log());
    assert!(body.contains("where is my parcel?"), "docs page: {body}");

    // Plugin tokens: the catalog process verified tokens of `search` (collator) and of
    // `techdocs` (reading the entity on behalf of the user) with their keys, fetched from
    // the search process through discovery; the app verified the user's token with the keys
    // of the auth plugin on the catalog process.
    let search_log = search.log();
    for jwks in [
        "path=/api/search/.backstage/auth/v1/jwks.json status=200",
        "path=/api/techdocs/.backstage/auth/v1/jwks.json status=200",
    ] {
        assert!(
            search_log.contains(jwks),
            "{jwks} not served:\n{search_log}"
        );
    }
    assert!(
        catalog
            .log()
            .contains("path=/api/auth/.well-known/jwks.json status=200")
    );
    // Without the search process: the search page shows an error, the rest still works.
    search.kill();
    let (status, body) = page(
        &http,
        &format!("{}/search?query=tracking", app.url),
        &session,
    )
    .await;
    assert!(status >= 500, "search page status {status}");
    assert!(
        body.contains("bl-error") && body.contains("Search failed"),
        "{body}"
    );
    let (status, body) = page(&http, &format!("{}/catalog", app.url), &session).await;
    assert_eq!(status, 200);
    assert!(body.contains(first), "{body}");
    let (status, body) = page(&http, &entity_page, &session).await;
    assert_eq!(status, 200);
    assert!(body.contains("tracking-api"));
    let (status, _) = api(
        &http,
        &format!(
            "{}/api/catalog/entities/by-name/component/default/tracking-service",
            catalog.url
        ),
        &token,
    )
    .await;
    assert_eq!(status, 200);
    drop(app);
    drop(catalog);
}
