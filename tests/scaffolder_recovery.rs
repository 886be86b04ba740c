#![allow(missing_docs)]
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]
//! Tasks whose worker died: backend A runs in a runtime of its own and is killed mid-task
//! (its runtime dropped, nothing shut down), leaving its tasks `processing` in the SQLite
//! files it shares with backend B. B's janitor, with short timeouts, fails the plain task
//! and re-opens and runs the one whose template opts into `startOver` recovery; a task
//! needing secrets sealed with A's per-process key fails with a message saying why.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use backlot::backend::Feature;
use backlot::plugins::catalog::CatalogPlugin;
use backlot::plugins::scaffolder::backend::ScaffolderPlugin;
use backlot::plugins::scaffolder::node::{
    ActionContext, ActionError, SCAFFOLDER_ACTIONS, TemplateAction,
};
use backlot::testing::{TestBackend, TestClient};
use serde_json::{Value, json};

/// Blocks for ever on backend A; returns at once on backend B, saying whether it had the
/// task's secret.
#[derive(Debug)]
struct Block {
    forever: bool,
}

#[async_trait]
impl TemplateAction for Block {
    fn id(&self) -> &str {
        "test:block"
    }
    async fn handler(&self, ctx: &mut ActionContext) -> Result<(), ActionError> {
        ctx.logger.info("blocking");
        if self.forever {
            std::future::pending::<()>().await;
        }
        ctx.output("hasSecret", ctx.secrets.contains_key("token"));
        Ok(())
    }
}

fn template(name: &str, recover: bool) -> Value {
    let mut t = json!({
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {"name": name},
        "spec": {
            "type": "service",
            "steps": [{"id": "block", "action": "test:block"}],
            "output": {"hasSecret": "${{ steps.block.output.hasSecret }}"}
        }
    });
    if recover {
        t["spec"]["EXPERIMENTAL_recovery"] = json!({"EXPERIMENTAL_strategy": "startOver"});
    }
    t
}

fn config(dir: &Path, key: Option<&str>, heartbeat: &str, timeout: &str) -> String {
    let file = dir.join("templates.yaml");
    let text: String = [template("plain", false), template("again", true)]
        .iter()
        .map(|t| format!("---\n{}\n", serde_yaml::to_string(t).unwrap()))
        .collect();
    std::fs::write(&file, text).unwrap();
    let key = key
        .map(|k| format!("  taskSecretsKey: {k}\n"))
        .unwrap_or_default();
    format!(
        "backend:\n  database:\n    client: better-sqlite3\n    connection:\n      directory: {db}\ncatalog:\n  processingInterval: {{ minutes: 60 }}\n  rules:\n    - allow: [Template, Location]\n  locations:\n    - type: file\n      target: {file}\nscaffolder:\n{key}  taskHeartbeatInterval: {heartbeat}\n  taskHeartbeatTimeout: {timeout}\n  taskTimeoutJanitorFrequency: 200ms\n  taskPollInterval: 100ms\n",
        db = dir.join("db").display(),
        file = file.display()
    )
}

async fn start(yaml: String, forever: bool) -> TestBackend {
    let actions = Feature::module_fn("scaffolder", "test-actions", move |reg| {
        reg.init(&SCAFFOLDER_ACTIONS, move |actions| async move {
            actions
                .get()?
                .add_action(Arc::new(Block { forever }) as Arc<dyn TemplateAction>);
            Ok(())
        })
    });
    let backend = TestBackend::builder()
        .config_yaml(support::file_locations_yaml())
        .config_yaml(yaml)
        .feature(Feature::plugin(CatalogPlugin::new()))
        .feature(Feature::plugin(ScaffolderPlugin::new()))
        .feature(actions)
        .start()
        .await
        .expect("backend starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    for name in ["plain", "again"] {
        while backend
            .client()
            .get(&format!(
                "/api/catalog/entities/by-name/template/default/{name}"
            ))
            .await
            .unwrap()
            .status()
            != 200
        {
            assert!(Instant::now() < deadline, "templates never appeared");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    backend
}

/// Starts backend A in a runtime of its own; returns the runtime (drop it to kill A) and a
/// client of A.
fn start_doomed(yaml: String) -> (tokio::runtime::Runtime, TestClient) {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let client = rt.block_on(async {
            let backend = start(yaml, true).await;
            let client = backend.client().clone();
            // Never stopped: A dies with its runtime.
            std::mem::forget(backend);
            client
        });
        (rt, client)
    })
    .join()
    .unwrap()
}

async fn create(c: &TestClient, template: &str, secrets: Value) -> String {
    let res = c
        .post_json(
            "/api/scaffolder/v2/tasks",
            &json!({"templateRef": format!("template:default/{template}"), "values": {}, "secrets": secrets}),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text());
    res.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn get_json(c: &TestClient, path: &str) -> Value {
    c.get(&format!("/api/scaffolder{path}"))
        .await
        .unwrap()
        .json()
        .unwrap()
}

async fn wait_running(c: &TestClient, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let events = get_json(c, &format!("/v2/tasks/{id}/events")).await;
        if events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["body"]["message"] == "blocking")
        {
            return;
        }
        assert!(Instant::now() < deadline, "task {id} never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_final(c: &TestClient, id: &str) -> (Value, Vec<Value>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let task = get_json(c, &format!("/v2/tasks/{id}")).await;
        if ["completed", "failed", "cancelled"].contains(&task["status"].as_str().unwrap()) {
            let events: Vec<Value> =
                serde_json::from_value(get_json(c, &format!("/v2/tasks/{id}/events")).await)
                    .unwrap();
            return (task, events);
        }
        assert!(
            Instant::now() < deadline,
            "task {id} stayed {}",
            task["status"]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_workers_tasks_are_failed_or_started_over() {
    let dir = tempfile::tempdir().unwrap();
    // A beats rarely (and would wait hours before calling its own tasks stale), so that it is
    // idle, with no open transaction, when it is killed.
    let (rt, a) = start_doomed(config(dir.path(), Some("shared-key"), "1h", "2h"));
    let plain = create(&a, "plain", json!({})).await;
    let again = create(&a, "again", json!({"token": "t0ken"})).await;
    wait_running(&a, &plain).await;
    wait_running(&a, &again).await;
    rt.shutdown_background();

    let b = start(config(dir.path(), Some("shared-key"), "100ms", "1s"), false).await;
    let c = b.client();
    let (task, events) = wait_final(c, &plain).await;
    assert_eq!(task["status"], "failed");
    assert!(events.iter().any(|e| e["body"]["stepId"] == "block"
        && e["body"]["status"] == "failed"
        && e["body"]["message"].as_str().unwrap().contains("stale")));
    assert_eq!(events.last().unwrap()["type"], "completion");

    let (task, events) = wait_final(c, &again).await;
    assert_eq!(task["status"], "completed", "{events:?}");
    // After a startOver recovery the event list starts at the `recovered` event.
    assert_eq!(events[0]["type"], "recovered", "{events:?}");
    assert_eq!(events[0]["body"]["recoverStrategy"], "startOver");
    assert_eq!(events.last().unwrap()["body"]["output"]["hasSecret"], true);
    let ids: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    b.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn secrets_sealed_with_a_per_process_key_fail_the_recovered_task_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let (rt, a) = start_doomed(config(dir.path(), None, "1h", "2h"));
    let again = create(&a, "again", json!({"token": "t0ken"})).await;
    wait_running(&a, &again).await;
    rt.shutdown_background();

    let b = start(config(dir.path(), None, "100ms", "1s"), false).await;
    let (task, events) = wait_final(b.client(), &again).await;
    assert_eq!(task["status"], "failed");
    let message = events.last().unwrap()["body"]["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("scaffolder.taskSecretsKey"), "{message}");
    b.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_graceful_shutdown_leaves_no_task_processing() {
    let dir = tempfile::tempdir().unwrap();
    // Long timeouts: only the shutdown itself may settle the tasks.
    let a = start(config(dir.path(), Some("k"), "1h", "2h"), true).await;
    let plain = create(a.client(), "plain", json!({})).await;
    let again = create(a.client(), "again", json!({"token": "t0ken"})).await;
    wait_running(a.client(), &plain).await;
    wait_running(a.client(), &again).await;
    let stopping = Instant::now();
    a.stop().await.unwrap();
    assert!(
        stopping.elapsed() < Duration::from_secs(10),
        "workers stopped promptly"
    );

    let b = start(config(dir.path(), Some("k"), "1h", "2h"), false).await;
    let task = get_json(b.client(), &format!("/v2/tasks/{plain}")).await;
    assert_eq!(task["status"], "failed", "{task}");
    let events = get_json(b.client(), &format!("/v2/tasks/{plain}/events")).await;
    let last = events.as_array().unwrap().last().unwrap().clone();
    assert!(
        last["body"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("shut down")
    );
    // The recoverable one was re-opened and B runs it.
    let (task, events) = wait_final(b.client(), &again).await;
    assert_eq!(task["status"], "completed", "{events:?}");
    assert_eq!(events.last().unwrap()["body"]["output"]["hasSecret"], true);
    b.stop().await.unwrap();
}
