//! The `/proxy` route of the Kubernetes backend against a fake API server: the cluster header,
//! the cluster's own authorization header, the caller's token never going upstream, streaming
//! both ways, permission denial and errors.
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use backlot::backend::Feature;
use backlot::plugins::kubernetes;
use backlot::services::permissions::PolicyDecision;
use backlot::testing::TestBackend;
use backlot::testing::permissions::mock_permissions_policy;
use futures::StreamExt as _;
use serde_json::Value;
use support::kube_api::{Access, KubeApi, KubeApiBuilder, unreachable_url};

async fn api() -> KubeApi {
    KubeApiBuilder::new()
        .token("sa-token", Access::Full)
        .token("user-k8s-token", Access::Full)
        .dataset("petstore", "default", 1, 2)
        .start()
        .await
}

fn yaml(url: &str, down: &str) -> String {
    format!(
        "kubernetes:\n  clusterLocatorMethods:\n    - type: config\n      clusters:\n        - name: dev\n          url: {url}\n          authProvider: serviceAccount\n          serviceAccountToken: sa-token\n        - name: down\n          url: {down}\n          authProvider: serviceAccount\n          serviceAccountToken: sa-token\n"
    )
}

async fn backend(api: &KubeApi, deny_proxy: bool) -> TestBackend {
    let mut b = TestBackend::builder()
        .feature(Feature::plugin(kubernetes::backend::plugin()))
        .config_yaml(yaml(api.url(), &unreachable_url().await));
    if deny_proxy {
        b = b.service(mock_permissions_policy(|q, _| {
            if q.permission.name == "kubernetes.proxy" {
                PolicyDecision::Deny
            } else {
                PolicyDecision::Allow
            }
        }));
    }
    b.start().await.unwrap()
}

#[tokio::test]
async fn both_headers_reach_the_cluster_and_the_backstage_token_does_not() {
    let api = api().await;
    let b = backend(&api, false).await;
    let res = b
        .client()
        .request(
            reqwest::Method::GET,
            "/api/kubernetes/proxy/api/v1/namespaces/default/pods?labelSelector=app%3Dpetstore",
        )
        .header("Backstage-Kubernetes-Cluster", "dev")
        .header(
            "Backstage-Kubernetes-Authorization",
            "Bearer user-k8s-token",
        )
        .header("Cookie", "session=secret")
        .header("X-Custom", "kept")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["kind"], "PodList");
    assert_eq!(v["items"].as_array().unwrap().len(), 2);
    let r = api.requests().pop().unwrap();
    assert_eq!(r.path, "/api/v1/namespaces/default/pods");
    assert_eq!(r.label_selector().as_deref(), Some("app=petstore"));
    assert_eq!(r.authorization.as_deref(), Some("Bearer user-k8s-token"));
    assert_eq!(r.headers.get("x-custom").map(String::as_str), Some("kept"));
    assert!(!r.headers.contains_key("cookie"));
    assert!(
        !r.headers
            .keys()
            .any(|k| k.starts_with("backstage-kubernetes")),
        "{:?}",
        r.headers
    );
    assert!(
        !r.headers.values().any(|v| v.contains("mock-user-token")),
        "the caller's token stays here"
    );

    // Without the cluster's authorization header, the cluster's own strategy authenticates.
    let res = b
        .client()
        .request(
            reqwest::Method::GET,
            "/api/kubernetes/proxy/apis/apps/v1/namespaces/default/deployments/petstore-d0",
        )
        .header("Backstage-Kubernetes-Cluster", "dev")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["metadata"]["name"], "petstore-d0");
    assert_eq!(
        api.requests().pop().unwrap().authorization.as_deref(),
        Some("Bearer sa-token")
    );

    // The cluster's own answers pass through: 401 for a bad token, 404 for a missing object.
    let res = b
        .client()
        .request(
            reqwest::Method::GET,
            "/api/kubernetes/proxy/api/v1/namespaces/default/pods",
        )
        .header("Backstage-Kubernetes-Cluster", "dev")
        .header("Backstage-Kubernetes-Authorization", "Bearer nope")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["kind"], "Status");
    let res = b
        .client()
        .request(
            reqwest::Method::GET,
            "/api/kubernetes/proxy/api/v1/namespaces/default/pods/missing",
        )
        .header("Backstage-Kubernetes-Cluster", "dev")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn bodies_stream_both_ways() {
    let api = api().await;
    let b = backend(&api, false).await;
    // Upload: 8 MiB in chunks, arriving whole.
    let chunks =
        futures::stream::iter((0..128).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 64 * 1024])));
    let res = b
        .client()
        .request(
            reqwest::Method::POST,
            "/api/kubernetes/proxy/api/v1/namespaces/default/configmaps",
        )
        .header("Backstage-Kubernetes-Cluster", "dev")
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["receivedBytes"], 8 * 1024 * 1024);
    let post = api.requests().pop().unwrap();
    assert_eq!(post.method, "POST");

    // Download: a watch stays open for 30 s; its first events arrive at once.
    let started = Instant::now();
    let res = b
        .client()
        .request(
            reqwest::Method::GET,
            "/api/kubernetes/proxy/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=30",
        )
        .header("Backstage-Kubernetes-Cluster", "dev")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut stream = res.bytes_stream();
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("petstore-d0-5d8f7c-p1") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("events arrive while the watch is open")
            .unwrap()
            .unwrap();
        seen.extend_from_slice(&chunk);
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let first: Value =
        serde_json::from_str(String::from_utf8_lossy(&seen).lines().next().unwrap()).unwrap();
    assert_eq!(first["type"], "ADDED");
}

/// `GET path` written byte for byte on a TCP connection, with the test client's token.
async fn raw_get(b: &TestBackend, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let addr = b.handle().local_addr();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let token =
        backlot::testing::mock_credentials::user_header(backlot::testing::DEFAULT_MOCK_USER);
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {token}\r\nBackstage-Kubernetes-Cluster: dev\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).await.unwrap();
    let status = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, out)
}

#[tokio::test]
async fn refusals_and_errors() {
    let api = api().await;
    let b = backend(&api, false).await;
    let send = |path: &'static str, cluster: Option<&'static str>| {
        let mut req = b.client().request(reqwest::Method::GET, path);
        if let Some(c) = cluster {
            req = req.header("Backstage-Kubernetes-Cluster", c);
        }
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, v) = send("/api/kubernetes/proxy/api/v1/pods", None).await;
    assert_eq!(
        (status, v["error"]["name"].as_str()),
        (400, Some("InputError")),
        "{v}"
    );
    let (status, v) = send("/api/kubernetes/proxy/api/v1/pods", Some("nowhere")).await;
    assert_eq!(
        (status, v["error"]["name"].as_str()),
        (404, Some("NotFoundError")),
        "{v}"
    );
    let (status, v) = send("/api/kubernetes/proxy/api/v1/pods", Some("down")).await;
    assert_eq!(
        (status, v["error"]["name"].as_str()),
        (502, Some("Error")),
        "{v}"
    );
    assert_eq!(v["response"]["statusCode"], 502, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("'down'")),
        "{v}"
    );
    assert_eq!(v["request"]["method"], "GET", "{v}");
    // Dot segments, sent raw (HTTP clients would resolve them before sending).
    for path in [
        "/api/kubernetes/proxy/api/v1/%2e%2e/%2E%2E/secret",
        "/api/kubernetes/proxy/api/v1/../../x",
    ] {
        let before = api.requests().len();
        let (status, body) = raw_get(&b, path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains("InputError"), "{body}");
        assert_eq!(api.requests().len(), before, "nothing reached the cluster");
    }
    let before = api.requests().len();
    let res = b
        .client()
        .unauthenticated()
        .request(reqwest::Method::GET, "/api/kubernetes/proxy/api/v1/pods")
        .header("Backstage-Kubernetes-Cluster", "dev")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        api.requests().len(),
        before,
        "an unauthenticated call never reaches the cluster"
    );
}

#[tokio::test]
async fn the_proxy_permission_can_deny() {
    let api = api().await;
    let b = backend(&api, true).await;
    let res = b
        .client()
        .request(reqwest::Method::GET, "/api/kubernetes/proxy/api/v1/pods")
        .header("Backstage-Kubernetes-Cluster", "dev")
        .header(
            "Backstage-Kubernetes-Authorization",
            "Bearer user-k8s-token",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["name"], "NotAllowedError");
    assert!(api.requests().is_empty());
    // The other routes still work.
    assert_eq!(
        b.client()
            .get("/api/kubernetes/clusters")
            .await
            .unwrap()
            .status(),
        200
    );
}
