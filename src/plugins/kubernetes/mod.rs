//! The Kubernetes plugin: the workloads of a catalog entity, fetched from every cluster that
//! serves it, with Backstage's `/api/kubernetes` routes and its entity-page tab.
//!
//! - [`common`]: the wire types of `/api/kubernetes` (`ObjectsByEntityResponse`, cluster
//!   attributes, fetch errors) and the problem detection the UI shows.
//! - [`node`]: the extension point for custom cluster locators and auth strategies.
//! - [`backend`]: the backend plugin, mounted at `/api/kubernetes`.
//! - [`react`]: the [`KubernetesApi`](react::KubernetesApi) utility API.
//! - [`frontend`]: the Kubernetes tab on entity pages.

pub mod backend;
pub mod common;
pub mod frontend;
pub mod node;
pub mod react;
