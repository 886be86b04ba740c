#![allow(missing_docs)]
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]
//! The scaffolder's permissions over HTTP: a policy (the test kit's mock `PERMISSIONS`
//! with a closure) allows everything to jane, and gives joe conditional template and action
//! decisions using the scaffolder's own rules (`HAS_TAG`, `HAS_ACTION_ID`) and denies him
//! reading others' tasks and cancelling; nobody may create tasks.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use backlot::backend::Feature;
use backlot::plugins::catalog::CatalogPlugin;
use backlot::plugins::scaffolder::backend::ScaffolderPlugin;
use backlot::plugins::scaffolder::common::permissions::{
    RESOURCE_TYPE_SCAFFOLDER_ACTION, RESOURCE_TYPE_SCAFFOLDER_TEMPLATE,
};
use backlot::plugins::scaffolder::node::{
    ActionContext, ActionError, SCAFFOLDER_ACTIONS, TemplateAction,
};
use backlot::services::permissions::{PermissionCriteria, PolicyDecision};
use backlot::testing::permissions::mock_permissions_policy;
use backlot::testing::{TestBackend, TestClient};
use serde_json::{Value, json};

const JANE: &str = "user:default/jane";
const JOE: &str = "user:default/joe";
const NOBODY: &str = "user:default/nobody";

#[derive(Debug)]
struct Echo;

#[async_trait]
impl TemplateAction for Echo {
    fn id(&self) -> &str {
        "test:echo"
    }
    fn supports_dry_run(&self) -> bool {
        true
    }
    async fn handler(&self, ctx: &mut ActionContext) -> Result<(), ActionError> {
        let v = ctx.input["value"].clone();
        ctx.logger.info(&format!("echo {v}"));
        ctx.output("value", v);
        Ok(())
    }
}

#[derive(Debug)]
struct Wait;

#[async_trait]
impl TemplateAction for Wait {
    fn id(&self) -> &str {
        "test:wait"
    }
    fn supports_dry_run(&self) -> bool {
        true
    }
    async fn handler(&self, ctx: &mut ActionContext) -> Result<(), ActionError> {
        let ms = ctx.input["ms"].as_u64().unwrap_or(10);
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(ms)) => Ok(()),
            () = ctx.signal.cancelled() => Err(ActionError::Cancelled),
        }
    }
}

fn conditional(resource_type: &str, rule: &str, params: Value) -> PolicyDecision {
    PolicyDecision::Conditional {
        plugin_id: "scaffolder".into(),
        resource_type: resource_type.into(),
        conditions: serde_json::from_value::<PermissionCriteria>(
            json!({"rule": rule, "resourceType": resource_type, "params": params}),
        )
        .unwrap(),
    }
}

fn templates() -> String {
    let perm = json!({
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {"name": "perm", "title": "Perm"},
        "spec": {
            "type": "service",
            "parameters": [
                {"title": "Public", "backstage:permissions": {"tags": ["public"]},
                 "properties": {"a": {"type": "string"}}},
                {"title": "Secret", "backstage:permissions": {"tags": ["secret"]},
                 "required": ["b"], "properties": {"b": {"type": "string"}}}
            ],
            "steps": [
                {"id": "pub", "action": "test:echo", "input": {"value": "public"},
                 "backstage:permissions": {"tags": ["public"]}},
                {"id": "sec", "action": "test:echo", "input": {"value": "secret"},
                 "backstage:permissions": {"tags": ["secret"]}}
            ]
        }
    });
    let act = json!({
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {"name": "perm-action"},
        "spec": {
            "type": "service",
            "steps": [
                {"id": "echo", "action": "test:echo", "input": {"value": 1},
                 "backstage:permissions": {"tags": ["public"]}},
                {"id": "wait", "action": "test:wait", "input": {"ms": 5000},
                 "backstage:permissions": {"tags": ["public"]}}
            ]
        }
    });
    [perm, act]
        .iter()
        .map(|t| format!("---\n{}\n", serde_yaml::to_string(t).unwrap()))
        .collect()
}

async fn start(dir: &std::path::Path) -> TestBackend {
    let file = dir.join("templates.yaml");
    std::fs::write(&file, templates()).unwrap();
    let policy = mock_permissions_policy(|query, user| {
        let name = query.permission.name.as_str();
        if name.starts_with("catalog.") {
            return PolicyDecision::Allow;
        }
        let who = user
            .map(|u| u.info.user_entity_ref.clone())
            .unwrap_or_default();
        match who.as_str() {
            JANE => PolicyDecision::Allow,
            JOE => match name {
                "scaffolder.task.create" => PolicyDecision::Allow,
                "scaffolder.template.parameter.read" | "scaffolder.template.step.read" => {
                    conditional(
                        RESOURCE_TYPE_SCAFFOLDER_TEMPLATE,
                        "HAS_TAG",
                        json!({"tag": "public"}),
                    )
                }
                "scaffolder.action.execute" => conditional(
                    RESOURCE_TYPE_SCAFFOLDER_ACTION,
                    "HAS_ACTION_ID",
                    json!({"actionId": "test:echo"}),
                ),
                _ => PolicyDecision::Deny,
            },
            _ => PolicyDecision::Deny,
        }
    });
    let actions = Feature::module_fn("scaffolder", "test-actions", |reg| {
        reg.init(&SCAFFOLDER_ACTIONS, |actions| async move {
            actions
                .get()?
                .add_actions([Arc::new(Echo) as Arc<dyn TemplateAction>, Arc::new(Wait)]);
            Ok(())
        })
    });
    let backend = TestBackend::builder()
        .config_yaml(support::file_locations_yaml())
        .config_yaml(format!(
            "catalog:\n  processingInterval: {{ minutes: 60 }}\n  rules:\n    - allow: [Template, Location]\n  locations:\n    - type: file\n      target: {}\n",
            file.display()
        ))
        .service(policy)
        .feature(Feature::plugin(CatalogPlugin::new()))
        .feature(Feature::plugin(ScaffolderPlugin::new()))
        .feature(actions)
        .start()
        .await
        .expect("backend starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    let jane = backend.client().as_user(JANE);
    while jane
        .get("/api/catalog/entities/by-name/template/default/perm-action")
        .await
        .unwrap()
        .status()
        != 200
    {
        assert!(Instant::now() < deadline, "templates never appeared");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    backend
}

async fn create(c: &TestClient, template: &str, values: Value) -> (u16, Value) {
    let res = c
        .post_json(
            "/api/scaffolder/v2/tasks",
            &json!({"templateRef": format!("template:default/{template}"), "values": values}),
        )
        .await
        .unwrap();
    (res.status(), res.json().unwrap_or(Value::Null))
}

async fn wait_final(c: &TestClient, id: &str) -> (Value, Vec<Value>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let task: Value = c
            .get(&format!("/api/scaffolder/v2/tasks/{id}"))
            .await
            .unwrap()
            .json()
            .unwrap();
        if ["completed", "failed", "cancelled"].contains(&task["status"].as_str().unwrap_or("")) {
            let events: Vec<Value> = c
                .get(&format!("/api/scaffolder/v2/tasks/{id}/events"))
                .await
                .unwrap()
                .json()
                .unwrap();
            return (task, events);
        }
        assert!(Instant::now() < deadline, "task never finished: {task}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn ran(events: &[Value], step: &str) -> bool {
    events.iter().any(|e| e["body"]["stepId"] == step)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scaffolder_permissions_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(dir.path()).await;
    let jane = b.client().as_user(JANE);
    let joe = b.client().as_user(JOE);
    let nobody = b.client().as_user(NOBODY);

    // parameter-schema: a parameter step joe may not read is gone; jane sees both.
    let schema: Value = joe
        .get("/api/scaffolder/v2/templates/default/template/perm/parameter-schema")
        .await
        .unwrap()
        .json()
        .unwrap();
    let titles: Vec<&str> = schema["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Public"]);
    let schema: Value = jane
        .get("/api/scaffolder/v2/templates/default/template/perm/parameter-schema")
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(schema["steps"].as_array().unwrap().len(), 2);

    // task.create
    let (status, body) = create(&nobody, "perm", json!({})).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["name"], "NotAllowedError");

    // jane must fill the secret step's parameters; joe never sees them.
    let (status, body) = create(&jane, "perm", json!({"a": "x"})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["errors"].is_array());
    let (status, body) = create(&joe, "perm", json!({"a": "x"})).await;
    assert_eq!(status, 201, "{body}");
    let joe_task = body["id"].as_str().unwrap().to_string();
    let (task, events) = wait_final(&joe, &joe_task).await;
    assert_eq!(task["status"], "completed");
    assert!(ran(&events, "pub"));
    assert!(!ran(&events, "sec"), "a step joe may not read is not run");
    assert_eq!(task["spec"]["steps"].as_array().unwrap().len(), 1);
    let (status, body) = create(&jane, "perm", json!({"a": "x", "b": "y"})).await;
    assert_eq!(status, 201);
    let jane_task = body["id"].as_str().unwrap().to_string();
    let (_, events) = wait_final(&jane, &jane_task).await;
    assert!(ran(&events, "pub") && ran(&events, "sec"));

    // action.execute: joe may run test:echo only.
    let (_, body) = create(&joe, "perm-action", json!({})).await;
    let id = body["id"].as_str().unwrap().to_string();
    let (task, events) = wait_final(&joe, &id).await;
    assert_eq!(task["status"], "failed");
    let completion = events.last().unwrap();
    assert!(
        completion["body"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Unauthorized action: test:wait"),
        "{completion}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["body"]["stepId"] == "echo" && e["body"]["status"] == "completed")
    );
    let (_, body) = create(&jane, "perm-action", json!({})).await;
    let jane_slow = body["id"].as_str().unwrap().to_string();

    // task.read: the creator always; others need the permission.
    assert_eq!(
        joe.get(&format!("/api/scaffolder/v2/tasks/{joe_task}"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        jane.get(&format!("/api/scaffolder/v2/tasks/{joe_task}"))
            .await
            .unwrap()
            .status(),
        200
    );
    let res = joe
        .get(&format!("/api/scaffolder/v2/tasks/{jane_task}"))
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(
        res.json::<Value>().unwrap()["error"]["name"],
        "NotAllowedError"
    );
    assert_eq!(
        joe.get(&format!("/api/scaffolder/v2/tasks/{jane_task}/events"))
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        joe.get(&format!("/api/scaffolder/v2/tasks/{jane_task}/eventstream"))
            .await
            .unwrap()
            .status(),
        403
    );
    let listed: Value = joe
        .get("/api/scaffolder/v2/tasks")
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        listed["totalTasks"], 2,
        "joe lists his own tasks only: {listed}"
    );
    assert!(
        listed["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["createdBy"] == JOE)
    );
    let listed: Value = joe
        .get(&format!("/api/scaffolder/v2/tasks?createdBy={JANE}"))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(listed["totalTasks"], 0);
    let listed: Value = jane
        .get("/api/scaffolder/v2/tasks")
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(listed["totalTasks"], 4);

    // task.cancel: joe may not, jane may.
    let res = joe
        .post(&format!("/api/scaffolder/v2/tasks/{joe_task}/cancel"))
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = jane
        .post(&format!("/api/scaffolder/v2/tasks/{jane_slow}/cancel"))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (task, _) = wait_final(&jane, &jane_slow).await;
    assert!(["cancelled", "completed"].contains(&task["status"].as_str().unwrap()));

    // Dry runs apply the same decisions.
    let template: Value = serde_yaml::from_str(templates().split("---\n").nth(2).unwrap()).unwrap();
    let res = joe
        .post_json(
            "/api/scaffolder/v2/dry-run",
            &json!({"template": template, "values": {}, "directoryContents": []}),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    let dry: Value = res.json().unwrap();
    let last = dry["log"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["body"]["status"], "failed", "{dry}");

    // The scaffolder's permissions and rules are registered.
    let meta = b
        .client()
        .as_service("plugin:permission")
        .get("/api/scaffolder/.well-known/backstage/permissions/metadata")
        .await
        .unwrap();
    assert_eq!(meta.status(), 200, "{}", meta.text());
    let meta: Value = meta.json().unwrap();
    let names: Vec<&str> = meta["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"scaffolder.task.create") && names.contains(&"scaffolder.action.execute")
    );
    let rules: Vec<&str> = meta["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(
        rules.contains(&"HAS_TAG") && rules.contains(&"HAS_ACTION_ID"),
        "{rules:?}"
    );
    b.stop().await.unwrap();
}
