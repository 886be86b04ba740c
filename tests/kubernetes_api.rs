//! The Kubernetes backend over HTTP against fake API servers (`tests/support/kube_api`, proven
//! faithful by kubectl in `kubernetes_kubectl.rs`): clusters up, down, slow and refusing,
//! matching annotations, custom resources, oidc tokens, metrics, limits, permissions and
//! config errors.
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use backlot::backend::{Feature, ServiceFactory};
use backlot::plugins::catalog::common::{
    CatalogClientError, Entity, EntityRef, QueryEntitiesRequest, QueryEntitiesResponse,
};
use backlot::plugins::catalog::node::{CATALOG, CatalogApi};
use backlot::plugins::kubernetes;
use backlot::plugins::kubernetes::common::ObjectsByEntityResponse;
use backlot::services::auth::Credentials;
use backlot::services::permissions::PolicyDecision;
use backlot::testing::TestBackend;
use backlot::testing::permissions::mock_permissions_policy;
use serde_json::{Value, json};
use support::kube_api::{Access, KubeApi, KubeApiBuilder, unreachable_url};

/// A catalog holding `entities`; `query_entities` honours `key=value` filters.
#[derive(Debug)]
struct MemoryCatalog(Vec<Entity>);

fn field<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, k| v.get(k))
}

#[async_trait]
impl CatalogApi for MemoryCatalog {
    async fn entity_by_ref(
        &self,
        r: &EntityRef,
        _: &Credentials,
    ) -> Result<Option<Entity>, CatalogClientError> {
        Ok(self
            .0
            .iter()
            .find(|e| e.to_ref().to_string() == r.to_lowercase().to_string())
            .cloned())
    }
    async fn query_entities(
        &self,
        request: &QueryEntitiesRequest,
        _: &Credentials,
    ) -> Result<QueryEntitiesResponse, CatalogClientError> {
        let items: Vec<Entity> = self
            .0
            .iter()
            .filter(|e| {
                let v = serde_json::to_value(e).unwrap();
                request.filter.is_empty()
                    || request.filter.iter().any(|f| {
                        f.to_query_value()
                            .split(',')
                            .all(|cond| match cond.split_once('=') {
                                Some((k, want)) => field(&v, k)
                                    .and_then(Value::as_str)
                                    .is_some_and(|got| got.eq_ignore_ascii_case(want)),
                                None => field(&v, cond).is_some(),
                            })
                    })
            })
            .cloned()
            .collect();
        Ok(QueryEntitiesResponse {
            total_items: items.len(),
            items,
            ..QueryEntitiesResponse::default()
        })
    }
}

fn catalog(entities: Vec<Value>) -> ServiceFactory {
    let entities: Vec<Entity> = entities
        .into_iter()
        .map(|e| serde_json::from_value(e).unwrap())
        .collect();
    let catalog = Arc::new(MemoryCatalog(entities));
    ServiceFactory::plugin(&CATALOG).build(move |_ctx, ()| {
        let c = Arc::clone(&catalog);
        async move { Ok(c as Arc<dyn CatalogApi>) }
    })
}

fn component(name: &str, annotations: Value) -> Value {
    json!({
        "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
        "metadata": {"name": name, "namespace": "default", "annotations": annotations},
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"}
    })
}

async fn backend(yaml: String, entities: Vec<Value>) -> TestBackend {
    TestBackend::builder()
        .feature(Feature::plugin(kubernetes::backend::plugin()))
        .service(catalog(entities))
        .config_yaml(yaml)
        .start()
        .await
        .unwrap()
}

fn cluster_yaml(name: &str, url: &str, token: &str) -> String {
    format!(
        "        - name: {name}\n          url: {url}\n          authProvider: serviceAccount\n          serviceAccountToken: {token}\n"
    )
}

fn config(clusters: &[String], extra: &str) -> String {
    format!(
        "kubernetes:\n  serviceLocatorMethod:\n    type: multiTenant\n  clusterLocatorMethods:\n    - type: config\n      clusters:\n{}{extra}",
        clusters.concat()
    )
}

async fn services(b: &TestBackend, entity: &Value, auth: Value) -> ObjectsByEntityResponse {
    let name = entity["metadata"]["name"].as_str().unwrap();
    let res = b
        .client()
        .post_json(
            &format!("/api/kubernetes/services/{name}"),
            &json!({"entity": entity, "auth": auth}),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    res.json().unwrap()
}

fn names(resp: &ObjectsByEntityResponse, cluster: &str, kind: &str) -> Vec<String> {
    let item = resp
        .items
        .iter()
        .find(|i| i.cluster.name == cluster)
        .unwrap();
    let mut out: Vec<String> = item
        .resources
        .iter()
        .filter(|r| r.kind == kind)
        .flat_map(|r| r.resources.iter())
        .map(|o| {
            let o = o.to_value().unwrap();
            format!(
                "{}/{}",
                o["metadata"]["namespace"].as_str().unwrap_or(""),
                o["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    out.sort();
    out
}

async fn petstore_api() -> KubeApi {
    KubeApiBuilder::new()
        .token("sa-token", Access::Full)
        .token("no-rights", Access::NoRights)
        .dataset("petstore", "default", 2, 3)
        .dataset("petstore", "shop", 1, 1)
        .dataset("other", "default", 1, 2)
        .start()
        .await
}

#[tokio::test]
async fn two_clusters_one_down_gives_that_clusters_errors_only() {
    let up = petstore_api().await;
    let down = KubeApiBuilder::new().down().start().await;
    let gone = unreachable_url().await;
    let b = backend(
        config(
            &[
                cluster_yaml("up", up.url(), "sa-token"),
                cluster_yaml("down", down.url(), "sa-token"),
                cluster_yaml("gone", &gone, "sa-token"),
            ],
            "",
        ),
        vec![],
    )
    .await;
    let res = b.client().get("/api/kubernetes/clusters").await.unwrap();
    assert_eq!(res.status(), 200);
    let clusters: Value = res.json().unwrap();
    assert_eq!(
        clusters,
        json!({"items": [
            {"name": "up", "authProvider": "serviceAccount"},
            {"name": "down", "authProvider": "serviceAccount"},
            {"name": "gone", "authProvider": "serviceAccount"},
        ]}),
        "no token leaks into /clusters"
    );

    let entity = component("petstore", json!({}));
    let resp = services(&b, &entity, json!({})).await;
    assert_eq!(resp.items.len(), 3);
    let up_item = &resp.items[0];
    assert_eq!(up_item.cluster.name, "up");
    assert!(up_item.errors.is_empty(), "{:?}", up_item.errors);
    assert_eq!(
        names(&resp, "up", "pods").len(),
        7,
        "6 pods in default, 1 in shop; none of 'other'"
    );
    assert_eq!(
        names(&resp, "up", "deployments"),
        [
            "default/petstore-d0",
            "default/petstore-d1",
            "shop/petstore-d0"
        ]
    );
    assert_eq!(names(&resp, "up", "replicasets").len(), 3);
    assert_eq!(
        names(&resp, "up", "services"),
        ["default/petstore", "shop/petstore"]
    );
    let types: Vec<&str> = up_item.resources.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(
        types,
        [
            "pods",
            "services",
            "configmaps",
            "limitranges",
            "resourcequotas",
            "deployments",
            "replicasets",
            "horizontalpodautoscalers",
            "jobs",
            "cronjobs",
            "ingresses",
            "statefulsets",
            "daemonsets"
        ],
        "Backstage's default object types"
    );
    for cluster in ["down", "gone"] {
        let item = resp
            .items
            .iter()
            .find(|i| i.cluster.name == cluster)
            .unwrap();
        assert!(item.resources.is_empty());
        assert_eq!(
            item.errors.len(),
            13,
            "one error per type: {:?}",
            item.errors
        );
        let e = serde_json::to_value(&item.errors[0]).unwrap();
        assert_eq!(e["errorType"], "FETCH_ERROR", "{e}");
        assert_eq!(e["resourcePath"], "/api/v1/pods");
        assert!(e.get("statusCode").is_none());
        assert!(e["message"].as_str().unwrap().contains(cluster), "{e}");
    }
    // Cluster-wide lists with the id selector and the cluster's token.
    let pods = up
        .requests()
        .into_iter()
        .find(|r| r.path == "/api/v1/pods")
        .unwrap();
    assert_eq!(
        pods.label_selector().as_deref(),
        Some("backstage.io/kubernetes-id=petstore")
    );
    assert_eq!(pods.authorization.as_deref(), Some("Bearer sa-token"));
    assert!(
        up.paths()
            .contains(&"/apis/autoscaling/v2/horizontalpodautoscalers".to_owned())
    );
    assert!(
        up.paths()
            .contains(&"/apis/networking.k8s.io/v1/ingresses".to_owned())
    );

    // An entity with no workloads anywhere: clusters without objects or errors are left out.
    let none = component("nothing-here", json!({}));
    let resp = services(&b, &none, json!({})).await;
    let listed: Vec<&str> = resp.items.iter().map(|i| i.cluster.name.as_str()).collect();
    assert_eq!(listed, ["down", "gone"]);
}

#[tokio::test]
async fn annotations_pick_the_selector_and_the_namespace() {
    let api = petstore_api().await;
    let b = backend(
        config(&[cluster_yaml("c1", api.url(), "sa-token")], ""),
        vec![],
    )
    .await;
    // kubernetes-id wins over the name.
    let by_id = component("web", json!({"backstage.io/kubernetes-id": "other"}));
    let resp = services(&b, &by_id, json!({})).await;
    assert_eq!(names(&resp, "c1", "pods").len(), 2);
    assert_eq!(names(&resp, "c1", "deployments"), ["default/other-d0"]);

    // The label selector annotation wins over the id; the namespace annotation limits lookups.
    api.clear_requests();
    let e = component(
        "web",
        json!({
            "backstage.io/kubernetes-id": "other",
            "backstage.io/kubernetes-label-selector": "app in (petstore),backstage.io/kubernetes-id!=other",
            "backstage.io/kubernetes-namespace": "shop",
        }),
    );
    let resp = services(&b, &e, json!({})).await;
    assert_eq!(names(&resp, "c1", "pods"), ["shop/petstore-d0-5d8f7c-p0"]);
    assert_eq!(names(&resp, "c1", "deployments"), ["shop/petstore-d0"]);
    let reqs = api.requests();
    assert!(!reqs.is_empty());
    for r in &reqs {
        assert!(
            r.path.contains("/namespaces/shop/"),
            "only the namespace: {}",
            r.path
        );
        assert_eq!(
            r.label_selector().as_deref(),
            Some("app in (petstore),backstage.io/kubernetes-id!=other")
        );
    }

    // A namespace annotation that is not a name is refused.
    let bad = component("web", json!({"backstage.io/kubernetes-namespace": "../x"}));
    let res = b
        .client()
        .post_json("/api/kubernetes/services/web", &json!({"entity": bad}))
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let v: Value = res.json().unwrap();
    assert_eq!(v["error"]["name"], "InputError");
}

#[tokio::test]
async fn custom_resources_globally_per_cluster_and_by_query() {
    let rollout = |name: &str, ns: &str| {
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
               "metadata": {"name": name, "namespace": ns, "labels": {"backstage.io/kubernetes-id": "petstore"}}})
    };
    let a = KubeApiBuilder::new()
        .token("t", Access::Full)
        .custom_kind("argoproj.io", "v1alpha1", "rollouts", "Rollout")
        .custom_kind("example.com", "v1", "widgets", "Widget")
        .object(rollout("canary", "default"))
        .object(json!({"apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": "w1", "namespace": "default", "labels": {"backstage.io/kubernetes-id": "petstore"}}}))
        .dataset("petstore", "default", 1, 1)
        .start()
        .await;
    let b_api = KubeApiBuilder::new()
        .token("t", Access::Full)
        .custom_kind("example.com", "v1", "widgets", "Widget")
        .object(json!({"apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": "w2", "namespace": "default", "labels": {"backstage.io/kubernetes-id": "petstore"}}}))
        .start()
        .await;
    let per_cluster = format!(
        "{}          customResources:\n            - group: example.com\n              apiVersion: v1\n              plural: widgets\n",
        cluster_yaml("b", b_api.url(), "t")
    );
    let yaml = config(
        &[cluster_yaml("a", a.url(), "t"), per_cluster],
        "  objectTypes: [pods]\n  customResources:\n    - group: argoproj.io\n      apiVersion: v1alpha1\n      plural: rollouts\n",
    );
    let entity = component("petstore", json!({}));
    let b = backend(yaml, vec![entity.clone()]).await;
    let resp = services(&b, &entity, json!({})).await;
    let a_item = resp.items.iter().find(|i| i.cluster.name == "a").unwrap();
    let types: Vec<&str> = a_item.resources.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(
        types,
        ["pods", "customresources"],
        "objectTypes narrows; global custom resources"
    );
    assert_eq!(names(&resp, "a", "customresources"), ["default/canary"]);
    assert_eq!(
        names(&resp, "b", "customresources"),
        ["default/w2"],
        "the cluster's own list replaces the global one"
    );
    assert!(!b_api.paths().iter().any(|p| p.contains("rollouts")));

    // /resources/custom/query: the entity from the catalog, only the asked resources.
    let res = b
        .client()
        .post_json(
            "/api/kubernetes/resources/custom/query",
            &json!({"entityRef": "component:default/petstore", "auth": {},
                    "customResources": [{"group": "example.com", "apiVersion": "v1", "plural": "widgets"}]}),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    let resp: ObjectsByEntityResponse = res.json().unwrap();
    assert_eq!(names(&resp, "a", "customresources"), ["default/w1"]);
    assert_eq!(
        resp.items
            .iter()
            .find(|i| i.cluster.name == "a")
            .unwrap()
            .resources
            .len(),
        1
    );

    // /resources/workloads/query reads the entity from the catalog; unknown entity is 404.
    let res = b
        .client()
        .post_json(
            "/api/kubernetes/resources/workloads/query",
            &json!({"entityRef": "component:default/petstore", "auth": {}}),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let resp: ObjectsByEntityResponse = res.json().unwrap();
    assert_eq!(names(&resp, "a", "pods").len(), 1);
    let res = b
        .client()
        .post_json(
            "/api/kubernetes/resources/workloads/query",
            &json!({"entityRef": "component:default/missing", "auth": {}}),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let v: Value = res.json().unwrap();
    assert_eq!(v["error"]["name"], "NotFoundError");
    assert_eq!(v["response"]["statusCode"], 404);
    // Bad bodies are InputErrors.
    for (path, body) in [
        (
            "/api/kubernetes/resources/workloads/query",
            json!({"auth": {}}),
        ),
        (
            "/api/kubernetes/resources/custom/query",
            json!({"entityRef": "component:default/petstore", "customResources": []}),
        ),
        (
            "/api/kubernetes/resources/custom/query",
            json!({"entityRef": "component:default/petstore",
            "customResources": [{"group": "../x", "apiVersion": "v1", "plural": "w"}]}),
        ),
        ("/api/kubernetes/services/petstore", json!({"auth": {}})),
        (
            "/api/kubernetes/services/petstore",
            json!({"entity": "nope"}),
        ),
    ] {
        let res = b.client().post_json(path, &body).await.unwrap();
        assert_eq!(res.status(), 400, "{path} {body}: {}", res.text());
        let v: Value = res.json().unwrap();
        assert_eq!(v["error"]["name"], "InputError", "{v}");
    }
    let res = b
        .client()
        .request(reqwest::Method::POST, "/api/kubernetes/services/petstore")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn oidc_tokens_come_from_the_request_body() {
    let api = KubeApiBuilder::new()
        .token("okta-id-token", Access::Full)
        .dataset("petstore", "default", 1, 2)
        .start()
        .await;
    let cluster = format!(
        "        - name: oidc-cluster\n          url: {}\n          authProvider: oidc\n          oidcTokenProvider: okta\n",
        api.url()
    );
    let b = backend(config(&[cluster], ""), vec![]).await;
    let clusters: Value = b
        .client()
        .get("/api/kubernetes/clusters")
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        clusters["items"][0],
        json!({"name": "oidc-cluster", "authProvider": "oidc", "oidcTokenProvider": "okta"})
    );
    let entity = component("petstore", json!({}));
    let resp = services(&b, &entity, json!({"oidc": {"okta": "okta-id-token"}})).await;
    assert_eq!(names(&resp, "oidc-cluster", "pods").len(), 2);
    assert!(
        api.requests()
            .iter()
            .all(|r| r.authorization.as_deref() == Some("Bearer okta-id-token"))
    );
    // Without the token: that cluster's error, not a failed response.
    let resp = services(&b, &entity, json!({})).await;
    let e = serde_json::to_value(&resp.items[0].errors).unwrap();
    assert_eq!(e[0]["errorType"], "UNAUTHORIZED_ERROR", "{e}");
    assert!(
        e[0]["message"].as_str().unwrap().contains("oidc.okta"),
        "{e}"
    );
    // A wrong token is the cluster's 401.
    let resp = services(&b, &entity, json!({"oidc": {"okta": "stolen"}})).await;
    let e = serde_json::to_value(&resp.items[0].errors).unwrap();
    assert_eq!(e[0]["errorType"], "UNAUTHORIZED_ERROR");
    assert_eq!(e[0]["statusCode"], 401);
}

#[tokio::test]
async fn bad_tokens_and_missing_rights_are_unauthorized_errors() {
    let api = petstore_api().await;
    let b = backend(
        config(
            &[
                cluster_yaml("bad", api.url(), "wrong-token"),
                cluster_yaml("weak", api.url(), "no-rights"),
            ],
            "  objectTypes: [pods, deployments]\n",
        ),
        vec![],
    )
    .await;
    let resp = services(&b, &component("petstore", json!({})), json!({})).await;
    let bad = serde_json::to_value(
        &resp
            .items
            .iter()
            .find(|i| i.cluster.name == "bad")
            .unwrap()
            .errors,
    )
    .unwrap();
    assert_eq!(
        bad,
        json!([
            {"errorType": "UNAUTHORIZED_ERROR", "statusCode": 401, "resourcePath": "/api/v1/pods", "message": "Unauthorized"},
            {"errorType": "UNAUTHORIZED_ERROR", "statusCode": 401, "resourcePath": "/apis/apps/v1/deployments", "message": "Unauthorized"},
        ])
    );
    let weak = serde_json::to_value(
        &resp
            .items
            .iter()
            .find(|i| i.cluster.name == "weak")
            .unwrap()
            .errors,
    )
    .unwrap();
    assert_eq!(weak[0]["statusCode"], 403);
    assert_eq!(weak[0]["errorType"], "UNAUTHORIZED_ERROR");
    assert!(
        weak[0]["message"]
            .as_str()
            .unwrap()
            .contains("cannot list resource \"pods\""),
        "{weak}"
    );
}

#[tokio::test]
async fn pod_metrics_only_for_the_entitys_namespaces_and_selector() {
    let api = petstore_api().await;
    let no_metrics = KubeApiBuilder::new()
        .token("sa-token", Access::Full)
        .without_metrics()
        .dataset("petstore", "default", 1, 1)
        .start()
        .await;
    let skip = format!(
        "{}          skipMetricsLookup: true\n",
        cluster_yaml("skip", api.url(), "sa-token")
    );
    let b = backend(
        config(
            &[
                cluster_yaml("m", api.url(), "sa-token"),
                cluster_yaml("none", no_metrics.url(), "sa-token"),
            ],
            "",
        ),
        vec![],
    )
    .await;
    let resp = services(&b, &component("petstore", json!({})), json!({})).await;
    let m = resp.items.iter().find(|i| i.cluster.name == "m").unwrap();
    assert!(m.errors.is_empty(), "{:?}", m.errors);
    assert_eq!(m.pod_metrics.len(), 7);
    let first = &m.pod_metrics[0];
    assert_eq!(
        first.pod.to_value().unwrap()["metadata"]["name"],
        "petstore-d0-5d8f7c-p0"
    );
    assert!(
        (first.cpu.current_usage - 0.001).abs() < 1e-9,
        "{:?}",
        first.cpu
    );
    assert!((first.cpu.request_total - 0.1).abs() < 1e-9);
    assert!((first.cpu.limit_total - 0.5).abs() < 1e-9);
    assert_eq!(first.memory.current_usage, 64.0 * 1024.0 * 1024.0);
    assert_eq!(first.memory.request_total, 128.0 * 1024.0 * 1024.0);
    assert_eq!(first.memory.limit_total, 256.0 * 1024.0 * 1024.0);
    assert_eq!(first.containers[0].container, "app");
    let metric_reqs: Vec<_> = api
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/apis/metrics.k8s.io"))
        .collect();
    let mut paths: Vec<&str> = metric_reqs.iter().map(|r| r.path.as_str()).collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods",
            "/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods"
        ],
        "never the whole cluster's metrics (Backstage issue 17450)"
    );
    assert!(
        metric_reqs
            .iter()
            .all(|r| r.label_selector().as_deref() == Some("backstage.io/kubernetes-id=petstore"))
    );
    let none = resp
        .items
        .iter()
        .find(|i| i.cluster.name == "none")
        .unwrap();
    assert!(
        none.errors.is_empty(),
        "a cluster without metrics-server is no error: {:?}",
        none.errors
    );
    assert!(none.pod_metrics.is_empty());

    let b = backend(config(&[skip], ""), vec![]).await;
    api.clear_requests();
    let resp = services(&b, &component("petstore", json!({})), json!({})).await;
    assert!(resp.items[0].pod_metrics.is_empty());
    assert!(
        !api.paths().iter().any(|p| p.contains("metrics.k8s.io")),
        "skipMetricsLookup"
    );
}

#[tokio::test]
async fn limits_timeout_response_size_request_size_and_concurrency() {
    let slow = KubeApiBuilder::new()
        .token("t", Access::Full)
        .delay(Duration::from_secs(3))
        .dataset("petstore", "default", 1, 1)
        .start()
        .await;
    let fast = KubeApiBuilder::new()
        .token("t", Access::Full)
        .dataset("petstore", "default", 1, 1)
        .start()
        .await;
    let b = backend(
        config(
            &[
                cluster_yaml("slow", slow.url(), "t"),
                cluster_yaml("fast", fast.url(), "t"),
            ],
            "  limits:\n    clusterTimeout: 400ms\n",
        ),
        vec![],
    )
    .await;
    let started = Instant::now();
    let resp = services(&b, &component("petstore", json!({})), json!({})).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let slow_item = resp
        .items
        .iter()
        .find(|i| i.cluster.name == "slow")
        .unwrap();
    assert_eq!(slow_item.errors.len(), 13);
    let e = serde_json::to_value(&slow_item.errors[0]).unwrap();
    assert_eq!(e["errorType"], "FETCH_ERROR");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("kubernetes.limits.clusterTimeout"),
        "{e}"
    );
    assert_eq!(names(&resp, "fast", "pods").len(), 1);

    // Response size: a list larger than the cap is that type's error.
    let big = KubeApiBuilder::new()
        .token("t", Access::Full)
        .dataset("petstore", "default", 1, 50)
        .start()
        .await;
    let b = backend(
        config(
            &[cluster_yaml("big", big.url(), "t")],
            "  objectTypes: [pods, deployments]\n  limits:\n    maxResponseBytes: 20000\n",
        ),
        vec![],
    )
    .await;
    let resp = services(&b, &component("petstore", json!({})), json!({})).await;
    let item = &resp.items[0];
    assert_eq!(names(&resp, "big", "deployments").len(), 1);
    let e = serde_json::to_value(&item.errors).unwrap();
    assert_eq!(e.as_array().unwrap().len(), 1, "{e}");
    assert_eq!(e[0]["resourcePath"], "/api/v1/pods");
    assert!(
        e[0]["message"]
            .as_str()
            .unwrap()
            .contains("kubernetes.limits.maxResponseBytes"),
        "{e}"
    );

    // Request size.
    let b = backend(
        config(
            &[cluster_yaml("big", big.url(), "t")],
            "  limits:\n    maxRequestBytes: 2000\n",
        ),
        vec![],
    )
    .await;
    let huge = component("petstore", json!({"x": "y".repeat(5000)}));
    let res = b
        .client()
        .post_json(
            "/api/kubernetes/services/petstore",
            &json!({"entity": huge}),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 413, "{}", res.text());

    // Concurrency: all types at once by default, at most the cap when set.
    let wide = KubeApiBuilder::new()
        .token("t", Access::Full)
        .delay(Duration::from_millis(100))
        .dataset("petstore", "default", 1, 1)
        .start()
        .await;
    let b = backend(
        config(&[cluster_yaml("w", wide.url(), "t")], "").to_string(),
        vec![],
    )
    .await;
    let started = Instant::now();
    services(&b, &component("petstore", json!({})), json!({})).await;
    assert!(
        wide.max_in_flight() >= 10,
        "types fetched concurrently: {}",
        wide.max_in_flight()
    );
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
    let capped = KubeApiBuilder::new()
        .token("t", Access::Full)
        .delay(Duration::from_millis(20))
        .dataset("petstore", "default", 1, 1)
        .start()
        .await;
    let b = backend(
        config(
            &[cluster_yaml("w", capped.url(), "t")],
            "  limits:\n    maxConcurrentFetches: 2\n",
        ),
        vec![],
    )
    .await;
    let resp = services(&b, &component("petstore", json!({})), json!({})).await;
    assert!(resp.items[0].errors.is_empty());
    assert_eq!(capped.max_in_flight(), 2);
}

#[tokio::test]
async fn permissions_guard_the_routes() {
    let api = petstore_api().await;
    let policy = mock_permissions_policy(|query, _| match query.permission.name.as_str() {
        "kubernetes.clusters.read" => PolicyDecision::Allow,
        _ => PolicyDecision::Deny,
    });
    let b = TestBackend::builder()
        .feature(Feature::plugin(kubernetes::backend::plugin()))
        .service(catalog(vec![component("petstore", json!({}))]))
        .service(policy)
        .config_yaml(config(&[cluster_yaml("c", api.url(), "sa-token")], ""))
        .start()
        .await
        .unwrap();
    assert_eq!(
        b.client()
            .get("/api/kubernetes/clusters")
            .await
            .unwrap()
            .status(),
        200
    );
    for (path, body) in [
        (
            "/api/kubernetes/services/petstore",
            json!({"entity": component("petstore", json!({}))}),
        ),
        (
            "/api/kubernetes/resources/workloads/query",
            json!({"entityRef": "component:default/petstore", "auth": {}}),
        ),
    ] {
        let res = b.client().post_json(path, &body).await.unwrap();
        assert_eq!(res.status(), 403, "{path}");
        let v: Value = res.json().unwrap();
        assert_eq!(v["error"]["name"], "NotAllowedError");
    }
    assert!(api.requests().is_empty(), "nothing reached the cluster");
    let res = b
        .client()
        .unauthenticated()
        .get("/api/kubernetes/clusters")
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn catalog_clusters_and_the_catalog_relation_locator() {
    let api = petstore_api().await;
    let other = petstore_api().await;
    let resource = |name: &str, url: &str| {
        json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Resource",
            "metadata": {"name": name, "namespace": "default", "title": format!("Cluster {name}"), "annotations": {
                "kubernetes.io/api-server": url,
                "kubernetes.io/auth-provider": "oidc",
                "kubernetes.io/oidc-token-provider": "okta",
                "kubernetes.io/dashboard-url": "https://dash.example.com",
                "kubernetes.io/skip-metrics-lookup": "true",
            }},
            "spec": {"type": "kubernetes-cluster", "owner": "ops"}})
    };
    let mut entity = component("petstore", json!({}));
    entity["relations"] = json!([{"type": "dependsOn", "targetRef": "resource:default/cat-a"}]);
    let not_a_cluster = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Resource",
        "metadata": {"name": "db", "namespace": "default", "annotations": {"kubernetes.io/api-server": other.url(), "kubernetes.io/auth-provider": "oidc"}},
        "spec": {"type": "database", "owner": "ops"}});
    let b = backend(
        "kubernetes:\n  serviceLocatorMethod:\n    type: catalogRelation\n  clusterLocatorMethods:\n    - type: catalog\n".to_owned(),
        vec![resource("cat-a", api.url()), resource("cat-b", other.url()), not_a_cluster, entity.clone()],
    )
    .await;
    let clusters: Value = b
        .client()
        .get("/api/kubernetes/clusters")
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        clusters["items"],
        json!([
            {"name": "cat-a", "title": "Cluster cat-a", "dashboardUrl": "https://dash.example.com", "authProvider": "oidc", "oidcTokenProvider": "okta"},
            {"name": "cat-b", "title": "Cluster cat-b", "dashboardUrl": "https://dash.example.com", "authProvider": "oidc", "oidcTokenProvider": "okta"},
        ])
    );
    let res = b
        .client()
        .post_json("/api/kubernetes/resources/workloads/query", &json!({"entityRef": "component:default/petstore", "auth": {"oidc": {"okta": "sa-token"}}}))
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text());
    let resp: ObjectsByEntityResponse = res.json().unwrap();
    assert_eq!(
        resp.items.len(),
        1,
        "only the cluster the entity depends on"
    );
    assert_eq!(resp.items[0].cluster.name, "cat-a");
    assert_eq!(
        resp.items[0].cluster.dashboard_url.as_deref(),
        Some("https://dash.example.com")
    );
    assert_eq!(names(&resp, "cat-a", "pods").len(), 7);
    assert!(
        resp.items[0].pod_metrics.is_empty(),
        "skip-metrics-lookup annotation"
    );
    assert!(other.requests().is_empty());
}

#[tokio::test]
async fn tls_with_ca_data_ca_file_and_skip_tls_verify() {
    let Some(certs) = support::kube_api::test_certs() else {
        eprintln!("skipped: openssl not installed");
        return;
    };
    let api = KubeApiBuilder::new()
        .tls(&certs.cert, &certs.key)
        .token("t", Access::Full)
        .dataset("petstore", "default", 1, 1)
        .start()
        .await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &certs.ca).unwrap();
    use base64::Engine as _;
    let ca_b64 = base64::engine::general_purpose::STANDARD.encode(&certs.ca);
    let clusters = [
        format!(
            "{}          caData: {ca_b64}\n",
            cluster_yaml("ca-data", api.url(), "t")
        ),
        format!(
            "{}          caFile: {}\n",
            cluster_yaml("ca-file", api.url(), "t"),
            ca_file.display()
        ),
        format!(
            "{}          skipTLSVerify: true\n",
            cluster_yaml("skip", api.url(), "t")
        ),
        cluster_yaml("unverified", api.url(), "t"),
    ];
    let b = backend(config(&clusters, "  objectTypes: [pods]\n"), vec![]).await;
    let resp = services(&b, &component("petstore", json!({})), json!({})).await;
    for ok in ["ca-data", "ca-file", "skip"] {
        let item = resp.items.iter().find(|i| i.cluster.name == ok).unwrap();
        assert!(item.errors.is_empty(), "{ok}: {:?}", item.errors);
        assert_eq!(names(&resp, ok, "pods").len(), 1);
    }
    let item = resp
        .items
        .iter()
        .find(|i| i.cluster.name == "unverified")
        .unwrap();
    let e = serde_json::to_value(&item.errors).unwrap();
    assert_eq!(
        e[0]["errorType"], "FETCH_ERROR",
        "an unknown certificate is refused: {e}"
    );
}

#[tokio::test]
async fn x509_client_certificates() {
    let Some(certs) = support::kube_api::test_certs() else {
        eprintln!("skipped: openssl not installed");
        return;
    };
    let api = KubeApiBuilder::new()
        .tls(&certs.cert, &certs.key)
        .client_ca(&certs.ca)
        .dataset("petstore", "default", 1, 2)
        .start()
        .await;
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("client.pem"), &certs.client_cert).unwrap();
    std::fs::write(dir.path().join("client.key"), &certs.client_key).unwrap();
    let cluster = |name: &str, auth: String| {
        format!(
            "        - name: {name}\n          url: {}\n          caData: {}\n          authProvider: x509ClientCert\n{auth}",
            api.url(),
            b64(&certs.ca)
        )
    };
    let clusters = [
        cluster(
            "data",
            format!(
                "          clientCertData: {}\n          clientKeyData: {}\n",
                b64(&certs.client_cert),
                b64(&certs.client_key)
            ),
        ),
        cluster(
            "files",
            format!(
                "          clientCertFile: {}\n          clientKeyFile: {}\n",
                dir.path().join("client.pem").display(),
                dir.path().join("client.key").display()
            ),
        ),
        // The server's own certificate is no client certificate the CA issued for clients.
        cluster(
            "wrong",
            format!(
                "          clientCertData: {}\n          clientKeyData: {}\n",
                b64(&certs.cert),
                b64(&certs.key)
            ),
        ),
    ];
    let b = backend(config(&clusters, "  objectTypes: [pods]\n"), vec![]).await;
    let resp = services(&b, &component("petstore", json!({})), json!({})).await;
    for ok in ["data", "files"] {
        let item = resp.items.iter().find(|i| i.cluster.name == ok).unwrap();
        assert!(item.errors.is_empty(), "{ok}: {:?}", item.errors);
        assert_eq!(names(&resp, ok, "pods").len(), 2);
    }
    let wrong = resp
        .items
        .iter()
        .find(|i| i.cluster.name == "wrong")
        .unwrap();
    assert!(
        !wrong.errors.is_empty(),
        "a certificate the server refuses gives no access"
    );
    assert!(
        api.requests().iter().all(|r| r.authorization.is_none()),
        "no bearer token with x509"
    );
}

#[tokio::test]
async fn config_errors_at_start_name_the_key() {
    let cases = [
        (
            "kubernetes:\n  clusterLocatorMethods:\n    - type: config\n      clusters:\n        - name: a\n          authProvider: serviceAccount\n          serviceAccountToken: t\n",
            "kubernetes.clusterLocatorMethods[0].clusters[0].url",
        ),
        (
            "kubernetes:\n  clusterLocatorMethods:\n    - type: config\n      clusters:\n        - name: a\n          url: http://127.0.0.1:1\n          authProvider: serviceAccount\n",
            "kubernetes.clusterLocatorMethods[0].clusters[0].authProvider",
        ),
        (
            "kubernetes:\n  clusterLocatorMethods:\n    - type: config\n      clusters:\n        - name: a\n          url: http://127.0.0.1:1\n          authProvider: magic\n",
            "kubernetes.clusterLocatorMethods[0].clusters[0].authProvider",
        ),
        (
            "kubernetes:\n  clusterLocatorMethods:\n    - type: config\n      clusters:\n        - name: a\n          url: http://127.0.0.1:1\n          authProvider: oidc\n",
            "kubernetes.clusterLocatorMethods[0].clusters[0].authProvider",
        ),
        (
            "kubernetes:\n  clusterLocatorMethods:\n    - type: config\n      clusters:\n        - name: a\n          url: http://127.0.0.1:1\n          authProvider: oidc\n          oidcTokenProvider: x\n        - name: a\n          url: http://127.0.0.1:2\n          authProvider: oidc\n          oidcTokenProvider: x\n",
            "kubernetes.clusterLocatorMethods[0].clusters[1].name",
        ),
        (
            "kubernetes:\n  clusterLocatorMethods:\n    - type: config\n      clusters:\n        - name: a\n          url: http://127.0.0.1:1\n          authProvider: oidc\n          oidcTokenProvider: x\n          caData: bm90IGEgY2VydA==\n",
            "kubernetes.clusterLocatorMethods[0].clusters[0].caData",
        ),
        (
            "kubernetes:\n  clusterLocatorMethods:\n    - type: gke\n",
            "kubernetes.clusterLocatorMethods[0].type",
        ),
        (
            "kubernetes:\n  objectTypes: [pods, gadgets]\n",
            "kubernetes.objectTypes[1]",
        ),
        (
            "kubernetes:\n  serviceLocatorMethod:\n    type: everywhere\n",
            "kubernetes.serviceLocatorMethod.type",
        ),
        (
            "kubernetes:\n  limits:\n    clusterTimeout: 0\n",
            "kubernetes.limits.clusterTimeout",
        ),
        (
            "kubernetes:\n  limits:\n    maxResponseBytes: 0\n",
            "kubernetes.limits.maxResponseBytes",
        ),
        (
            "kubernetes:\n  limits:\n    maxConcurrentFetches: 0\n",
            "kubernetes.limits.maxConcurrentFetches",
        ),
        (
            "kubernetes:\n  customResources:\n    - group: a/b\n      apiVersion: v1\n      plural: x\n",
            "kubernetes.customResources[0].group",
        ),
    ];
    for (yaml, key) in cases {
        let err = TestBackend::builder()
            .feature(Feature::plugin(kubernetes::backend::plugin()))
            .service(catalog(vec![]))
            .config_yaml(yaml)
            .start()
            .await
            .expect_err(yaml);
        let text = format!("{err:?} {err}");
        assert!(text.contains(key), "expected '{key}' in: {text}");
    }
}

#[tokio::test]
async fn objects_pass_through_as_the_clusters_json_text() {
    // A pod whose containers are not a list: passed through, only without metrics.
    let odd = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "odd", "namespace": "default",
                     "labels": {"backstage.io/kubernetes-id": "petstore"}},
        "spec": {"containers": "not a list"}, "x-unknown": [1.5, {"z": null, "a": true}]});
    let odd_metrics = json!({"apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics",
        "metadata": {"name": "odd", "namespace": "default",
                     "labels": {"backstage.io/kubernetes-id": "petstore"}},
        "containers": [{"name": "app", "usage": {"cpu": "1m", "memory": "1Ki"}}]});
    let api = KubeApiBuilder::new()
        .token("sa-token", Access::Full)
        .dataset("petstore", "default", 1, 2)
        .object(odd)
        .object(odd_metrics)
        .start()
        .await;
    let b = backend(
        config(&[cluster_yaml("a", api.url(), "sa-token")], ""),
        vec![],
    )
    .await;
    let resp = services(&b, &component("petstore", json!({})), json!({})).await;
    let item = &resp.items[0];
    assert!(item.errors.is_empty(), "{:?}", item.errors);
    let pods = &item
        .resources
        .iter()
        .find(|r| r.kind == "pods")
        .unwrap()
        .resources;
    assert_eq!(pods.len(), 3);
    let http = reqwest::Client::new();
    for pod in pods {
        let name = pod.to_value().unwrap()["metadata"]["name"]
            .as_str()
            .unwrap()
            .to_owned();
        let served = http
            .get(format!(
                "{}/api/v1/namespaces/default/pods/{name}",
                api.url()
            ))
            .bearer_auth("sa-token")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(
            pod.json(),
            served,
            "{name} is the cluster's text, byte for byte"
        );
    }
    // The two regular pods have metrics, with the pods' own text; the odd one has none.
    let with_metrics: Vec<&str> = item.pod_metrics.iter().map(|m| m.pod.json()).collect();
    assert_eq!(with_metrics.len(), 2, "{with_metrics:?}");
    for text in with_metrics {
        assert!(pods.iter().any(|p| p.json() == text));
        assert!(!text.contains("\"odd\""));
    }
}
