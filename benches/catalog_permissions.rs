//! What permissions cost the catalog: `by-query` and `by-name` over HTTP on a synthetic catalog,
//! with the read permission allowed outright ("off": the answer of a disabled permission
//! framework) and with a conditional `catalog.entity.read` decision the catalog turns into a
//! filter of its index ("owner or API": `anyOf[IS_ENTITY_OWNER{claims: [user-0, group-0]},
//! IS_ENTITY_KIND{kinds: [API]}]`).
//!
//! ```sh
//! cargo bench --features testing --bench catalog_permissions                  # N=100,000
//! CATALOG_PERMISSIONS_N=10000 cargo bench --features testing --bench catalog_permissions
//! ```
//!
//! One backend (SQLite file, catalog from `synthetic_catalog_yaml(N)`) serves every case; its
//! `PERMISSIONS` service answers the decision the case sets, with no work of its own, so the
//! figures are the catalog's: parsing, the index query with or without the permission
//! filter, and the HTTP round trip on 127.0.0.1 with a keep-alive connection.
//!
//! Cases (each `off` and `owner_or_api`):
//! - `by_query_component_service`: `filter=kind=component,spec.type=service&limit=100`
//!   (under the condition, only the few components group-0 owns remain);
//! - `by_query_api_openapi`: `filter=kind=api,spec.type=openapi&limit=100` (every match is
//!   allowed by the kind rule: the filter is evaluated over a large allowed set);
//! - `by_name`: entities the condition allows (owned by group-0, or APIs), in turn.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use backlot::backend::{Feature, ServiceFactory};
use backlot::plugins::catalog::CatalogPlugin;
use backlot::plugins::catalog::backend::generate::synthetic_catalog_yaml;
use backlot::plugins::catalog::common::permissions::conditions::{
    decision, is_entity_kind, is_entity_owner,
};
use backlot::services::auth::Credentials;
use backlot::services::permissions::{
    AuthorizeDecision, AuthorizePermissionRequest, AuthorizeResult, PERMISSIONS,
    PermissionCriteria, PermissionError, PermissionsService, PolicyDecision,
    QueryPermissionRequest,
};
use backlot::testing::TestBackend;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::Value;

/// Answers every conditional request with the decision the current case set.
#[derive(Debug, Clone)]
struct CasePolicy(Arc<Mutex<PolicyDecision>>);

#[async_trait]
impl PermissionsService for CasePolicy {
    async fn authorize(
        &self,
        requests: &[AuthorizePermissionRequest],
        _: &Credentials,
    ) -> Result<Vec<AuthorizeDecision>, PermissionError> {
        Ok(requests
            .iter()
            .map(|_| AuthorizeDecision {
                result: AuthorizeResult::Allow,
            })
            .collect())
    }

    async fn authorize_conditional(
        &self,
        requests: &[QueryPermissionRequest],
        _: &Credentials,
    ) -> Result<Vec<PolicyDecision>, PermissionError> {
        let d = self
            .0
            .lock()
            .map_err(|_| PermissionError::Internal("poisoned".into()))?
            .clone();
        Ok(requests.iter().map(|_| d.clone()).collect())
    }
}

/// A case: its name and the decision it sets.
type Case = (&'static str, fn() -> PolicyDecision);

fn owner_or_api() -> PolicyDecision {
    decision(PermissionCriteria::AnyOf {
        any_of: vec![
            is_entity_owner(["user:default/user-0", "group:default/group-0"]),
            is_entity_kind(["api"]),
        ],
    })
}

fn size() -> usize {
    std::env::var("CATALOG_PERMISSIONS_N")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(100_000)
}

fn config(catalog_file: &std::path::Path, db_dir: &std::path::Path) -> String {
    format!(
        "backend:\n  database:\n    client: better-sqlite3\n    connection:\n      directory: {}\n  \
         reading:\n    maxSize: 512MiB\n\
         catalog:\n  processingInterval: {{ hours: 1 }}\n  rules:\n    - allow: [Component, API, Location, Group, User, System, Domain, Resource]\n  locations:\n    - type: file\n      target: {}\n",
        db_dir.display(),
        catalog_file.display()
    )
}

async fn get_json(backend: &TestBackend, path: &str) -> Value {
    let res = backend
        .client()
        .get(path)
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(res.status(), 200, "{path}: {}", res.text());
    res.json().unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn bench_permissions(c: &mut Criterion) {
    let n = size();
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("runtime: {e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let file = dir.path().join("catalog.yaml");
    std::fs::write(&file, synthetic_catalog_yaml(n)).unwrap_or_else(|e| panic!("write: {e}"));
    let policy = CasePolicy(Arc::new(Mutex::new(PolicyDecision::Allow)));
    let factory = {
        let policy = policy.clone();
        ServiceFactory::plugin(&PERMISSIONS).build(move |_ctx, ()| {
            let policy = policy.clone();
            async move { Ok(Arc::new(policy) as Arc<dyn PermissionsService>) }
        })
    };
    let backend = rt
        .block_on(
            TestBackend::builder()
                .feature(Feature::plugin(CatalogPlugin::new()))
                .service(factory)
                .config_yaml(config(&file, dir.path()))
                .start(),
        )
        .unwrap_or_else(|e| panic!("backend start: {e}"));
    let set = |d: PolicyDecision| {
        *policy.0.lock().unwrap_or_else(|e| panic!("lock: {e}")) = d;
    };

    // The entities both cases can read by name: what the condition allows.
    set(owner_or_api());
    let visible = rt.block_on(get_json(
        &backend,
        "/api/catalog/entities/by-query?filter=kind=component&filter=kind=api&limit=200&fields=kind,metadata.name",
    ));
    let names: Vec<String> = visible["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|e| {
                    format!(
                        "/api/catalog/entities/by-name/{}/default/{}",
                        e["kind"].as_str().unwrap_or_default().to_lowercase(),
                        e["metadata"]["name"].as_str().unwrap_or_default()
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert!(names.len() > 50, "the condition allows entities to read");

    let cases: [Case; 2] = [
        ("off", || PolicyDecision::Allow),
        ("owner_or_api", owner_or_api),
    ];
    let mut group = c.benchmark_group(format!("catalog_permissions_{n}"));
    group.sample_size(50);
    group.measurement_time(Duration::from_secs(8));
    for (case, d) in cases {
        set(d());
        for (name, path) in [
            (
                "by_query_component_service",
                "/api/catalog/entities/by-query?filter=kind=component,spec.type=service&limit=100",
            ),
            (
                "by_query_api_openapi",
                "/api/catalog/entities/by-query?filter=kind=api,spec.type=openapi&limit=100",
            ),
        ] {
            group.bench_function(format!("{name}/{case}"), |b| {
                b.iter(|| {
                    // The body is checked, not parsed: the figure is the server's.
                    let res = rt
                        .block_on(backend.client().get(path))
                        .unwrap_or_else(|e| panic!("{path}: {e}"));
                    assert_eq!(res.status(), 200);
                    assert!(!res.bytes().starts_with(b"{\"items\":[],\"totalItems\":0"));
                });
            });
        }
        let mut i = 0usize;
        group.bench_function(format!("by_name/{case}"), |b| {
            b.iter(|| {
                i = (i + 7) % names.len();
                let res = rt
                    .block_on(backend.client().get(&names[i]))
                    .unwrap_or_else(|e| panic!("by name: {e}"));
                assert_eq!(res.status(), 200);
            });
        });
    }
    group.finish();
    rt.block_on(backend.stop())
        .unwrap_or_else(|e| panic!("stop: {e}"));
}

criterion_group!(benches, bench_permissions);
criterion_main!(benches);
