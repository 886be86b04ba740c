//! Scaffolder task benchmark over real HTTP (a `TestBackend` with the catalog, the scaffolder
//! and a logging test action, SQLite in a temp dir):
//!
//! 1. criterion: `POST /v2/tasks` → the task's first event readable through
//!    `GET /v2/tasks/{id}/events` (target < 20 ms), and the same measured by hand over 200
//!    tasks to print the median and p95;
//! 2. a load loop: 100 tasks created at once, each logging `SCAFFOLDER_BENCH_LINES` lines
//!    (default 50); every task must complete with event ids exactly `1..=n` and the expected
//!    number of events — no event lost or duplicated — or the run fails.
//!
//! ```sh
//! cargo bench --features testing --bench scaffolder_tasks
//! ```

#![allow(
    missing_docs,
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use backlot::backend::Feature;
use backlot::plugins::catalog::CatalogPlugin;
use backlot::plugins::scaffolder::backend::ScaffolderPlugin;
use backlot::plugins::scaffolder::node::{
    ActionContext, ActionError, SCAFFOLDER_ACTIONS, TemplateAction,
};
use backlot::testing::TestBackend;
use criterion::Criterion;
use serde_json::{Value, json};

/// Logs `input.lines` lines.
#[derive(Debug)]
struct LogLines;

#[async_trait]
impl TemplateAction for LogLines {
    fn id(&self) -> &str {
        "bench:log"
    }
    async fn handler(&self, ctx: &mut ActionContext) -> Result<(), ActionError> {
        let n = ctx.input["lines"].as_u64().unwrap_or(0);
        for i in 0..n {
            ctx.logger.info(&format!("line {i}"));
        }
        Ok(())
    }
}

fn lines() -> u64 {
    std::env::var("SCAFFOLDER_BENCH_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
}

async fn setup(dir: &std::path::Path) -> TestBackend {
    let template = json!({
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {"name": "bench"},
        "spec": {
            "type": "service",
            "parameters": {"properties": {"lines": {"type": "number"}}},
            "steps": [{"id": "log", "action": "bench:log", "input": {"lines": "${{ parameters.lines }}"}}]
        }
    });
    let file = dir.join("template.yaml");
    std::fs::write(&file, serde_yaml::to_string(&template).unwrap()).unwrap();
    let actions = Feature::module_fn("scaffolder", "bench-actions", |reg| {
        reg.init(&SCAFFOLDER_ACTIONS, |actions| async move {
            actions
                .get()?
                .add_action(Arc::new(LogLines) as Arc<dyn TemplateAction>);
            Ok(())
        })
    });
    let tmp = std::fs::canonicalize(std::env::temp_dir()).unwrap();
    let backend = TestBackend::builder()
        .config_yaml(format!(
            "backend:\n  reading:\n    fileAllow: ['{tmp}']\n  database:\n    client: better-sqlite3\n    connection:\n      directory: {db}\ncatalog:\n  allowedLocationTypes: [file]\n  processingInterval: {{ minutes: 60 }}\n  rules:\n    - allow: [Template, Location]\n  locations:\n    - type: file\n      target: {file}\nscaffolder:\n  taskSecretsKey: bench\n  concurrentTasksLimit: 10\n",
            tmp = tmp.display(),
            db = dir.join("db").display(),
            file = file.display()
        ))
        .feature(Feature::plugin(CatalogPlugin::new()))
        .feature(Feature::plugin(ScaffolderPlugin::new()))
        .feature(actions)
        .start()
        .await
        .expect("backend starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while backend
        .client()
        .get("/api/catalog/entities/by-name/template/default/bench")
        .await
        .unwrap()
        .status()
        != 200
    {
        assert!(Instant::now() < deadline, "the template never appeared");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    backend
}

async fn create(b: &TestBackend, lines: u64) -> String {
    let res = b
        .client()
        .post_json(
            "/api/scaffolder/v2/tasks",
            &json!({"templateRef": "template:default/bench", "values": {"lines": lines}}),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text());
    res.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Creates a task and waits for its first event; the time taken.
async fn create_to_first_event(b: &TestBackend) -> Duration {
    let t0 = Instant::now();
    let id = create(b, 1).await;
    let events: Vec<Value> = b
        .client()
        .get(&format!("/api/scaffolder/v2/tasks/{id}/events"))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert!(!events.is_empty(), "no event within the wait timeout");
    t0.elapsed()
}

async fn wait_all(b: &TestBackend, ids: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(300);
    for id in ids {
        loop {
            let t: Value = b
                .client()
                .get(&format!("/api/scaffolder/v2/tasks/{id}"))
                .await
                .unwrap()
                .json()
                .unwrap();
            match t["status"].as_str().unwrap() {
                "completed" => break,
                "failed" | "cancelled" => panic!("task {id} ended {}", t["status"]),
                _ => {}
            }
            assert!(Instant::now() < deadline, "tasks did not finish in time");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn load(b: &TestBackend) {
    let n_lines = lines();
    let tasks = 100;
    let t0 = Instant::now();
    let ids: Vec<String> = futures::future::join_all((0..tasks).map(|_| create(b, n_lines))).await;
    let created = t0.elapsed();
    wait_all(b, &ids).await;
    let done = t0.elapsed();
    // Beginning step + lines + Finished step + completion.
    let expected = n_lines as usize + 3;
    let mut total = 0usize;
    for id in &ids {
        let events: Vec<Value> = b
            .client()
            .get(&format!("/api/scaffolder/v2/tasks/{id}/events"))
            .await
            .unwrap()
            .json()
            .unwrap();
        let got: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
        assert_eq!(
            got.len(),
            expected,
            "task {id}: {} events, expected {expected}",
            got.len()
        );
        assert_eq!(
            got,
            (1..=expected as i64).collect::<Vec<_>>(),
            "task {id}: ids not 1..=n"
        );
        let logged: Vec<&str> = events
            .iter()
            .filter(|e| e["body"]["stepId"] == "log" && e["body"]["status"].is_null())
            .map(|e| e["body"]["message"].as_str().unwrap())
            .collect();
        let want: Vec<String> = (0..n_lines).map(|i| format!("line {i}")).collect();
        assert_eq!(
            logged, want,
            "task {id}: log lines lost, duplicated or reordered"
        );
        total += got.len();
    }
    println!(
        "load: {tasks} concurrent tasks x {n_lines} log lines: all created in {created:?}, all completed in {done:?}; {total} events checked (expected {}), 0 lost, 0 duplicated",
        tasks * expected
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let backend = rt.block_on(setup(dir.path()));

    let mut c = Criterion::default()
        .sample_size(30)
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    c.bench_function("scaffolder: create task -> first event", |bench| {
        bench.to_async(&rt).iter(|| create_to_first_event(&backend));
    });

    let mut samples: Vec<Duration> = rt.block_on(async {
        let mut v = Vec::new();
        for _ in 0..200 {
            v.push(create_to_first_event(&backend).await);
        }
        v
    });
    samples.sort();
    let median = samples[samples.len() / 2];
    let p95 = samples[samples.len() * 95 / 100];
    println!(
        "create -> first event over 200 tasks: median {median:?}, p95 {p95:?} (target < 20 ms)"
    );

    rt.block_on(load(&backend));
    rt.block_on(backend.stop()).unwrap();
    c.final_summary();
}
