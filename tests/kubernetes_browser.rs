#![allow(missing_docs)]
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::print_stdout)]
//! A person opens an entity's Kubernetes tab in headless Chromium, end to end: a backend with
//! the catalog, the auth backend (guest sign-in), the Kubernetes backend plugin and the app
//! with the catalog and Kubernetes frontend plugins; the clusters are fake Kubernetes API
//! servers (`tests/support/kube_api`, proven faithful by kubectl in
//! `tests/kubernetes_kubectl.rs`): `prod` serves the entity's deployment with two healthy pods
//! and a crash-looping one, `locked` refuses the configured token (401), `gone` does not
//! answer. `chromedriver` comes from PATH (without it the test prints
//! `skipped: chromedriver not found`).
//!
//! Screenshots land in `<target tmpdir>/screenshots/`.

mod support;

use std::path::PathBuf;

use backlot::backend::Feature;
use backlot::frontend::App;
use backlot::plugins::app::app_plugin;
use backlot::plugins::catalog::CatalogPlugin;
use backlot::testing::TestBackend;
use serde_json::json;
use support::kube_api::{Access, KubeApiBuilder, unreachable_url};
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

/// A pod of the dataset's replica set `petstore-d0-5d8f7c` whose container crash-loops.
fn crash_looping_pod() -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "petstore-d0-5d8f7c-crash", "namespace": "default",
            "labels": {"app": "petstore", "backstage.io/kubernetes-id": "petstore"},
            "uid": "pod-petstore-crash", "creationTimestamp": "2026-01-01T00:00:00Z",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "petstore-d0-5d8f7c",
                                 "uid": "rs-petstore-d0-5d8f7c-default", "controller": true}]},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
        "status": {"phase": "Running", "containerStatuses": [{"name": "app", "ready": false, "restartCount": 5,
            "image": "nginx:1.27",
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container=app"}},
            "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}]}
    })
}

#[tokio::test]
async fn a_person_opens_the_kubernetes_tab() {
    let prod = KubeApiBuilder::new()
        .token("prod-token", Access::Full)
        .dataset("petstore", "default", 1, 2)
        .object(crash_looping_pod())
        .start()
        .await;
    let locked = KubeApiBuilder::new()
        .token("another-token", Access::Full)
        .dataset("petstore", "default", 1, 1)
        .start()
        .await;
    let gone = unreachable_url().await;

    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.yaml");
    std::fs::write(&catalog, CATALOG).unwrap();
    let cluster = |name: &str, url: &str, token: &str| {
        format!(
            "        - name: {name}\n          url: {url}\n          authProvider: serviceAccount\n          serviceAccountToken: {token}\n"
        )
    };
    let backend = TestBackend::builder()
        .real_auth()
        .feature(Feature::plugin(backlot::plugins::auth::backend::plugin()))
        .config_yaml("auth:\n  environment: development\n  providers:\n    guest: {}\n")
        .feature(Feature::plugin(CatalogPlugin::new()))
        .feature(Feature::plugin(backlot::plugins::kubernetes::backend::plugin()))
        .feature(app_plugin(
            App::builder()
                .feature(backlot::plugins::catalog::frontend::plugin())
                .feature(backlot::plugins::kubernetes::frontend::plugin()),
        ))
        .config_yaml(format!(
            "app:\n  title: Northwind Portal\ncatalog:\n  rules:\n    - allow: [Component]\n  locations:\n    - type: file\n      target: {}\n\
             kubernetes:\n  serviceLocatorMethod:\n    type: multiTenant\n  clusterLocatorMethods:\n    - type: config\n      clusters:\n{}{}{}",
            catalog.display(),
            cluster("prod", prod.url(), "prod-token"),
            cluster("locked", locked.url(), "prod-token"),
            cluster("gone", &gone, "prod-token"),
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

    // prod: the deployment with the three pods of its replica set, metrics from
    // metrics.k8s.io, the crash-looping pod marked.
    let deployment = "section[data-cluster='prod'] details[data-workload='petstore-d0']";
    let summary = browser.text_of(&format!("{deployment} > summary")).await;
    assert!(summary.contains("ready 2/2"), "{summary}");
    assert!(summary.contains("3 pods"), "{summary}");
    assert!(summary.contains("1 pods with errors"), "{summary}");
    assert_eq!(
        browser
            .find_all(&format!("{deployment} .k8s-pod"))
            .await
            .len(),
        3
    );
    let healthy = browser
        .text_of(&format!(
            "{deployment} tr:has([data-pod='petstore-d0-5d8f7c-p1'])"
        ))
        .await;
    assert!(healthy.contains("app: Running"), "{healthy}");
    assert!(healthy.contains("2m · 2% of request 100m"), "{healthy}");
    assert!(
        healthy.contains("64.0MiB · 50% of request 128.0MiB"),
        "{healthy}"
    );
    let crash = browser
        .text_of(&format!(
            "{deployment} tr:has([data-pod='petstore-d0-5d8f7c-crash'])"
        ))
        .await;
    assert!(crash.contains("app: CrashLoopBackOff"), "{crash}");
    assert!(crash.contains("2 problems"), "{crash}");
    let services = browser
        .text_of("section[data-cluster='prod'] [data-type='services']")
        .await;
    assert!(services.contains("10.0.0.10"), "{services}");

    // Problems, and the clusters that failed, each with its own error.
    let problems = browser.text_of(".k8s-problems").await;
    assert!(
        problems.contains("back-off 40s restarting failed container=app"),
        "{problems}"
    );
    assert!(
        problems.contains("container=app restarted 5 times (last exit: OOMKilled, code 137)"),
        "{problems}"
    );
    let errors = browser.text_of(".k8s-errors").await;
    assert!(errors.contains("Cluster: locked"), "{errors}");
    assert!(
        errors.contains("UNAUTHORIZED_ERROR, status code: 401"),
        "{errors}"
    );
    assert!(errors.contains("Cluster: gone"), "{errors}");
    assert!(errors.contains("FETCH_ERROR"), "{errors}");
    assert!(!errors.contains("Cluster: prod"), "{errors}");
    browser.screenshot(&shots.join("kubernetes.png")).await;

    // Pick prod: the failing clusters are gone from the page.
    browser
        .click(
            &browser
                .find("nav[aria-label=Clusters] a[href$='cluster=prod']")
                .await,
        )
        .await;
    assert!(browser.url_reaches("cluster=prod").await);
    assert!(browser.find_all(".k8s-errors").await.is_empty());
    assert_eq!(browser.find_all("section.k8s-cluster").await.len(), 1);
    assert_eq!(
        browser
            .find_all("section.k8s-cluster[data-cluster='prod']")
            .await
            .len(),
        1
    );
    // The backend asked prod for the entity's pods by its label.
    assert!(
        prod.requests().iter().any(|r| r.path.ends_with("/pods")
            && r.label_selector().as_deref() == Some("backstage.io/kubernetes-id=petstore")),
        "{:?}",
        prod.paths()
    );

    browser.close().await;
    backend.stop().await.unwrap();
}
