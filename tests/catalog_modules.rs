#![allow(missing_docs)]
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The catalog modules of `examples/catalog_modules.rs` (an org chart entity provider that
//! re-reads its file from a scheduler task, and an on-call processor) on a real backend, over
//! HTTP. Runs once per database
//! backend (`sqlite::*`, `postgres::*`, `mysql::*`).

#[macro_use]
mod support;

#[path = "../examples/support/catalog_modules.rs"]
mod catalog_modules;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use backlot::backend::Feature;
use backlot::plugins::catalog::CatalogPlugin;
use backlot::services::scheduler::TaskFrequency;
use backlot::testing::{TestBackend, TestResponse};
use catalog_modules::{
    ON_CALL_ANNOTATION, ORG_CHART_TASK, RELATION_ON_CALL, RELATION_ON_CALL_FOR, on_call_module,
    org_chart_module,
};
use serde_json::Value;

fn database_yaml() -> String {
    support::database_yaml("mod")
}

/// A copy of the example's org chart in a temporary directory, to edit.
fn org_chart_copy(dir: &Path) -> PathBuf {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/org/people.yaml");
    let copy = dir.join("people.yaml");
    std::fs::copy(shipped, &copy).unwrap();
    copy
}

/// The catalog with both modules; the org chart is re-read only when the task is triggered.
async fn start(org: &Path) -> TestBackend {
    TestBackend::builder()
        .feature(Feature::plugin(CatalogPlugin::new()))
        .feature(org_chart_module(org.to_owned(), TaskFrequency::Manual))
        .feature(on_call_module())
        .config_yaml(database_yaml())
        .config_yaml("catalog:\n  processingInterval: { minutes: 60 }\n  locations: []\n")
        .start()
        .await
        .expect("backend starts")
}

async fn get(b: &TestBackend, path: &str) -> TestResponse {
    b.client()
        .get(&format!("/api/catalog{path}"))
        .await
        .unwrap()
}

async fn entity(b: &TestBackend, kind: &str, name: &str) -> Value {
    let res = get(b, &format!("/entities/by-name/{kind}/default/{name}")).await;
    assert_eq!(res.status(), 200, "{kind} {name}: {}", res.text());
    res.json().unwrap()
}

async fn names(b: &TestBackend, kind: &str) -> Vec<String> {
    let list: Value = get(b, &format!("/entities?filter=kind={kind}"))
        .await
        .json()
        .unwrap();
    let mut names: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

fn has_relation(e: &Value, t: &str, target: &str) -> bool {
    e["relations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["type"] == t && r["targetRef"] == target)
}

fn relation_targets(e: &Value, t: &str) -> Vec<String> {
    let mut targets: Vec<String> = e["relations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["type"] == t)
        .map(|r| r["targetRef"].as_str().unwrap().to_owned())
        .collect();
    targets.sort();
    targets
}

/// The error messages in an entity's `status.items`.
fn status_errors(e: &Value) -> Vec<String> {
    e["status"]["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter(|i| i["level"] == "error")
                .map(|i| i["error"]["message"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn trigger(b: &TestBackend) {
    let path = format!("/api/catalog/.backstage/scheduler/v1/tasks/{ORG_CHART_TASK}/trigger");
    let client = b.client();
    let res = client
        .execute(client.request(reqwest::Method::POST, &path))
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
}

async fn task_state(b: &TestBackend) -> Value {
    let res = get(
        b,
        &format!("/.backstage/scheduler/v1/tasks/{ORG_CHART_TASK}"),
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text());
    res.json::<Value>().unwrap()["taskState"].clone()
}

/// Polls `check` until it holds, for at most 15 seconds.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn the_provider_turns_the_org_chart_into_groups_and_users_related_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let org = org_chart_copy(dir.path());
    let b = start(&org).await;

    assert_eq!(
        names(&b, "group").await,
        ["console", "design", "engineering", "firmware", "lumen"]
    );
    assert_eq!(names(&b, "user").await, ["ada", "grace", "linus", "mei"]);

    // memberOf on the user, hasMember on the group.
    let linus = entity(&b, "user", "linus").await;
    assert_eq!(
        relation_targets(&linus, "memberOf"),
        ["group:default/console", "group:default/firmware"]
    );
    assert_eq!(linus["spec"]["profile"]["displayName"], "Linus Berg");
    let firmware = entity(&b, "group", "firmware").await;
    assert_eq!(
        relation_targets(&firmware, "hasMember"),
        ["user:default/grace", "user:default/linus"]
    );
    // Parents in the file become spec.parent and spec.children, childOf and parentOf.
    assert_eq!(firmware["spec"]["parent"], "engineering");
    assert!(has_relation(
        &firmware,
        "childOf",
        "group:default/engineering"
    ));
    let engineering = entity(&b, "group", "engineering").await;
    assert_eq!(
        relation_targets(&engineering, "parentOf"),
        ["group:default/console", "group:default/firmware"]
    );
    let mut children: Vec<&str> = engineering["spec"]["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    children.sort();
    assert_eq!(children, ["console", "firmware"]);
    assert_eq!(
        firmware["metadata"]["annotations"]["backstage.io/managed-by-location"],
        format!("file:{}", org.display())
    );
    b.stop().await.unwrap();
}

async fn the_processor_relates_on_call_users_and_reports_bad_values_in_status_items() {
    let dir = tempfile::tempdir().unwrap();
    let org = org_chart_copy(dir.path());
    let b = start(&org).await;

    // `user:grace` on firmware: the relation both ways, no error.
    let firmware = entity(&b, "group", "firmware").await;
    assert_eq!(
        firmware["metadata"]["annotations"][ON_CALL_ANNOTATION],
        "user:grace"
    );
    assert_eq!(
        relation_targets(&firmware, RELATION_ON_CALL),
        ["user:default/grace"]
    );
    assert!(status_errors(&firmware).is_empty(), "{firmware}");
    let grace = entity(&b, "user", "grace").await;
    assert_eq!(
        relation_targets(&grace, RELATION_ON_CALL_FOR),
        ["group:default/firmware"]
    );
    // A bare name means a user.
    let console = entity(&b, "group", "console").await;
    assert!(has_relation(
        &console,
        RELATION_ON_CALL,
        "user:default/linus"
    ));

    // `group:console` on design: an error in status.items, no relation, the entity is kept.
    let design = entity(&b, "group", "design").await;
    let errors = status_errors(&design);
    assert_eq!(errors.len(), 1, "{design}");
    assert!(
        errors[0].contains(ON_CALL_ANNOTATION) && errors[0].contains("not a User"),
        "{errors:?}"
    );
    assert!(relation_targets(&design, RELATION_ON_CALL).is_empty());
    assert!(has_relation(&design, "hasMember", "user:default/mei"));

    // Entities without the annotation are left alone.
    let lumen = entity(&b, "group", "lumen").await;
    assert!(relation_targets(&lumen, RELATION_ON_CALL).is_empty());
    assert!(status_errors(&lumen).is_empty(), "{lumen}");
    b.stop().await.unwrap();
}

/// The example's org chart after an edit: grace left, zoe joined design, design's on-call is
/// fixed and console's broken.
const EDITED: &str = "\
groups:
  - name: lumen
    type: organization
  - name: engineering
    type: department
    parent: lumen
    onCall: ada
  - name: firmware
    type: team
    parent: engineering
    onCall: linus
  - name: console
    type: team
    parent: engineering
    onCall: Linus Berg
  - name: design
    type: team
    parent: lumen
    onCall: user:default/zoe
users:
  - name: ada
    memberOf: [engineering]
  - name: linus
    memberOf: [console, firmware]
  - name: mei
    memberOf: [design]
  - name: zoe
    displayName: Zoe Brandt
    memberOf: [design]
";

async fn editing_the_org_chart_and_triggering_the_task_adds_and_removes_entities() {
    let dir = tempfile::tempdir().unwrap();
    let org = org_chart_copy(dir.path());
    let b = start(&org).await;
    assert_eq!(
        get(&b, "/entities/by-name/user/default/zoe").await.status(),
        404
    );

    // The task is manual: an edit alone changes nothing.
    std::fs::write(&org, EDITED).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(names(&b, "user").await, ["ada", "grace", "linus", "mei"]);

    trigger(&b).await;
    eventually("zoe is added and grace removed", || async {
        names(&b, "user").await == ["ada", "linus", "mei", "zoe"]
    })
    .await;
    assert_eq!(
        get(&b, "/entities/by-name/user/default/grace")
            .await
            .status(),
        404
    );
    let zoe = entity(&b, "user", "zoe").await;
    assert!(has_relation(&zoe, "memberOf", "group:default/design"));
    assert!(has_relation(
        &zoe,
        RELATION_ON_CALL_FOR,
        "group:default/design"
    ));
    eventually("the groups' relations follow", || async {
        let design = entity(&b, "group", "design").await;
        let firmware = entity(&b, "group", "firmware").await;
        relation_targets(&design, "hasMember") == ["user:default/mei", "user:default/zoe"]
            && relation_targets(&firmware, "hasMember") == ["user:default/linus"]
    })
    .await;

    // design's on-call is fixed: its error is gone and the relation is there.
    let design = entity(&b, "group", "design").await;
    assert!(status_errors(&design).is_empty(), "{design}");
    assert_eq!(
        relation_targets(&design, RELATION_ON_CALL),
        ["user:default/zoe"]
    );
    let firmware = entity(&b, "group", "firmware").await;
    assert_eq!(
        relation_targets(&firmware, RELATION_ON_CALL),
        ["user:default/linus"]
    );
    // console's is now a name with a space: an error, and no relation.
    let console = entity(&b, "group", "console").await;
    let errors = status_errors(&console);
    assert_eq!(errors.len(), 1, "{console}");
    assert!(errors[0].contains("\"Linus Berg\""), "{errors:?}");
    assert!(relation_targets(&console, RELATION_ON_CALL).is_empty());
    b.stop().await.unwrap();
}

async fn a_broken_org_chart_keeps_the_catalog_and_fails_the_task_run() {
    let dir = tempfile::tempdir().unwrap();
    let org = org_chart_copy(dir.path());
    let b = start(&org).await;
    let before = names(&b, "user").await;
    assert!(task_state(&b).await.get("lastRunError").is_none());

    std::fs::write(
        &org,
        "groups:\n  - name: lumen\n    type: organization\nusers:\n  - name: ada\n    memberOf: [nowhere]\n",
    )
    .unwrap();
    trigger(&b).await;
    eventually("the run records its error", || async {
        task_state(&b).await.get("lastRunError").is_some()
    })
    .await;
    let state = task_state(&b).await;
    // Backstage's shape: the error as a JSON string.
    let error: Value = serde_json::from_str(state["lastRunError"].as_str().unwrap()).unwrap();
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("users[0].memberOf[0]: no group named \"nowhere\""),
        "{state}"
    );
    // Nothing was removed.
    assert_eq!(names(&b, "user").await, before);
    assert_eq!(names(&b, "group").await.len(), 5);
    b.stop().await.unwrap();
}

per_database_backend!(
    the_provider_turns_the_org_chart_into_groups_and_users_related_both_ways,
    the_processor_relates_on_call_users_and_reports_bad_values_in_status_items,
    editing_the_org_chart_and_triggering_the_task_adds_and_removes_entities,
    a_broken_org_chart_keeps_the_catalog_and_fails_the_task_run,
);
