//! Detected problems: what is wrong with an entity's workloads, read from the objects a
//! cluster returned, the way Backstage's `@backstage/plugin-kubernetes-common` error
//! detection finds them (pods, deployments, horizontal pod autoscalers), plus failed jobs.
//!
//! The detection is a pure function of the objects and the current time; every field is read
//! defensively, since the objects are whatever the cluster (or something pretending to be
//! one) sent.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::object::DecodedObjects;
use super::types::{ClusterObjects, ObjectsByEntityResponse};

/// Which rule found a problem (Backstage's `DetectedError.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DetectedErrorType {
    /// A container with a readiness probe has run past the probe's grace period unready.
    ReadinessProbeTakingTooLong,
    /// A container is waiting for a reason that needs fixing (`CrashLoopBackOff`,
    /// `ImagePullBackOff`, `ErrImagePull`, `CreateContainerConfigError`, …).
    ContainerWaiting,
    /// A container has restarted.
    ContainersRestarting,
    /// A deployment condition reports a failure (not progressing, unavailable, replica failure).
    ConditionMessagePresent,
    /// A horizontal pod autoscaler runs at its maximum replica count.
    HpaMaxCurrentReplicas,
    /// A job has failed (its `Failed` condition is true). Not in Backstage's detection.
    JobFailed,
}

/// The object a problem was found on (Backstage's `ResourceRef`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRef {
    /// The object's name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Its kind (`Pod`, `Deployment`, `HorizontalPodAutoscaler`, `Job`).
    pub kind: String,
    /// Its API group and version (`v1`, `apps/v1`, …).
    pub api_group: String,
}

/// Where a proposed fix points the reader (Backstage's `LogSolution`, `DocsSolution` and
/// `EventsSolution`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
#[non_exhaustive]
pub enum FixSolution {
    /// Read the logs of a container.
    Logs {
        /// The container.
        container: String,
    },
    /// Read a page of documentation.
    Docs {
        /// The page.
        #[serde(rename = "docsLink")]
        docs_link: String,
    },
    /// Read the events of a pod.
    Events {
        /// The pod.
        #[serde(rename = "podName")]
        pod_name: String,
    },
}

/// What probably caused a problem and what to do about it (Backstage's `ProposedFix`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProposedFix {
    /// The cause's short name (`CrashLoopBackOff`, `OOMKilled`, …).
    pub error_type: String,
    /// The likely cause, in a sentence.
    pub root_cause_explanation: String,
    /// What to do, one step per entry.
    pub actions: Vec<String>,
    /// Where to look next.
    #[serde(flatten)]
    pub solution: FixSolution,
}

/// A problem found on one object (Backstage's `DetectedError`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DetectedError {
    /// The rule that found it.
    #[serde(rename = "type")]
    pub error_type: DetectedErrorType,
    /// From 0 (very low) to 10 (critical).
    pub severity: u8,
    /// What is wrong, for a person.
    pub message: String,
    /// What to do about it, when the cause is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposed_fix: Option<ProposedFix>,
    /// The object it was found on.
    pub source_ref: ResourceRef,
    /// How often it happened (a restart count, a failed-pod count; else 1).
    pub occurrence_count: u64,
}

/// Problems per cluster name.
pub type DetectedErrorsByCluster = BTreeMap<String, Vec<DetectedError>>;

/// The problems of every cluster of a response, at the current time.
///
/// ```
/// use backlot::plugins::kubernetes::common::{DetectedErrorType, ObjectsByEntityResponse, detect_errors};
///
/// let response: ObjectsByEntityResponse = serde_json::from_value(serde_json::json!({"items": [{
///     "cluster": {"name": "prod"},
///     "resources": [{"type": "pods", "resources": [{
///         "metadata": {"name": "web-1", "namespace": "shop"},
///         "status": {"containerStatuses": [{"name": "web", "ready": false, "restartCount": 7,
///             "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container"}}}]}
///     }]}]
/// }]}))?;
/// let problems = detect_errors(&response);
/// let prod = &problems["prod"];
/// assert_eq!(prod[0].error_type, DetectedErrorType::ContainerWaiting);
/// assert_eq!(prod[1].occurrence_count, 7);
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn detect_errors(objects: &ObjectsByEntityResponse) -> DetectedErrorsByCluster {
    detect_errors_at(objects, Utc::now())
}

/// [`detect_errors`] as of `now` (readiness probes are judged against it).
pub fn detect_errors_at(
    objects: &ObjectsByEntityResponse,
    now: DateTime<Utc>,
) -> DetectedErrorsByCluster {
    objects
        .items
        .iter()
        .map(|c| (c.cluster.name.clone(), detect_cluster_errors(c, now)))
        .collect()
}

/// The problems of one cluster's objects as of `now`, most severe first.
///
/// ```
/// use backlot::plugins::kubernetes::common::{ClusterObjects, detect_cluster_errors};
///
/// let cluster: ClusterObjects = serde_json::from_value(serde_json::json!({
///     "cluster": {"name": "prod"},
///     "resources": [{"type": "horizontalpodautoscalers", "resources": [{
///         "metadata": {"name": "web", "namespace": "shop"},
///         "spec": {"maxReplicas": 10}, "status": {"currentReplicas": 10}
///     }]}]
/// }))?;
/// let problems = detect_cluster_errors(&cluster, chrono::Utc::now());
/// assert_eq!(problems[0].severity, 8);
/// assert_eq!(problems[0].source_ref.kind, "HorizontalPodAutoscaler");
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn detect_cluster_errors(cluster: &ClusterObjects, now: DateTime<Utc>) -> Vec<DetectedError> {
    let decoded = DecodedObjects::new(cluster, Some(&DETECTED_KINDS));
    detect_decoded_errors(&decoded, now)
}

/// The object types problems are found on.
const DETECTED_KINDS: [&str; 4] = ["pods", "deployments", "horizontalpodautoscalers", "jobs"];

/// [`detect_cluster_errors`] over objects already decoded.
pub(crate) fn detect_decoded_errors(
    decoded: &DecodedObjects,
    now: DateTime<Utc>,
) -> Vec<DetectedError> {
    let mut errors = Vec::new();
    for pod in decoded.of("pods") {
        pod_errors(pod, now, &mut errors);
    }
    for deployment in decoded.of("deployments") {
        deployment_errors(deployment, &mut errors);
    }
    for hpa in decoded.of("horizontalpodautoscalers") {
        hpa_errors(hpa, &mut errors);
    }
    for job in decoded.of("jobs") {
        job_errors(job, &mut errors);
    }
    // Stable: equal severities keep the order of the objects.
    errors.sort_by_key(|e| std::cmp::Reverse(e.severity));
    errors
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

fn number(v: &Value, path: &[&str]) -> Option<i64> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_i64()
}

fn list<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn source(object: &Value, kind: &str, api_group: &str) -> ResourceRef {
    ResourceRef {
        name: text(object, &["metadata", "name"])
            .unwrap_or("unknown")
            .to_string(),
        namespace: text(object, &["metadata", "namespace"])
            .unwrap_or("unknown namespace")
            .to_string(),
        kind: kind.to_string(),
        api_group: api_group.to_string(),
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_string()).collect()
}

/// Whether a running, unready container has been unready longer than its readiness probe
/// allows: started + initial delay + period × failure threshold (Kubernetes' defaults 10 s
/// and 3 where the object leaves them out).
fn readiness_overdue(container: &Value, status: &Value, now: DateTime<Utc>) -> bool {
    if status.get("ready").and_then(Value::as_bool) == Some(true) {
        return false;
    }
    let Some(probe) = container.get("readinessProbe").filter(|p| p.is_object()) else {
        return false;
    };
    let Some(started) = text(status, &["state", "running", "startedAt"])
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
    else {
        return false;
    };
    let field = |k: &str, default: i64| probe.get(k).and_then(Value::as_i64).unwrap_or(default);
    let grace = field("initialDelaySeconds", 0).max(0).saturating_add(
        field("periodSeconds", 10)
            .max(0)
            .saturating_mul(field("failureThreshold", 3).max(0)),
    );
    chrono::Duration::try_seconds(grace)
        .and_then(|g| started.with_timezone(&Utc).checked_add_signed(g))
        .is_some_and(|deadline| deadline < now)
}

fn waiting_fix(reason: &str, container: &str) -> Option<ProposedFix> {
    let docs = |error_type: &str, cause: &str, actions: &[&str], link: &str| ProposedFix {
        error_type: error_type.to_string(),
        root_cause_explanation: cause.to_string(),
        actions: strings(actions),
        solution: FixSolution::Docs {
            docs_link: link.to_string(),
        },
    };
    Some(match reason {
        "InvalidImageName" => docs(
            reason,
            "The image name of the container is invalid",
            &["Ensure the image name is correct and a valid image reference"],
            "https://kubernetes.io/docs/concepts/containers/images/#image-names",
        ),
        "ImagePullBackOff" | "ErrImagePull" => docs(
            reason,
            "The image either could not be found or Kubernetes does not have permission to pull it",
            &[
                "Ensure the image name and tag are correct",
                "Ensure Kubernetes has permission to pull this image (imagePullSecrets)",
            ],
            "https://kubernetes.io/docs/concepts/containers/images/#imagepullbackoff",
        ),
        "CreateContainerConfigError" => docs(
            reason,
            "Configuration the container needs is missing or does not match",
            &[
                "Ensure the ConfigMaps the manifest references exist and have the keys it uses",
                "Ensure the Secrets the manifest references exist and have the keys it uses",
            ],
            "https://kubernetes.io/docs/tasks/configure-pod-container/configure-pod-configmap/",
        ),
        "CrashLoopBackOff" => ProposedFix {
            error_type: reason.to_string(),
            root_cause_explanation: format!(
                "The container {container} has crashed many times; Kubernetes restarts it with an exponential back-off until it stops crashing"
            ),
            actions: strings(&["Check the crash logs for stack traces"]),
            solution: FixSolution::Logs {
                container: container.to_string(),
            },
        },
        _ => return None,
    })
}

/// Waiting reasons that are a problem even without a message.
const PROBLEM_REASONS: &[&str] = &[
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
];

fn restart_fix(status: &Value, container: &str) -> Option<ProposedFix> {
    let terminated = status.get("lastState")?.get("terminated")?;
    let code = number(terminated, &["exitCode"]).unwrap_or_default();
    match text(terminated, &["reason"])? {
        reason @ ("Error" | "Unknown") => Some(ProposedFix {
            error_type: reason.to_string(),
            root_cause_explanation: format!(
                "The container {container} has exited with a non-zero exit code ({code})"
            ),
            actions: strings(&["Check the crash logs for stack traces"]),
            solution: FixSolution::Logs {
                container: container.to_string(),
            },
        }),
        "OOMKilled" => Some(ProposedFix {
            error_type: "OOMKilled".to_string(),
            root_cause_explanation: format!(
                "The container {container} was killed because it tried to use more memory than its limit"
            ),
            actions: strings(&[
                "Increase the memory limit of the container",
                "Ensure the application bounds its memory use",
            ]),
            solution: FixSolution::Docs {
                docs_link: "https://kubernetes.io/docs/tasks/configure-pod-container/assign-memory-resource/#exceed-a-container-s-memory-limit".to_string(),
            },
        }),
        _ => None,
    }
}

fn pod_errors(pod: &Value, now: DateTime<Utc>, out: &mut Vec<DetectedError>) {
    let pod_ref = || source(pod, "Pod", "v1");
    let specs = list(pod, &["spec", "containers"]);
    let statuses = list(pod, &["status", "containerStatuses"]);
    for status in statuses {
        let name = text(status, &["name"]).unwrap_or("unknown");
        let spec = specs.iter().find(|c| text(c, &["name"]) == Some(name));
        if spec.is_some_and(|spec| readiness_overdue(spec, status, now)) {
            let pod_name = pod_ref().name;
            out.push(DetectedError {
                error_type: DetectedErrorType::ReadinessProbeTakingTooLong,
                severity: 4,
                message: format!(
                    "The container {name} failed to start properly, but is not crashing"
                ),
                proposed_fix: Some(ProposedFix {
                    error_type: "ReadinessProbeFailed".to_string(),
                    root_cause_explanation: format!(
                        "The container {name} failed to start properly, but is not crashing"
                    ),
                    actions: strings(&[
                        "Ensure that the container starts correctly locally",
                        "Check the container's logs for errors during startup",
                    ]),
                    solution: FixSolution::Events { pod_name },
                }),
                source_ref: pod_ref(),
                occurrence_count: 1,
            });
        }
    }
    for status in statuses {
        let name = text(status, &["name"]).unwrap_or("unknown");
        let Some(waiting) = status.get("state").and_then(|s| s.get("waiting")) else {
            continue;
        };
        let reason = text(waiting, &["reason"]);
        let message = text(waiting, &["message"]);
        if message.is_none() && !reason.is_some_and(|r| PROBLEM_REASONS.contains(&r)) {
            continue;
        }
        out.push(DetectedError {
            error_type: DetectedErrorType::ContainerWaiting,
            severity: 4,
            message: message.map_or_else(
                || format!("container {name} is waiting: {}", reason.unwrap_or("")),
                str::to_string,
            ),
            proposed_fix: reason.and_then(|r| waiting_fix(r, name)),
            source_ref: pod_ref(),
            occurrence_count: 1,
        });
    }
    for status in statuses {
        let name = text(status, &["name"]).unwrap_or("unknown");
        let restarts = status
            .get("restartCount")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if restarts == 0 {
            continue;
        }
        let last = status
            .get("lastState")
            .and_then(|s| s.get("terminated"))
            .and_then(|t| {
                let reason = text(t, &["reason"])?;
                Some(match number(t, &["exitCode"]) {
                    Some(code) => format!(" (last exit: {reason}, code {code})"),
                    None => format!(" (last exit: {reason})"),
                })
            })
            .unwrap_or_default();
        out.push(DetectedError {
            error_type: DetectedErrorType::ContainersRestarting,
            severity: 4,
            message: format!("container={name} restarted {restarts} times{last}"),
            proposed_fix: restart_fix(status, name),
            source_ref: pod_ref(),
            occurrence_count: restarts,
        });
    }
}

fn deployment_errors(deployment: &Value, out: &mut Vec<DetectedError>) {
    for condition in list(deployment, &["status", "conditions"]) {
        let status = text(condition, &["status"]);
        let failing = status == Some("False")
            || (status == Some("True") && text(condition, &["type"]) == Some("ReplicaFailure"));
        let Some(message) = text(condition, &["message"]).filter(|_| failing) else {
            continue;
        };
        out.push(DetectedError {
            error_type: DetectedErrorType::ConditionMessagePresent,
            severity: 6,
            message: message.to_string(),
            proposed_fix: None,
            source_ref: source(deployment, "Deployment", "apps/v1"),
            occurrence_count: 1,
        });
    }
}

fn hpa_errors(hpa: &Value, out: &mut Vec<DetectedError>) {
    let (Some(max), Some(current)) = (
        number(hpa, &["spec", "maxReplicas"]),
        number(hpa, &["status", "currentReplicas"]),
    ) else {
        return;
    };
    if max == current {
        out.push(DetectedError {
            error_type: DetectedErrorType::HpaMaxCurrentReplicas,
            severity: 8,
            message: format!(
                "Current number of replicas ({current}) is equal to the configured max number of replicas ({max})"
            ),
            proposed_fix: None,
            source_ref: source(hpa, "HorizontalPodAutoscaler", "autoscaling/v2"),
            occurrence_count: 1,
        });
    }
}

fn job_errors(job: &Value, out: &mut Vec<DetectedError>) {
    let Some(failed) = list(job, &["status", "conditions"])
        .iter()
        .find(|c| text(c, &["type"]) == Some("Failed") && text(c, &["status"]) == Some("True"))
    else {
        return;
    };
    let reason = text(failed, &["reason"]).unwrap_or("Failed");
    let detail = text(failed, &["message"]).unwrap_or("the job failed");
    let cause = match reason {
        "BackoffLimitExceeded" => "The job's pods failed more often than its backoffLimit allows",
        "DeadlineExceeded" => "The job ran longer than its activeDeadlineSeconds allows",
        _ => "The job's pods failed",
    };
    out.push(DetectedError {
        error_type: DetectedErrorType::JobFailed,
        severity: 6,
        message: format!("Job failed ({reason}): {detail}"),
        proposed_fix: Some(ProposedFix {
            error_type: reason.to_string(),
            root_cause_explanation: cause.to_string(),
            actions: strings(&[
                "Check the logs of the job's failed pods",
                "Check the job's backoffLimit and activeDeadlineSeconds",
            ]),
            solution: FixSolution::Docs {
                docs_link: "https://kubernetes.io/docs/concepts/workloads/controllers/job/#handling-pod-and-container-failures".to_string(),
            },
        }),
        source_ref: source(job, "Job", "batch/v1"),
        occurrence_count: job
            .get("status")
            .and_then(|s| s.get("failed"))
            .and_then(Value::as_u64)
            .unwrap_or(1)
            .max(1),
    });
}
