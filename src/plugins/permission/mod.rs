//! The permission plugin: Backstage's `permission-backend`, the one place a deployment's
//! permission policy runs.
//!
//! - [`node`]: the [`POLICY_EXTENSION_POINT`](node::POLICY_EXTENSION_POINT) through which a
//!   module installs a code policy;
//! - [`backend`]: the [`PermissionPlugin`](backend::PermissionPlugin) itself, serving
//!   `POST /api/permission/authorize`.
//!
//! The policy types, the registry plugins declare their permissions in, and the
//! `PERMISSIONS` service every plugin asks are in
//! [`services::permissions`](crate::services::permissions). See `docs/permissions.md`.

pub mod backend;
pub mod node;
