#![allow(missing_docs)]
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The todo plugin of `examples/todo_plugin.rs`, tested the way its author would with the
//! test kit: its API over HTTP, its database, cache and scheduled task through `TestBackend`,
//! its catalog module, and its page.

#[path = "../examples/todo/mod.rs"]
mod todo;

use std::time::{Duration, Instant};

use backlot::backend::IntoFeatures;
use backlot::frontend::App;
use backlot::plugins::{app, catalog};
use backlot::services::database::Sql;
use backlot::testing::{TestBackend, TestResponse};
use serde_json::{Value, json};
use todo::{PURGE_TASK, SYNC_TASK, Todo};

/// A backend with `features`; titles up to 20 characters, no purge unless triggered.
async fn start<M>(features: impl IntoFeatures<M>) -> TestBackend {
    let mut builder = TestBackend::builder().config_yaml(
        "todo:\n  maxTitleLength: 20\n  purgeEvery: { hours: 1 }\ncatalog:\n  locations: []\n",
    );
    for feature in features.into_features() {
        builder = builder.feature(feature);
    }
    builder.start().await.expect("backend starts")
}

async fn create(b: &TestBackend, title: &str) -> TestResponse {
    b.client()
        .post_json("/api/todo/items", &json!({ "title": title }))
        .await
        .unwrap()
}

async fn list(b: &TestBackend) -> Vec<Todo> {
    let res = b.client().get("/api/todo/items").await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    res.json().unwrap()
}

/// The `{ error: { name, message } }` of an error answer.
fn error(res: &TestResponse) -> (String, String) {
    let body: Value = res.json().unwrap();
    (
        body["error"]["name"].as_str().unwrap().to_owned(),
        body["error"]["message"].as_str().unwrap().to_owned(),
    )
}

/// Polls `check` until it holds, for at most 10 seconds.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn creates_lists_and_completes_items() {
    let b = start(todo::TodoPlugin).await;
    let res = create(&b, "write docs").await;
    assert_eq!(res.status(), 201, "{}", res.text());
    let created: Todo = res.json().unwrap();
    assert_eq!(
        (created.title.as_str(), created.done),
        ("write docs", false)
    );
    create(&b, "  review  ").await;

    let titles: Vec<String> = list(&b).await.into_iter().map(|t| t.title).collect();
    assert_eq!(titles, ["write docs", "review"]);

    let res = b
        .client()
        .post(&format!("/api/todo/items/{}/complete", created.id))
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    assert!(res.json::<Todo>().unwrap().done);
    // Completing invalidated the cached list.
    assert!(list(&b).await[0].done);

    let created_log = b
        .logger()
        .records()
        .into_iter()
        .find(|r| r.message == "todo created")
        .expect("creation logged");
    assert_eq!(
        created_log.field("id"),
        Some(created.id.to_string().as_str())
    );
    assert_eq!(created_log.field("plugin"), Some("todo"));
    b.stop().await.unwrap();
}

#[tokio::test]
async fn errors_are_backstage_error_json() {
    let b = start((todo::TodoPlugin, todo::NoShoutingModule)).await;

    let res = b
        .client()
        .post("/api/todo/items/42/complete")
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(
        error(&res),
        ("NotFoundError".into(), "no todo with id 42".into())
    );

    for (title, message) in [
        ("   ", "title must be 1 to 20 characters"),
        (
            "a title far too long to keep",
            "title must be 1 to 20 characters",
        ),
        ("BUY MILK", "no need to shout: \"BUY MILK\""),
    ] {
        let res = create(&b, title).await;
        assert_eq!(res.status(), 400, "{title:?}: {}", res.text());
        assert_eq!(error(&res), ("InputError".into(), message.into()));
    }

    let res = b
        .client()
        .request(reqwest::Method::POST, "/api/todo/items")
        .header("content-type", "application/json")
        .body("{\"name\": 1}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["name"], "InputError");

    // Nothing was stored.
    assert!(list(&b).await.is_empty());
    b.stop().await.unwrap();
}

#[tokio::test]
async fn the_list_is_cached_in_the_plugin_cache() {
    let b = start(todo::TodoPlugin).await;
    create(&b, "first").await;
    assert_eq!(list(&b).await.len(), 1);

    // A row written behind the plugin's back shows once the cached list is gone.
    let db = b.database("todo").await.unwrap();
    Sql::new("INSERT INTO todos (title) VALUES (?)")
        .bind("seeded")
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(list(&b).await.len(), 1, "served from the cache");
    b.cache("todo").await.unwrap().delete("items").await;
    let titles: Vec<String> = list(&b).await.into_iter().map(|t| t.title).collect();
    assert_eq!(titles, ["first", "seeded"]);
    b.stop().await.unwrap();
}

#[tokio::test]
async fn the_purge_task_deletes_done_items() {
    let b = start(todo::TodoPlugin).await;
    for title in ["keep", "drop"] {
        create(&b, title).await;
    }
    b.client().post("/api/todo/items/2/complete").await.unwrap();
    assert_eq!(list(&b).await.len(), 2);

    let tasks = b.scheduler("todo").await.unwrap().get_scheduled_tasks();
    assert!(tasks.iter().any(|t| t.id == PURGE_TASK), "{tasks:?}");
    b.trigger_task("todo", PURGE_TASK).await.unwrap();
    let db = b.database("todo").await.unwrap();
    eventually("the done item is deleted", || {
        let db = db.clone();
        async move {
            let rows: Vec<(String,)> = Sql::new("SELECT title FROM todos")
                .fetch_all(&db)
                .await
                .unwrap();
            rows == [("keep".to_owned(),)]
        }
    })
    .await;
    eventually("the purge is logged", || async {
        b.logger()
            .records()
            .iter()
            .any(|r| r.message == "purged done todos" && r.field("count") == Some("1"))
    })
    .await;
    let titles: Vec<String> = list(&b).await.into_iter().map(|t| t.title).collect();
    assert_eq!(titles, ["keep"]);
    b.stop().await.unwrap();
}

#[tokio::test]
async fn the_catalog_module_provides_open_todos_as_resources() {
    let b = start((
        todo::TodoPlugin,
        catalog::backend::plugin(),
        todo::CatalogTodoModule,
    ))
    .await;
    create(&b, "open one").await;
    create(&b, "finished").await;
    b.client().post("/api/todo/items/2/complete").await.unwrap();

    eventually("the open todo is a Resource in the catalog", || async {
        // The task may be running already (it starts after 2 seconds): then it reads the
        // same items.
        let _ = b.trigger_task("catalog", SYNC_TASK).await;
        let res = b
            .client()
            .get("/api/catalog/entities?filter=kind=Resource,spec.type=todo")
            .await
            .unwrap();
        let entities: Vec<Value> = res.json().unwrap_or_default();
        let names: Vec<&str> = entities
            .iter()
            .filter_map(|e| e["metadata"]["name"].as_str())
            .collect();
        names == ["todo-1"]
            && entities[0]["metadata"]["title"] == "open one"
            && entities[0]["spec"]["owner"] == "guests"
    })
    .await;
    b.stop().await.unwrap();
}

#[tokio::test]
async fn the_page_shows_the_backend_items() {
    let b = start((
        todo::TodoPlugin,
        app::plugin(App::builder().feature(todo::frontend_plugin())),
    ))
    .await;
    let res = b.client().get("/todo").await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    assert!(res.text().contains("Nothing to do"), "{}", res.text());

    create(&b, "ship <it>").await;
    b.client().post("/api/todo/items/1/complete").await.unwrap();
    create(&b, "celebrate").await;
    let html = b.client().get("/todo").await.unwrap().text();
    assert!(html.contains("ship &lt;it&gt;"), "{html}");
    assert!(html.contains("celebrate"), "{html}");
    assert!(html.contains(">done<") && html.contains(">open<"), "{html}");
    assert!(html.contains("href=\"/todo\""), "nav item: {html}");
    b.stop().await.unwrap();
}

#[tokio::test]
async fn bad_config_fails_the_start_naming_the_key() {
    let err = TestBackend::builder()
        .feature(backlot::backend::Feature::plugin(todo::TodoPlugin))
        .config_yaml("todo:\n  purgeEvery: soon\n")
        .start()
        .await
        .expect_err("a bad duration fails the start");
    let message = format!("{err:#}");
    assert!(message.contains("todo"), "{message}");
    assert!(message.contains("purgeEvery"), "{message}");
}
