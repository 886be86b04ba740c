//! Built-in `debug:*` actions.

use std::sync::Arc;

use super::BuiltinActionDeps;
use crate::plugins::scaffolder::node::TemplateAction;

/// The `debug:*` actions.
pub(super) fn actions(deps: &BuiltinActionDeps) -> Vec<Arc<dyn TemplateAction>> {
    let _ = deps;
    Vec::new()
}
