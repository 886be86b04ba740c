//! `POST /api/kubernetes/services/{entity}` over 2 clusters × 1,000 pods (10 deployments of
//! 100 pods each, their replica sets, a service, and pod metrics), served by the fake API
//! server of `tests/support/kube_api` on loopback: the whole fan-out (13 object types per
//! cluster, metrics for the entity's namespace), JSON decoding and the response.
//!
//! Run with `cargo bench --features testing --bench kubernetes`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    dead_code,
    unreachable_pub,
    unused_imports
)]

#[path = "../tests/support/kube_api/mod.rs"]
mod kube_api;

use backlot::backend::Feature;
use backlot::plugins::kubernetes;
use backlot::plugins::kubernetes::common::ObjectsByEntityResponse;
use backlot::testing::TestBackend;
use criterion::{Criterion, criterion_group, criterion_main};
use kube_api::{Access, KubeApi, KubeApiBuilder};
use serde_json::json;

async fn setup() -> (TestBackend, KubeApi, KubeApi) {
    let cluster = || async {
        KubeApiBuilder::new()
            .token("t", Access::Full)
            .dataset("petstore", "default", 10, 100)
            .dataset("other", "default", 5, 100)
            .start()
            .await
    };
    let (a, b) = (cluster().await, cluster().await);
    let yaml = format!(
        "kubernetes:\n  clusterLocatorMethods:\n    - type: config\n      clusters:\n        - name: a\n          url: {}\n          authProvider: serviceAccount\n          serviceAccountToken: t\n        - name: b\n          url: {}\n          authProvider: serviceAccount\n          serviceAccountToken: t\n",
        a.url(),
        b.url()
    );
    let backend = TestBackend::builder()
        .feature(Feature::plugin(kubernetes::backend::plugin()))
        .config_yaml(yaml)
        .start()
        .await
        .unwrap();
    (backend, a, b)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (backend, _a, _b) = rt.block_on(setup());
    let body = json!({"entity": {"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
        "metadata": {"name": "petstore", "namespace": "default"}}});
    // Check the answer once.
    let res: ObjectsByEntityResponse = rt.block_on(async {
        backend
            .client()
            .post_json("/api/kubernetes/services/petstore", &body)
            .await
            .unwrap()
            .json()
            .unwrap()
    });
    assert_eq!(res.items.len(), 2);
    for item in &res.items {
        assert!(item.errors.is_empty(), "{:?}", item.errors);
        let pods = item.resources.iter().find(|r| r.kind == "pods").unwrap();
        assert_eq!(pods.resources.len(), 1000);
        assert_eq!(item.pod_metrics.len(), 1000);
    }
    let mut group = c.benchmark_group("kubernetes");
    group.sample_size(30);
    group.bench_function("services_2_clusters_x_1000_pods", |b| {
        b.to_async(&rt).iter(|| async {
            let res = backend
                .client()
                .post_json("/api/kubernetes/services/petstore", &body)
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            res.bytes().len()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
