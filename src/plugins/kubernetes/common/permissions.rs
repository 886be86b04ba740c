//! The Kubernetes plugin's permissions, as Backstage's `@backstage/plugin-kubernetes-common`
//! (`permissions.ts`).
//!
//! ```
//! use backlot::plugins::kubernetes::common::permissions::{self, KUBERNETES_PROXY};
//!
//! assert_eq!(KUBERNETES_PROXY.name, "kubernetes.proxy");
//! assert_eq!(permissions::all().len(), 3);
//! ```

use std::sync::LazyLock;

use crate::services::permissions::Permission;

/// Using the `/proxy` route (`kubernetes.proxy`, basic).
pub static KUBERNETES_PROXY: LazyLock<Permission> =
    LazyLock::new(|| Permission::basic("kubernetes.proxy", None));

/// Reading an entity's workloads (`kubernetes.resources.read`, basic, action `read`).
pub static KUBERNETES_RESOURCES_READ: LazyLock<Permission> =
    LazyLock::new(|| Permission::basic("kubernetes.resources.read", Some("read")));

/// Listing the clusters (`kubernetes.clusters.read`, basic, action `read`).
pub static KUBERNETES_CLUSTERS_READ: LazyLock<Permission> =
    LazyLock::new(|| Permission::basic("kubernetes.clusters.read", Some("read")));

/// Every Kubernetes permission.
pub fn all() -> Vec<Permission> {
    [
        &KUBERNETES_PROXY,
        &KUBERNETES_RESOURCES_READ,
        &KUBERNETES_CLUSTERS_READ,
    ]
    .into_iter()
    .map(|p| (**p).clone())
    .collect()
}
