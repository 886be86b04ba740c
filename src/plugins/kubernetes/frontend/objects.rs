//! The cluster's other objects, one summary table per type: services, ingresses, jobs, cron
//! jobs, autoscalers, custom resources, and the name and namespace of anything else.

use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde_json::Value;

use super::format::{age, int, list, name, namespace, text};
use super::workloads::objects;
use crate::frontend::ui::{Column, Table};
use crate::plugins::kubernetes::common::DecodedObjects;

/// Types shown elsewhere in the tab (as workloads and pods) or not at all.
const SHOWN_AS_WORKLOADS: &[&str] = &[
    "pods",
    "replicasets",
    "deployments",
    "statefulsets",
    "daemonsets",
];

type Row = Vec<Markup>;

fn joined(items: impl Iterator<Item = String>) -> String {
    let all: Vec<String> = items.filter(|s| !s.is_empty()).collect();
    if all.is_empty() {
        "—".to_string()
    } else {
        all.join(", ")
    }
}

fn service(s: &Value, _: DateTime<Utc>) -> Row {
    let ports = joined(list(s, &["spec", "ports"]).iter().map(|p| {
        let port = int(p, &["port"]).map(|n| n.to_string()).unwrap_or_default();
        let target = p
            .get("targetPort")
            .map(|t| t.as_str().map_or_else(|| t.to_string(), str::to_string))
            .unwrap_or_default();
        let proto = text(p, &["protocol"]).unwrap_or("TCP");
        format!("{port}→{target}/{proto}")
    }));
    vec![
        html! { (name(s)) },
        html! { (namespace(s)) },
        html! { (text(s, &["spec", "type"]).unwrap_or("ClusterIP")) },
        html! { (text(s, &["spec", "clusterIP"]).unwrap_or("—")) },
        html! { (ports) },
    ]
}

fn ingress(i: &Value, _: DateTime<Utc>) -> Row {
    let hosts = joined(
        list(i, &["spec", "rules"])
            .iter()
            .map(|r| text(r, &["host"]).unwrap_or("*").to_string()),
    );
    let address = joined(
        list(i, &["status", "loadBalancer", "ingress"])
            .iter()
            .map(|a| {
                text(a, &["ip"])
                    .or(text(a, &["hostname"]))
                    .unwrap_or("")
                    .to_string()
            }),
    );
    vec![
        html! { (name(i)) },
        html! { (namespace(i)) },
        html! { (hosts) },
        html! { (address) },
    ]
}

fn job_status(j: &Value) -> &'static str {
    let conditions = list(j, &["status", "conditions"]);
    let is = |t: &str| {
        conditions
            .iter()
            .any(|c| text(c, &["type"]) == Some(t) && text(c, &["status"]) == Some("True"))
    };
    if is("Failed") {
        "Failed"
    } else if is("Complete") {
        "Complete"
    } else if int(j, &["status", "active"]).unwrap_or(0) > 0 {
        "Running"
    } else {
        "Pending"
    }
}

fn job(j: &Value, now: DateTime<Utc>) -> Row {
    let status = job_status(j);
    vec![
        html! { (name(j)) },
        html! { (namespace(j)) },
        html! { span class=(if status == "Failed" { "k8s-bad" } else { "k8s-ok" }) { (status) } },
        html! {
            (int(j, &["status", "succeeded"]).unwrap_or(0)) "/"
            (int(j, &["spec", "completions"]).unwrap_or(1))
        },
        html! { (int(j, &["status", "failed"]).unwrap_or(0)) },
        html! { (age(j, now)) },
    ]
}

fn cron_job(c: &Value, _: DateTime<Utc>) -> Row {
    let suspended = c
        .get("spec")
        .and_then(|s| s.get("suspend"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    vec![
        html! { (name(c)) },
        html! { (namespace(c)) },
        html! { code { (text(c, &["spec", "schedule"]).unwrap_or("—")) } },
        html! { @if suspended { "yes" } @else { "no" } },
        html! { (list(c, &["status", "active"]).len()) },
        html! { (text(c, &["status", "lastScheduleTime"]).unwrap_or("never")) },
    ]
}

fn hpa(h: &Value, _: DateTime<Utc>) -> Row {
    let target = format!(
        "{}/{}",
        text(h, &["spec", "scaleTargetRef", "kind"]).unwrap_or("?"),
        text(h, &["spec", "scaleTargetRef", "name"]).unwrap_or("?")
    );
    let n = |path: &[&str]| int(h, path).map_or_else(|| "—".to_string(), |v| v.to_string());
    let at_max = int(h, &["spec", "maxReplicas"]).is_some()
        && int(h, &["spec", "maxReplicas"]) == int(h, &["status", "currentReplicas"]);
    vec![
        html! { (name(h)) },
        html! { (namespace(h)) },
        html! { (target) },
        html! { (n(&["spec", "minReplicas"])) " – " (n(&["spec", "maxReplicas"])) },
        html! {
            span class=(if at_max { "k8s-bad" } else { "k8s-ok" }) {
                (n(&["status", "currentReplicas"])) " (desired " (n(&["status", "desiredReplicas"])) ")"
            }
        },
    ]
}

fn custom(o: &Value, now: DateTime<Utc>) -> Row {
    let status = text(o, &["status", "phase"])
        .map(str::to_string)
        .or_else(|| {
            list(o, &["status", "conditions"])
                .iter()
                .find(|c| matches!(text(c, &["type"]), Some("Ready" | "Available" | "Healthy")))
                .map(|c| {
                    format!(
                        "{}={}",
                        text(c, &["type"]).unwrap_or(""),
                        text(c, &["status"]).unwrap_or("")
                    )
                })
        })
        .unwrap_or_else(|| "—".to_string());
    vec![
        html! { (text(o, &["kind"]).unwrap_or("?")) },
        html! { (text(o, &["apiVersion"]).unwrap_or("?")) },
        html! { (name(o)) },
        html! { (namespace(o)) },
        html! { (status) },
        html! { (age(o, now)) },
    ]
}

fn plain(o: &Value, now: DateTime<Utc>) -> Row {
    vec![
        html! { (name(o)) },
        html! { (namespace(o)) },
        html! { (age(o, now)) },
    ]
}

type RowFn = fn(&Value, DateTime<Utc>) -> Row;

fn known(kind: &str) -> Option<(&'static str, &'static [&'static str], RowFn)> {
    Some(match kind {
        "services" => (
            "Services",
            &["Name", "Namespace", "Type", "Cluster IP", "Ports"],
            service,
        ),
        "ingresses" => (
            "Ingresses",
            &["Name", "Namespace", "Hosts", "Address"],
            ingress,
        ),
        "jobs" => (
            "Jobs",
            &[
                "Name",
                "Namespace",
                "Status",
                "Succeeded",
                "Failed pods",
                "Age",
            ],
            job,
        ),
        "cronjobs" => (
            "Cron jobs",
            &[
                "Name",
                "Namespace",
                "Schedule",
                "Suspended",
                "Active",
                "Last schedule",
            ],
            cron_job,
        ),
        "horizontalpodautoscalers" => (
            "Horizontal pod autoscalers",
            &["Name", "Namespace", "Target", "Min – max", "Current"],
            hpa,
        ),
        "customresources" => (
            "Custom resources",
            &["Kind", "API version", "Name", "Namespace", "Status", "Age"],
            custom,
        ),
        _ => return None,
    })
}

/// One table per object type of the cluster that is not a workload, each at most
/// `max_rows` long.
pub(super) fn other_objects(
    cluster: &DecodedObjects,
    now: DateTime<Utc>,
    max_rows: usize,
) -> Markup {
    let mut kinds = cluster.kinds();
    kinds.retain(|k| !SHOWN_AS_WORKLOADS.contains(k));
    html! {
        @for kind in kinds {
            @let items = objects(cluster, kind);
            @let shown = &items[..items.len().min(max_rows)];
            @let (title, columns, row): (String, &[&str], RowFn) = match known(kind) {
                Some((t, c, f)) => (t.to_string(), c, f),
                None => (kind.to_string(), &["Name", "Namespace", "Age"], plain),
            };
            div class="k8s-objects" data-type=(kind) {
                (Table::new(format!("{title} ({})", items.len()))
                    .columns(columns.iter().map(|c| Column::new(c.to_ascii_lowercase(), *c)).collect())
                    .rows(shown.iter().map(|o| row(o, now)))
                    .render())
                @if items.len() > shown.len() {
                    p class="bl-muted k8s-more" { (items.len() - shown.len()) " more not shown" }
                }
            }
        }
    }
}
