//! A follower's catch-up cost for a one-entity change written by another process, at
//! catalogs of 10,000 and 100,000 entities: through the change log (now) and by comparing
//! every stored row (before the change log; still the fallback when the log was pruned).
//!
//! One backend with the catalog plugin is the follower (SQLite file in a temp dir; its sync
//! task runs only when triggered). The bench is the other writer: it writes `final_entities`
//! rows, bumps `catalog_generation` and records the change log exactly as the stitcher does,
//! through the follower's own database handle. Each sample changes one entity, triggers the
//! follower's sync task and waits until `GET /api/catalog/entities/by-uid/<uid>` serves the
//! new version; for the full comparison the log's horizon is first raised past the change.
//! Prints a markdown table of medians and the rows each sync read (`/api/catalog/status`).
//!
//! Env: `CATALOG_SYNC_SIZES` (default `10000,100000`), `CATALOG_SYNC_SAMPLES` (default 15).
//! Run: `cargo bench --all-features --bench catalog_sync`.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::time::{Duration, Instant};

use backlot::backend::Feature;
use backlot::plugins::catalog::CatalogPlugin;
use backlot::services::database::{DbValue, PluginDatabase, Sql};
use backlot::testing::TestBackend;
use serde_json::{Value, json};

const SYNC_TASK: &str = "catalog-index-sync";

fn entity_json(i: usize, version: usize) -> String {
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {
            "name": format!("c{i}"),
            "namespace": "default",
            "uid": format!("uid-{i}"),
            "description": format!("component {i}, version {version}"),
            "tags": ["java", format!("team-{}", i % 50)],
        },
        "spec": { "type": "service", "lifecycle": "production", "owner": format!("group-{}", i % 50) },
        "relations": [],
    })
    .to_string()
}

async fn fill(db: &PluginDatabase, n: usize) {
    let mut tx = db.begin().await.unwrap();
    for start in (0..n).step_by(1000) {
        let end = (start + 1000).min(n);
        let mut sql = Sql::new(
            "INSERT INTO final_entities (entity_id, entity_ref, hash, final_entity) VALUES ",
        );
        for i in start..end {
            if i > start {
                sql.push(", ");
            }
            sql.push("(")
                .push_bind(format!("uid-{i}"))
                .push(", ")
                .push_bind(format!("component:default/c{i}"))
                .push(", ")
                .push_bind(format!("h{i}-0"))
                .push(", ")
                .push_bind(entity_json(i, 0))
                .push(")");
        }
        sql.execute(&mut tx).await.unwrap();
    }
    tx.commit().await.unwrap();
}

/// Writes version `version` of entity `i` as another process's stitcher would; with
/// `prune`, raises the log's horizon past it (a follower that fell behind the pruned log).
async fn write_change(db: &PluginDatabase, i: usize, version: usize, prune: bool) {
    let mut tx = db.begin().await.unwrap();
    Sql::new("UPDATE final_entities SET hash = ?, final_entity = ? WHERE entity_id = ?")
        .bind(format!("h{i}-{version}"))
        .bind(entity_json(i, version))
        .bind(format!("uid-{i}"))
        .execute(&mut tx)
        .await
        .unwrap();
    Sql::new("UPDATE catalog_generation SET generation = generation + 1 WHERE id = 1")
        .execute(&mut tx)
        .await
        .unwrap();
    let (generation,): (i64,) = Sql::new("SELECT generation FROM catalog_generation WHERE id = 1")
        .fetch_one(&mut tx)
        .await
        .unwrap();
    Sql::new("INSERT INTO catalog_changes (generation, entity_id, created_at) VALUES (?, ?, ?)")
        .bind(generation)
        .bind(format!("uid-{i}"))
        .bind(DbValue::Int(Some(chrono::Utc::now().timestamp_millis())))
        .execute(&mut tx)
        .await
        .unwrap();
    if prune {
        Sql::new("UPDATE catalog_generation SET generation = ? WHERE id = 2")
            .bind(generation)
            .execute(&mut tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

async fn status(b: &TestBackend) -> Value {
    b.client()
        .get("/api/catalog/status")
        .await
        .unwrap()
        .json()
        .unwrap()
}

/// Changes one entity, triggers the sync and waits until the new version is served.
async fn sample(
    b: &TestBackend,
    db: &PluginDatabase,
    i: usize,
    version: usize,
    full: bool,
) -> Duration {
    write_change(db, i, version, full).await;
    let want = format!("version {version}\"");
    let path = format!("/api/catalog/entities/by-uid/uid-{i}");
    let started = Instant::now();
    trigger(b).await;
    loop {
        let res = b.client().get(&path).await.unwrap();
        if res.status() == 200 && res.text().contains(&want) {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

/// Triggers the sync task; a trigger while the previous run is still finishing is refused,
/// so it is retried.
async fn trigger(b: &TestBackend) {
    for _ in 0..1000 {
        if b.trigger_task("catalog", SYNC_TASK).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    panic!("the sync task could not be triggered");
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn measure(n: usize, samples: usize) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let b = TestBackend::builder()
        .config_yaml(format!(
            "backend:\n  database:\n    client: better-sqlite3\n    connection:\n      directory: '{}'\ncatalog:\n  sync:\n    interval: {{ hours: 1 }}\n",
            dir.path().display()
        ))
        .feature(Feature::plugin(CatalogPlugin::new()))
        .start()
        .await
        .unwrap();
    let db = b.database("catalog").await.unwrap();
    fill(&db, n).await;
    // The first catch-up loads everything (the horizon is raised so that it compares rows).
    write_change(&db, 0, 1, true).await;
    trigger(&b).await;
    while status(&b).await["entities"].as_u64() != Some(n as u64) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut rows = Vec::new();
    for (mode, full) in [("change log", false), ("full comparison", true)] {
        let mut times = Vec::new();
        let mut read = 0;
        for s in 0..samples {
            let before = status(&b).await["index"]["rowsRead"].as_u64().unwrap();
            times.push(
                sample(
                    &b,
                    &db,
                    1 + s * 7 % (n - 1),
                    2 + s + usize::from(full) * 1000,
                    full,
                )
                .await,
            );
            read = status(&b).await["index"]["rowsRead"].as_u64().unwrap() - before;
        }
        let m = median(times);
        rows.push(format!(
            "| {n} | {mode} | {:.2} ms | {read} |",
            m.as_secs_f64() * 1000.0
        ));
    }
    b.stop().await.unwrap();
    rows
}

fn main() {
    let sizes: Vec<usize> = std::env::var("CATALOG_SYNC_SIZES")
        .unwrap_or_else(|_| "10000,100000".into())
        .split(',')
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let samples: usize = std::env::var("CATALOG_SYNC_SAMPLES")
        .ok()
        .map_or(15, |s| s.parse().unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("| entities | catch-up | median (trigger to served) | rows read |");
    println!("|---|---|---|---|");
    for n in sizes {
        for row in rt.block_on(measure(n, samples)) {
            println!("{row}");
        }
    }
}
