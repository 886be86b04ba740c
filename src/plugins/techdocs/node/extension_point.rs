//! The [`TECHDOCS_BUILD`] extension point: modules replace the preparer, generator or
//! publisher of the TechDocs pipeline.

use std::sync::Arc;

use parking_lot::Mutex;

use super::{Generator, Preparer, Publisher};
use crate::backend::ExtensionPoint;

/// The pipeline stages modules installed; unset stages keep the plugin's config-driven
/// defaults ([`UrlPreparer`](super::UrlPreparer) over `URL_READER`,
/// [`MkDocsGenerator`](super::MkDocsGenerator), the publisher `techdocs.publisher.type`
/// names). When several modules set one stage, the last to run wins.
#[derive(Debug, Default)]
pub struct TechdocsBuildExtension {
    preparer: Mutex<Option<Arc<dyn Preparer>>>,
    generator: Mutex<Option<Arc<dyn Generator>>>,
    publisher: Mutex<Option<Arc<dyn Publisher>>>,
}

impl TechdocsBuildExtension {
    /// Replaces the preparer (fetches an entity's docs source).
    pub fn set_preparer(&self, preparer: Arc<dyn Preparer>) {
        *self.preparer.lock() = Some(preparer);
    }

    /// Replaces the generator (builds the site).
    pub fn set_generator(&self, generator: Arc<dyn Generator>) {
        *self.generator.lock() = Some(generator);
    }

    /// Replaces the publisher (stores and serves the site).
    pub fn set_publisher(&self, publisher: Arc<dyn Publisher>) {
        *self.publisher.lock() = Some(publisher);
    }

    /// The preparer a module set.
    pub fn preparer(&self) -> Option<Arc<dyn Preparer>> {
        self.preparer.lock().clone()
    }

    /// The generator a module set.
    pub fn generator(&self) -> Option<Arc<dyn Generator>> {
        self.generator.lock().clone()
    }

    /// The publisher a module set.
    pub fn publisher(&self) -> Option<Arc<dyn Publisher>> {
        self.publisher.lock().clone()
    }
}

/// Where modules of the `techdocs` plugin replace pipeline stages (Backstage's TechDocs
/// preparer, generator and publisher extension points).
///
/// ```
/// use std::sync::Arc;
/// use backlot::backend::Feature;
/// use backlot::plugins::techdocs::node::{LocalPublisher, TECHDOCS_BUILD};
///
/// let module = Feature::module_fn("techdocs", "srv-publisher", |reg| {
///     reg.init(&TECHDOCS_BUILD, |build| async move {
///         build.get()?.set_publisher(Arc::new(LocalPublisher::new("/srv/docs")));
///         Ok(())
///     })
/// });
/// # let _ = module;
/// ```
pub static TECHDOCS_BUILD: ExtensionPoint<TechdocsBuildExtension> =
    ExtensionPoint::new("techdocs.build");
