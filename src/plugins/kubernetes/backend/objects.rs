//! The object types the plugin fetches and the REST paths of their lists.

use crate::plugins::kubernetes::common::CustomResourceMatcher;

/// A built-in Kubernetes object type (`kubernetes.objectTypes[]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObjectType {
    /// The name in `objectTypes` and in the response's `type`.
    pub name: &'static str,
    /// API group (`""` for the core group).
    pub group: &'static str,
    /// API version.
    pub version: &'static str,
    /// Plural resource name in the REST path.
    pub plural: &'static str,
}

const fn t(
    name: &'static str,
    group: &'static str,
    version: &'static str,
    plural: &'static str,
) -> ObjectType {
    ObjectType {
        name,
        group,
        version,
        plural,
    }
}

/// Every built-in type, in Backstage's order.
const ALL: [ObjectType; 13] = [
    t("pods", "", "v1", "pods"),
    t("services", "", "v1", "services"),
    t("configmaps", "", "v1", "configmaps"),
    t("limitranges", "", "v1", "limitranges"),
    t("resourcequotas", "", "v1", "resourcequotas"),
    t("deployments", "apps", "v1", "deployments"),
    t("replicasets", "apps", "v1", "replicasets"),
    t(
        "horizontalpodautoscalers",
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
    ),
    t("jobs", "batch", "v1", "jobs"),
    t("cronjobs", "batch", "v1", "cronjobs"),
    t("ingresses", "networking.k8s.io", "v1", "ingresses"),
    t("statefulsets", "apps", "v1", "statefulsets"),
    t("daemonsets", "apps", "v1", "daemonsets"),
];

impl ObjectType {
    /// Backstage's default set: every built-in type.
    pub fn defaults() -> Vec<Self> {
        ALL.to_vec()
    }

    /// The type named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        ALL.iter().copied().find(|t| t.name == name)
    }

    /// The names of every type.
    pub fn names() -> Vec<&'static str> {
        ALL.iter().map(|t| t.name).collect()
    }
}

/// What one list request fetches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListTarget {
    /// The response's `type`.
    pub(crate) kind: String,
    pub(crate) group: String,
    pub(crate) version: String,
    pub(crate) plural: String,
}

impl ListTarget {
    pub(crate) fn builtin(t: &ObjectType) -> Self {
        Self {
            kind: t.name.to_owned(),
            group: t.group.to_owned(),
            version: t.version.to_owned(),
            plural: t.plural.to_owned(),
        }
    }

    pub(crate) fn custom(c: &CustomResourceMatcher) -> Self {
        Self {
            kind: "customresources".to_owned(),
            group: c.group.clone(),
            version: c.api_version.clone(),
            plural: c.plural.clone(),
        }
    }

    /// `/api/v1[/namespaces/<ns>]/<plural>` or `/apis/<group>/<version>[/namespaces/<ns>]/<plural>`.
    pub(crate) fn path(&self, namespace: Option<&str>) -> String {
        list_path(&self.group, &self.version, &self.plural, namespace)
    }
}

/// The REST path of a list, cluster-wide or in one namespace.
pub(crate) fn list_path(
    group: &str,
    version: &str,
    plural: &str,
    namespace: Option<&str>,
) -> String {
    let base = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    match namespace {
        Some(ns) => format!("{base}/namespaces/{ns}/{plural}"),
        None => format!("{base}/{plural}"),
    }
}

/// Whether `s` can go into a REST path unescaped: DNS-label characters and dots.
pub(crate) fn is_path_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && s != "."
        && s != ".."
}
