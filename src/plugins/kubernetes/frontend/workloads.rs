//! Workloads and their pods: deployments own replica sets which own pods (followed through
//! `metadata.ownerReferences` uids, as Backstage does), stateful sets and daemon sets own
//! their pods directly; pods nobody here owns are listed on their own.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde_json::Value;

use super::format::{age, cpu, int, list, memory, name, namespace, text, uid};
use crate::frontend::ui::{Column, Table};
use crate::plugins::kubernetes::common::{ClientPodStatus, DecodedObjects, DetectedError};

/// The objects of one type in a cluster's answer.
pub(super) fn objects<'a>(cluster: &'a DecodedObjects, kind: &str) -> Vec<&'a Value> {
    cluster.of(kind).collect()
}

/// A workload and the pods it owns.
pub(super) struct Workload<'a> {
    /// `Deployment`, `StatefulSet` or `DaemonSet`.
    pub(super) kind: &'static str,
    pub(super) object: &'a Value,
    pub(super) pods: Vec<&'a Value>,
}

/// The cluster's workloads with their pods, and the pods none of them owns. Owners are
/// looked up by uid in an index, so the work grows with the number of objects, not with
/// their product.
pub(super) fn group<'a>(cluster: &'a DecodedObjects) -> (Vec<Workload<'a>>, Vec<&'a Value>) {
    let pods = objects(cluster, "pods");
    let mut by_owner: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, pod) in pods.iter().enumerate() {
        for owner in list(pod, &["metadata", "ownerReferences"]) {
            if let Some(uid) = text(owner, &["uid"]).filter(|u| !u.is_empty()) {
                by_owner.entry(uid).or_default().push(i);
            }
        }
    }
    let mut sets_by_owner: HashMap<&str, Vec<&Value>> = HashMap::new();
    for rs in objects(cluster, "replicasets") {
        if int(rs, &["status", "replicas"]).unwrap_or(0) <= 0 {
            continue;
        }
        for owner in list(rs, &["metadata", "ownerReferences"]) {
            if let Some(uid) = text(owner, &["uid"]).filter(|u| !u.is_empty()) {
                sets_by_owner.entry(uid).or_default().push(rs);
            }
        }
    }
    let mut claimed = vec![false; pods.len()];
    let mut take = |owner: &str, out: &mut Vec<&'a Value>| {
        for &i in by_owner.get(owner).map_or(&[][..], Vec::as_slice) {
            if !claimed[i] {
                claimed[i] = true;
                out.push(pods[i]);
            }
        }
    };
    let mut workloads = Vec::new();
    for deployment in objects(cluster, "deployments") {
        let mut owned = Vec::new();
        let sets = uid(deployment).and_then(|u| sets_by_owner.get(u));
        for rs in sets.map_or(&[][..], Vec::as_slice) {
            if let Some(rs_uid) = uid(rs) {
                take(rs_uid, &mut owned);
            }
        }
        workloads.push(Workload {
            kind: "Deployment",
            object: deployment,
            pods: owned,
        });
    }
    for (kind, plural) in [("StatefulSet", "statefulsets"), ("DaemonSet", "daemonsets")] {
        for object in objects(cluster, plural) {
            let mut owned = Vec::new();
            if let Some(u) = uid(object) {
                take(u, &mut owned);
            }
            workloads.push(Workload {
                kind,
                object,
                pods: owned,
            });
        }
    }
    let rest = pods
        .iter()
        .zip(&claimed)
        .filter(|(_, c)| !**c)
        .map(|(p, _)| *p)
        .collect();
    (workloads, rest)
}

/// `ready/desired` of a workload.
pub(super) fn workload_ready(w: &Workload<'_>) -> (i64, i64) {
    let o = w.object;
    if w.kind == "DaemonSet" {
        return (
            int(o, &["status", "numberReady"]).unwrap_or(0),
            int(o, &["status", "desiredNumberScheduled"]).unwrap_or(0),
        );
    }
    let desired = int(o, &["spec", "replicas"])
        .or_else(|| int(o, &["status", "replicas"]))
        .unwrap_or(1);
    (int(o, &["status", "readyReplicas"]).unwrap_or(0), desired)
}

/// What a pod table needs besides the pods.
pub(super) struct PodContext<'a> {
    pub(super) now: DateTime<Utc>,
    /// Pod metrics by `(namespace, pod name)`.
    metrics: HashMap<(&'a str, &'a str), &'a ClientPodStatus>,
    /// Problem counts by `(namespace, pod name)`.
    problems: HashMap<(&'a str, &'a str), usize>,
    pub(super) max_rows: usize,
}

impl<'a> PodContext<'a> {
    pub(super) fn new(
        now: DateTime<Utc>,
        metrics: &'a [ClientPodStatus],
        metric_pods: &'a [Value],
        errors: &'a [DetectedError],
        max_rows: usize,
    ) -> Self {
        let mut problems = HashMap::new();
        for e in errors.iter().filter(|e| e.source_ref.kind == "Pod") {
            *problems
                .entry((e.source_ref.namespace.as_str(), e.source_ref.name.as_str()))
                .or_insert(0) += 1;
        }
        let metrics = metric_pods
            .iter()
            .zip(metrics)
            .map(|(pod, m)| ((namespace(pod), name(pod)), m))
            .collect();
        Self {
            now,
            metrics,
            problems,
            max_rows,
        }
    }

    pub(super) fn problems_of(&self, pod: &Value) -> usize {
        self.problems
            .get(&(namespace(pod), name(pod)))
            .copied()
            .unwrap_or(0)
    }

    fn metrics_of(&self, pod: &Value) -> Option<&ClientPodStatus> {
        self.metrics.get(&(namespace(pod), name(pod))).copied()
    }
}

fn phase(pod: &Value) -> &str {
    if text(pod, &["metadata", "deletionTimestamp"]).is_some() {
        return "Terminating";
    }
    text(pod, &["status", "phase"]).unwrap_or("Unknown")
}

fn container_states(pod: &Value) -> Vec<String> {
    list(pod, &["status", "containerStatuses"])
        .iter()
        .map(|cs| {
            let c = text(cs, &["name"]).unwrap_or("?");
            let state = cs.get("state");
            let s = if let Some(w) = state.and_then(|s| s.get("waiting")) {
                text(w, &["reason"]).unwrap_or("Waiting")
            } else if let Some(t) = state.and_then(|s| s.get("terminated")) {
                text(t, &["reason"]).unwrap_or("Terminated")
            } else if state.and_then(|s| s.get("running")).is_some() {
                "Running"
            } else {
                "Unknown"
            };
            format!("{c}: {s}")
        })
        .collect()
}

fn containers_ready(pod: &Value) -> (usize, usize) {
    let statuses = list(pod, &["status", "containerStatuses"]);
    let ready = statuses
        .iter()
        .filter(|cs| cs.get("ready").and_then(Value::as_bool) == Some(true))
        .count();
    let total = list(pod, &["spec", "containers"]).len().max(statuses.len());
    (ready, total)
}

fn restarts(pod: &Value) -> u64 {
    list(pod, &["status", "containerStatuses"])
        .iter()
        .filter_map(|cs| cs.get("restartCount").and_then(Value::as_u64))
        .fold(0, u64::saturating_add)
}

/// A table of pods (at most `max_rows`, then a count of the rest).
pub(super) fn pod_table(caption: &str, pods: &[&Value], ctx: &PodContext<'_>) -> Markup {
    let shown = &pods[..pods.len().min(ctx.max_rows)];
    let rows = shown.iter().map(|pod| {
        let (ready, total) = containers_ready(pod);
        let problems = ctx.problems_of(pod);
        let metrics = ctx.metrics_of(pod);
        vec![
            html! {
                span class="k8s-pod" data-pod=(name(pod)) { (name(pod)) }
                @if problems > 0 {
                    " " span class="k8s-bad" { "⚠ " (problems) @if problems == 1 { " problem" } @else { " problems" } }
                }
            },
            html! { (phase(pod)) },
            html! { @for s in container_states(pod) { span class="k8s-state" { (s) } } },
            html! { span class=(if ready == total { "k8s-ok" } else { "k8s-bad" }) { (ready) "/" (total) } },
            html! { (restarts(pod)) },
            html! { (age(pod, ctx.now)) },
            html! { @match metrics { Some(m) => (cpu(&m.cpu)), None => span class="bl-muted" { "—" } } },
            html! { @match metrics { Some(m) => (memory(&m.memory)), None => span class="bl-muted" { "—" } } },
        ]
    });
    let table = Table::new(caption)
        .columns(vec![
            Column::new("name", "Name"),
            Column::new("phase", "Phase"),
            Column::new("status", "Status"),
            Column::new("ready", "Ready"),
            Column::new("restarts", "Restarts"),
            Column::new("age", "Age"),
            Column::new("cpu", "CPU"),
            Column::new("memory", "Memory"),
        ])
        .rows(rows);
    html! {
        (table.render())
        @if pods.len() > shown.len() {
            p class="bl-muted k8s-more" { (pods.len() - shown.len()) " more pods not shown" }
        }
    }
}
