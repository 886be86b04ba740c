#![allow(missing_docs)]
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used)]
//! The Kubernetes tab and its building blocks:
//!
//! - problem detection (`detect_errors_at`) over realistic pod, deployment, autoscaler and
//!   job JSON, one test per problem type and the healthy cases that must stay quiet;
//! - `HttpKubernetesApi` against a local HTTP server standing in for `/api/kubernetes`
//!   (paths, bodies, tokens, limits, error JSON);
//! - the tab over HTTP: a backend with the catalog and the app with the catalog and
//!   Kubernetes frontend plugins, the Kubernetes API replaced by a recording fixture
//!   (installed as `api:plugin.kubernetes.service`) that answers prepared cluster objects.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use backlot::backend::Feature;
use backlot::frontend::{ApiBlueprint, ApiFactory, App};
use backlot::plugins::app::app_plugin;
use backlot::plugins::catalog::CatalogPlugin;
use backlot::plugins::kubernetes::common::{
    ClusterSummary, DetectedError, DetectedErrorType, FixSolution, KubernetesRequestBody,
    ObjectsByEntityResponse, detect_errors_at,
};
use backlot::plugins::kubernetes::react::{
    HttpKubernetesApi, KUBERNETES_API, KubernetesApi, KubernetesApiError, KubernetesAuthTokens,
};
use backlot::testing::TestBackend;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------
// Fixtures: objects as a cluster returns them.

const NOW: &str = "2026-12-06T12:00:00Z";

fn now() -> DateTime<Utc> {
    NOW.parse().unwrap()
}

fn pod(name: &str, owner_uid: &str, statuses: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": "shop", "uid": format!("uid-{name}"),
            "creationTimestamp": "2026-12-06T09:30:00Z",
            "labels": {"backstage.io/kubernetes-id": "shop"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9f", "uid": owner_uid, "controller": true}]
        },
        "spec": {"containers": [
            {"name": "web", "image": "registry.local/web:1.4.2",
             "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}, "initialDelaySeconds": 5, "periodSeconds": 10, "failureThreshold": 3},
             "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}}}
        ]},
        "status": {"phase": "Running", "containerStatuses": statuses}
    })
}

fn running(ready: bool, started: &str, restarts: u64) -> Value {
    json!([{"name": "web", "ready": ready, "restartCount": restarts, "image": "registry.local/web:1.4.2",
            "state": {"running": {"startedAt": started}}}])
}

fn crash_looping() -> Value {
    json!([{"name": "web", "ready": false, "restartCount": 12, "image": "registry.local/web:1.4.2",
            "state": {"waiting": {"reason": "CrashLoopBackOff",
                                  "message": "back-off 5m0s restarting failed container=web pod=web-7d9f-crash_shop(0b6f)"}},
            "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137,
                                         "startedAt": "2026-12-06T11:50:00Z", "finishedAt": "2026-12-06T11:51:02Z"}}}])
}

fn image_pull(reason: &str) -> Value {
    json!([{"name": "web", "ready": false, "restartCount": 0, "image": "registry.local/web:nope",
            "state": {"waiting": {"reason": reason,
                                  "message": "Back-off pulling image \"registry.local/web:nope\""}}}])
}

fn deployment(conditions: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "uid": "uid-deploy-web",
                     "creationTimestamp": "2026-11-30T08:00:00Z"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}},
        "status": {"replicas": 2, "readyReplicas": 1, "updatedReplicas": 2, "availableReplicas": 1,
                   "conditions": conditions}
    })
}

fn replica_set(name: &str, uid: &str, replicas: i64) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": "shop", "uid": uid,
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "uid-deploy-web", "controller": true}]},
        "spec": {"replicas": replicas},
        "status": {"replicas": replicas, "readyReplicas": 1}
    })
}

fn hpa(current: i64, max: i64) -> Value {
    json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                 "minReplicas": 2, "maxReplicas": max},
        "status": {"currentReplicas": current, "desiredReplicas": current}
    })
}

fn failed_job() -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "migrate-db", "namespace": "shop", "creationTimestamp": "2026-12-06T10:00:00Z"},
        "spec": {"completions": 1, "backoffLimit": 6},
        "status": {"failed": 7, "startTime": "2026-12-06T10:00:00Z", "conditions": [
            {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"},
            {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}
        ]}
    })
}

fn complete_job() -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "seed", "namespace": "shop", "creationTimestamp": "2026-12-06T10:00:00Z"},
        "spec": {"completions": 1},
        "status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}
    })
}

fn cluster(name: &str, resources: Value) -> Value {
    json!({"cluster": {"name": name}, "resources": resources, "podMetrics": [], "errors": []})
}

fn response(items: Vec<Value>) -> ObjectsByEntityResponse {
    serde_json::from_value(json!({ "items": items })).unwrap()
}

fn detect(resources: Value) -> Vec<DetectedError> {
    let r = response(vec![cluster("prod", resources)]);
    detect_errors_at(&r, now()).remove("prod").unwrap()
}

fn pods(list: Vec<Value>) -> Value {
    json!([{"type": "pods", "resources": list}])
}

// ---------------------------------------------------------------------------------------
// Problem detection.

#[test]
fn a_healthy_workload_has_no_problems() {
    let errors = detect(json!([
        {"type": "pods", "resources": [pod("web-7d9f-a", "uid-rs", running(true, "2026-12-06T09:31:00Z", 0))]},
        {"type": "deployments", "resources": [deployment(json!([
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "message": "ReplicaSet \"web-7d9f\" has successfully progressed."}
        ]))]},
        {"type": "horizontalpodautoscalers", "resources": [hpa(3, 10)]},
        {"type": "jobs", "resources": [complete_job()]}
    ]));
    assert_eq!(errors, vec![]);
}

#[test]
fn a_crash_looping_container_is_waiting_and_restarting_with_its_last_termination() {
    let errors = detect(pods(vec![pod("web-7d9f-crash", "uid-rs", crash_looping())]));
    assert_eq!(errors.len(), 2, "{errors:#?}");
    let waiting = &errors[0];
    assert_eq!(waiting.error_type, DetectedErrorType::ContainerWaiting);
    assert_eq!(waiting.severity, 4);
    assert!(
        waiting
            .message
            .starts_with("back-off 5m0s restarting failed container=web")
    );
    assert_eq!(waiting.source_ref.name, "web-7d9f-crash");
    assert_eq!(waiting.source_ref.namespace, "shop");
    assert_eq!(waiting.source_ref.kind, "Pod");
    assert_eq!(waiting.source_ref.api_group, "v1");
    let fix = waiting.proposed_fix.as_ref().unwrap();
    assert_eq!(fix.error_type, "CrashLoopBackOff");
    assert_eq!(
        fix.solution,
        FixSolution::Logs {
            container: "web".into()
        }
    );

    let restarting = &errors[1];
    assert_eq!(
        restarting.error_type,
        DetectedErrorType::ContainersRestarting
    );
    assert_eq!(restarting.occurrence_count, 12);
    assert_eq!(
        restarting.message,
        "container=web restarted 12 times (last exit: OOMKilled, code 137)"
    );
    let fix = restarting.proposed_fix.as_ref().unwrap();
    assert_eq!(fix.error_type, "OOMKilled");
    assert!(
        matches!(&fix.solution, FixSolution::Docs { docs_link } if docs_link.contains("assign-memory-resource"))
    );
}

#[test]
fn a_container_that_exited_with_an_error_points_at_its_logs() {
    let statuses = json!([{"name": "web", "ready": true, "restartCount": 1,
        "state": {"running": {"startedAt": "2026-12-06T11:00:00Z"}},
        "lastState": {"terminated": {"reason": "Error", "exitCode": 2}}}]);
    let errors = detect(pods(vec![pod("web-7d9f-err", "uid-rs", statuses)]));
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let fix = errors[0].proposed_fix.as_ref().unwrap();
    assert_eq!(fix.error_type, "Error");
    assert!(fix.root_cause_explanation.contains("exit code (2)"));
    assert_eq!(
        fix.solution,
        FixSolution::Logs {
            container: "web".into()
        }
    );
}

#[test]
fn image_pull_failures_are_detected_in_both_stages() {
    for reason in ["ErrImagePull", "ImagePullBackOff"] {
        let errors = detect(pods(vec![pod(
            "web-7d9f-img",
            "uid-rs",
            image_pull(reason),
        )]));
        assert_eq!(errors.len(), 1, "{reason}: {errors:#?}");
        assert_eq!(errors[0].error_type, DetectedErrorType::ContainerWaiting);
        assert_eq!(
            errors[0].message,
            "Back-off pulling image \"registry.local/web:nope\""
        );
        let fix = errors[0].proposed_fix.as_ref().unwrap();
        assert_eq!(fix.error_type, reason);
        assert!(
            matches!(&fix.solution, FixSolution::Docs { docs_link } if docs_link.ends_with("#imagepullbackoff"))
        );
    }
    // Without a message the known reason is still a problem; a normal start is not.
    let quiet = json!([{"name": "web", "ready": false, "restartCount": 0,
        "state": {"waiting": {"reason": "ContainerCreating"}}}]);
    assert_eq!(detect(pods(vec![pod("p", "u", quiet)])), vec![]);
    let bare = json!([{"name": "web", "ready": false, "restartCount": 0,
        "state": {"waiting": {"reason": "CreateContainerConfigError"}}}]);
    let errors = detect(pods(vec![pod("p", "u", bare)]));
    assert_eq!(
        errors[0].message,
        "container web is waiting: CreateContainerConfigError"
    );
    assert_eq!(
        errors[0].proposed_fix.as_ref().unwrap().error_type,
        "CreateContainerConfigError"
    );
}

#[test]
fn an_unready_pod_is_a_problem_once_its_readiness_probe_had_its_chance() {
    // Started 11:59:00; probe allows 5 + 10 × 3 = 35 s; at 12:00:00 that has passed.
    let late = detect(pods(vec![pod(
        "web-7d9f-slow",
        "uid-rs",
        running(false, "2026-12-06T11:59:00Z", 0),
    )]));
    assert_eq!(late.len(), 1, "{late:#?}");
    assert_eq!(
        late[0].error_type,
        DetectedErrorType::ReadinessProbeTakingTooLong
    );
    assert_eq!(
        late[0].proposed_fix.as_ref().unwrap().solution,
        FixSolution::Events {
            pod_name: "web-7d9f-slow".into()
        }
    );
    // Started 20 s ago: still within the probe's window.
    let early = detect(pods(vec![pod(
        "web-7d9f-new",
        "uid-rs",
        running(false, "2026-12-06T11:59:40Z", 0),
    )]));
    assert_eq!(early, vec![]);
    // Without a readiness probe, unready is not this problem.
    let mut no_probe = pod(
        "web-7d9f-np",
        "uid-rs",
        running(false, "2026-12-06T10:00:00Z", 0),
    );
    no_probe["spec"]["containers"][0]
        .as_object_mut()
        .unwrap()
        .remove("readinessProbe");
    assert_eq!(detect(pods(vec![no_probe])), vec![]);
}

#[test]
fn a_deployment_that_does_not_progress_is_a_problem() {
    let errors = detect(
        json!([{"type": "deployments", "resources": [deployment(json!([
            {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable", "message": "Deployment does not have minimum availability."},
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"web-7d9f\" has timed out progressing."},
            {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": "pods \"web-7d9f-\" is forbidden: exceeded quota"}
        ]))]}]),
    );
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        messages,
        vec![
            "Deployment does not have minimum availability.",
            "ReplicaSet \"web-7d9f\" has timed out progressing.",
            "pods \"web-7d9f-\" is forbidden: exceeded quota"
        ]
    );
    assert!(errors.iter().all(|e| e.severity == 6
        && e.error_type == DetectedErrorType::ConditionMessagePresent
        && e.source_ref.kind == "Deployment"));
}

#[test]
fn an_autoscaler_at_its_maximum_is_a_problem() {
    let errors = detect(json!([{"type": "horizontalpodautoscalers", "resources": [hpa(10, 10)]}]));
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].error_type,
        DetectedErrorType::HpaMaxCurrentReplicas
    );
    assert_eq!(errors[0].severity, 8);
    assert_eq!(
        errors[0].message,
        "Current number of replicas (10) is equal to the configured max number of replicas (10)"
    );
    // An autoscaler that has not reported yet is not at its maximum.
    let mut fresh = hpa(0, 10);
    fresh.as_object_mut().unwrap().remove("status");
    assert_eq!(
        detect(json!([{"type": "horizontalpodautoscalers", "resources": [fresh]}])),
        vec![]
    );
}

#[test]
fn a_failed_job_is_a_problem_counting_its_failed_pods() {
    let errors = detect(json!([{"type": "jobs", "resources": [failed_job(), complete_job()]}]));
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let e = &errors[0];
    assert_eq!(e.error_type, DetectedErrorType::JobFailed);
    assert_eq!(e.occurrence_count, 7);
    assert_eq!(e.source_ref.name, "migrate-db");
    assert_eq!(e.source_ref.api_group, "batch/v1");
    assert!(e.message.contains("BackoffLimitExceeded"), "{}", e.message);
    assert!(
        e.proposed_fix
            .as_ref()
            .unwrap()
            .root_cause_explanation
            .contains("backoffLimit")
    );
}

#[test]
fn problems_are_sorted_by_severity_per_cluster_and_serialize_like_backstage() {
    let r = response(vec![
        cluster(
            "prod",
            json!([
                {"type": "pods", "resources": [pod("web-7d9f-crash", "uid-rs", crash_looping())]},
                {"type": "horizontalpodautoscalers", "resources": [hpa(10, 10)]},
                {"type": "jobs", "resources": [failed_job()]}
            ]),
        ),
        cluster("staging", json!([])),
    ]);
    let all = detect_errors_at(&r, now());
    assert_eq!(all["staging"], vec![]);
    let severities: Vec<u8> = all["prod"].iter().map(|e| e.severity).collect();
    assert_eq!(severities, vec![8, 6, 4, 4]);
    let wire = serde_json::to_value(&all["prod"][3]).unwrap();
    assert_eq!(wire["type"], "containers-restarting");
    assert_eq!(wire["occurrenceCount"], 12);
    assert_eq!(wire["sourceRef"]["apiGroup"], "v1");
    assert_eq!(wire["proposedFix"]["type"], "docs");
    assert_eq!(wire["proposedFix"]["errorType"], "OOMKilled");
    assert!(wire["proposedFix"]["docsLink"].is_string());
    let back: DetectedError = serde_json::from_value(wire).unwrap();
    assert_eq!(back, all["prod"][3]);
}

#[test]
fn hostile_objects_do_not_break_detection() {
    let errors = detect(json!([
        {"type": "pods", "resources": [
            42, "text", null,
            {"metadata": "nope", "status": {"containerStatuses": "nope"}},
            {"status": {"containerStatuses": [{"restartCount": -3, "state": {"waiting": 7}}, 5]}},
            {"spec": {"containers": [{"name": "web", "readinessProbe": {"periodSeconds": i64::MAX, "failureThreshold": i64::MAX, "initialDelaySeconds": i64::MAX}}]},
             "status": {"containerStatuses": [{"name": "web", "ready": false, "state": {"running": {"startedAt": "2026-12-06T11:00:00Z"}}}]}},
            {"spec": {"containers": [{"name": "web", "readinessProbe": {}}]},
             "status": {"containerStatuses": [{"name": "web", "ready": false, "state": {"running": {"startedAt": "not a date"}}}]}}
        ]},
        {"type": "jobs", "resources": [{"status": {"conditions": [{"type": "Failed", "status": "True"}], "failed": "many"}}]}
    ]));
    // Only the failed job is a problem; it has no name.
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].source_ref.name, "unknown");
    assert_eq!(errors[0].occurrence_count, 1);
}

// ---------------------------------------------------------------------------------------
// HttpKubernetesApi against a stand-in for /api/kubernetes.

#[derive(Debug, Default)]
struct Seen {
    bodies: Vec<(String, Value, String)>,
}

async fn serve_backend(seen: Arc<Mutex<Seen>>) -> String {
    let s1 = seen.clone();
    let app = axum::Router::new()
        .route(
            "/api/kubernetes/clusters",
            get(|| async {
                Json(json!({"items": [
                    {"name": "prod", "authProvider": "serviceAccount"},
                    {"name": "okta-cluster", "authProvider": "oidc", "oidcTokenProvider": "okta"},
                    {"name": "gke", "authProvider": "google"}
                ]}))
            }),
        )
        .route(
            "/api/kubernetes/services/{name}",
            post(
                move |axum::extract::Path(name): axum::extract::Path<String>,
                      headers: HeaderMap,
                      Json(body): Json<Value>| {
                    let seen = s1.clone();
                    async move {
                        let auth = headers
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string();
                        seen.lock().unwrap().bodies.push((name.clone(), body, auth));
                        match name.as_str() {
                            "forbidden" => (
                                StatusCode::FORBIDDEN,
                                Json(json!({"error": {"name": "NotAllowedError", "message": "not for you"}, "response": {"statusCode": 403}})),
                            ),
                            "huge" => (
                                StatusCode::OK,
                                Json(json!({"items": [], "padding": "x".repeat(4096)})),
                            ),
                            "slow" => {
                                tokio::time::sleep(Duration::from_secs(3)).await;
                                (StatusCode::OK, Json(json!({"items": []})))
                            }
                            "garbage" => (StatusCode::OK, Json(json!({"items": "no"}))),
                            _ => (
                                StatusCode::OK,
                                Json(json!({"items": [{"cluster": {"name": "prod"}, "resources": [], "podMetrics": [], "errors": []}]})),
                            ),
                        }
                    }
                },
            ),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/api/kubernetes")
}

fn body_for(name: &str) -> KubernetesRequestBody {
    KubernetesRequestBody {
        entity: json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
                       "metadata": {"name": name, "annotations": {"backstage.io/kubernetes-id": name}}}),
        auth: None,
    }
}

#[derive(Debug)]
struct Tokens;

#[async_trait::async_trait]
impl KubernetesAuthTokens for Tokens {
    async fn token(&self, auth_provider: &str, oidc_provider: Option<&str>) -> Option<String> {
        match (auth_provider, oidc_provider) {
            ("oidc", Some("okta")) => Some("okta-id-token".into()),
            _ => None,
        }
    }
}

#[tokio::test]
async fn the_http_client_posts_the_entity_with_the_token_and_client_side_auth() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let base = serve_backend(seen.clone()).await;
    let api = HttpKubernetesApi::new(&base).with_token("user-token");
    let clusters: Vec<ClusterSummary> = api.get_clusters().await.unwrap();
    assert_eq!(clusters.len(), 3);
    assert_eq!(clusters[1].oidc_token_provider.as_deref(), Some("okta"));

    let answer = api.get_objects_by_entity(&body_for("shop")).await.unwrap();
    assert_eq!(answer.items[0].cluster.name, "prod");
    {
        let seen = seen.lock().unwrap();
        let (name, body, auth) = &seen.bodies[0];
        assert_eq!(name, "shop");
        assert_eq!(body["entity"]["metadata"]["name"], "shop");
        assert!(body.get("auth").is_none(), "{body}");
        assert_eq!(auth, "Bearer user-token");
    }

    // With a token source: tokens of the client-side providers the clusters use.
    let api = api.auth_tokens(Arc::new(Tokens));
    api.get_objects_by_entity(&body_for("shop")).await.unwrap();
    let body = seen.lock().unwrap().bodies[1].1.clone();
    assert_eq!(body["auth"], json!({"oidc": {"okta": "okta-id-token"}}));

    // A request that carries auth keeps it.
    let mut given = body_for("shop");
    given.auth = Some([("google".to_string(), json!("g-token"))].into());
    api.get_objects_by_entity(&given).await.unwrap();
    assert_eq!(
        seen.lock().unwrap().bodies[2].1["auth"],
        json!({"google": "g-token"})
    );

    // Entity names are one path segment.
    api.get_objects_by_entity(&body_for("a/../b"))
        .await
        .unwrap();
    assert_eq!(seen.lock().unwrap().bodies[3].0, "a/../b");
    assert_eq!(
        api.services_url("a/../b"),
        format!("{base}/services/a%2F..%2Fb")
    );
}

#[tokio::test]
async fn the_http_client_types_errors_and_enforces_its_limits() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let base = serve_backend(seen).await;
    let api = HttpKubernetesApi::new(&base);

    let err = api
        .get_objects_by_entity(&body_for("forbidden"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403));
    assert!(
        matches!(&err, KubernetesApiError::Response { name, message, .. } if name == "NotAllowedError" && message == "not for you")
    );
    let err = api
        .get_objects_by_entity(&body_for("garbage"))
        .await
        .unwrap_err();
    assert!(matches!(err, KubernetesApiError::Decode { .. }), "{err:?}");

    let small = HttpKubernetesApi::new(&base).max_response_bytes(1024);
    let err = small
        .get_objects_by_entity(&body_for("huge"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, KubernetesApiError::TooLarge { limit: 1024, .. }),
        "{err:?}"
    );
    assert!(small.get_objects_by_entity(&body_for("shop")).await.is_ok());

    // The limits come from kubernetes.frontend.* as well.
    let config = backlot::services::config::Config::from_value(json!({
        "kubernetes": {"frontend": {"requestTimeout": "500ms", "maxResponseBytes": 2048}}
    }));
    let configured = HttpKubernetesApi::new(&base).configure(&config).unwrap();
    let started = std::time::Instant::now();
    let err = configured
        .get_objects_by_entity(&body_for("slow"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, KubernetesApiError::Transport { source, .. } if source.is_timeout()),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    let err = configured
        .get_objects_by_entity(&body_for("huge"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, KubernetesApiError::TooLarge { limit: 2048, .. }),
        "{err:?}"
    );
    for bad in [
        json!({"requestTimeout": 0}),
        json!({"maxResponseBytes": 0}),
        json!({"maxResponseBytes": "lots"}),
    ] {
        let config =
            backlot::services::config::Config::from_value(json!({"kubernetes": {"frontend": bad}}));
        assert!(
            HttpKubernetesApi::new(&base).configure(&config).is_err(),
            "{bad}"
        );
    }
    let dead = HttpKubernetesApi::new("http://127.0.0.1:9/api/kubernetes");
    assert!(matches!(
        dead.get_clusters().await.unwrap_err(),
        KubernetesApiError::Transport { .. }
    ));
}

// ---------------------------------------------------------------------------------------
// The tab, with a recording fixture API.

const CATALOG: &str = r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: shop
  annotations:
    backstage.io/kubernetes-id: shop
spec: {type: service, lifecycle: production, owner: team-a}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: cart
  annotations:
    backstage.io/kubernetes-label-selector: 'app=cart,tier in (web)'
spec: {type: service, lifecycle: production, owner: team-a}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: plain
spec: {type: library, lifecycle: production, owner: team-a}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: broken
  annotations:
    backstage.io/kubernetes-id: broken
spec: {type: service, lifecycle: production, owner: team-a}
"#;

/// What two clusters answer for `shop`: production with a deployment (two live pods, one
/// crash-looping, and an old replica set), a pod nobody owns, other objects and hostile
/// strings; staging failing.
fn shop_objects() -> ObjectsByEntityResponse {
    let mut hostile_pod = pod(
        "<script>alert('pod')</script>",
        "uid-nobody",
        running(true, "2026-12-06T09:31:00Z", 0),
    );
    hostile_pod["metadata"]["ownerReferences"] = json!([]);
    let healthy = pod(
        "web-7d9f-a",
        "uid-rs-web-7d9f",
        running(true, "2026-12-06T09:31:00Z", 0),
    );
    let crashing = pod("web-7d9f-crash", "uid-rs-web-7d9f", crash_looping());
    let old = pod(
        "web-5c1a-x",
        "uid-rs-web-5c1a",
        running(true, "2026-12-01T00:00:00Z", 0),
    );
    let mut cache_pod = pod(
        "cache-0",
        "uid-sts-cache",
        running(true, "2026-12-06T09:31:00Z", 0),
    );
    cache_pod["metadata"]["ownerReferences"][0]["kind"] = json!("StatefulSet");
    serde_json::from_value(json!({"items": [
        {
            "cluster": {"name": "prod", "title": "Production <b>EU</b>", "dashboardUrl": "javascript:alert('dash')"},
            "resources": [
                {"type": "pods", "resources": [healthy, crashing, hostile_pod, old, cache_pod]},
                {"type": "statefulsets", "resources": [{"metadata": {"name": "cache", "namespace": "shop", "uid": "uid-sts-cache"},
                    "spec": {"replicas": 1}, "status": {"replicas": 1, "readyReplicas": 1}}]},
                {"type": "replicasets", "resources": [replica_set("web-7d9f", "uid-rs-web-7d9f", 2), replica_set("web-5c1a", "uid-rs-web-5c1a", 0)]},
                {"type": "deployments", "resources": [deployment(json!([
                    {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"web-7d9f\" has timed out progressing."}
                ]))]},
                {"type": "services", "resources": [{"metadata": {"name": "<img src=x onerror=alert('svc')>", "namespace": "shop"},
                    "spec": {"type": "ClusterIP", "clusterIP": "10.0.12.7", "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]}}]},
                {"type": "ingresses", "resources": [{"metadata": {"name": "web", "namespace": "shop"},
                    "spec": {"rules": [{"host": "shop.example.com"}]}, "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}]}}}]},
                {"type": "jobs", "resources": [failed_job()]},
                {"type": "cronjobs", "resources": [{"metadata": {"name": "nightly-report", "namespace": "shop"},
                    "spec": {"schedule": "0 3 * * *", "suspend": false}, "status": {"lastScheduleTime": "2026-12-06T03:00:00Z"}}]},
                {"type": "horizontalpodautoscalers", "resources": [hpa(10, 10)]},
                {"type": "customresources", "resources": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
                    "metadata": {"name": "web-rollout", "namespace": "shop"}, "status": {"phase": "Healthy"}}]}
            ],
            "podMetrics": [{"pod": {"metadata": {"name": "web-7d9f-a", "namespace": "shop"}},
                "cpu": {"currentUsage": 0.12, "requestTotal": 0.1, "limitTotal": 0.5},
                "memory": {"currentUsage": 100663296.0, "requestTotal": 134217728.0, "limitTotal": 268435456.0},
                "containers": []}],
            "errors": []
        },
        {
            "cluster": {"name": "staging"},
            "resources": [],
            "podMetrics": [],
            "errors": [
                {"errorType": "UNAUTHORIZED_ERROR", "statusCode": 401, "resourcePath": "/api/v1/namespaces/shop/pods", "message": "Unauthorized <i>token</i>"},
                {"errorType": "FETCH_ERROR", "message": "connect ECONNREFUSED 127.0.0.1:6443"}
            ]
        }
    ]}))
    .unwrap()
}

/// The Kubernetes API as the tab sees it: prepared objects per entity, every request
/// recorded.
#[derive(Debug, Default)]
struct Recorder {
    requests: Mutex<Vec<KubernetesRequestBody>>,
}

#[async_trait::async_trait]
impl KubernetesApi for Recorder {
    async fn get_clusters(&self) -> Result<Vec<ClusterSummary>, KubernetesApiError> {
        Ok(vec![])
    }

    async fn get_objects_by_entity(
        &self,
        request: &KubernetesRequestBody,
    ) -> Result<ObjectsByEntityResponse, KubernetesApiError> {
        self.requests.lock().unwrap().push(request.clone());
        match request.entity["metadata"]["name"].as_str() {
            Some("shop") => Ok(shop_objects()),
            Some("cart") => Ok(response(vec![cluster("prod", json!([]))])),
            _ => Err(KubernetesApiError::Response {
                url: "/services/broken".into(),
                status: 500,
                name: "Error".into(),
                message: "the <b>backend</b> fell over".into(),
            }),
        }
    }
}

struct Env {
    backend: TestBackend,
    api: Arc<Recorder>,
    _dir: tempfile::TempDir,
}

async fn env(extra_config: &str) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.yaml");
    std::fs::write(&catalog, CATALOG).unwrap();
    let api = Arc::new(Recorder::default());
    let instance: Arc<dyn KubernetesApi> = api.clone();
    let backend = TestBackend::builder()
        .feature(Feature::plugin(CatalogPlugin::new()))
        .feature(app_plugin(
            App::builder()
                .feature(backlot::plugins::catalog::frontend::plugin())
                .feature(backlot::plugins::kubernetes::frontend::plugin())
                .extension(ApiBlueprint::make(ApiFactory::instance(
                    &KUBERNETES_API,
                    instance,
                ))),
        ))
        .config_yaml(format!(
            "app:\n  title: Northwind Portal\ncatalog:\n  rules:\n    - allow: [Component]\n  locations:\n    - type: file\n      target: {}\n{extra_config}",
            catalog.display()
        ))
        .start()
        .await
        .unwrap();
    Env {
        backend,
        api,
        _dir: dir,
    }
}

async fn page(env: &Env, path: &str) -> (u16, String) {
    let res = env.backend.client().get(path).await.unwrap();
    (res.status(), res.text())
}

fn section<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let s = html
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {html}"));
    let e = html[s..].find(end).map_or(html.len(), |e| s + e);
    &html[s..e]
}

const SHOP: &str = "/catalog/default/component/shop/kubernetes";

#[tokio::test]
async fn the_tab_groups_deployments_with_their_pods_and_shows_problems() {
    let env = env("").await;
    let (status, html) = page(&env, SHOP).await;
    assert_eq!(status, 200, "{html}");
    // The whole entity went to the API, without client-side auth.
    {
        let requests = env.api.requests.lock().unwrap();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].entity["metadata"]["name"], "shop");
        assert_eq!(
            requests[0].entity["metadata"]["annotations"]["backstage.io/kubernetes-id"],
            "shop"
        );
        assert_eq!(requests[0].auth, None);
    }
    assert!(
        html.contains("<title>shop · Kubernetes · Northwind Portal</title>"),
        "{html}"
    );

    // The deployment holds the pods of its live replica set, and no other.
    let prod = section(
        &html,
        "data-cluster=\"prod\" aria-label",
        "data-cluster=\"staging\" aria-label",
    );
    let web = section(prod, "data-workload=\"web\"", "</details>");
    assert!(web.contains("ready 1/2"), "{web}");
    assert!(web.contains("2 pods"), "{web}");
    assert!(web.contains("1 pods with errors"), "{web}");
    assert!(
        web.contains("autoscaler: min 2, max 10, current 10"),
        "{web}"
    );
    assert!(web.contains("data-pod=\"web-7d9f-a\""), "{web}");
    assert!(web.contains("data-pod=\"web-7d9f-crash\""), "{web}");
    assert!(!web.contains("web-5c1a-x"), "old replica set's pod: {web}");
    // Pod rows: status, ready, restarts, age, usage.
    let crash_row = section(web, "data-pod=\"web-7d9f-crash\"", "</tr>");
    assert!(crash_row.contains("2 problems"), "{crash_row}");
    assert!(crash_row.contains("web: CrashLoopBackOff"), "{crash_row}");
    assert!(crash_row.contains(">0/1<"), "{crash_row}");
    assert!(crash_row.contains("<td>12</td>"), "{crash_row}");
    let ok_row = section(web, "data-pod=\"web-7d9f-a\"", "</tr>");
    assert!(ok_row.contains(">1/1<"), "{ok_row}");
    assert!(
        ok_row.contains("120m · 120% of request 100m · 24% of limit 500m"),
        "{ok_row}"
    );
    assert!(
        ok_row.contains("96.0MiB · 75% of request 128.0MiB"),
        "{ok_row}"
    );
    // Age is computed from creationTimestamp against the real clock: at least hours.
    assert!(ok_row.contains("h") || ok_row.contains("d"), "{ok_row}");
    // A stateful set owns its pods directly.
    let cache = section(
        prod,
        "data-workload=\"cache\" data-kind=\"StatefulSet\"",
        "</details>",
    );
    assert!(
        cache.contains("ready 1/1") && cache.contains("data-pod=\"cache-0\""),
        "{cache}"
    );
    assert!(!web.contains("cache-0"));
    // Pods no workload owns are listed apart.
    let other = section(prod, "k8s-other-pods", "</table>");
    assert!(other.contains("web-5c1a-x"), "{other}");
    assert!(
        !other.contains("cache-0") && !other.contains("web-7d9f-a"),
        "{other}"
    );

    // Other objects, one table each.
    for (kind, text) in [
        ("services", "10.0.12.7"),
        ("ingresses", "shop.example.com"),
        ("jobs", "migrate-db"),
        ("cronjobs", "0 3 * * *"),
        ("horizontalpodautoscalers", "Deployment/web"),
        ("customresources", "web-rollout"),
    ] {
        let table = section(prod, &format!("data-type=\"{kind}\""), "</table>");
        assert!(table.contains(text), "{kind}: {table}");
    }
    assert!(section(prod, "data-type=\"jobs\"", "</table>").contains("Failed"));

    // Problems, most severe first, with fixes.
    let problems = section(&html, "class=\"k8s-problems\"", "</section>");
    assert!(problems.contains("Detected problems (5)"), "{problems}");
    let order: Vec<usize> = [
        "is equal to the configured max number of replicas (10)",
        "has timed out progressing",
        "Job failed (BackoffLimitExceeded)",
        "back-off 5m0s restarting failed container=web",
        "container=web restarted 12 times (last exit: OOMKilled, code 137)",
    ]
    .iter()
    .map(|m| {
        problems
            .find(&m.replace('"', "&quot;"))
            .unwrap_or_else(|| panic!("{m}: {problems}"))
    })
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    assert!(
        problems.contains("<strong>OOMKilled</strong>"),
        "{problems}"
    );
    assert!(
        problems.contains("See the logs of container web"),
        "{problems}"
    );
    assert!(problems.contains("href=\"https://kubernetes.io/docs/tasks/configure-pod-container/assign-memory-resource/#exceed-a-container-s-memory-limit\""), "{problems}");
}

#[tokio::test]
async fn cluster_errors_are_shown_per_cluster_without_hiding_the_others() {
    let env = env("").await;
    let (_, html) = page(&env, SHOP).await;
    let errors = section(&html, "class=\"k8s-warning k8s-errors\"", "</section>");
    assert!(errors.contains("There was a problem retrieving Kubernetes objects"));
    assert!(errors.contains("for the entity: shop"), "{errors}");
    let staging = section(errors, "data-cluster=\"staging\"", "</div>");
    assert!(staging.contains("Cluster: staging"), "{staging}");
    assert!(staging.contains("Error fetching Kubernetes resource: '/api/v1/namespaces/shop/pods', error: UNAUTHORIZED_ERROR, status code: 401"), "{staging}");
    assert!(staging.contains("Error communicating with Kubernetes: FETCH_ERROR, message: connect ECONNREFUSED 127.0.0.1:6443"), "{staging}");
    assert!(!errors.contains("data-cluster=\"prod\""), "{errors}");
    // Production still renders; staging has a section that says it has nothing.
    assert!(html.contains("data-workload=\"web\""));
    let staging_section = section(&html, "data-cluster=\"staging\" aria-label", "</section>");
    assert!(staging_section.contains("No objects"), "{staging_section}");
}

#[tokio::test]
async fn the_cluster_picker_narrows_the_tab_to_one_cluster() {
    let env = env("").await;
    let (_, all) = page(&env, SHOP).await;
    let picker = section(&all, "aria-label=\"Clusters\"", "</nav>");
    assert!(
        picker.contains(&format!(
            "href=\"{SHOP}\" aria-current=\"page\">All clusters</a>"
        )),
        "{picker}"
    );
    assert!(
        picker.contains(&format!(
            "href=\"{SHOP}?cluster=prod\">Production &lt;b&gt;EU&lt;/b&gt;</a>"
        )),
        "{picker}"
    );
    assert!(
        picker.contains(&format!("href=\"{SHOP}?cluster=staging\">staging</a>")),
        "{picker}"
    );

    let (status, staging) = page(&env, &format!("{SHOP}?cluster=staging")).await;
    assert_eq!(status, 200);
    assert!(
        staging.contains(&format!(
            "href=\"{SHOP}?cluster=staging\" aria-current=\"page\">staging</a>"
        )),
        "{staging}"
    );
    assert!(staging.contains("data-cluster=\"staging\" aria-label"));
    assert!(
        !staging.contains("data-cluster=\"prod\" aria-label"),
        "{staging}"
    );
    assert!(staging.contains("UNAUTHORIZED_ERROR"));
    assert!(staging.contains("No problems detected."), "{staging}");

    let (_, prod) = page(&env, &format!("{SHOP}?cluster=prod")).await;
    assert!(prod.contains("data-cluster=\"prod\" aria-label"));
    assert!(!prod.contains("data-cluster=\"staging\" aria-label"));
    assert!(
        !prod.contains("k8s-errors"),
        "no staging errors when prod is picked"
    );
    assert!(prod.contains("Detected problems (5)"));

    let (_, all_again) = page(&env, &format!("{SHOP}?cluster=all")).await;
    assert!(
        all_again.contains("data-cluster=\"prod\" aria-label")
            && all_again.contains("data-cluster=\"staging\" aria-label")
    );

    let (status, unknown) = page(&env, &format!("{SHOP}?cluster=%3Cscript%3Ex")).await;
    assert_eq!(status, 200);
    assert!(
        unknown.contains("No cluster named '&lt;script&gt;x'"),
        "{unknown}"
    );
    assert!(!unknown.contains("<script>x"));
}

#[tokio::test]
async fn hostile_cluster_strings_are_escaped_and_unsafe_links_dropped() {
    let env = env("").await;
    let (_, html) = page(&env, SHOP).await;
    for raw in [
        "<script>alert('pod')</script>",
        "<img src=x onerror",
        "<b>EU</b>",
        "<i>token</i>",
    ] {
        assert!(!html.contains(raw), "{raw} unescaped");
    }
    assert!(html.contains("&lt;script&gt;alert('pod')&lt;/script&gt;"));
    assert!(html.contains("&lt;img src=x onerror=alert('svc')&gt;"));
    assert!(html.contains("Unauthorized &lt;i&gt;token&lt;/i&gt;"));
    assert!(!html.contains("javascript:"), "dashboard link dropped");
    // API failures are shown, escaped, inside the page.
    let (status, broken) = page(&env, "/catalog/default/component/broken/kubernetes").await;
    assert_eq!(status, 200);
    assert!(
        broken.contains("Could not load Kubernetes objects"),
        "{broken}"
    );
    assert!(broken.contains("the &lt;b&gt;backend&lt;/b&gt; fell over"));
}

#[tokio::test]
async fn only_entities_with_kubernetes_annotations_have_the_tab() {
    let env = env("").await;
    let (_, shop) = page(&env, "/catalog/default/component/shop").await;
    assert!(
        shop.contains(&format!("href=\"{SHOP}\">Kubernetes</a>")),
        "{shop}"
    );
    let (_, cart) = page(&env, "/catalog/default/component/cart").await;
    assert!(cart.contains("href=\"/catalog/default/component/cart/kubernetes\">Kubernetes</a>"));
    let (status, cart_tab) = page(&env, "/catalog/default/component/cart/kubernetes").await;
    assert_eq!(status, 200);
    assert!(cart_tab.contains("No objects"), "{cart_tab}");
    assert!(cart_tab.contains("No problems detected."));

    let (_, plain) = page(&env, "/catalog/default/component/plain").await;
    assert!(!plain.contains("/kubernetes\""), "{plain}");
    assert!(!plain.contains(">Kubernetes</a>"));
    let (status, _) = page(&env, "/catalog/default/component/plain/kubernetes").await;
    assert_eq!(status, 404);
    // Neither the overview nor the refused tab asked the API anything for plain.
    assert!(
        env.api
            .requests
            .lock()
            .unwrap()
            .iter()
            .all(|r| r.entity["metadata"]["name"] != "plain")
    );
}

#[tokio::test]
async fn kubernetes_frontend_max_rows_caps_every_table() {
    let env = env("kubernetes:\n  frontend:\n    maxRows: 1\n").await;
    let (status, html) = page(&env, SHOP).await;
    assert_eq!(status, 200, "{html}");
    let web = section(&html, "data-workload=\"web\"", "</details>");
    assert!(web.contains("data-pod=\"web-7d9f-a\""));
    assert!(!web.contains("data-pod=\"web-7d9f-crash\""));
    assert!(web.contains("1 more pods not shown"), "{web}");
    assert!(html.contains("4 more problems not shown"), "{html}");
    assert!(html.contains("Detected problems (5)"));

    let bad = env_status("kubernetes:\n  frontend:\n    maxRows: 0\n").await;
    assert_eq!(bad, 500);
}

async fn env_status(config: &str) -> u16 {
    let env = env(config).await;
    page(&env, SHOP).await.0
}

#[tokio::test]
async fn invalid_client_limits_fail_when_the_app_starts() {
    let started = TestBackend::builder()
        .feature(Feature::plugin(CatalogPlugin::new()))
        .feature(app_plugin(
            App::builder()
                .feature(backlot::plugins::catalog::frontend::plugin())
                .feature(backlot::plugins::kubernetes::frontend::plugin()),
        ))
        .config_yaml("kubernetes:\n  frontend:\n    maxResponseBytes: 0\n")
        .start()
        .await;
    let Err(err) = started else {
        panic!("the app must not start");
    };
    let text = format!("{err:?}");
    assert!(
        text.contains("kubernetes.frontend.maxResponseBytes"),
        "{text}"
    );
}
