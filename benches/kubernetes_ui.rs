//! The Kubernetes tab for an entity with 2 clusters × 1,000 pods (10 deployments of 100 pods
//! per cluster, every 10th pod crash-looping): problem detection over the answer, and the
//! server-side render of the whole tab (the Kubernetes API answers from prepared objects, so
//! only the tab is measured), with the bytes of the page.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;

use axum::body::Body;
use backlot::frontend::{ApiBlueprint, ApiFactory, App};
use backlot::plugins::catalog::common::{Entity, EntityRef};
use backlot::plugins::catalog::react::{
    CATALOG_API, CatalogApi, CatalogApiError, EntityFilter, FacetValue, QueryEntitiesRequest,
    QueryEntitiesResponse,
};
use backlot::plugins::kubernetes::common::{
    ClusterSummary, KubernetesRequestBody, ObjectsByEntityResponse, detect_errors,
};
use backlot::plugins::kubernetes::react::{KUBERNETES_API, KubernetesApi, KubernetesApiError};
use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use serde_json::{Value, json};
use tower::ServiceExt;

const PATH: &str = "/catalog/default/component/shop/kubernetes";

#[derive(Debug)]
struct OneEntity(Entity);

#[async_trait::async_trait]
impl CatalogApi for OneEntity {
    async fn query_entities(
        &self,
        _: &QueryEntitiesRequest,
    ) -> Result<QueryEntitiesResponse, CatalogApiError> {
        Ok(QueryEntitiesResponse::default())
    }
    async fn get_entity_by_ref(&self, _: &EntityRef) -> Result<Option<Entity>, CatalogApiError> {
        Ok(Some(self.0.clone()))
    }
    async fn get_entities_by_refs(
        &self,
        refs: &[String],
    ) -> Result<Vec<Option<Entity>>, CatalogApiError> {
        Ok(refs.iter().map(|_| None).collect())
    }
    async fn get_entity_facets(
        &self,
        _: &[String],
        _: &[EntityFilter],
    ) -> Result<BTreeMap<String, Vec<FacetValue>>, CatalogApiError> {
        Ok(BTreeMap::new())
    }
}

#[derive(Debug)]
struct Prepared(ObjectsByEntityResponse);

#[async_trait::async_trait]
impl KubernetesApi for Prepared {
    async fn get_clusters(&self) -> Result<Vec<ClusterSummary>, KubernetesApiError> {
        Ok(vec![])
    }
    async fn get_objects_by_entity(
        &self,
        _: &KubernetesRequestBody,
    ) -> Result<ObjectsByEntityResponse, KubernetesApiError> {
        Ok(self.0.clone())
    }
}

fn cluster(name: &str) -> Value {
    let (mut pods, mut sets, mut deployments, mut metrics) = (vec![], vec![], vec![], vec![]);
    for d in 0..10 {
        let dep = format!("shop-d{d}");
        deployments.push(
            json!({"metadata": {"name": dep, "namespace": "shop", "uid": format!("dep-{d}")},
            "spec": {"replicas": 100}, "status": {"replicas": 100, "readyReplicas": 90}}),
        );
        sets.push(json!({"metadata": {"name": format!("{dep}-rs"), "namespace": "shop", "uid": format!("rs-{d}"),
            "ownerReferences": [{"kind": "Deployment", "uid": format!("dep-{d}")}]}, "status": {"replicas": 100}}));
        for p in 0..100 {
            let pod = format!("{dep}-rs-p{p}");
            let status = if p % 10 == 0 {
                json!([{"name": "app", "ready": false, "restartCount": 7,
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container"}},
                    "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}])
            } else {
                json!([{"name": "app", "ready": true, "restartCount": 0,
                    "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}])
            };
            pods.push(
                json!({"metadata": {"name": pod, "namespace": "shop", "uid": format!("pod-{d}-{p}"),
                    "creationTimestamp": "2026-01-01T00:00:00Z",
                    "ownerReferences": [{"kind": "ReplicaSet", "uid": format!("rs-{d}")}]},
                "spec": {"containers": [{"name": "app", "image": "shop:1",
                    "readinessProbe": {"httpGet": {"path": "/ready"}}}]},
                "status": {"phase": "Running", "containerStatuses": status}}),
            );
            metrics.push(json!({"pod": {"metadata": {"name": pod, "namespace": "shop"}},
                "cpu": {"currentUsage": 0.05, "requestTotal": 0.1, "limitTotal": 0.5},
                "memory": {"currentUsage": 67108864.0, "requestTotal": 134217728.0, "limitTotal": 268435456.0},
                "containers": []}));
        }
    }
    json!({"cluster": {"name": name}, "resources": [
        {"type": "pods", "resources": pods},
        {"type": "replicasets", "resources": sets},
        {"type": "deployments", "resources": deployments}
    ], "podMetrics": metrics, "errors": []})
}

async fn get(app: &axum::Router, path: &str) -> Vec<u8> {
    let res = app
        .clone()
        .oneshot(
            Request::get(path)
                .body(Body::empty())
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .await
        .unwrap_or_else(|e| match e {});
    assert_eq!(res.status(), 200, "{path}");
    axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn bench(c: &mut Criterion) {
    let objects: ObjectsByEntityResponse =
        serde_json::from_value(json!({"items": [cluster("prod"), cluster("staging")]}))
            .unwrap_or_else(|e| panic!("{e}"));
    let entity: Entity = serde_json::from_value(json!({
        "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
        "metadata": {"name": "shop", "namespace": "default",
                     "annotations": {"backstage.io/kubernetes-id": "shop"}},
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"}
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    let problems: usize = detect_errors(&objects).values().map(Vec::len).sum();
    eprintln!("problems detected: {problems}");

    c.bench_function("kubernetes_detect_errors_2x1000_pods", |b| {
        b.iter(|| black_box(detect_errors(black_box(&objects))));
    });

    let catalog: Arc<dyn CatalogApi> = Arc::new(OneEntity(entity));
    let kubernetes: Arc<dyn KubernetesApi> = Arc::new(Prepared(objects));
    let app = App::builder()
        .feature(backlot::plugins::catalog::frontend::plugin())
        .feature(backlot::plugins::kubernetes::frontend::plugin())
        .extension(ApiBlueprint::make(ApiFactory::instance(
            &CATALOG_API,
            catalog,
        )))
        .extension(ApiBlueprint::make(ApiFactory::instance(
            &KUBERNETES_API,
            kubernetes,
        )))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let router = app.router();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let page = rt.block_on(get(&router, PATH));
    eprintln!("kubernetes tab bytes: {}", page.len());

    c.bench_function("kubernetes_tab_render_2x1000_pods", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(get(&router, PATH).await.len()) });
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
