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

/// A typed reference to one input of one extension, declared once as a static and used by
/// both sides: the parent declares it with [`ExtensionBuilder::input`](super::ExtensionBuilder::input),
/// children attach with [`ExtensionBuilder::attach_to`](super::ExtensionBuilder::attach_to), and
/// the parent's factory reads it with [`Inputs::many`](super::Inputs::many) (or `one`/`maybe`).
/// A typo in an input name becomes a compile error instead of a detached extension.
///
/// ```
/// use backlot::frontend::{App, Extension, FrontendPlugin, InputRef, Outputs, core_data};
///
/// /// The sections of the overview page.
/// pub static SECTIONS: InputRef = InputRef::many("overview", "sections", || vec![core_data::TITLE.any()]);
///
/// let parent = Extension::builder("", "overview")
///     .namespace("")
///     .attach_to(&core_data::APP_APIS)
///     .disabled(false)
///     .input(&SECTIONS)
///     .factory(|ctx| {
///         let titles: Vec<&String> = ctx.inputs().many(&SECTIONS)?.iter().filter_map(|i| i.get(&core_data::TITLE)).collect();
///         assert_eq!(titles, ["Hello"]);
///         Ok(Outputs::new())
///     });
/// let child = Extension::builder("section", "hello")
///     .attach_to(&SECTIONS)
///     .output(&[core_data::TITLE.any()])
///     .factory(|_| Ok(Outputs::new().with(&core_data::TITLE, "Hello".to_string())));
/// # let _ = (parent, child);
/// assert_eq!(SECTIONS.name(), "sections");
/// assert_eq!(SECTIONS.extension(), "overview");
/// ```
#[derive(Clone, Copy)]
pub struct InputRef {
    extension: &'static str,
    name: &'static str,
    cardinality: Cardinality,
    refs: fn() -> Vec<AnyDataRef>,
}

impl std::fmt::Debug for InputRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InputRef")
            .field("extension", &self.extension)
            .field("name", &self.name)
            .field("cardinality", &self.cardinality)
            .finish()
    }
}

impl InputRef {
    /// Input `name` of extension `extension`, taking any number of children that provide
    /// `refs` (a closure, because data refs are typed at run time: `|| vec![TITLE.any()]`).
    pub const fn many(
        extension: &'static str,
        name: &'static str,
        refs: fn() -> Vec<AnyDataRef>,
    ) -> Self {
        Self {
            extension,
            name,
            cardinality: Cardinality::Many,
            refs,
        }
    }

    /// A required singleton input.
    pub const fn one(
        extension: &'static str,
        name: &'static str,
        refs: fn() -> Vec<AnyDataRef>,
    ) -> Self {
        Self {
            extension,
            name,
            cardinality: Cardinality::One,
            refs,
        }
    }

    /// An optional singleton input.
    pub const fn maybe(
        extension: &'static str,
        name: &'static str,
        refs: fn() -> Vec<AnyDataRef>,
    ) -> Self {
        Self {
            extension,
            name,
            cardinality: Cardinality::Maybe,
            refs,
        }
    }

    /// The id of the extension that owns the input.
    pub const fn extension(&self) -> &'static str {
        self.extension
    }

    /// The input name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The input declaration a parent makes.
    pub fn declaration(&self) -> ExtensionInput {
        ExtensionInput {
            cardinality: self.cardinality,
            refs: (self.refs)(),
        }
    }
}

/// What names an input in a lookup: an [`InputRef`] (checked by the compiler) or a plain
/// `&str` (for inputs declared ad hoc).
pub trait InputName {
    /// The input name.
    fn input_name(&self) -> &str;
}

impl InputName for &str {
    fn input_name(&self) -> &str {
        self
    }
}

impl InputName for &InputRef {
    fn input_name(&self) -> &str {
        self.name
    }
}

/// What an input declaration takes: an [`InputRef`], or a name with an [`ExtensionInput`].
pub trait IntoInputDeclaration {
    /// The name and the declaration.
    fn into_declaration(self) -> (String, ExtensionInput);
}

impl IntoInputDeclaration for &InputRef {
    fn into_declaration(self) -> (String, ExtensionInput) {
        (self.name.to_string(), self.declaration())
    }
}

impl IntoInputDeclaration for (&str, ExtensionInput) {
    fn into_declaration(self) -> (String, ExtensionInput) {
        (self.0.to_string(), self.1)
    }
}
