//! Two TechDocs backends on one database and one publisher (replicas): a site asked for on
//! both at once is built once — the replica holding the build lease builds, the other waits
//! and serves what was published. Runs on one SQLite file, and on PostgreSQL when
//! `BACKLOT_TEST_POSTGRES_URL` is set (feature `postgres`).
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::print_stdout)] // test helpers outside #[test] fns

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use backlot::backend::Feature;
use backlot::plugins::techdocs::backend::TechdocsPlugin;
use backlot::plugins::techdocs::node::{
    GenerateOptions, GenerateReport, Generator, MkDocsGenerator, TECHDOCS_BUILD,
};
use backlot::services::core_services::HTTP_ROUTER;
use backlot::testing::TestBackend;
use serde_json::{Value, json};

type Entities = Arc<BTreeMap<String, Value>>;

/// A catalog plugin answering `GET /entities/by-name/:kind/:namespace/:name`.
fn fake_catalog(entities: Entities) -> Feature {
    Feature::plugin_fn("catalog", move |reg| {
        let map = entities.clone();
        reg.init(&HTTP_ROUTER, move |http| async move {
            let route = get(
                |State(map): State<Entities>,
                 UrlPath((kind, ns, name)): UrlPath<(String, String, String)>| async move {
                    let key = format!("{}/{}/{}", kind, ns, name).to_lowercase();
                    match map.get(&key) {
                        Some(e) => Json(e.clone()).into_response(),
                        None => StatusCode::NOT_FOUND.into_response(),
                    }
                },
            );
            http.use_router(
                axum::Router::new()
                    .route("/entities/by-name/{kind}/{namespace}/{name}", route)
                    .with_state(map),
            );
            Ok(())
        })
    })
}

/// The default generator, counting its builds and taking its time (so the replicas' requests
/// overlap).
#[derive(Debug)]
struct CountingGenerator {
    builds: Arc<AtomicUsize>,
}

impl Generator for CountingGenerator {
    fn generate(
        &self,
        input: &Path,
        output: &Path,
        opts: &GenerateOptions,
    ) -> Result<GenerateReport, backlot::plugins::techdocs::node::GeneratorError> {
        self.builds.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(700));
        MkDocsGenerator::new().generate(input, output, opts)
    }
}

fn counting_generator(builds: Arc<AtomicUsize>) -> Feature {
    Feature::module_fn("techdocs", "counting-generator", move |reg| {
        let builds = builds.clone();
        reg.init(&TECHDOCS_BUILD, move |build| async move {
            build
                .get()?
                .set_generator(Arc::new(CountingGenerator { builds }));
            Ok(())
        })
    })
}

struct Fixture {
    tmp: tempfile::TempDir,
    entities: Entities,
}

impl Fixture {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let mut entities = BTreeMap::new();
        for name in ["petstore", "orders"] {
            let dir = tmp.path().join(name);
            fs::create_dir_all(dir.join("docs")).unwrap();
            fs::write(dir.join("catalog-info.yaml"), "# catalog file\n").unwrap();
            fs::write(dir.join("mkdocs.yml"), format!("site_name: {name}\n")).unwrap();
            fs::write(
                dir.join("docs/index.md"),
                format!("# {name}\n\nBuilt once.\n"),
            )
            .unwrap();
            let location = format!("file:{}", dir.join("catalog-info.yaml").display());
            entities.insert(
                format!("component/default/{name}"),
                json!({
                    "apiVersion": "backstage.io/v1alpha1",
                    "kind": "Component",
                    "metadata": {
                        "name": name, "namespace": "default", "uid": format!("uid-{name}"),
                        "annotations": {
                            "backstage.io/managed-by-location": location,
                            "backstage.io/techdocs-ref": "dir:.",
                        },
                    },
                    "spec": { "type": "service", "lifecycle": "production", "owner": "team-a" },
                }),
            );
        }
        Self {
            tmp,
            entities: Arc::new(entities),
        }
    }

    fn publish_dir(&self) -> PathBuf {
        self.tmp.path().join("published")
    }

    /// A replica: its own backend, the shared database config and publish directory.
    async fn replica(&self, database_yaml: &str, builds: &Arc<AtomicUsize>) -> TestBackend {
        let config = format!(
            "backend:\n  reading:\n    fileAllow: ['{}']\n{database_yaml}techdocs:\n  builder: local\n  publisher:\n    type: local\n    local:\n      publishDirectory: '{}'\n",
            self.tmp.path().display(),
            self.publish_dir().display()
        );
        TestBackend::builder()
            .config_yaml(config)
            .feature(fake_catalog(self.entities.clone()))
            .feature(Feature::plugin(TechdocsPlugin::new()))
            .feature(counting_generator(builds.clone()))
            .start()
            .await
            .unwrap()
    }
}

/// Both replicas ask for a site at once, through the static route and then the sync route:
/// one build each time, both answer the page.
async fn built_once(database_yaml: &str) {
    let fx = Fixture::new();
    let builds = Arc::new(AtomicUsize::new(0));
    let a = fx.replica(database_yaml, &builds).await;
    let b = fx.replica(database_yaml, &builds).await;

    let page = "/api/techdocs/static/docs/default/component/petstore/index.html";
    let (ra, rb) = tokio::join!(a.client().get(page), b.client().get(page));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.status(), 200, "{}", ra.text());
    assert_eq!(rb.status(), 200, "{}", rb.text());
    assert!(ra.text().contains("Built once."), "{}", ra.text());
    assert_eq!(ra.text(), rb.text());
    assert_eq!(
        builds.load(Ordering::SeqCst),
        1,
        "the site was built once for both replicas"
    );

    // The reader's sync endpoint, on both at once: one build, both finish.
    let sync = "/api/techdocs/sync/default/component/orders";
    let (sa, sb) = tokio::join!(a.client().get(sync), b.client().get(sync));
    let (sa, sb) = (sa.unwrap(), sb.unwrap());
    for body in [sa.text(), sb.text()] {
        assert!(body.contains("event: finish"), "{body}");
        assert!(body.contains(r#"{"updated":true}"#), "{body}");
    }
    let waited = [sa.text(), sb.text()]
        .iter()
        .filter(|b| b.contains("Another replica is building docs"))
        .count();
    assert_eq!(waited, 1, "one replica waited for the other");
    assert_eq!(builds.load(Ordering::SeqCst), 2, "orders was built once");
    assert!(
        fx.publish_dir()
            .join("default/component/orders/index.html")
            .exists()
    );

    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_on_one_sqlite_file_build_a_site_once() {
    let db = tempfile::tempdir().unwrap();
    let yaml = format!(
        "  database:\n    client: better-sqlite3\n    connection:\n      directory: '{}'\n",
        db.path().display()
    );
    built_once(&yaml).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_on_one_postgres_build_a_site_once() {
    let Ok(url) = std::env::var("BACKLOT_TEST_POSTGRES_URL") else {
        println!("skipped: BACKLOT_TEST_POSTGRES_URL is unset");
        return;
    };
    let prefix = format!("tdrep{}_", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let yaml =
        format!("  database:\n    client: pg\n    connection: '{url}'\n    prefix: {prefix}\n");
    built_once(&yaml).await;
}
