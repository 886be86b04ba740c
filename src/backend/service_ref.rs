//! Typed, static references to services.

use std::any::TypeId;
use std::fmt;
use std::marker::PhantomData;

use super::service_factory::ServiceFactory;

/// Whether a service has one instance for the whole backend or one per plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceScope {
    /// One instance for the whole backend; may depend on root services only.
    Root,
    /// One instance per plugin that depends on it, built lazily.
    Plugin,
}

/// A typed key for a service: an id, a scope and an optional default factory.
///
/// The type parameter is the service's interface, usually a trait object. Refs are declared as
/// statics and passed by reference to `deps` lists; ids only name things in messages and config.
///
/// ```
/// use std::sync::Arc;
/// use backlot::backend::{ServiceFactory, ServiceRef};
///
/// /// Greets people.
/// pub trait Greeter: Send + Sync {
///     /// Says hello.
///     fn greet(&self, who: &str) -> String;
/// }
///
/// struct English;
/// impl Greeter for English {
///     fn greet(&self, who: &str) -> String {
///         format!("hello, {who}")
///     }
/// }
///
/// fn default_greeter() -> ServiceFactory {
///     ServiceFactory::root(&GREETER).build(|()| async { Ok(Arc::new(English) as Arc<dyn Greeter>) })
/// }
///
/// /// The greeter service.
/// pub static GREETER: ServiceRef<dyn Greeter> =
///     ServiceRef::root("example.greeter").with_default(default_greeter);
///
/// assert_eq!(GREETER.id(), "example.greeter");
/// ```
pub struct ServiceRef<T: ?Sized + 'static> {
    id: &'static str,
    scope: ServiceScope,
    default_factory: Option<fn() -> ServiceFactory>,
    _type: PhantomData<fn() -> Box<T>>,
}

impl<T: ?Sized + Send + Sync + 'static> ServiceRef<T> {
    /// A plugin-scoped service ref: one instance per plugin.
    pub const fn plugin(id: &'static str) -> Self {
        Self {
            id,
            scope: ServiceScope::Plugin,
            default_factory: None,
            _type: PhantomData,
        }
    }

    /// A root-scoped service ref: one instance for the whole backend.
    pub const fn root(id: &'static str) -> Self {
        Self {
            id,
            scope: ServiceScope::Root,
            default_factory: None,
            _type: PhantomData,
        }
    }

    /// Sets the factory used when the backend is given no other factory for this ref.
    #[must_use]
    pub const fn with_default(mut self, factory: fn() -> ServiceFactory) -> Self {
        self.default_factory = Some(factory);
        self
    }

    /// The service id, e.g. `core.database`.
    pub const fn id(&self) -> &'static str {
        self.id
    }

    /// The service's scope.
    pub const fn scope(&self) -> ServiceScope {
        self.scope
    }

    pub(crate) fn key(&self) -> ServiceKey {
        ServiceKey {
            id: self.id,
            type_id: TypeId::of::<T>(),
            scope: self.scope,
            default_factory: self.default_factory,
        }
    }
}

impl<T: ?Sized> fmt::Debug for ServiceRef<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceRef")
            .field("id", &self.id)
            .field("scope", &self.scope)
            .field("has_default", &self.default_factory.is_some())
            .finish()
    }
}

/// The untyped identity of a service ref, used by the registry.
#[derive(Clone, Copy)]
pub(crate) struct ServiceKey {
    pub(crate) id: &'static str,
    pub(crate) type_id: TypeId,
    pub(crate) scope: ServiceScope,
    pub(crate) default_factory: Option<fn() -> ServiceFactory>,
}

impl fmt::Debug for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.id, self.scope)
    }
}
