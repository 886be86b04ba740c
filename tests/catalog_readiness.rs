//! The first ingestion of a large catalog: liveness answers 200 at once, readiness answers
//! 503 with the catalog's ingestion progress (`details.catalog.progress`) moving, then 200
//! without details once the catalog is loaded.
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use backlot::backend::{Backend, Feature};
use backlot::plugins::catalog::CatalogPlugin;
use backlot::plugins::catalog::backend::generate::synthetic_catalog_yaml;
use serde_json::Value;

/// Longest wait for the backend to come up and finish ingesting (a bound, not a claim).
const PATIENCE: Duration = Duration::from_secs(600);

fn free_addr() -> SocketAddr {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    l.local_addr().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn liveness_answers_at_once_and_readiness_reports_ingestion_progress() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.yaml");
    std::fs::write(&catalog, synthetic_catalog_yaml(5000)).unwrap();
    let addr = free_addr();
    let config = format!(
        "backend:\n  database:\n    client: better-sqlite3\n    connection:\n      directory: '{}'\ncatalog:\n  processingInterval: {{ hours: 1 }}\n  progress:\n    interval: {{ milliseconds: 100 }}\n  rules:\n    - allow: [Component, API, Location, Group, User, System, Domain, Resource]\n  locations:\n    - type: file\n      target: '{}'\n",
        dir.path().join("db").display(),
        catalog.display()
    );
    let starting = tokio::spawn(
        Backend::builder()
            .listen_addr(addr)
            .config_yaml(config)
            .add_feature(Feature::plugin(CatalogPlugin::new()))
            .start(),
    );
    let http = reqwest::Client::new();
    let base = format!("http://{addr}/.backstage/health/v1");
    let deadline = Instant::now() + PATIENCE;

    // Liveness answers as soon as the listener is bound, while the catalog ingests.
    loop {
        if let Ok(res) = http.get(format!("{base}/liveness")).send().await {
            assert_eq!(res.status(), 200);
            break;
        }
        assert!(Instant::now() < deadline, "liveness never answered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let res = http.get(format!("{base}/readiness")).send().await.unwrap();
    assert_eq!(res.status(), 503, "ready before the catalog was ingested");

    // Readiness carries the progress until the catalog is loaded.
    let mut seen = BTreeSet::new();
    let mut samples = Vec::new();
    loop {
        let live = http.get(format!("{base}/liveness")).send().await.unwrap();
        assert_eq!(live.status(), 200);
        let res = http.get(format!("{base}/readiness")).send().await.unwrap();
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap();
        if status == 200 {
            assert_eq!(body, serde_json::json!({ "status": "ok" }));
            break;
        }
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["status"], "error", "{body}");
        // Before the catalog plugin starts there is no report yet.
        if let Some(p) = body["details"]["catalog"].get("progress") {
            let figures = ["known", "processed", "stitched", "pending"]
                .map(|k| p[k].as_i64().unwrap_or_else(|| panic!("{k} in {p}")));
            assert!(figures[1] <= figures[0], "processed above known: {p}");
            seen.insert(figures);
            samples.push(p.clone());
        }
        assert!(Instant::now() < deadline, "never ready: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(seen.len() >= 2, "the progress never moved: {samples:?}");
    let handle = starting.await.unwrap().expect("backend starts");
    handle.stop().await.unwrap();
}
