//! The resource kinds the fake server knows, for discovery and lists.

/// One resource kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kind {
    /// API group (`""` for core).
    pub group: String,
    /// Version.
    pub version: String,
    /// Plural (the REST path segment).
    pub plural: String,
    /// Singular name.
    pub singular: String,
    /// `Kind` as in objects.
    pub kind: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// kubectl short names.
    pub short_names: Vec<String>,
}

impl Kind {
    /// A namespaced kind.
    pub fn new(group: &str, version: &str, plural: &str, kind: &str, short: &[&str]) -> Self {
        Self {
            group: group.to_owned(),
            version: version.to_owned(),
            plural: plural.to_owned(),
            singular: kind.to_ascii_lowercase(),
            kind: kind.to_owned(),
            namespaced: true,
            short_names: short.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// `v1` or `group/version`.
    pub fn group_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// The built-in kinds: everything Backstage fetches, namespaces and pod metrics.
pub fn builtin() -> Vec<Kind> {
    let mut ns = Kind::new("", "v1", "namespaces", "Namespace", &["ns"]);
    ns.namespaced = false;
    vec![
        Kind::new("", "v1", "pods", "Pod", &["po"]),
        Kind::new("", "v1", "services", "Service", &["svc"]),
        Kind::new("", "v1", "configmaps", "ConfigMap", &["cm"]),
        Kind::new("", "v1", "limitranges", "LimitRange", &["limits"]),
        Kind::new("", "v1", "resourcequotas", "ResourceQuota", &["quota"]),
        ns,
        Kind::new("apps", "v1", "deployments", "Deployment", &["deploy"]),
        Kind::new("apps", "v1", "replicasets", "ReplicaSet", &["rs"]),
        Kind::new("apps", "v1", "statefulsets", "StatefulSet", &["sts"]),
        Kind::new("apps", "v1", "daemonsets", "DaemonSet", &["ds"]),
        Kind::new(
            "autoscaling",
            "v2",
            "horizontalpodautoscalers",
            "HorizontalPodAutoscaler",
            &["hpa"],
        ),
        Kind::new("batch", "v1", "jobs", "Job", &[]),
        Kind::new("batch", "v1", "cronjobs", "CronJob", &["cj"]),
        Kind::new("networking.k8s.io", "v1", "ingresses", "Ingress", &["ing"]),
        Kind::new("metrics.k8s.io", "v1beta1", "pods", "PodMetrics", &[]),
    ]
}
