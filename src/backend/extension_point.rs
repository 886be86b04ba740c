//! Extension points: typed hooks a plugin offers to its modules.

use std::any::TypeId;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::error::WiringError;

/// A typed key for an extension point, declared as a static by the plugin that offers it.
///
/// The plugin registers an implementation in its `register` with
/// [`PluginRegistrar::extension_point`](super::PluginRegistrar::extension_point); modules of
/// that plugin list the extension point among their dependencies and receive an
/// [`ExtensionPointHandle`].
///
/// ```
/// use std::sync::Mutex;
/// use backlot::backend::ExtensionPoint;
///
/// /// Lets modules add greetings.
/// #[derive(Default)]
/// pub struct Greetings(pub Mutex<Vec<String>>);
///
/// /// The greetings extension point of the `hello` plugin.
/// pub static GREETINGS: ExtensionPoint<Greetings> = ExtensionPoint::new("hello.greetings");
/// assert_eq!(GREETINGS.id(), "hello.greetings");
/// ```
pub struct ExtensionPoint<T: ?Sized + 'static> {
    id: &'static str,
    _type: PhantomData<fn() -> Box<T>>,
}

impl<T: ?Sized + Send + Sync + 'static> ExtensionPoint<T> {
    /// An extension point with an id of the form `<pluginId>.<name>`.
    pub const fn new(id: &'static str) -> Self {
        Self {
            id,
            _type: PhantomData,
        }
    }

    /// The extension point's id.
    pub const fn id(&self) -> &'static str {
        self.id
    }

    pub(crate) fn key(&self) -> ExtensionPointKey {
        ExtensionPointKey {
            id: self.id,
            type_id: TypeId::of::<T>(),
        }
    }
}

impl<T: ?Sized> fmt::Debug for ExtensionPoint<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExtensionPoint")
            .field("id", &self.id)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ExtensionPointKey {
    pub(crate) id: &'static str,
    pub(crate) type_id: TypeId,
}

/// What a module receives for an extension point it depends on.
///
/// [`get`](Self::get) gives the plugin's implementation while the module's `init` runs. Once the
/// plugin's own `init` has begun, `get` returns
/// [`WiringError::ExtensionPointClosed`]: whatever a module adds later would be lost, so it is
/// an error instead.
pub struct ExtensionPointHandle<T: ?Sized> {
    inner: Arc<T>,
    id: &'static str,
    plugin: Arc<str>,
    closed: Arc<AtomicBool>,
}

impl<T: ?Sized> ExtensionPointHandle<T> {
    pub(crate) fn new(
        inner: Arc<T>,
        id: &'static str,
        plugin: Arc<str>,
        closed: Arc<AtomicBool>,
    ) -> Self {
        Self {
            inner,
            id,
            plugin,
            closed,
        }
    }

    /// The plugin's implementation, or an error once the plugin has started.
    pub fn get(&self) -> Result<&T, WiringError> {
        if self.closed.load(Ordering::Acquire) {
            Err(WiringError::ExtensionPointClosed {
                plugin: self.plugin.to_string(),
                extension_point: self.id.to_string(),
            })
        } else {
            Ok(&self.inner)
        }
    }

    /// The extension point's id.
    pub fn id(&self) -> &'static str {
        self.id
    }
}

impl<T: ?Sized> Clone for ExtensionPointHandle<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            id: self.id,
            plugin: self.plugin.clone(),
            closed: self.closed.clone(),
        }
    }
}

impl<T: ?Sized> fmt::Debug for ExtensionPointHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExtensionPointHandle")
            .field("id", &self.id)
            .field("plugin", &self.plugin)
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .finish()
    }
}
