//! Extension data refs: typed keys for the values extensions pass to their parents.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

/// A typed key for one kind of data an extension outputs, like Backstage's
/// `createExtensionDataRef<T>().with({ id })`.
///
/// Declare refs as statics; `.optional()` marks an output that a factory may leave out, or an
/// input item that a child need not provide.
///
/// ```
/// use backlot::frontend::ExtensionDataRef;
///
/// /// The tooltip of a card.
/// pub static TOOLTIP: ExtensionDataRef<String> = ExtensionDataRef::new("my-plugin.tooltip");
///
/// assert_eq!(TOOLTIP.id(), "my-plugin.tooltip");
/// assert!(!TOOLTIP.is_optional());
/// assert!(TOOLTIP.optional().is_optional());
/// ```
pub struct ExtensionDataRef<T> {
    id: &'static str,
    optional: bool,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for ExtensionDataRef<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for ExtensionDataRef<T> {}

impl<T> fmt::Debug for ExtensionDataRef<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExtensionDataRef")
            .field("id", &self.id)
            .field("optional", &self.optional)
            .finish()
    }
}

impl<T: Send + Sync + 'static> ExtensionDataRef<T> {
    /// A required data ref with an id such as `core.routing.path`.
    pub const fn new(id: &'static str) -> Self {
        Self {
            id,
            optional: false,
            _type: PhantomData,
        }
    }

    /// The same ref, marked optional.
    #[must_use]
    pub const fn optional(self) -> Self {
        Self {
            id: self.id,
            optional: true,
            _type: PhantomData,
        }
    }

    /// The id.
    pub const fn id(&self) -> &'static str {
        self.id
    }

    /// Whether the ref is optional.
    pub const fn is_optional(&self) -> bool {
        self.optional
    }

    /// The ref without its type, as inputs and output lists take it.
    pub fn any(&self) -> AnyDataRef {
        AnyDataRef {
            id: self.id,
            optional: self.optional,
            type_id: TypeId::of::<T>(),
            type_name: std::any::type_name::<T>(),
        }
    }
}

/// A data ref with its type erased, for input and output declarations.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AnyDataRef {
    id: &'static str,
    optional: bool,
    type_id: TypeId,
    type_name: &'static str,
}

impl fmt::Debug for AnyDataRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}: {}",
            self.id,
            if self.optional { "?" } else { "" },
            self.type_name
        )
    }
}

impl AnyDataRef {
    /// The id.
    pub fn id(&self) -> &'static str {
        self.id
    }

    /// Whether the ref is optional.
    pub fn is_optional(&self) -> bool {
        self.optional
    }

    pub(crate) fn type_id(&self) -> TypeId {
        self.type_id
    }

    pub(crate) fn same_data(&self, other: &AnyDataRef) -> bool {
        self.id == other.id && self.type_id == other.type_id
    }
}

#[derive(Clone)]
pub(crate) struct DataValue {
    pub(crate) type_id: TypeId,
    pub(crate) value: Arc<dyn Any + Send + Sync>,
}

/// The values an extension factory returns, one per data ref; later values for the same ref
/// win.
///
/// ```
/// use backlot::frontend::{ExtensionDataRef, Outputs};
///
/// static TITLE: ExtensionDataRef<String> = ExtensionDataRef::new("demo.title");
///
/// let outputs = Outputs::new().with(&TITLE, "Hello".to_string());
/// assert_eq!(outputs.get(&TITLE).map(String::as_str), Some("Hello"));
/// ```
#[derive(Clone, Default)]
pub struct Outputs {
    values: HashMap<&'static str, DataValue>,
    order: Vec<&'static str>,
}

impl fmt::Debug for Outputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outputs")
            .field("refs", &self.order)
            .finish()
    }
}

impl Outputs {
    /// No values.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the value for `data_ref`.
    #[must_use]
    pub fn with<T: Send + Sync + 'static>(
        mut self,
        data_ref: &ExtensionDataRef<T>,
        value: T,
    ) -> Self {
        self.insert(data_ref, value);
        self
    }

    /// Adds the value for `data_ref` in place.
    pub fn insert<T: Send + Sync + 'static>(&mut self, data_ref: &ExtensionDataRef<T>, value: T) {
        if !self.values.contains_key(data_ref.id()) {
            self.order.push(data_ref.id());
        }
        self.values.insert(
            data_ref.id(),
            DataValue {
                type_id: TypeId::of::<T>(),
                value: Arc::new(value),
            },
        );
    }

    /// The value for `data_ref`, if present and of its type.
    pub fn get<T: Send + Sync + 'static>(&self, data_ref: &ExtensionDataRef<T>) -> Option<&T> {
        self.values
            .get(data_ref.id())
            .and_then(|v| v.value.downcast_ref::<T>())
    }

    /// Whether a value for the ref id is present.
    pub fn contains(&self, id: &str) -> bool {
        self.values.contains_key(id)
    }

    /// The ids of the refs with values, in insertion order.
    pub fn ids(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.order.iter().copied()
    }

    pub(crate) fn raw(&self, id: &str) -> Option<&DataValue> {
        self.values.get(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static A: ExtensionDataRef<String> = ExtensionDataRef::new("t.a");
    static B: ExtensionDataRef<u32> = ExtensionDataRef::new("t.b");

    #[test]
    fn later_value_wins_and_types_are_kept() {
        let out = Outputs::new()
            .with(&A, "one".into())
            .with(&B, 2)
            .with(&A, "two".into());
        assert_eq!(out.get(&A).map(String::as_str), Some("two"));
        assert_eq!(out.get(&B), Some(&2));
        assert_eq!(out.ids().collect::<Vec<_>>(), vec!["t.a", "t.b"]);
    }

    #[test]
    fn erased_refs_compare_by_id_and_type() {
        static OTHER: ExtensionDataRef<u64> = ExtensionDataRef::new("t.b");
        assert!(B.any().same_data(&B.optional().any()));
        assert!(!B.any().same_data(&OTHER.any()));
    }
}
