//! The scaffolder's pages: `/create`, the parameter form, the task page and the task list.
