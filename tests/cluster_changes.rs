//! Two backends sharing one PostgreSQL database keep their catalog indexes in step through the
//! change log: a write or a deletion on one is readable on the other, the follower reads rows
//! in proportion to the change (its `GET /api/catalog/status` counters), and when the log was
//! pruned past the follower's generation it falls back to comparing every entity.
//! The PostgreSQL tests need `BACKLOT_TEST_POSTGRES_URL` (skipped with a message otherwise);
//! the same write-and-delete test also runs on two backends sharing one SQLite directory.
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use backlot::backend::BackendError;
use backlot::backend::Feature;
use backlot::plugins::catalog::CatalogPlugin;
use backlot::plugins::catalog::backend::generate::synthetic_catalog_yaml;
use backlot::services::scheduler::{SchedulerError, TaskState};
use backlot::testing::TestBackend;
use serde_json::{Value, json};

const SYNC_TASK: &str = "catalog-index-sync";
const PRUNE_TASK: &str = "catalog-change-log-prune";
/// Longest wait for anything to happen (a bound, not a performance claim).
const PATIENCE: Duration = Duration::from_secs(30);

async fn replica(database_yaml: &str, base: &Path, extra: &str) -> TestBackend {
    TestBackend::builder()
        .config_yaml(database_yaml)
        .config_yaml(support::file_locations_yaml())
        .config_yaml(format!(
            "catalog:\n  processingInterval: {{ hours: 1 }}\n  rules:\n    - allow: [Component, API, Location, Group, User, System, Domain, Resource]\n  locations:\n    - type: file\n      target: '{}'\n{extra}",
            base.display()
        ))
        .feature(Feature::plugin(CatalogPlugin::new()))
        .start()
        .await
        .expect("backend starts")
}

async fn status(b: &TestBackend) -> Value {
    let res = b.client().get("/api/catalog/status").await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    res.json().unwrap()
}

async fn entity_status(b: &TestBackend, name: &str) -> u16 {
    b.client()
        .get(&format!(
            "/api/catalog/entities/by-name/component/default/{name}"
        ))
        .await
        .unwrap()
        .status()
}

/// Polls until `name` answers `want` on `b`.
/// Waits until `b`'s index holds `want` entities; returns its status then.
async fn wait_for_count(b: &TestBackend, want: u64) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let now = status(b).await;
        if now["entities"].as_u64() == Some(want) {
            return now;
        }
        assert!(Instant::now() < deadline, "never {want} entities: {now}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_for_entity(b: &TestBackend, name: &str, want: u16) {
    let deadline = Instant::now() + PATIENCE;
    while entity_status(b, name).await != want {
        assert!(
            Instant::now() < deadline,
            "component {name} never answered {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn write_extra(dir: &Path, names: &[&str]) -> std::path::PathBuf {
    let path = dir.join("extra.yaml");
    let docs: String = names
        .iter()
        .map(|n| {
            format!(
                "---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {n}\nspec:\n  type: service\n  lifecycle: production\n  owner: group-0\n"
            )
        })
        .collect();
    std::fs::write(&path, docs).unwrap();
    path
}

async fn register(b: &TestBackend, target: &Path) -> String {
    let res = b
        .client()
        .post_json(
            "/api/catalog/locations",
            &json!({ "type": "file", "target": target.display().to_string() }),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text());
    let body: Value = res.json().unwrap();
    body["location"]["id"].as_str().unwrap().to_owned()
}

/// Triggers the catalog's `task` on `b`. A run of it already in progress (a global task runs
/// on whichever replica claims it, the first time at start) makes a trigger answer `Conflict`,
/// like Backstage's 409: wait for that run to end, then trigger.
async fn trigger_when_idle(b: &TestBackend, task: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match b.trigger_task("catalog", task).await {
            Ok(()) => return,
            Err(BackendError::Service { source, .. })
                if matches!(
                    source.downcast_ref::<SchedulerError>(),
                    Some(SchedulerError::Conflict { .. })
                ) && Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("cannot trigger {task}: {e:?}"),
        }
    }
}

fn counter(s: &Value, key: &str) -> u64 {
    s["index"][key].as_u64().unwrap()
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_and_deletions_reach_the_other_replica_reading_only_the_change() {
    let Some(database_yaml) = support::postgres_database_yaml("chglog") else {
        eprintln!("skipped: BACKLOT_TEST_POSTGRES_URL not set");
        return;
    };
    write_and_delete_on_one_replica_read_on_the_other(&database_yaml).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_backends_on_one_sqlite_directory_share_changes_through_the_log() {
    let db_dir = tempfile::tempdir().unwrap();
    let database_yaml = format!(
        "backend:\n  database:\n    client: better-sqlite3\n    connection:\n      directory: '{}'\n",
        db_dir.path().display()
    );
    write_and_delete_on_one_replica_read_on_the_other(&database_yaml).await;
}

async fn write_and_delete_on_one_replica_read_on_the_other(database_yaml: &str) {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.yaml");
    std::fs::write(&base, synthetic_catalog_yaml(400)).unwrap();
    let a = replica(database_yaml, &base, "").await;
    let b = replica(database_yaml, &base, "").await;
    let size = status(&a).await["entities"].as_u64().unwrap();
    assert!(size > 400, "the catalog holds {size} entities");
    assert_eq!(status(&b).await["entities"].as_u64(), Some(size));

    // A write on A: a new location with two components.
    let before = status(&b).await;
    let extra = write_extra(dir.path(), &["added-one", "added-two"]);
    let id = register(&a, &extra).await;
    wait_for_entity(&b, "added-one", 200).await;
    wait_for_entity(&b, "added-two", 200).await;
    let after = status(&b).await;
    assert_eq!(after["entities"].as_u64(), Some(size + 3), "{after}");
    assert_eq!(counter(&after, "full"), counter(&before, "full"), "{after}");
    assert!(counter(&after, "incremental") > counter(&before, "incremental"));
    // Three entities changed (a Location and two Components; the Group they name gains
    // relations): each costs a log row and an entity row, against 400+ entities in all.
    let read = counter(&after, "rowsRead") - counter(&before, "rowsRead");
    eprintln!("write: the follower read {read} rows; catalog of {size}");
    assert!(
        (3..=24).contains(&read),
        "the follower read {read} rows for a change of 3 entities in {size}"
    );

    // A deletion on A: the location goes, and its entities with it.
    let before = after;
    let res = b
        .client()
        .get(&format!("/api/catalog/locations/{id}"))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = a
        .client()
        .delete(&format!("/api/catalog/locations/{id}"))
        .await
        .unwrap();
    assert_eq!(res.status(), 204, "{}", res.text());
    wait_for_entity(&b, "added-one", 404).await;
    wait_for_entity(&b, "added-two", 404).await;
    // B drains the shared stitch queue on its own ticks too: when it takes the chunk that
    // deletes the components, it learns of the location's deletion (A's earlier chunk) only
    // at its next sync, so the count is waited for rather than read at once.
    let after = wait_for_count(&b, size).await;
    assert_eq!(counter(&after, "full"), counter(&before, "full"), "{after}");
    let read = counter(&after, "rowsRead") - counter(&before, "rowsRead");
    eprintln!("deletion: the follower read {read} rows; catalog of {size}");
    assert!(
        (3..=24).contains(&read),
        "the follower read {read} rows for a deletion of 3 entities in {size}"
    );

    b.stop().await.unwrap();
    a.stop().await.unwrap();
}

/// Waits until the local sync task of `b` has finished a run.
async fn wait_for_first_sync(b: &TestBackend) {
    let scheduler = b.scheduler("catalog").await.unwrap();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let info = scheduler.task_info(SYNC_TASK).await.unwrap();
        if let Some(TaskState::Idle {
            last_run_ended_at: Some(_),
            ..
        }) = info.task_state
        {
            return;
        }
        assert!(Instant::now() < deadline, "the sync task never ran");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_follower_behind_the_pruned_log_compares_every_entity() {
    let Some(database_yaml) = support::postgres_database_yaml("chgprune") else {
        eprintln!("skipped: BACKLOT_TEST_POSTGRES_URL not set");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.yaml");
    std::fs::write(&base, synthetic_catalog_yaml(100)).unwrap();
    // Pruning keeps no rows, and runs when triggered; B syncs at start, then when triggered.
    let prune = "  changeLog:\n    maxRows: 0\n    pruneInterval: { hours: 1 }\n";
    let a = replica(&database_yaml, &base, prune).await;
    let b = replica(
        &database_yaml,
        &base,
        &format!("{prune}  sync:\n    interval: {{ hours: 1 }}\n"),
    )
    .await;
    wait_for_first_sync(&b).await;
    let before = status(&b).await;

    let extra = write_extra(dir.path(), &["after-prune"]);
    register(&a, &extra).await;
    assert_eq!(entity_status(&a, "after-prune").await, 200);
    trigger_when_idle(&a, PRUNE_TASK).await;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let s = status(&a).await;
        if s["changeLog"]["horizon"] == s["changeLog"]["generation"] {
            break;
        }
        assert!(Instant::now() < deadline, "the log was never pruned: {s}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // B has not synced since: it does not know the entity yet.
    assert_eq!(entity_status(&b, "after-prune").await, 404);

    trigger_when_idle(&b, SYNC_TASK).await;
    wait_for_entity(&b, "after-prune", 200).await;
    let after = status(&b).await;
    assert_eq!(
        counter(&after, "full"),
        counter(&before, "full") + 1,
        "{after}"
    );
    assert_eq!(
        counter(&after, "incremental"),
        counter(&before, "incremental")
    );
    assert_eq!(after["entities"], status(&a).await["entities"]);

    b.stop().await.unwrap();
    a.stop().await.unwrap();
}
