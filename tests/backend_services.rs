#![allow(missing_docs)]
#![cfg(feature = "testing")]
//! The data services reached through the backend's DI: a plugin's own database, its scheduler
//! (with the task listing under its mount point) and the URL reader.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use backlot::backend::{ApiError, Backend, Feature};
use backlot::services::cache::SetOptions;
use backlot::services::core_services::{CACHE, DATABASE, HTTP_ROUTER, SCHEDULER, URL_READER};
use backlot::services::database::{Migration, PluginDatabase, Sql};
use backlot::services::scheduler::TaskDefinition;
use backlot::services::url_reader::ReadUrlOptions;
use backlot::testing::TestBackend;

static MIGRATIONS: [Migration; 1] = [Migration::new(
    1,
    "create notes",
    "CREATE TABLE notes (id ${id}, body TEXT NOT NULL)",
)];

fn notes_plugin(id: &'static str) -> Feature {
    Feature::plugin_fn(id, move |reg| {
        reg.init((&DATABASE, &HTTP_ROUTER), |(db, http)| async move {
            db.migrate(&MIGRATIONS).await?;
            // Notes are posted as plain text.
            http.allow_any_body_type();
            http.use_router(
                Router::new()
                    .route("/notes", get(list).post(add))
                    .with_state(db),
            );
            Ok(())
        })
    })
}

async fn list(State(db): State<Arc<PluginDatabase>>) -> Result<Json<Vec<String>>, ApiError> {
    let rows: Vec<(String,)> = Sql::new("SELECT body FROM notes ORDER BY body")
        .fetch_all(db.as_ref())
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(rows.into_iter().map(|(b,)| b).collect()))
}

async fn add(State(db): State<Arc<PluginDatabase>>, body: String) -> Result<Json<u64>, ApiError> {
    let n = Sql::new("INSERT INTO notes (body) VALUES (?)")
        .bind(body)
        .execute(db.as_ref())
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(n))
}

#[tokio::test]
async fn plugins_get_their_own_database() {
    let backend = TestBackend::builder()
        .feature(notes_plugin("alpha"))
        .feature(notes_plugin("beta"))
        .start()
        .await
        .unwrap();
    let client = backend.client();
    let res = client
        .execute(
            client
                .request(reqwest::Method::POST, "/api/alpha/notes")
                .body("only in alpha"),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    let alpha: Vec<String> = client
        .get("/api/alpha/notes")
        .await
        .unwrap()
        .json()
        .unwrap();
    let beta: Vec<String> = client.get("/api/beta/notes").await.unwrap().json().unwrap();
    assert_eq!(alpha, vec!["only in alpha".to_string()]);
    assert!(beta.is_empty());
    backend.stop().await.unwrap();
}

#[tokio::test]
async fn a_restarted_backend_keeps_its_sqlite_data() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "backend:\n  database:\n    client: better-sqlite3\n    connection:\n      directory: '{}'\n",
        dir.path().display()
    );
    for round in 0..2 {
        let backend = Backend::builder()
            .listen_addr("127.0.0.1:0".parse().unwrap())
            .config_yaml(config.clone())
            .config_yaml(support::external_access_yaml())
            .add(notes_plugin("notes"))
            .start()
            .await
            .unwrap();
        let client = backlot::testing::TestClient::new(backend.base_url())
            .with_authorization(&support::test_bearer());
        let res = client
            .execute(
                client
                    .request(reqwest::Method::POST, "/api/notes/notes")
                    .body(format!("round {round}")),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let notes: Vec<String> = client
            .get("/api/notes/notes")
            .await
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(
            notes.len(),
            round + 1,
            "data from earlier runs is kept: {notes:?}"
        );
        backend.stop().await.unwrap();
    }
}

#[tokio::test]
async fn scheduler_tasks_run_and_are_listed_under_the_plugin() {
    let runs = Arc::new(AtomicU32::new(0));
    let counter = runs.clone();
    let plugin = Feature::plugin_fn("jobs", move |reg| {
        let counter = counter.clone();
        reg.init(&SCHEDULER, move |scheduler| async move {
            let task = TaskDefinition::builder("count")
                .every(Duration::from_millis(100))
                .timeout(Duration::from_secs(5))
                .run(move |_token| {
                    let counter = counter.clone();
                    async move {
                        counter.fetch_add(1, Ordering::SeqCst);
                        Ok(())
                    }
                })
                .build()?;
            scheduler.schedule_task(task).await?;
            Ok(())
        })
    });
    let backend = TestBackend::builder()
        .feature(plugin)
        .start()
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while runs.load(Ordering::SeqCst) < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(runs.load(Ordering::SeqCst) >= 2, "the task ran repeatedly");
    let res = backend
        .client()
        .get("/api/jobs/.backstage/scheduler/v1/tasks")
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    let body: serde_json::Value = res.json().unwrap();
    assert_eq!(body["tasks"][0]["taskId"], "count");
    assert_eq!(body["tasks"][0]["pluginId"], "jobs");
    let missing = backend
        .client()
        .post_json(
            "/api/jobs/.backstage/scheduler/v1/tasks/nope/trigger",
            &serde_json::json!({}),
        )
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    backend.stop().await.unwrap();
    let after = runs.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(runs.load(Ordering::SeqCst), after, "no runs after stop");
}

#[tokio::test]
async fn url_reader_reads_files_in_the_working_directory() {
    let seen = Arc::new(std::sync::Mutex::new(String::new()));
    let out = seen.clone();
    let plugin = Feature::plugin_fn("reader", move |reg| {
        let out = out.clone();
        reg.init(&URL_READER, move |reader| async move {
            let res = reader
                .read_url("Cargo.toml", &ReadUrlOptions::default())
                .await?;
            *out.lock().unwrap() = String::from_utf8_lossy(&res.bytes)
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            Ok(())
        })
    });
    let backend = TestBackend::builder()
        .feature(plugin)
        .start()
        .await
        .unwrap();
    assert_eq!(&*seen.lock().unwrap(), "[package]");
    backend.stop().await.unwrap();
}

#[tokio::test]
async fn plugin_caches_are_namespaced() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::<Option<String>>::new()));
    let writer = Feature::plugin_fn("writer", |reg| {
        reg.init(&CACHE, |cache| async move {
            cache.set("greeting", "hello", SetOptions::default()).await;
            Ok(())
        })
    });
    let out = seen.clone();
    let reader = Feature::plugin_fn("reader", move |reg| {
        let out = out.clone();
        reg.init(&CACHE, move |cache| async move {
            let before = cache.get::<String>("greeting").await;
            cache.set("greeting", "mine", SetOptions::default()).await;
            let after = cache.get::<String>("greeting").await;
            out.lock().unwrap().extend([before, after]);
            Ok(())
        })
    });
    let backend = TestBackend::builder()
        .feature(writer)
        .feature(reader)
        .start()
        .await
        .unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen, vec![None, Some("mine".to_string())]);
    backend.stop().await.unwrap();
}
