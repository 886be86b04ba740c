//! Pod usage from `metrics.k8s.io` joined with the pods' requests and limits.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use crate::plugins::kubernetes::common::{
    ClientContainerStatus, ClientCurrentResourceUsage, ClientPodStatus, KubernetesObject,
};

/// A Kubernetes quantity (`250m`, `1`, `128Mi`, `1e3`) as a number (cores or bytes).
///
/// ```
/// # use backlot::plugins::kubernetes::backend::parse_quantity;
/// assert_eq!(parse_quantity("250m"), Some(0.25));
/// assert_eq!(parse_quantity("128Mi"), Some(134_217_728.0));
/// assert_eq!(parse_quantity("2k"), Some(2000.0));
/// assert_eq!(parse_quantity("5000000n"), Some(0.005));
/// assert_eq!(parse_quantity("x"), None);
/// ```
pub fn parse_quantity(text: &str) -> Option<f64> {
    let s = text.trim();
    let suffixes: [(&str, f64); 14] = [
        ("Ki", 1024.0),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
        ("Ti", 1024f64.powi(4)),
        ("Pi", 1024f64.powi(5)),
        ("Ei", 1024f64.powi(6)),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
    ];
    for (suffix, factor) in suffixes {
        if let Some(number) = s.strip_suffix(suffix) {
            return number
                .parse::<f64>()
                .ok()
                .map(|n| n * factor)
                .filter(|n| n.is_finite());
        }
    }
    if let Some(number) = s.strip_suffix('E') {
        return number.parse::<f64>().ok().map(|n| n * 1e18);
    }
    s.parse::<f64>().ok().filter(|n| n.is_finite())
}

#[derive(Debug, Deserialize)]
pub(crate) struct PodMetricsList {
    #[serde(default)]
    pub(crate) items: Vec<PodMetrics>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PodMetrics {
    pub(crate) metadata: MetricsMeta,
    #[serde(default)]
    pub(crate) containers: Vec<ContainerMetrics>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct MetricsMeta {
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) namespace: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ContainerMetrics {
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) usage: HashMap<String, String>,
}

/// What the join reads of a pod: its name, namespace and containers' requests and limits
/// (the rest of the object is skipped, not decoded).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PodSummary {
    pub(crate) metadata: PodMeta,
    spec: PodSpec,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PodMeta {
    pub(crate) name: Option<String>,
    pub(crate) namespace: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PodSpec {
    containers: Vec<Container>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Container {
    name: Option<String>,
    resources: Resources,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Resources {
    requests: Option<HashMap<String, Value>>,
    limits: Option<HashMap<String, Value>>,
}

impl PodSummary {
    /// The pod's summary; a pod of another shape has none (and so no metrics).
    pub(crate) fn of(pod: &KubernetesObject) -> Option<Self> {
        pod.parse().ok()
    }
}

fn resource(section: Option<&HashMap<String, Value>>, name: &str) -> f64 {
    section
        .and_then(|r| r.get(name))
        .and_then(|q| match q {
            Value::String(s) => parse_quantity(s),
            Value::Number(n) => n.as_f64(),
            _ => None,
        })
        .unwrap_or(0.0)
}

fn usage(metrics: Option<&ContainerMetrics>, name: &str) -> f64 {
    metrics
        .and_then(|m| m.usage.get(name))
        .and_then(|q| parse_quantity(q))
        .unwrap_or(0.0)
}

/// One [`ClientPodStatus`] per pod that has metrics, in the order of `pods`.
pub(crate) fn pod_statuses(
    pods: &[(&KubernetesObject, PodSummary)],
    metrics: &[PodMetrics],
) -> Vec<ClientPodStatus> {
    let by_pod: HashMap<(&str, &str), &PodMetrics> = metrics
        .iter()
        .map(|m| ((m.metadata.namespace.as_str(), m.metadata.name.as_str()), m))
        .collect();
    let mut out = Vec::new();
    for (pod, summary) in pods {
        let key = (
            summary.metadata.namespace.as_deref().unwrap_or(""),
            summary.metadata.name.as_deref().unwrap_or(""),
        );
        let Some(m) = by_pod.get(&key) else { continue };
        let mut status = ClientPodStatus {
            pod: (*pod).clone(),
            ..ClientPodStatus::default()
        };
        for container in &summary.spec.containers {
            let name = container.name.as_deref().unwrap_or("");
            let cm = m.containers.iter().find(|c| c.name == name);
            let (requests, limits) = (
                container.resources.requests.as_ref(),
                container.resources.limits.as_ref(),
            );
            let cpu = ClientCurrentResourceUsage {
                current_usage: usage(cm, "cpu"),
                request_total: resource(requests, "cpu"),
                limit_total: resource(limits, "cpu"),
            };
            let memory = ClientCurrentResourceUsage {
                current_usage: usage(cm, "memory"),
                request_total: resource(requests, "memory"),
                limit_total: resource(limits, "memory"),
            };
            add(&mut status.cpu, &cpu);
            add(&mut status.memory, &memory);
            status.containers.push(ClientContainerStatus {
                container: name.to_owned(),
                cpu_usage: cpu,
                memory_usage: memory,
            });
        }
        out.push(status);
    }
    out
}

fn add(total: &mut ClientCurrentResourceUsage, one: &ClientCurrentResourceUsage) {
    total.current_usage += one.current_usage;
    total.request_total += one.request_total;
    total.limit_total += one.limit_total;
}
