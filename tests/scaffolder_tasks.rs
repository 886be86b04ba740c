#![allow(missing_docs)]
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]
//! The scaffolder's task API over HTTP, as signed-in users do it: a template registered in
//! the catalog from a temp file, custom test actions added through `SCAFFOLDER_ACTIONS`, and
//! tasks created, listed, followed (`/events`, `/eventstream`), cancelled, retried and dry
//! run. Runs on SQLite, and on PostgreSQL too when `BACKLOT_TEST_POSTGRES_URL` is set, and on
//! MySQL / MariaDB when `BACKLOT_TEST_MYSQL_URL` is set.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use backlot::backend::Feature;
use backlot::plugins::catalog::CatalogPlugin;
use backlot::plugins::scaffolder::backend::ScaffolderPlugin;
use backlot::plugins::scaffolder::common::{SerializedTask, SerializedTaskEvent, TaskStatus};
use backlot::plugins::scaffolder::node::{
    ActionContext, ActionError, SCAFFOLDER_ACTIONS, TemplateAction,
};
use backlot::testing::{TestBackend, TestResponse};
use serde_json::{Value, json};

const SECRET: &str = "s3cr3t-request-value";
const FIELD_SECRET: &str = "f1eld-secret-value";

/// Echoes `input.value` as output `value`, and its JSON type as `type`.
#[derive(Debug)]
struct Echo;

#[async_trait]
impl TemplateAction for Echo {
    fn id(&self) -> &str {
        "test:echo"
    }
    fn input_schema(&self) -> Option<Value> {
        Some(json!({"type": "object", "required": ["value"], "properties": {"value": {}}}))
    }
    fn supports_dry_run(&self) -> bool {
        true
    }
    async fn handler(&self, ctx: &mut ActionContext) -> Result<(), ActionError> {
        let v = ctx.input["value"].clone();
        let ty = match &v {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        ctx.logger.info(&format!("echo {v}"));
        ctx.output("value", v);
        ctx.output("type", ty);
        Ok(())
    }
}

/// Logs and outputs the task's secrets (which must never show).
#[derive(Debug)]
struct Leak;

#[async_trait]
impl TemplateAction for Leak {
    fn id(&self) -> &str {
        "test:leak"
    }
    async fn handler(&self, ctx: &mut ActionContext) -> Result<(), ActionError> {
        let all: Vec<String> = ctx.secrets.values().cloned().collect();
        ctx.logger
            .info(&format!("secrets are {}", all.join(" and ")));
        ctx.output("leaked", all.join(","));
        Ok(())
    }
}

/// Waits `input.ms` milliseconds or until cancelled.
#[derive(Debug)]
struct Wait;

#[async_trait]
impl TemplateAction for Wait {
    fn id(&self) -> &str {
        "test:wait"
    }
    async fn handler(&self, ctx: &mut ActionContext) -> Result<(), ActionError> {
        let ms = ctx.input["ms"].as_u64().unwrap_or(60_000);
        ctx.logger.info("waiting");
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(ms)) => Ok(()),
            () = ctx.signal.cancelled() => Err(ActionError::Cancelled),
        }
    }
}

/// Fails unless the file `input.path` exists.
#[derive(Debug)]
struct NeedsFile;

#[async_trait]
impl TemplateAction for NeedsFile {
    fn id(&self) -> &str {
        "test:needs-file"
    }
    async fn handler(&self, ctx: &mut ActionContext) -> Result<(), ActionError> {
        let path = ctx.input_str("path").unwrap_or("").to_string();
        if Path::new(&path).exists() {
            Ok(())
        } else {
            Err(ActionError::Failed(format!("{path} does not exist")))
        }
    }
}

/// Writes `input.content` to `input.path` in the workspace (dry-run safe).
#[derive(Debug)]
struct Write;

#[async_trait]
impl TemplateAction for Write {
    fn id(&self) -> &str {
        "test:write"
    }
    fn supports_dry_run(&self) -> bool {
        true
    }
    async fn handler(&self, ctx: &mut ActionContext) -> Result<(), ActionError> {
        let path = backlot::plugins::scaffolder::node::resolve_safe_child_path(
            &ctx.workspace_path,
            ctx.input_str("path").unwrap_or("out.txt"),
        )?;
        tokio::fs::write(&path, ctx.input_str("content").unwrap_or("")).await?;
        Ok(())
    }
}

/// Never runs in a dry run.
#[derive(Debug)]
struct NotDry;

#[async_trait]
impl TemplateAction for NotDry {
    fn id(&self) -> &str {
        "test:not-dry"
    }
    async fn handler(&self, _ctx: &mut ActionContext) -> Result<(), ActionError> {
        Err(ActionError::Failed("ran in a dry run".into()))
    }
}

fn test_actions() -> Feature {
    Feature::module_fn("scaffolder", "test-actions", |reg| {
        reg.init(&SCAFFOLDER_ACTIONS, |actions| async move {
            let ext = actions.get()?;
            ext.add_actions([
                Arc::new(Echo) as Arc<dyn TemplateAction>,
                Arc::new(Leak),
                Arc::new(Wait),
                Arc::new(NeedsFile),
                Arc::new(Write),
                Arc::new(NotDry),
            ]);
            Ok(())
        })
    })
}

fn demo_template() -> Value {
    json!({
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {"name": "demo", "title": "Demo", "tags": ["test"]},
        "spec": {
            "owner": "team-a",
            "type": "service",
            "parameters": [{
                "title": "Basics",
                "required": ["name", "count"],
                "properties": {
                    "name": {"type": "string", "ui:autofocus": true},
                    "count": {"type": "number"},
                    "flag": {"type": "boolean"},
                    "items": {"type": "array", "items": {"type": "string"}},
                    "map": {"type": "object"},
                    "token": {"type": "string", "ui:field": "Secret"}
                }
            }],
            "steps": [
                {"id": "first", "name": "First", "action": "test:echo",
                 "input": {"value": "${{ parameters.count }}"}},
                {"id": "typed", "action": "test:echo",
                 "input": {"value": "${{ steps.first.output.value }}"}},
                {"id": "skipped", "if": "${{ parameters.flag }}", "action": "test:echo",
                 "input": {"value": "never"}},
                {"id": "loop", "action": "test:echo", "each": "${{ parameters.items }}",
                 "input": {"value": "${{ each.value }}-${{ each.key }}"}},
                {"id": "objloop", "action": "test:echo", "each": "${{ parameters.map }}",
                 "input": {"value": "${{ each.key }}=${{ each.value }}"}},
                {"id": "leak", "action": "test:leak"}
            ],
            "output": {
                "links": [
                    {"title": "Repo", "url": "https://example.com/${{ parameters.name }}"},
                    {"title": "Hidden", "if": "${{ parameters.flag }}", "url": "https://hidden"}
                ],
                "text": [{"title": "Count", "content": "count is ${{ steps.typed.output.value }}"}],
                "count": "${{ steps.typed.output.value }}",
                "loop": "${{ steps.loop.output.value }}",
                "leaked": "${{ steps.leak.output.leaked }}"
            }
        }
    })
}

fn simple_template(name: &str, steps: Value, recovery: bool) -> Value {
    let mut t = json!({
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {"name": name},
        "spec": {"type": "service", "steps": steps}
    });
    if recovery {
        t["spec"]["EXPERIMENTAL_recovery"] = json!({"EXPERIMENTAL_strategy": "startOver"});
    }
    t
}

struct Env {
    backend: TestBackend,
    _dir: Option<tempfile::TempDir>,
    flag_file: std::path::PathBuf,
}

async fn start(extra_yaml: Option<String>) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let mut env = start_in(dir.path(), extra_yaml).await;
    env._dir = Some(dir);
    env
}

/// A backend whose templates file is in `dir` (written again, with the same content, when
/// another backend uses the same directory).
async fn start_in(dir: &Path, extra_yaml: Option<String>) -> Env {
    let flag_file = dir.join("flag");
    let templates = [
        demo_template(),
        simple_template(
            "slow",
            json!([{"id": "wait", "action": "test:wait", "input": {"ms": 60000}},
                   {"id": "after", "action": "test:echo", "input": {"value": 1}}]),
            false,
        ),
        simple_template(
            "needs-file",
            json!([{"id": "check", "action": "test:needs-file", "input": {"path": flag_file.display().to_string()}}]),
            false,
        ),
        simple_template(
            "unknown",
            json!([{"id": "x", "action": "test:nope"}]),
            false,
        ),
        simple_template(
            "chatty",
            json!([{"id": "w", "action": "test:wait", "input": {"ms": 50}}]),
            false,
        ),
    ];
    let text: String = templates
        .iter()
        .map(|t| format!("---\n{}\n", serde_yaml::to_string(t).unwrap()))
        .collect();
    let file = dir.join("templates.yaml");
    std::fs::write(&file, text).unwrap();
    let mut builder = TestBackend::builder()
        .config_yaml(support::file_locations_yaml())
        .config_yaml(format!(
            "catalog:\n  processingInterval: {{ minutes: 60 }}\n  rules:\n    - allow: [Template, Location, User, Group]\n  locations:\n    - type: file\n      target: {}\nscaffolder:\n  taskSecretsKey: test-key\n  eventStream:\n    pollInterval: 200ms\n",
            file.display()
        ));
    if let Some(y) = extra_yaml {
        builder = builder.config_yaml(y);
    }
    let backend = builder
        .feature(Feature::plugin(CatalogPlugin::new()))
        .feature(Feature::plugin(ScaffolderPlugin::new()))
        .feature(test_actions())
        .start()
        .await
        .expect("backend starts");
    // Wait for the catalog to hold the templates.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let res = backend
            .client()
            .get("/api/catalog/entities/by-name/template/default/unknown")
            .await
            .unwrap();
        if res.status() == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "templates never appeared in the catalog"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Env {
        backend,
        _dir: None,
        flag_file,
    }
}

async fn post(b: &TestBackend, path: &str, body: &Value) -> TestResponse {
    b.client()
        .post_json(&format!("/api/scaffolder{path}"), body)
        .await
        .unwrap()
}

async fn get(b: &TestBackend, path: &str) -> TestResponse {
    b.client()
        .get(&format!("/api/scaffolder{path}"))
        .await
        .unwrap()
}

async fn create(b: &TestBackend, body: &Value) -> String {
    let res = post(b, "/v2/tasks", body).await;
    assert_eq!(res.status(), 201, "{}", res.text());
    res.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn wait_final(b: &TestBackend, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let task: Value = get(b, &format!("/v2/tasks/{id}")).await.json().unwrap();
        if ["completed", "failed", "cancelled"].contains(&task["status"].as_str().unwrap()) {
            return task;
        }
        assert!(
            Instant::now() < deadline,
            "task {id} never finished: {task}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn all_events(b: &TestBackend, id: &str) -> Vec<Value> {
    get(b, &format!("/v2/tasks/{id}/events"))
        .await
        .json::<Vec<Value>>()
        .unwrap()
}

fn demo_values() -> Value {
    json!({
        "name": "svc",
        "count": 3,
        "flag": false,
        "items": ["a", "b"],
        "map": {"k": "v"},
        "token": FIELD_SECRET
    })
}

fn step_statuses(events: &[Value], step: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["body"]["stepId"] == step && e["body"]["status"].is_string())
        .map(|e| e["body"]["status"].as_str().unwrap().to_string())
        .collect()
}

async fn run_suite(env: &Env) {
    let b = &env.backend;

    // --- validation errors: 400 {errors: [...]} shaped like Backstage's
    let res = post(
        b,
        "/v2/tasks",
        &json!({"templateRef": "template:default/demo", "values": {"count": "three"}}),
    )
    .await;
    assert_eq!(res.status(), 400, "{}", res.text());
    let body: Value = res.json().unwrap();
    let errors = body["errors"].as_array().unwrap();
    let required = errors.iter().find(|e| e["name"] == "required").unwrap();
    assert_eq!(required["argument"], "name");
    assert_eq!(required["property"], "instance");
    assert!(
        required["stack"]
            .as_str()
            .unwrap()
            .contains("requires property \"name\"")
    );
    let ty = errors.iter().find(|e| e["name"] == "type").unwrap();
    assert_eq!(ty["path"], json!(["count"]));
    assert_eq!(ty["property"], "instance.count");
    assert_eq!(ty["instance"], "three");
    for key in [
        "path", "property", "message", "schema", "instance", "name", "argument", "stack",
    ] {
        assert!(ty.get(key).is_some(), "{key} missing in {ty}");
    }
    // Unknown template: Backstage's error JSON.
    let res = post(
        b,
        "/v2/tasks",
        &json!({"templateRef": "template:default/missing", "values": {}}),
    )
    .await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        res.json::<Value>().unwrap()["error"]["name"],
        "NotFoundError"
    );

    // --- a full run
    let started = Instant::now();
    let id = create(b, &json!({"templateRef": "template:default/demo", "values": demo_values(), "secrets": {"extra": SECRET}})).await;
    let task = wait_final(b, &id).await;
    println!("demo task finished in {:?}", started.elapsed());
    assert_eq!(task["status"], "completed", "{task}");
    assert_eq!(task["createdBy"], "user:default/mock");
    assert_eq!(
        task["spec"]["templateInfo"]["entityRef"],
        "template:default/demo"
    );
    assert!(
        task["spec"]["templateInfo"]["baseUrl"]
            .as_str()
            .unwrap()
            .starts_with("file://")
    );
    assert_eq!(task["spec"]["user"]["ref"], "user:default/mock");
    assert!(
        task["spec"]["parameters"].get("token").is_none(),
        "Secret field went to secrets"
    );
    let events = all_events(b, &id).await;
    // ids: 1..n, strictly increasing, no gaps or duplicates
    let ids: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, (1..=ids.len() as i64).collect::<Vec<_>>());
    assert_eq!(step_statuses(&events, "first"), ["processing", "completed"]);
    assert_eq!(step_statuses(&events, "skipped"), ["skipped"]);
    assert_eq!(step_statuses(&events, "loop"), ["processing", "completed"]);
    // type preservation: a number stays a number through two steps
    let echo_logs: Vec<&str> = events
        .iter()
        .filter(|e| e["body"]["stepId"] == "typed" && e["body"]["status"].is_null())
        .map(|e| e["body"]["message"].as_str().unwrap())
        .collect();
    assert_eq!(echo_logs, ["echo 3"]);
    let completion = events.last().unwrap();
    assert_eq!(completion["type"], "completion");
    assert_eq!(completion["body"]["status"], "completed");
    let output = &completion["body"]["output"];
    assert_eq!(output["count"], json!(3), "{output}");
    assert_eq!(output["loop"], json!(["a-0", "b-1"]));
    assert_eq!(
        output["links"],
        json!([{"title": "Repo", "url": "https://example.com/svc"}])
    );
    assert_eq!(output["text"][0]["content"], "count is 3");
    // object each
    assert!(
        events
            .iter()
            .any(|e| e["body"]["message"] == "echo \"k=v\"")
    );

    // The wire types of `common` read what the API answers.
    let typed: SerializedTask = get(b, &format!("/v2/tasks/{id}")).await.json().unwrap();
    assert_eq!(typed.status, TaskStatus::Completed);
    assert_eq!(typed.spec.steps.len(), 6);
    let typed_events: Vec<SerializedTaskEvent> = get(b, &format!("/v2/tasks/{id}/events"))
        .await
        .json()
        .unwrap();
    assert_eq!(typed_events.len(), events.len());

    // --- secrets absent everywhere
    let task_text = get(b, &format!("/v2/tasks/{id}")).await.text();
    let events_text = get(b, &format!("/v2/tasks/{id}/events")).await.text();
    let stream_text = b
        .client()
        .get(&format!("/api/scaffolder/v2/tasks/{id}/eventstream"))
        .await
        .unwrap()
        .text();
    let list_text = get(b, "/v2/tasks").await.text();
    let logs = format!("{:?}", b.logger().records());
    for (what, text) in [
        ("task", &task_text),
        ("events", &events_text),
        ("stream", &stream_text),
        ("list", &list_text),
        ("logs", &logs),
    ] {
        assert!(!text.contains(SECRET), "request secret in {what}");
        assert!(!text.contains(FIELD_SECRET), "Secret field in {what}");
    }
    assert!(
        events_text.contains("secrets are *** and ***"),
        "{events_text}"
    );
    assert_eq!(output["leaked"], "***,***");

    // --- /events?after= and SSE resumed with after / Last-Event-ID
    let after = ids[ids.len() / 2];
    let later: Vec<Value> = get(b, &format!("/v2/tasks/{id}/events?after={after}"))
        .await
        .json()
        .unwrap();
    assert_eq!(later.first().unwrap()["id"].as_i64().unwrap(), after + 1);
    assert_eq!(later.len(), ids.len() - after as usize);
    let res = b
        .client()
        .get(&format!(
            "/api/scaffolder/v2/tasks/{id}/eventstream?after={after}"
        ))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.header("content-type")
            .unwrap()
            .starts_with("text/event-stream")
    );
    let sse = parse_sse(&res.text());
    assert_eq!(sse.len(), later.len());
    assert_eq!(sse[0].0, (after + 1).to_string());
    assert_eq!(sse.last().unwrap().1, "completion");
    for (id_line, ty, data) in &sse {
        let d: Value = serde_json::from_str(data).unwrap();
        assert_eq!(&d["id"].as_i64().unwrap().to_string(), id_line);
        assert_eq!(d["type"].as_str().unwrap(), ty);
    }
    let req = b
        .client()
        .request(
            reqwest::Method::GET,
            &format!("/api/scaffolder/v2/tasks/{id}/eventstream"),
        )
        .header("Last-Event-ID", (ids.len() as i64 - 2).to_string());
    let resumed = parse_sse(&b.client().execute(req).await.unwrap().text());
    assert_eq!(resumed.len(), 2);

    // --- a live stream follows a running task to its end
    let id2 = create(
        b,
        &json!({"templateRef": "template:default/chatty", "values": {}}),
    )
    .await;
    let live = b
        .client()
        .get(&format!("/api/scaffolder/v2/tasks/{id2}/eventstream"))
        .await
        .unwrap();
    let live = parse_sse(&live.text());
    assert_eq!(live.last().unwrap().1, "completion");
    let live_ids: Vec<i64> = live.iter().map(|e| e.0.parse().unwrap()).collect();
    assert_eq!(live_ids, (1..=live_ids.len() as i64).collect::<Vec<_>>());

    // --- unknown action: a clear failure
    let id3 = create(
        b,
        &json!({"templateRef": "template:default/unknown", "values": {}}),
    )
    .await;
    let task = wait_final(b, &id3).await;
    assert_eq!(task["status"], "failed");
    let events = all_events(b, &id3).await;
    let completion = events.last().unwrap();
    assert!(
        completion["body"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Template action with ID 'test:nope' is not registered")
    );

    // --- cancel mid-action
    let id4 = create(
        b,
        &json!({"templateRef": "template:default/slow", "values": {}}),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let events = all_events(b, &id4).await;
        if events.iter().any(|e| e["body"]["message"] == "waiting") {
            break;
        }
        assert!(Instant::now() < deadline, "slow task never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let res = post(b, &format!("/v2/tasks/{id4}/cancel"), &json!({})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().unwrap()["status"], "cancelled");
    let cancelled_at = Instant::now();
    let task = wait_final(b, &id4).await;
    assert_eq!(task["status"], "cancelled");
    assert!(
        cancelled_at.elapsed() < Duration::from_secs(5),
        "the action was stopped"
    );
    let events = all_events(b, &id4).await;
    assert!(events.iter().any(|e| e["type"] == "cancelled"));
    assert_eq!(step_statuses(&events, "wait"), ["processing", "cancelled"]);
    assert!(
        step_statuses(&events, "after").is_empty(),
        "later steps do not run"
    );

    // --- retry: fails first, then succeeds once the file exists
    let id5 = create(
        b,
        &json!({"templateRef": "template:default/needs-file", "values": {}}),
    )
    .await;
    assert_eq!(wait_final(b, &id5).await["status"], "failed");
    let res = post(b, &format!("/v2/tasks/{id}/retry"), &json!({})).await;
    assert_eq!(
        res.status(),
        201,
        "a completed task can be retried: {}",
        res.text()
    );
    wait_final(b, &id).await;
    std::fs::write(&env.flag_file, "x").unwrap();
    let res = post(
        b,
        &format!("/v2/tasks/{id5}/retry"),
        &json!({"secrets": {"a": "b"}}),
    )
    .await;
    assert_eq!(res.status(), 201, "{}", res.text());
    assert_eq!(res.json::<Value>().unwrap()["id"], id5.as_str());
    let task = wait_final(b, &id5).await;
    assert_eq!(task["status"], "completed");
    let events = all_events(b, &id5).await;
    assert!(events.iter().any(|e| e["type"] == "recovered"));
    assert_eq!(
        events.iter().filter(|e| e["type"] == "completion").count(),
        1
    );
    let ids: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids keep growing after a retry: {ids:?}"
    );
    let res = post(
        b,
        &format!("/v2/tasks/{}/retry", uuid::Uuid::new_v4()),
        &json!({}),
    )
    .await;
    assert_eq!(res.status(), 404);

    // --- list filters and paging
    let other = b.client().as_user("user:default/other");
    let res = other
        .post_json(
            "/api/scaffolder/v2/tasks",
            &json!({"templateRef": "template:default/chatty", "values": {}}),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let all: Value = get(b, "/v2/tasks").await.json().unwrap();
    assert_eq!(all["totalTasks"], 6, "{all}");
    let mine: Value = get(b, "/v2/tasks?createdBy=user:default/other")
        .await
        .json()
        .unwrap();
    assert_eq!(mine["totalTasks"], 1);
    let two: Value = get(
        b,
        "/v2/tasks?createdBy=user:default/other&createdBy=user:default/mock",
    )
    .await
    .json()
    .unwrap();
    assert_eq!(two["totalTasks"], 6);
    let failed: Value = get(b, "/v2/tasks?status=failed").await.json().unwrap();
    assert_eq!(failed["totalTasks"], 1, "{failed}");
    let fc: Value = get(b, "/v2/tasks?status=failed&status=cancelled")
        .await
        .json()
        .unwrap();
    assert_eq!(fc["totalTasks"], 2);
    let page1: Value = get(b, "/v2/tasks?limit=3&offset=0&order=asc:created_at")
        .await
        .json()
        .unwrap();
    let page2: Value = get(b, "/v2/tasks?limit=3&offset=3&order=asc:created_at")
        .await
        .json()
        .unwrap();
    assert_eq!(page1["tasks"].as_array().unwrap().len(), 3);
    assert_eq!(page1["totalTasks"], 6);
    assert_eq!(page1["tasks"][0]["id"], id.as_str());
    let p1: Vec<&str> = page1["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    let p2: Vec<&str> = page2["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert!(p1.iter().all(|x| !p2.contains(x)));
    assert_eq!(get(b, "/v2/tasks?status=bogus").await.status(), 400);
    assert_eq!(get(b, "/v2/tasks?limit=100000").await.status(), 400);
    assert_eq!(get(b, "/v2/tasks?order=desc:spec").await.status(), 400);
    assert_eq!(
        get(b, &format!("/v2/tasks/{}", uuid::Uuid::new_v4()))
            .await
            .status(),
        404
    );

    // --- parameter-schema keeps ui:*; actions list holds the added actions
    let schema: Value = get(b, "/v2/templates/default/template/demo/parameter-schema")
        .await
        .json()
        .unwrap();
    assert_eq!(schema["title"], "Demo");
    assert_eq!(schema["steps"][0]["title"], "Basics");
    assert_eq!(
        schema["steps"][0]["schema"]["properties"]["name"]["ui:autofocus"],
        true
    );
    let actions: Vec<Value> = get(b, "/v2/actions").await.json().unwrap();
    let echo = actions.iter().find(|a| a["id"] == "test:echo").unwrap();
    assert_eq!(echo["schema"]["input"]["required"], json!(["value"]));
    let ext: Value = get(b, "/v2/templating-extensions").await.json().unwrap();
    assert!(ext["filters"].is_object() && ext["globals"]["functions"].is_object());

    // --- dry run
    let template = simple_template(
        "dry",
        json!([
            {"id": "w", "action": "test:write", "input": {"path": "hello.txt", "content": "hi ${{ parameters.who }}"}},
            {"id": "n", "action": "test:not-dry"},
            {"id": "e", "action": "test:echo", "input": {"value": "${{ parameters.who }}"}}
        ]),
        false,
    );
    let mut template = template;
    template["spec"]["parameters"] =
        json!({"required": ["who"], "properties": {"who": {"type": "string"}}});
    template["spec"]["output"] = json!({"who": "${{ steps.e.output.value }}"});
    let res = post(
        b,
        "/v2/dry-run",
        &json!({
            "template": template,
            "values": {"who": "world"},
            "secrets": {},
            "directoryContents": [{"path": "skeleton/a.txt", "base64Content": "eA=="}]
        }),
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text());
    let dry: Value = res.json().unwrap();
    let files = dry["directoryContents"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{dry}");
    assert_eq!(files[0]["path"], "hello.txt");
    assert_eq!(files[0]["base64Content"], "aGkgd29ybGQ=");
    assert_eq!(dry["output"]["who"], "world");
    assert_eq!(dry["steps"].as_array().unwrap().len(), 3);
    let log = dry["log"].as_array().unwrap();
    assert!(
        log.iter()
            .any(|l| l["body"]["message"]
                == "Skipping because test:not-dry does not support dry-run")
    );
    let res = post(
        b,
        "/v2/dry-run",
        &json!({"template": template, "values": {}, "directoryContents": []}),
    )
    .await;
    assert_eq!(res.status(), 400);
    assert!(res.json::<Value>().unwrap()["errors"].is_array());
    let res = post(
        b,
        "/v2/dry-run",
        &json!({"template": template, "values": {"who": "x"},
        "directoryContents": [{"path": "../escape", "base64Content": "eA=="}]}),
    )
    .await;
    assert_eq!(res.status(), 400);
    // A dry run stores no task.
    let all: Value = get(b, "/v2/tasks").await.json().unwrap();
    assert_eq!(all["totalTasks"], 6);
}

/// `(id, event, data)` of each message of an SSE body.
fn parse_sse(text: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let (mut id, mut ev, mut data) = (String::new(), String::new(), String::new());
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("id:") {
                id = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("event:") {
                ev = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.trim_start());
            }
        }
        if !data.is_empty() {
            out.push((id, ev, data));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tasks_over_http_on_sqlite() {
    let env = start(None).await;
    run_suite(&env).await;
    env.backend.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tasks_over_http_on_postgres() {
    let Some(yaml) = support::postgres_database_yaml("scaffoldertasks") else {
        println!("skipped: BACKLOT_TEST_POSTGRES_URL is not set");
        return;
    };
    let env = start(Some(yaml)).await;
    run_suite(&env).await;
    env.backend.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tasks_over_http_on_mysql() {
    let Some(yaml) = support::mysql_database_yaml("scaffoldertasks") else {
        println!("skipped: BACKLOT_TEST_MYSQL_URL is not set");
        return;
    };
    let env = start(Some(yaml)).await;
    run_suite(&env).await;
    env.backend.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_logs_and_cancel_keep_event_ids_unique_and_gapless() {
    let env = start(None).await;
    let b = &env.backend;
    let ids: Vec<String> = futures::future::join_all((0..20).map(|_| async {
        create(
            b,
            &json!({"templateRef": "template:default/slow", "values": {}}),
        )
        .await
    }))
    .await;
    // Cancel them all while they run: worker and cancel request write events at once.
    tokio::time::sleep(Duration::from_millis(100)).await;
    futures::future::join_all(ids.iter().map(|id| async move {
        let res = post(b, &format!("/v2/tasks/{id}/cancel"), &json!({})).await;
        assert_eq!(res.status(), 200);
    }))
    .await;
    for id in &ids {
        assert_eq!(wait_final(b, id).await["status"], "cancelled");
        let events = all_events(b, id).await;
        let got: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
        assert_eq!(
            got,
            (1..=got.len() as i64).collect::<Vec<_>>(),
            "{events:?}"
        );
        assert_eq!(
            events.iter().filter(|e| e["type"] == "completion").count(),
            1
        );
    }
    env.backend.stop().await.unwrap();
}

/// Two backends on one database: every task runs exactly once.
async fn two_backends(yaml: String) {
    let dir = tempfile::tempdir().unwrap();
    let a = start_in(dir.path(), Some(yaml.clone())).await;
    let b = start_in(dir.path(), Some(yaml)).await;
    let ids: Vec<String> = futures::future::join_all((0..40).map(|i| {
        let env = if i % 2 == 0 { &a } else { &b };
        async move {
            create(
                &env.backend,
                &json!({"templateRef": "template:default/chatty", "values": {}}),
            )
            .await
        }
    }))
    .await;
    for id in &ids {
        assert_eq!(wait_final(&a.backend, id).await["status"], "completed");
        let events = all_events(&b.backend, id).await;
        let begins = events
            .iter()
            .filter(|e| e["body"]["status"] == "processing")
            .count();
        assert_eq!(begins, 1, "task {id} ran more than once: {events:?}");
        let got: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
        assert_eq!(got, (1..=got.len() as i64).collect::<Vec<_>>());
    }
    a.backend.stop().await.unwrap();
    b.backend.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_backends_on_one_sqlite_file_never_run_a_task_twice() {
    let dir = tempfile::tempdir().unwrap();
    two_backends(format!(
        "backend:\n  database:\n    client: better-sqlite3\n    connection:\n      directory: {}\n",
        dir.path().join("db").display()
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_backends_on_one_postgres_never_run_a_task_twice() {
    let Some(yaml) = support::postgres_database_yaml("scaffoldertwo") else {
        println!("skipped: BACKLOT_TEST_POSTGRES_URL is not set");
        return;
    };
    two_backends(yaml).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_backends_on_one_mysql_never_run_a_task_twice() {
    let Some(yaml) = support::mysql_database_yaml("scaffoldertwo") else {
        println!("skipped: BACKLOT_TEST_MYSQL_URL is not set");
        return;
    };
    two_backends(yaml).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn limits_answer_with_errors() {
    let env = start(Some(
        "scaffolder:\n  maxRequestBodyBytes: 4096\n  eventStream:\n    maxOpenStreams: 1\n".into(),
    ))
    .await;
    let b = &env.backend;
    // Bodies above scaffolder.maxRequestBodyBytes are refused.
    let big = "x".repeat(10_000);
    let res = post(
        b,
        "/v2/tasks",
        &json!({"templateRef": "template:default/demo", "values": {"name": big}}),
    )
    .await;
    assert_eq!(res.status(), 413, "{}", res.text());
    // One open stream at most: the second gets 503 until the first ends.
    let id = create(
        b,
        &json!({"templateRef": "template:default/slow", "values": {}}),
    )
    .await;
    let first = b
        .client()
        .request(
            reqwest::Method::GET,
            &format!("/api/scaffolder/v2/tasks/{id}/eventstream"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let second = get(b, &format!("/v2/tasks/{id}/eventstream")).await;
    assert_eq!(second.status(), 503);
    assert_eq!(
        second.json::<Value>().unwrap()["error"]["name"],
        "ServiceUnavailableError"
    );
    assert_eq!(
        post(b, &format!("/v2/tasks/{id}/cancel"), &json!({}))
            .await
            .status(),
        200
    );
    // The first stream ends with the task's completion, and frees its place.
    let text = first.text().await.unwrap();
    assert!(text.contains("event: completion"), "{text}");
    let again = get(b, &format!("/v2/tasks/{id}/eventstream")).await;
    assert_eq!(again.status(), 200);
    env.backend.stop().await.unwrap();
}
