#![allow(missing_docs)]
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::print_stdout)]
//! A person opens an entity's Kubernetes tab in headless Chromium: a backend with the
//! catalog, the auth backend (guest sign-in) and the app with the catalog and Kubernetes
//! frontend plugins; `chromedriver` from PATH (without it the test prints
//! `skipped: chromedriver not found`).
//!
//! The Kubernetes API here is a fixture answering prepared cluster objects (a deployment
//! with a healthy and a crash-looping pod, a second cluster that fails).
//!
//! Screenshots land in `<target tmpdir>/screenshots/`.

mod support;

use std::path::PathBuf;
use std::sync::Arc;

use backlot::backend::Feature;
use backlot::frontend::{ApiBlueprint, ApiFactory, App};
use backlot::plugins::app::app_plugin;
use backlot::plugins::catalog::CatalogPlugin;
use backlot::plugins::kubernetes::common::{
    ClusterSummary, KubernetesRequestBody, ObjectsByEntityResponse,
};
use backlot::plugins::kubernetes::react::{KUBERNETES_API, KubernetesApi, KubernetesApiError};
use backlot::testing::TestBackend;
use serde_json::json;
use support::webdriver::Browser;

const CATALOG: &str = r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: petstore
  annotations:
    backstage.io/kubernetes-id: petstore
spec: {type: service, lifecycle: production, owner: team-a}
"#;

fn pod(name: &str, statuses: serde_json::Value) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"),
                     "creationTimestamp": "2026-01-01T00:00:00Z",
                     "ownerReferences": [{"kind": "ReplicaSet", "name": "petstore-6b8d", "uid": "uid-rs"}]},
        "spec": {"containers": [{"name": "petstore", "image": "petstore:1"}]},
        "status": {"phase": "Running", "containerStatuses": statuses}
    })
}

fn objects() -> ObjectsByEntityResponse {
    serde_json::from_value(json!({"items": [
        {
            "cluster": {"name": "local", "title": "Local cluster"},
            "resources": [
                {"type": "pods", "resources": [
                    pod("petstore-6b8d-ok", json!([{"name": "petstore", "ready": true, "restartCount": 0,
                        "state": {"running": {"startedAt": "2026-01-01T00:00:10Z"}}}])),
                    pod("petstore-6b8d-crash", json!([{"name": "petstore", "ready": false, "restartCount": 5,
                        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container=petstore"}},
                        "lastState": {"terminated": {"reason": "Error", "exitCode": 1}}}]))
                ]},
                {"type": "replicasets", "resources": [{"metadata": {"name": "petstore-6b8d", "namespace": "default", "uid": "uid-rs",
                    "ownerReferences": [{"kind": "Deployment", "name": "petstore", "uid": "uid-deploy"}]}, "status": {"replicas": 2}}]},
                {"type": "deployments", "resources": [{"metadata": {"name": "petstore", "namespace": "default", "uid": "uid-deploy"},
                    "spec": {"replicas": 2}, "status": {"replicas": 2, "readyReplicas": 1}}]}
            ],
            "podMetrics": [],
            "errors": []
        },
        {
            "cluster": {"name": "remote"},
            "resources": [],
            "podMetrics": [],
            "errors": [{"errorType": "FETCH_ERROR", "message": "connection refused"}]
        }
    ]}))
    .unwrap()
}

#[derive(Debug)]
struct Fixture;

#[async_trait::async_trait]
impl KubernetesApi for Fixture {
    async fn get_clusters(&self) -> Result<Vec<ClusterSummary>, KubernetesApiError> {
        Ok(vec![])
    }

    async fn get_objects_by_entity(
        &self,
        _: &KubernetesRequestBody,
    ) -> Result<ObjectsByEntityResponse, KubernetesApiError> {
        Ok(objects())
    }
}

#[tokio::test]
async fn a_person_opens_the_kubernetes_tab() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.yaml");
    std::fs::write(&catalog, CATALOG).unwrap();
    let api: Arc<dyn KubernetesApi> = Arc::new(Fixture);
    let backend = TestBackend::builder()
        .real_auth()
        .feature(Feature::plugin(backlot::plugins::auth::backend::plugin()))
        .config_yaml("auth:\n  environment: development\n  providers:\n    guest: {}\n")
        .feature(Feature::plugin(CatalogPlugin::new()))
        .feature(app_plugin(
            App::builder()
                .feature(backlot::plugins::catalog::frontend::plugin())
                .feature(backlot::plugins::kubernetes::frontend::plugin())
                .extension(ApiBlueprint::make(ApiFactory::instance(&KUBERNETES_API, api))),
        ))
        .config_yaml(format!(
            "app:\n  title: Northwind Portal\ncatalog:\n  rules:\n    - allow: [Component]\n  locations:\n    - type: file\n      target: {}\n",
            catalog.display()
        ))
        .start()
        .await
        .unwrap();

    let Some(browser) = Browser::start().await else {
        backend.stop().await.unwrap();
        return;
    };
    browser.set_window_size(1440, 1100).await;
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();

    browser.sign_in_as_guest(&backend.url("")).await;
    browser
        .goto(&backend.url("/catalog/default/component/petstore"))
        .await;
    let tab = browser.find("a.bl-tab[href$='/petstore/kubernetes']").await;
    assert_eq!(browser.text(&tab).await, "Kubernetes");
    browser.click(&tab).await;
    assert!(
        browser
            .url_reaches("/catalog/default/component/petstore/kubernetes")
            .await
    );
    assert_eq!(
        browser.title().await,
        "petstore · Kubernetes · Northwind Portal"
    );

    // The deployment, open, with its two pods; the crash-looping one is marked.
    let summary = browser
        .text_of("details[data-workload='petstore'] > summary")
        .await;
    assert!(summary.contains("ready 1/2"), "{summary}");
    assert!(summary.contains("1 pods with errors"), "{summary}");
    let pods = browser
        .find_all("details[data-workload='petstore'] .k8s-pod")
        .await;
    assert_eq!(pods.len(), 2);
    let crash_row = browser
        .text_of("details[data-workload='petstore'] tr:has([data-pod='petstore-6b8d-crash'])")
        .await;
    assert!(crash_row.contains("CrashLoopBackOff"), "{crash_row}");
    assert!(crash_row.contains("2 problems"), "{crash_row}");

    // Problems and the failing cluster.
    let problems = browser.text_of(".k8s-problems").await;
    assert!(
        problems.contains("back-off 40s restarting failed container=petstore"),
        "{problems}"
    );
    assert!(problems.contains("restarted 5 times"), "{problems}");
    let errors = browser.text_of(".k8s-errors").await;
    assert!(errors.contains("Cluster: remote"), "{errors}");
    assert!(errors.contains("connection refused"), "{errors}");
    browser.screenshot(&shots.join("kubernetes.png")).await;

    // Pick the local cluster: the failing one is gone.
    browser
        .click(
            &browser
                .find("nav[aria-label=Clusters] a[href$='cluster=local']")
                .await,
        )
        .await;
    assert!(browser.url_reaches("cluster=local").await);
    assert!(browser.find_all(".k8s-errors").await.is_empty());
    assert_eq!(
        browser
            .find_all("section.k8s-cluster[data-cluster='local']")
            .await
            .len(),
        1
    );
    assert!(
        browser
            .find_all("section.k8s-cluster[data-cluster='remote']")
            .await
            .is_empty()
    );

    browser.close().await;
    backend.stop().await.unwrap();
}
