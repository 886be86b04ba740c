//! The scaffolder's route refs.

use crate::frontend::{RouteParams, RouteRef};

/// The params of a template's form page, `/create/templates/:namespace/:name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateParams {
    /// The template's namespace.
    pub namespace: String,
    /// The template's name.
    pub name: String,
}

impl RouteParams for TemplateParams {
    fn names() -> &'static [&'static str] {
        &["namespace", "name"]
    }
    fn values(&self) -> Vec<&str> {
        vec![&self.namespace, &self.name]
    }
}

/// The params of a task page, `/create/tasks/:taskId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskParams {
    /// The task id.
    pub task_id: String,
}

impl RouteParams for TaskParams {
    fn names() -> &'static [&'static str] {
        &["taskId"]
    }
    fn values(&self) -> Vec<&str> {
        vec![&self.task_id]
    }
}

/// The template list (`/create`), bindable as `scaffolder.root`.
pub static SCAFFOLDER_ROOT_ROUTE: RouteRef = RouteRef::new("scaffolder.root");

/// A template's form (`/create/templates/:namespace/:name`), `scaffolder.selectedTemplate`.
pub static SELECTED_TEMPLATE_ROUTE: RouteRef<TemplateParams> =
    RouteRef::new("scaffolder.selectedTemplate");

/// A task's page (`/create/tasks/:taskId`), `scaffolder.ongoingTask`.
pub static ONGOING_TASK_ROUTE: RouteRef<TaskParams> = RouteRef::new("scaffolder.ongoingTask");

/// The task list (`/create/tasks`), `scaffolder.listTasks`.
pub static TASKS_ROUTE: RouteRef = RouteRef::new("scaffolder.listTasks");
