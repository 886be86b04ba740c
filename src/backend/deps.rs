//! Dependency lists: tuples of service refs and extension points that `init` functions and
//! service factories declare, resolved into tuples of instances.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::extension_point::{ExtensionPoint, ExtensionPointHandle, ExtensionPointKey};
use super::service_ref::{ServiceKey, ServiceRef};

pub(crate) type AnyArc = Arc<dyn Any + Send + Sync>;

/// The identity of one dependency. Opaque: built by the dependency types themselves.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct DepKey(pub(crate) DepKind);

#[derive(Debug, Clone, Copy)]
pub(crate) enum DepKind {
    Service(ServiceKey),
    ExtensionPoint(ExtensionPointKey),
}

/// One resolved dependency. Opaque: made by the backend.
#[doc(hidden)]
pub struct Resolved(pub(crate) ResolvedKind);

pub(crate) enum ResolvedKind {
    /// Holds an `Arc<T>`.
    Service(AnyArc),
    /// Holds an `Arc<T>` plus what the handle needs.
    ExtensionPoint {
        value: AnyArc,
        plugin: Arc<str>,
        closed: Arc<AtomicBool>,
    },
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Resolved")
    }
}

/// One dependency: a `&'static ServiceRef<T>` (giving `Arc<T>`) or a
/// `&'static ExtensionPoint<T>` (giving [`ExtensionPointHandle<T>`]).
pub trait Dep: Send + Sync + 'static {
    /// What `init` receives for this dependency.
    type Output: Send + 'static;
    #[doc(hidden)]
    fn dep_key(&self) -> DepKey;
    #[doc(hidden)]
    fn extract(&self, resolved: Resolved) -> Option<Self::Output>;
}

impl<T: ?Sized + Send + Sync + 'static> Dep for &'static ServiceRef<T> {
    type Output = Arc<T>;
    fn dep_key(&self) -> DepKey {
        DepKey(DepKind::Service(self.key()))
    }
    fn extract(&self, resolved: Resolved) -> Option<Arc<T>> {
        match resolved.0 {
            ResolvedKind::Service(any) => any.downcast_ref::<Arc<T>>().cloned(),
            ResolvedKind::ExtensionPoint { .. } => None,
        }
    }
}

impl<T: ?Sized + Send + Sync + 'static> Dep for &'static ExtensionPoint<T> {
    type Output = ExtensionPointHandle<T>;
    fn dep_key(&self) -> DepKey {
        DepKey(DepKind::ExtensionPoint(self.key()))
    }
    fn extract(&self, resolved: Resolved) -> Option<ExtensionPointHandle<T>> {
        match resolved.0 {
            ResolvedKind::ExtensionPoint {
                value,
                plugin,
                closed,
            } => {
                let inner = value.downcast_ref::<Arc<T>>()?.clone();
                Some(ExtensionPointHandle::new(inner, self.id(), plugin, closed))
            }
            ResolvedKind::Service(_) => None,
        }
    }
}

/// A list of dependencies: `()`, a single [`Dep`], or a tuple of up to twelve of them.
///
/// `init` functions receive [`Deps::Output`]: `Arc<T>` for a single service ref, a tuple of
/// outputs for a tuple.
pub trait Deps: Send + Sync + 'static {
    /// The resolved instances.
    type Output: Send + 'static;
    #[doc(hidden)]
    fn keys(&self) -> Vec<DepKey>;
    #[doc(hidden)]
    fn extract(&self, resolved: Vec<Resolved>) -> Option<Self::Output>;
}

impl Deps for () {
    type Output = ();
    fn keys(&self) -> Vec<DepKey> {
        Vec::new()
    }
    fn extract(&self, _resolved: Vec<Resolved>) -> Option<()> {
        Some(())
    }
}

impl<T: ?Sized + Send + Sync + 'static> Deps for &'static ServiceRef<T> {
    type Output = Arc<T>;
    fn keys(&self) -> Vec<DepKey> {
        vec![self.dep_key()]
    }
    fn extract(&self, resolved: Vec<Resolved>) -> Option<Self::Output> {
        Dep::extract(self, resolved.into_iter().next()?)
    }
}

impl<T: ?Sized + Send + Sync + 'static> Deps for &'static ExtensionPoint<T> {
    type Output = ExtensionPointHandle<T>;
    fn keys(&self) -> Vec<DepKey> {
        vec![self.dep_key()]
    }
    fn extract(&self, resolved: Vec<Resolved>) -> Option<Self::Output> {
        Dep::extract(self, resolved.into_iter().next()?)
    }
}

macro_rules! tuple_deps {
    ($($name:ident),+) => {
        impl<$($name: Dep),+> Deps for ($($name,)+) {
            type Output = ($($name::Output,)+);
            fn keys(&self) -> Vec<DepKey> {
                #[allow(non_snake_case)]
                let ($($name,)+) = self;
                vec![$($name.dep_key()),+]
            }
            fn extract(&self, resolved: Vec<Resolved>) -> Option<Self::Output> {
                #[allow(non_snake_case)]
                let ($($name,)+) = self;
                let mut it = resolved.into_iter();
                Some(($($name.extract(it.next()?)?,)+))
            }
        }
    };
}

tuple_deps!(A);
tuple_deps!(A, B);
tuple_deps!(A, B, C);
tuple_deps!(A, B, C, D);
tuple_deps!(A, B, C, D, E);
tuple_deps!(A, B, C, D, E, F);
tuple_deps!(A, B, C, D, E, F, G);
tuple_deps!(A, B, C, D, E, F, G, H);
tuple_deps!(A, B, C, D, E, F, G, H, I);
tuple_deps!(A, B, C, D, E, F, G, H, I, J);
tuple_deps!(A, B, C, D, E, F, G, H, I, J, K);
tuple_deps!(A, B, C, D, E, F, G, H, I, J, K, L);
