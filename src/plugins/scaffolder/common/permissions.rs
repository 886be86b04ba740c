//! The scaffolder's permissions, as Backstage's `@backstage/plugin-scaffolder-common`
//! (`permissions.ts`).
//!
//! ```
//! use backlot::plugins::scaffolder::common::permissions::{self, TASK_READ};
//!
//! assert_eq!(TASK_READ.name, "scaffolder.task.read");
//! assert_eq!(permissions::all().len(), 7);
//! ```

use std::sync::LazyLock;

use crate::services::permissions::Permission;

/// The resource type of templates (`scaffolder-template`).
pub const RESOURCE_TYPE_SCAFFOLDER_TEMPLATE: &str = "scaffolder-template";

/// The resource type of actions (`scaffolder-action`).
pub const RESOURCE_TYPE_SCAFFOLDER_ACTION: &str = "scaffolder-action";

/// Running an action from a template (`scaffolder.action.execute`, resource
/// `scaffolder-action`).
pub static ACTION_EXECUTE: LazyLock<Permission> = LazyLock::new(|| {
    Permission::resource(
        "scaffolder.action.execute",
        RESOURCE_TYPE_SCAFFOLDER_ACTION,
        None,
    )
});

/// Reading a template's parameters (`scaffolder.template.parameter.read`, resource
/// `scaffolder-template`, action `read`): a parameter step the user may not read looks as if it
/// did not exist.
pub static TEMPLATE_PARAMETER_READ: LazyLock<Permission> = LazyLock::new(|| {
    Permission::resource(
        "scaffolder.template.parameter.read",
        RESOURCE_TYPE_SCAFFOLDER_TEMPLATE,
        Some("read"),
    )
});

/// Reading a template's steps (`scaffolder.template.step.read`, resource
/// `scaffolder-template`, action `read`): a step the user may not read is not run.
pub static TEMPLATE_STEP_READ: LazyLock<Permission> = LazyLock::new(|| {
    Permission::resource(
        "scaffolder.template.step.read",
        RESOURCE_TYPE_SCAFFOLDER_TEMPLATE,
        Some("read"),
    )
});

/// Template management (`scaffolder.template.management`, basic).
pub static TEMPLATE_MANAGEMENT: LazyLock<Permission> =
    LazyLock::new(|| Permission::basic("scaffolder.template.management", None));

/// Reading tasks and their logs (`scaffolder.task.read`, basic, action `read`).
pub static TASK_READ: LazyLock<Permission> =
    LazyLock::new(|| Permission::basic("scaffolder.task.read", Some("read")));

/// Creating tasks (`scaffolder.task.create`, basic, action `create`).
pub static TASK_CREATE: LazyLock<Permission> =
    LazyLock::new(|| Permission::basic("scaffolder.task.create", Some("create")));

/// Cancelling tasks (`scaffolder.task.cancel`, basic).
pub static TASK_CANCEL: LazyLock<Permission> =
    LazyLock::new(|| Permission::basic("scaffolder.task.cancel", None));

/// Every scaffolder permission.
pub fn all() -> Vec<Permission> {
    [
        &TEMPLATE_PARAMETER_READ,
        &TEMPLATE_STEP_READ,
        &TEMPLATE_MANAGEMENT,
        &ACTION_EXECUTE,
        &TASK_CANCEL,
        &TASK_CREATE,
        &TASK_READ,
    ]
    .into_iter()
    .map(|p| (**p).clone())
    .collect()
}
