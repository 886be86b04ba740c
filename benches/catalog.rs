//! Catalog benchmarks: ingestion of a synthetic catalog (10,000 and 100,000 entities) into
//! SQLite, by-name lookups, by-query pages and facets, through the HTTP API and the typed
//! `CatalogClient` (the default of the `CATALOG` service ref other plugins read through).
//!
//! Run with `cargo bench --features testing --bench catalog`; set `BACKLOT_BENCH_100K=1` to
//! include the 100,000-entity ingestion.

use std::path::Path;
use std::time::{Duration, Instant};

use backlot::backend::Feature;
use backlot::plugins::catalog::CatalogPlugin;
use backlot::plugins::catalog::backend::generate::synthetic_catalog_yaml;
use backlot::plugins::catalog::common::{
    CatalogClient, EntityFilter, EntityRef, QueryEntitiesRequest,
};
use backlot::testing::{DEFAULT_MOCK_USER, TestBackend, mock_credentials};
use criterion::{Criterion, criterion_group, criterion_main};

fn config(catalog_file: &Path, db_dir: &Path) -> String {
    format!(
        "backend:\n  database:\n    client: better-sqlite3\n    connection:\n      directory: {}\n  \
         reading:\n    maxSize: 256MiB\n\
         catalog:\n  processingInterval: {{ hours: 1 }}\n  rules:\n    - allow: [Component, API, Location, Group, User, System, Domain, Resource]\n  locations:\n    - type: file\n      target: {}\n",
        db_dir.display(),
        catalog_file.display()
    )
}

/// Starts a backend on a fresh database; returns when the catalog is ingested.
async fn ingest(catalog_file: &Path) -> (TestBackend, CatalogClient, tempfile::TempDir) {
    let db_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let backend = TestBackend::builder()
        .feature(Feature::plugin(CatalogPlugin::new()))
        .config_yaml(config(catalog_file, db_dir.path()))
        .start()
        .await
        .unwrap_or_else(|e| panic!("backend start: {e}"));
    let client = CatalogClient::new(backend.url("/api/catalog"))
        .with_token(&mock_credentials::user_token(DEFAULT_MOCK_USER));
    (backend, client, db_dir)
}

/// How many entities the catalog serves (`totalItems` of a one-entity page).
async fn entity_count(client: &CatalogClient) -> usize {
    let request = QueryEntitiesRequest {
        limit: Some(1),
        ..QueryEntitiesRequest::default()
    };
    client
        .query_entities(&request)
        .await
        .unwrap_or_else(|e| panic!("count: {e}"))
        .total_items
}

fn bench_ingestion(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("runtime: {e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let mut group = c.benchmark_group("catalog_ingest");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    // 100,000 entities take a while; opt in with BACKLOT_BENCH_100K=1.
    let sizes: &[usize] = if std::env::var_os("BACKLOT_BENCH_100K").is_some() {
        &[10_000, 100_000]
    } else {
        &[10_000]
    };
    for &n in sizes {
        let file = dir.path().join(format!("catalog-{n}.yaml"));
        std::fs::write(&file, synthetic_catalog_yaml(n)).unwrap_or_else(|e| panic!("write: {e}"));
        if n == 100_000 {
            group.sample_size(10);
            group.measurement_time(Duration::from_secs(120));
        }
        group.bench_function(format!("ingest_{n}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let (backend, client, _db) = rt.block_on(ingest(&file));
                    total += start.elapsed();
                    let count = rt.block_on(entity_count(&client));
                    assert_eq!(count, n + 1, "every entity plus the config Location");
                    rt.block_on(backend.stop())
                        .unwrap_or_else(|e| panic!("stop: {e}"));
                }
                total
            });
        });
    }
    group.finish();
}

fn bench_queries(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("runtime: {e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let file = dir.path().join("catalog.yaml");
    std::fs::write(&file, synthetic_catalog_yaml(10_000)).unwrap_or_else(|e| panic!("write: {e}"));
    let (backend, client, _db) = rt.block_on(ingest(&file));
    let mut group = c.benchmark_group("catalog_query_10k");
    let mut i = 0usize;
    group.bench_function("by_name_client", |b| {
        b.iter(|| {
            i = (i + 7919) % 5000;
            let entity_ref = EntityRef::new("Component", "default", format!("component-{i}"));
            let found = rt
                .block_on(client.get_entity_by_ref(&entity_ref))
                .unwrap_or_else(|e| panic!("by name: {e}"));
            assert!(found.is_some());
        });
    });
    group.bench_function("by_name_http", |b| {
        b.iter(|| {
            i = (i + 7919) % 5000;
            let res = rt
                .block_on(backend.client().get(&format!(
                    "/api/catalog/entities/by-name/component/default/component-{i}"
                )))
                .unwrap_or_else(|e| panic!("http: {e}"));
            assert_eq!(res.status(), 200);
        });
    });
    group.bench_function("by_query_page_http", |b| {
        b.iter(|| {
            let res = rt
                .block_on(backend.client().get(
                    "/api/catalog/entities/by-query?filter=kind=component,spec.type=service&limit=20&orderField=metadata.name,asc",
                ))
                .unwrap_or_else(|e| panic!("http: {e}"));
            assert_eq!(res.status(), 200);
        });
    });
    group.bench_function("filter_relations_client", |b| {
        let request = QueryEntitiesRequest {
            filter: vec![
                EntityFilter::new()
                    .with("kind", "component")
                    .with("relations.ownedBy", "group:default/group-3"),
            ],
            limit: Some(50),
            ..QueryEntitiesRequest::default()
        };
        b.iter(|| {
            let found = rt
                .block_on(client.query_entities(&request))
                .unwrap_or_else(|e| panic!("filter: {e}"));
            assert!(!found.items.is_empty());
        });
    });
    group.bench_function("facets_kind_client", |b| {
        b.iter(|| {
            let facets = rt
                .block_on(client.get_entity_facets(&["kind".into()], &[]))
                .unwrap_or_else(|e| panic!("facets: {e}"));
            assert_eq!(facets.get("kind").map(Vec::len), Some(8));
        });
    });
    group.bench_function("facets_tags_filtered_client", |b| {
        let filter = [EntityFilter::new().with("kind", "component")];
        b.iter(|| {
            let facets = rt
                .block_on(client.get_entity_facets(&["metadata.tags".into()], &filter))
                .unwrap_or_else(|e| panic!("facets: {e}"));
            assert!(facets.get("metadata.tags").is_some_and(|v| !v.is_empty()));
        });
    });
    group.finish();
    rt.block_on(backend.stop())
        .unwrap_or_else(|e| panic!("stop: {e}"));
}

criterion_group!(benches, bench_ingestion, bench_queries);
criterion_main!(benches);
