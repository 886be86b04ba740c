//! [`IntoFeatures`]: what [`BackendBuilder::add`](super::BackendBuilder::add) accepts — a
//! plugin, a module, a service factory, a [`Feature`], or a tuple or `Vec` of them.
//!
//! The marker type parameter only keeps the blanket impls for plugins and modules apart (as
//! bevy's `Plugins<Marker>` does); callers never name it.

use super::plugin::{BackendModule, BackendPlugin, Feature};
use super::service_factory::ServiceFactory;

/// Something [`BackendBuilder::add`](super::BackendBuilder::add) takes: a
/// [`BackendPlugin`], a [`BackendModule`], a [`ServiceFactory`], a [`Feature`], or a tuple (up
/// to 12 elements, nested as deep as needed) or `Vec` of them.
///
/// ```
/// use backlot::backend::{Backend, Feature, IntoFeatures, ServiceFactory};
/// use backlot::services::core_services::ROOT_CONFIG;
///
/// let plugin = Feature::plugin_fn("todo", |reg| reg.init((), |()| async { Ok(()) }));
/// let module = Feature::module_fn("todo", "extra", |reg| reg.init((), |()| async { Ok(()) }));
/// let config = ServiceFactory::root(&ROOT_CONFIG)
///     .build(|()| async { Ok(std::sync::Arc::new(backlot::services::config::Config::empty())) });
/// assert_eq!((plugin, vec![module], config).into_features().len(), 3);
/// ```
pub trait IntoFeatures<Marker> {
    /// Appends the features to `features`, in order.
    fn add_to(self, features: &mut Vec<Feature>);

    /// The features, in order.
    fn into_features(self) -> Vec<Feature>
    where
        Self: Sized,
    {
        let mut features = Vec::new();
        self.add_to(&mut features);
        features
    }
}

/// Marks the [`IntoFeatures`] impl for [`Feature`].
#[doc(hidden)]
#[derive(Debug)]
pub struct FeatureMarker;

/// Marks the [`IntoFeatures`] impl for plugins.
#[doc(hidden)]
#[derive(Debug)]
pub struct PluginMarker;

/// Marks the [`IntoFeatures`] impl for modules.
#[doc(hidden)]
#[derive(Debug)]
pub struct ModuleMarker;

/// Marks the [`IntoFeatures`] impl for service factories.
#[doc(hidden)]
#[derive(Debug)]
pub struct ServiceMarker;

/// Marks the [`IntoFeatures`] impls for `Vec`s and tuples.
#[doc(hidden)]
#[derive(Debug)]
pub struct ManyMarker<M>(std::marker::PhantomData<M>);

impl IntoFeatures<FeatureMarker> for Feature {
    fn add_to(self, features: &mut Vec<Feature>) {
        features.push(self);
    }
}

impl<P: BackendPlugin> IntoFeatures<PluginMarker> for P {
    fn add_to(self, features: &mut Vec<Feature>) {
        features.push(Feature::plugin(self));
    }
}

impl<M: BackendModule> IntoFeatures<ModuleMarker> for M {
    fn add_to(self, features: &mut Vec<Feature>) {
        features.push(Feature::module(self));
    }
}

impl IntoFeatures<ServiceMarker> for ServiceFactory {
    fn add_to(self, features: &mut Vec<Feature>) {
        features.push(Feature::Service(self));
    }
}

impl<M, T: IntoFeatures<M>> IntoFeatures<ManyMarker<M>> for Vec<T> {
    fn add_to(self, features: &mut Vec<Feature>) {
        for item in self {
            item.add_to(features);
        }
    }
}

/// Implements [`IntoFeatures`] for the tuple of every element given, then for each shorter
/// tail of it.
macro_rules! tuple_features {
    () => {};
    (($t:ident, $m:ident, $v:ident) $(($ts:ident, $ms:ident, $vs:ident))*) => {
        impl<$m, $t: IntoFeatures<$m>, $($ms, $ts: IntoFeatures<$ms>),*>
            IntoFeatures<ManyMarker<($m, $($ms,)*)>> for ($t, $($ts,)*)
        {
            fn add_to(self, features: &mut Vec<Feature>) {
                let ($v, $($vs,)*) = self;
                $v.add_to(features);
                $($vs.add_to(features);)*
            }
        }
        tuple_features!($(($ts, $ms, $vs))*);
    };
}

tuple_features!(
    (T0, M0, f0)(T1, M1, f1)(T2, M2, f2)(T3, M3, f3)(T4, M4, f4)(T5, M5, f5)(T6, M6, f6)(
        T7, M7, f7
    )(T8, M8, f8)(T9, M9, f9)(T10, M10, f10)(T11, M11, f11)
);
