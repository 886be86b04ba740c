//! Discovery documents and the server-side `Table` kubectl asks for.

use serde_json::{Value, json};

use super::{Kind, Stored};

pub(super) fn group_list(kinds: &[Kind]) -> Value {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for k in kinds.iter().filter(|k| !k.group.is_empty()) {
        match groups.iter_mut().find(|(g, _)| *g == k.group) {
            Some((_, versions)) => {
                if !versions.contains(&k.version) {
                    versions.push(k.version.clone());
                }
            }
            None => groups.push((k.group.clone(), vec![k.version.clone()])),
        }
    }
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups.iter().map(|(g, vs)| json!({
        "name": g,
        "versions": vs.iter().map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v})).collect::<Vec<_>>(),
        "preferredVersion": {"groupVersion": format!("{g}/{}", vs[0]), "version": vs[0]},
    })).collect::<Vec<_>>()})
}

pub(super) fn resource_list(kinds: &[&Kind]) -> Value {
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": kinds[0].group_version(),
        "resources": kinds.iter().map(|k| json!({
            "name": k.plural, "singularName": k.singular, "namespaced": k.namespaced, "kind": k.kind,
            "verbs": ["get", "list"], "shortNames": k.short_names,
        })).collect::<Vec<_>>()})
}

/// The server-side `Table` kubectl asks for: Name (and for pods Ready, Status, Restarts).
pub(super) fn table(kind: &Kind, objects: &[&Stored]) -> Value {
    let is_pod = kind.group.is_empty() && kind.plural == "pods";
    let mut columns = vec![
        json!({"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0}),
    ];
    if is_pod {
        for (n, t) in [
            ("Ready", "string"),
            ("Status", "string"),
            ("Restarts", "integer"),
        ] {
            columns
                .push(json!({"name": n, "type": t, "format": "", "description": n, "priority": 0}));
        }
    }
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let mut cells = vec![json!(o.name)];
            if is_pod {
                let statuses = o.value["status"]["containerStatuses"].as_array().cloned().unwrap_or_default();
                let ready = statuses.iter().filter(|s| s["ready"] == true).count();
                let restarts: i64 = statuses.iter().map(|s| s["restartCount"].as_i64().unwrap_or(0)).sum();
                cells.push(json!(format!("{ready}/{}", statuses.len())));
                cells.push(o.value["status"]["phase"].clone());
                cells.push(json!(restarts));
            }
            json!({"cells": cells, "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o.value["metadata"]}})
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": "1"},
           "columnDefinitions": columns, "rows": rows})
}
