//! The dataset builder: an entity's deployments, replica sets, pods, metrics and service.

use serde_json::json;

use super::KubeApiBuilder;

impl KubeApiBuilder {
    /// For the entity `id` in `namespace`: `deployments` deployments, each with a
    /// replica set and `pods_per_deployment` pods (with requests and limits), their pod
    /// metrics, and a service, all labelled `backstage.io/kubernetes-id=<id>` and `app=<id>`.
    pub fn dataset(
        mut self,
        id: &str,
        namespace: &str,
        deployments: usize,
        pods_per_deployment: usize,
    ) -> Self {
        let labels = json!({"app": id, "backstage.io/kubernetes-id": id});
        let created = "2026-01-01T00:00:00Z";
        self.objects.push(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": id, "namespace": namespace, "labels": labels, "uid": format!("svc-{id}-{namespace}"), "creationTimestamp": created},
            "spec": {"type": "ClusterIP", "clusterIP": "10.0.0.10", "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}], "selector": {"app": id}}
        }));
        for d in 0..deployments {
            let dname = format!("{id}-d{d}");
            let rs = format!("{dname}-5d8f7c");
            self.objects.push(json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": dname, "namespace": namespace, "labels": labels, "uid": format!("dep-{dname}-{namespace}"), "creationTimestamp": created},
                "spec": {"replicas": pods_per_deployment, "selector": {"matchLabels": {"app": id}},
                         "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}},
                "status": {"replicas": pods_per_deployment, "readyReplicas": pods_per_deployment, "availableReplicas": pods_per_deployment, "updatedReplicas": pods_per_deployment}
            }));
            self.objects.push(json!({
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": rs, "namespace": namespace, "labels": labels, "uid": format!("rs-{rs}-{namespace}"), "creationTimestamp": created,
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": dname, "uid": format!("dep-{dname}-{namespace}"), "controller": true}]},
                "spec": {"replicas": pods_per_deployment},
                "status": {"replicas": pods_per_deployment, "readyReplicas": pods_per_deployment}
            }));
            for p in 0..pods_per_deployment {
                let pname = format!("{rs}-p{p}");
                self.objects.push(json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": pname, "namespace": namespace, "labels": labels, "uid": format!("pod-{pname}-{namespace}"), "creationTimestamp": created,
                                 "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs, "uid": format!("rs-{rs}-{namespace}"), "controller": true}]},
                    "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "nginx:1.27",
                        "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}}}]},
                    "status": {"phase": "Running", "podIP": "10.1.0.1", "startTime": created,
                        "conditions": [{"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"}],
                        "containerStatuses": [{"name": "app", "ready": true, "started": true, "restartCount": 0, "image": "nginx:1.27",
                            "state": {"running": {"startedAt": created}}}]}
                }));
                self.objects.push(json!({
                    "apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics",
                    "metadata": {"name": pname, "namespace": namespace, "labels": labels, "creationTimestamp": created},
                    "timestamp": created, "window": "30s",
                    "containers": [{"name": "app", "usage": {"cpu": format!("{}n", (p + 1) * 1_000_000), "memory": "65536Ki"}}]
                }));
            }
        }
        self
    }
}
