#![allow(missing_docs)]
#![cfg(feature = "testing")]
//! The test kit as a plugin author meets it: a plugin's database, cache and scheduler reached
//! from the test, tasks triggered by id, mock services, body-less POST/PUT, the service errors
//! answered as Backstage error JSON without internals, and `ExtensionList` collecting items
//! from modules.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use backlot::backend::{ApiError, ExtensionList, ExtensionPoint, Feature};
use backlot::services::cache::CacheClient;
use backlot::services::core_services::{CACHE, DATABASE, HTTP_ROUTER, LOGGER, SCHEDULER};
use backlot::services::database::{PluginDatabase, Sql};
use backlot::services::logger::LoggerServiceExt;
use backlot::services::scheduler::{SchedulerError, TaskDefinition};
use backlot::testing::{TestBackend, mock_services};
use serde_json::{Value, json};

static TITLES: ExtensionPoint<ExtensionList<String>> = ExtensionPoint::new("todo.titles");

#[derive(Clone)]
struct AppState {
    db: Arc<PluginDatabase>,
    cache: Arc<CacheClient>,
}

async fn count(State(s): State<AppState>) -> Result<String, ApiError> {
    if let Some(n) = s.cache.get::<i64>("count").await {
        return Ok(format!("cached {n}"));
    }
    let (n,): (i64,) = Sql::new("SELECT COUNT(*) FROM todos")
        .fetch_one(&s.db)
        .await?;
    Ok(n.to_string())
}

async fn broken(State(s): State<AppState>) -> Result<String, ApiError> {
    Sql::new("SELECT secret_column FROM no_such_table")
        .execute(&s.db)
        .await?;
    Ok("unreachable".into())
}

async fn touch() -> &'static str {
    "touched"
}

/// A todo plugin using its database, cache, scheduler and an extension point.
fn todo_plugin(runs: Arc<AtomicUsize>) -> Feature {
    Feature::plugin_fn("todo", move |reg| {
        let runs = runs.clone();
        let titles = Arc::new(ExtensionList::new());
        let collected = titles.clone();
        reg.extension_point(&TITLES, titles).init(
            (&DATABASE, &CACHE, &SCHEDULER, &HTTP_ROUTER, &LOGGER),
            move |(db, cache, scheduler, http, logger)| {
                let runs = runs.clone();
                let collected = collected.clone();
                async move {
                    Sql::new("CREATE TABLE todos (title ${text} NOT NULL)")
                        .execute(&db)
                        .await?;
                    for title in collected.take() {
                        Sql::new("INSERT INTO todos (title) VALUES (?)")
                            .bind(title)
                            .execute(&db)
                            .await?;
                    }
                    let task = TaskDefinition::builder("purge")
                        .manual()
                        .timeout(Duration::from_secs(10))
                        .run(move |_cancel| {
                            let runs = runs.clone();
                            async move {
                                runs.fetch_add(1, Ordering::SeqCst);
                                Ok(())
                            }
                        })
                        .build()?;
                    scheduler.schedule_task(task).await?;
                    logger.info("todo ready");
                    http.use_router(
                        Router::new()
                            .route("/count", get(count))
                            .route("/broken", get(broken))
                            .route("/touch", post(touch).put(touch))
                            .with_state(AppState { db, cache }),
                    );
                    Ok(())
                }
            },
        )
    })
}

fn titles_module() -> Feature {
    Feature::module_fn("todo", "seed", |reg| {
        reg.init(&TITLES, |titles| async move {
            titles
                .get()?
                .extend(["write docs".to_owned(), "ship".to_owned()]);
            Ok(())
        })
    })
}

#[tokio::test]
async fn a_test_reaches_the_plugins_own_services() {
    let runs = Arc::new(AtomicUsize::new(0));
    let backend = TestBackend::builder()
        .feature(todo_plugin(runs.clone()))
        .feature(titles_module())
        .start()
        .await
        .unwrap();
    let client = backend.client();
    assert_eq!(client.get("/api/todo/count").await.unwrap().text(), "2");

    // The same database the plugin got: rows inserted here are served.
    let db = backend.database("todo").await.unwrap();
    Sql::new("INSERT INTO todos (title) VALUES (?)")
        .bind("from the test")
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(client.get("/api/todo/count").await.unwrap().text(), "3");

    // The same cache.
    let cache = backend.cache("todo").await.unwrap();
    cache.set("count", &42, Default::default()).await;
    assert_eq!(
        client.get("/api/todo/count").await.unwrap().text(),
        "cached 42"
    );

    // The same scheduler; a task triggered by id runs.
    let scheduler = backend.scheduler("todo").await.unwrap();
    let ids: Vec<String> = scheduler
        .task_infos()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.task_id)
        .collect();
    assert_eq!(ids, ["purge"]);
    backend.trigger_task("todo", "purge").await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), async {
        while runs.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    let unknown = backend.trigger_task("todo", "nope").await.unwrap_err();
    assert!(unknown.to_string().contains("core.scheduler"), "{unknown}");

    // Body-less POST and PUT, and the scheduler's trigger endpoint through them.
    assert_eq!(
        client.post("/api/todo/touch").await.unwrap().text(),
        "touched"
    );
    assert_eq!(
        client.put("/api/todo/touch").await.unwrap().text(),
        "touched"
    );
    let trigger = client
        .post("/api/todo/.backstage/scheduler/v1/tasks/purge/trigger")
        .await
        .unwrap();
    assert!(
        trigger.status() == 200 || trigger.status() == 409,
        "{}",
        trigger.text()
    );

    backend.stop().await.unwrap();
}

#[tokio::test]
async fn service_errors_answer_a_500_without_internals() {
    let backend = TestBackend::builder()
        .feature(todo_plugin(Arc::new(AtomicUsize::new(0))))
        .start()
        .await
        .unwrap();
    let res = backend.client().get("/api/todo/broken").await.unwrap();
    assert_eq!(res.status(), 500);
    let body: Value = res.json().unwrap();
    assert_eq!(body["error"]["name"], "Error");
    assert_eq!(body["error"]["message"], "Internal Server Error");
    assert!(!res.text().contains("no_such_table"), "{}", res.text());
    backend.stop().await.unwrap();
}

#[test]
fn scheduler_errors_map_to_their_status() {
    let not_found: ApiError = SchedulerError::NotFound {
        plugin_id: "todo".into(),
        id: "x".into(),
    }
    .into();
    assert_eq!(not_found.kind().status(), 404);
    let busy: ApiError = SchedulerError::Conflict {
        id: "x".into(),
        reason: "is already running",
    }
    .into();
    assert_eq!(busy.kind().status(), 409);
}

#[tokio::test]
async fn mock_services_are_ready_to_use() {
    let config = mock_services::root_config("todo:\n  title: Todos\n").unwrap();
    assert_eq!(config.string("todo.title").unwrap(), "Todos");

    let db = mock_services::database("todo").await.unwrap();
    Sql::new("CREATE TABLE t (n ${bigint})")
        .execute(&db)
        .await
        .unwrap();
    let cache = mock_services::cache("todo");
    cache.set("k", &json!({"a": 1}), Default::default()).await;
    assert_eq!(cache.get::<Value>("k").await, Some(json!({"a": 1})));

    let scheduler = mock_services::scheduler("todo");
    assert!(scheduler.task_infos().await.unwrap().is_empty());
    scheduler.shutdown().await;
}

#[tokio::test]
async fn mock_factories_replace_the_configured_services() {
    let logger = mock_services::logger();
    let backend = TestBackend::builder()
        .service(mock_services::database_factory())
        .service(mock_services::cache_factory())
        .service(mock_services::root_logger_factory(&logger))
        .config_yaml("backend:\n  database:\n    client: pg\n  cache:\n    store: redis\n")
        .feature(todo_plugin(Arc::new(AtomicUsize::new(0))))
        .start()
        .await
        .unwrap();
    assert_eq!(
        backend
            .client()
            .get("/api/todo/count")
            .await
            .unwrap()
            .text(),
        "0"
    );
    // The replaced root logger got the records, the test backend's own none.
    assert!(
        logger.messages().contains(&"todo ready".to_owned()),
        "{:?}",
        logger.messages()
    );
    assert!(backend.logger().records().is_empty());
    backend.stop().await.unwrap();
}
