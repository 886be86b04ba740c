//! Extension inputs: named slots that children attach to.

use super::data_ref::AnyDataRef;

/// How many children an input takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cardinality {
    /// Any number, in attachment order.
    Many,
    /// Exactly one.
    One,
    /// Zero or one.
    Maybe,
}

/// An input of an extension: its cardinality and the data refs each child must provide, like
/// Backstage's `createExtensionInput([...refs], { singleton, optional })`.
///
/// ```
/// use backlot::frontend::{Cardinality, ExtensionInput, core_data};
///
/// let items = ExtensionInput::many(&[core_data::TITLE.any(), core_data::ROUTE_PATH.optional().any()]);
/// assert_eq!(items.cardinality(), Cardinality::Many);
/// assert_eq!(items.data_refs().len(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct ExtensionInput {
    cardinality: Cardinality,
    refs: Vec<AnyDataRef>,
}

impl ExtensionInput {
    /// Any number of children.
    pub fn many(refs: &[AnyDataRef]) -> Self {
        Self {
            cardinality: Cardinality::Many,
            refs: refs.to_vec(),
        }
    }

    /// Exactly one child (a required singleton).
    pub fn one(refs: &[AnyDataRef]) -> Self {
        Self {
            cardinality: Cardinality::One,
            refs: refs.to_vec(),
        }
    }

    /// At most one child (an optional singleton).
    pub fn maybe(refs: &[AnyDataRef]) -> Self {
        Self {
            cardinality: Cardinality::Maybe,
            refs: refs.to_vec(),
        }
    }

    /// The cardinality.
    pub fn cardinality(&self) -> Cardinality {
        self.cardinality
    }

    /// The accepted data refs.
    pub fn data_refs(&self) -> &[AnyDataRef] {
        &self.refs
    }

    /// Whether at most one child may attach.
    pub fn is_singleton(&self) -> bool {
        matches!(self.cardinality, Cardinality::One | Cardinality::Maybe)
    }
}
