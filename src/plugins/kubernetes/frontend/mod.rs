//! The Kubernetes frontend plugin: the "Kubernetes" tab on entity pages (Backstage's
//! `EntityKubernetesContent`), server-rendered and usable without JavaScript.
//!
//! The tab is shown for entities with a `backstage.io/kubernetes-id` or
//! `backstage.io/kubernetes-label-selector` annotation. It reads the entity's objects with
//! the [`KUBERNETES_API`](crate::plugins::kubernetes::react::KUBERNETES_API) and shows:
//!
//! - a cluster picker (`?cluster=<name>`, or all clusters);
//! - the clusters' fetch errors, per cluster;
//! - the detected problems ([`detect_errors`](crate::plugins::kubernetes::common::detect_errors)),
//!   most severe first, with their proposed fixes;
//! - per cluster: deployments (pods found through their replica sets), stateful sets and
//!   daemon sets with their pods — phase, container states, ready containers, restarts, age,
//!   CPU and memory from `podMetrics` — the pods no workload owns, and a table per other
//!   object type (services, ingresses, jobs, cron jobs, autoscalers, custom resources, …).
//!
//! Every table shows at most `kubernetes.frontend.maxRows` rows (default 200) and counts
//! the rest.
//!
//! ```
//! use backlot::frontend::App;
//! use backlot::plugins::kubernetes;
//! use backlot::plugins::kubernetes::react::KUBERNETES_API;
//!
//! let app = App::builder()
//!     .feature(backlot::plugins::catalog::frontend::plugin())
//!     .feature(kubernetes::frontend::plugin())
//!     .build()?;
//! assert!(app.tree().get("entity-content:kubernetes").is_some());
//! assert!(app.apis().get(&KUBERNETES_API).is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod format;
mod objects;
mod tab;
mod workloads;

use crate::frontend::{ApiBlueprint, FrontendPlugin};
use crate::plugins::kubernetes::react::HttpKubernetesApi;

/// The Kubernetes frontend plugin (id `kubernetes`): the
/// [`KUBERNETES_API`](crate::plugins::kubernetes::react::KUBERNETES_API) over HTTP
/// (`api:plugin.kubernetes.service`) and the `entity-content:kubernetes` tab.
pub fn plugin() -> FrontendPlugin {
    FrontendPlugin::new("kubernetes")
        .extension(ApiBlueprint::make(HttpKubernetesApi::factory()))
        .extension(tab::kubernetes_tab())
}
