//! The scaffolder plugin (Backstage's Software Templates): `kind: Template` entities
//! (`scaffolder.backstage.io/v1beta3`) whose JSON-Schema parameters are filled in by a user,
//! then run as durable tasks — steps of actions over a private workspace, `${{ }}` templating,
//! live logs — that typically fetch a skeleton, publish it to a git host and register the
//! result in the catalog. Wire-compatible with Backstage's `/api/scaffolder/v2`.
//!
//! - [`common`]: the wire types (tasks, events, template info) and the plugin's permissions.
//! - [`node`]: what modules build on — the [`TemplateAction`](node::TemplateAction) trait and
//!   its [`ActionContext`](node::ActionContext), workspace path checks, the
//!   [`Templater`](node::Templater) and the `scaffolder.actions` / `scaffolder.templating`
//!   extension points.
//! - [`backend`]: the backend plugin, mounted at `/api/scaffolder`, with the built-in actions.
//! - [`react`]: the [`ScaffolderApi`](react::ScaffolderApi) client the app uses.
//! - [`frontend`]: `/create` (template cards, the parameter form, review), the task page with
//!   its live log, and the task list.

pub mod backend;
pub mod common;
pub mod frontend;
pub mod node;
pub mod react;
