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

/// The ready-made implementation of the common extension point: a list modules push items to
/// and the plugin takes in its `init` (Backstage's `addProcessor`, `addCollator`, ... style).
///
/// Declare `ExtensionPoint<ExtensionList<T>>`, hand an `Arc<ExtensionList<T>>` to
/// [`PluginRegistrar::extension_point`](super::PluginRegistrar::extension_point) and keep a
/// clone; modules [`push`](Self::push) through their handle while they initialise (they all
/// run before the plugin's `init`), and the plugin [`take`](Self::take)s the items, in module
/// order.
///
/// ```
/// use std::sync::Arc;
/// use backlot::backend::{ExtensionList, ExtensionPoint, Feature};
/// use backlot::services::core_services::LOGGER;
/// use backlot::services::logger::LoggerServiceExt;
///
/// /// Greetings modules add to the `hello` plugin.
/// pub static GREETINGS: ExtensionPoint<ExtensionList<String>> =
///     ExtensionPoint::new("hello.greetings");
///
/// let plugin = Feature::plugin_fn("hello", |reg| {
///     let greetings = Arc::new(ExtensionList::new());
///     greetings.push("Hello".to_owned());
///     let collected = greetings.clone();
///     reg.extension_point(&GREETINGS, greetings)
///         .init(&LOGGER, move |logger| async move {
///             let all: Vec<String> = collected.take();
///             logger.info(&format!("{} greetings", all.len()));
///             Ok(())
///         })
/// });
/// let module = Feature::module_fn("hello", "french", |reg| {
///     reg.init(&GREETINGS, |greetings| async move {
///         greetings.get()?.push("Bonjour".to_owned());
///         Ok(())
///     })
/// });
/// # #[cfg(feature = "testing")]
/// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
/// let backend = backlot::testing::TestBackend::builder()
///     .feature(plugin)
///     .feature(module)
///     .start()
///     .await?;
/// assert!(backend.logger().records().iter().any(|r| r.message == "2 greetings"));
/// backend.stop().await?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ExtensionList<T> {
    items: std::sync::Mutex<Vec<T>>,
}

impl<T> ExtensionList<T> {
    /// An empty list.
    pub const fn new() -> Self {
        Self {
            items: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<T>> {
        self.items
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds an item.
    pub fn push(&self, item: T) {
        self.lock().push(item);
    }

    /// Adds several items.
    pub fn extend(&self, items: impl IntoIterator<Item = T>) {
        self.lock().extend(items);
    }

    /// Removes and returns every item, in the order they were added.
    pub fn take(&self) -> Vec<T> {
        std::mem::take(&mut *self.lock())
    }

    /// A copy of the items, leaving them in the list.
    pub fn to_vec(&self) -> Vec<T>
    where
        T: Clone,
    {
        self.lock().clone()
    }

    /// How many items the list holds.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

impl<T> Default for ExtensionList<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for ExtensionList<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.lock().iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_list_keeps_order_and_takes_all() {
        let list = ExtensionList::new();
        list.push(1);
        list.extend([2, 3]);
        assert_eq!(list.len(), 3);
        assert_eq!(list.to_vec(), vec![1, 2, 3]);
        assert_eq!(list.take(), vec![1, 2, 3]);
        assert!(list.is_empty());
        assert_eq!(format!("{list:?}"), "[]");
    }
}
