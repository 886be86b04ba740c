//! What scaffolder modules build on: the [`TemplateAction`] trait and the [`ActionContext`] an
//! action runs with, [`resolve_safe_child_path`] for every path an action takes from its input,
//! the [`Templater`] (`${{ }}` expressions) and the extension points
//! [`SCAFFOLDER_ACTIONS`] and [`SCAFFOLDER_TEMPLATING`].

mod action;
mod extension_points;
pub mod templating;
mod workspace;

pub use action::{ActionContext, ActionError, ActionLogSink, ActionLogger, TemplateAction};
pub use extension_points::{
    SCAFFOLDER_ACTIONS, SCAFFOLDER_TEMPLATING, ScaffolderActionsExtension,
    ScaffolderTemplatingExtension,
};
pub use templating::{TemplateError, Templater, TemplatingExtensions};
pub use workspace::resolve_safe_child_path;
