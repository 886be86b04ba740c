//! Service factories: how the backend builds a service for a ref.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use super::deps::{AnyArc, DepKey, Deps, Resolved};
use super::error::BoxError;
use super::service_ref::{ServiceKey, ServiceRef, ServiceScope};

pub(crate) type BoxFut<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;
pub(crate) type RootBuildFn =
    Arc<dyn Fn(Vec<Resolved>) -> BoxFut<Result<AnyArc, BoxError>> + Send + Sync>;
pub(crate) type PluginBuildFn =
    Arc<dyn Fn(AnyArc, Arc<str>, Vec<Resolved>) -> BoxFut<Result<AnyArc, BoxError>> + Send + Sync>;

/// Builds instances of one service. Give one to
/// [`BackendBuilder::add`](super::BackendBuilder::add) to replace the ref's
/// default factory.
///
/// Root factories build once per backend; plugin factories build once per plugin that depends on
/// the service, and may share a root context built once (a connection pool, say).
///
/// ```
/// use std::sync::Arc;
/// use backlot::backend::{ServiceFactory, ServiceRef};
///
/// /// Counts things for a plugin.
/// #[derive(Debug)]
/// pub struct Counter {
///     /// The plugin this counter belongs to.
///     pub plugin: String,
///     /// Shared by every plugin's counter.
///     pub shared: Arc<std::sync::atomic::AtomicU64>,
/// }
///
/// /// A per-plugin counter.
/// pub static COUNTER: ServiceRef<Counter> = ServiceRef::plugin("example.counter");
///
/// let factory = ServiceFactory::plugin(&COUNTER)
///     .root_context((), |()| async { Ok(Arc::new(std::sync::atomic::AtomicU64::new(0))) })
///     .build(|ctx, ()| async move {
///         Ok(Arc::new(Counter {
///             plugin: ctx.plugin_id().to_string(),
///             shared: ctx.root_context().clone(),
///         }))
///     });
/// assert_eq!(factory.service_id(), "example.counter");
/// ```
pub struct ServiceFactory {
    pub(crate) service: ServiceKey,
    pub(crate) deps: Vec<DepKey>,
    pub(crate) kind: FactoryKind,
}

pub(crate) enum FactoryKind {
    Root(RootBuildFn),
    Plugin {
        root_deps: Vec<DepKey>,
        root_context: RootBuildFn,
        build: PluginBuildFn,
    },
}

impl fmt::Debug for ServiceFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceFactory")
            .field("service", &self.service)
            .field("deps", &self.deps)
            .finish_non_exhaustive()
    }
}

impl ServiceFactory {
    /// Starts a factory for a root-scoped service.
    pub fn root<T: ?Sized + Send + Sync + 'static>(
        service: &'static ServiceRef<T>,
    ) -> RootFactoryBuilder<T, ()> {
        RootFactoryBuilder { service, deps: () }
    }

    /// Starts a factory for a plugin-scoped service.
    pub fn plugin<T: ?Sized + Send + Sync + 'static>(
        service: &'static ServiceRef<T>,
    ) -> PluginFactoryBuilder<T, (), ()> {
        PluginFactoryBuilder {
            service,
            deps: (),
            root_deps: Vec::new(),
            root_context: Arc::new(|_| Box::pin(async { Ok(Arc::new(Arc::new(())) as AnyArc) })),
            _ctx: PhantomData,
        }
    }

    /// The id of the service this factory builds.
    pub fn service_id(&self) -> &'static str {
        self.service.id
    }

    /// The scope of the service this factory builds.
    pub fn scope(&self) -> ServiceScope {
        self.service.scope
    }
}

/// Builder for a root-scoped [`ServiceFactory`]; see [`ServiceFactory::root`].
pub struct RootFactoryBuilder<T: ?Sized + 'static, D> {
    service: &'static ServiceRef<T>,
    deps: D,
}

impl<T: ?Sized + Send + Sync + 'static, D> fmt::Debug for RootFactoryBuilder<T, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RootFactoryBuilder")
            .field("service", &self.service.key().id)
            .finish_non_exhaustive()
    }
}

impl<T: ?Sized + Send + Sync + 'static, D: Deps> RootFactoryBuilder<T, D> {
    /// Declares the services this factory needs (root-scoped ones only).
    pub fn deps<D2: Deps>(self, deps: D2) -> RootFactoryBuilder<T, D2> {
        RootFactoryBuilder {
            service: self.service,
            deps,
        }
    }

    /// Finishes the factory with the function that builds the instance.
    pub fn build<F, Fut>(self, f: F) -> ServiceFactory
    where
        F: Fn(D::Output) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Arc<T>, BoxError>> + Send + 'static,
    {
        let keys = self.deps.keys();
        let deps = self.deps;
        let service_id = self.service.id();
        let build: RootBuildFn = Arc::new(move |resolved| match deps.extract(resolved) {
            Some(out) => {
                let fut = f(out);
                Box::pin(async move { fut.await.map(|v| Arc::new(v) as AnyArc) })
            }
            None => Box::pin(async move { Err(resolution_mismatch(service_id)) }),
        });
        ServiceFactory {
            service: self.service.key(),
            deps: keys,
            kind: FactoryKind::Root(build),
        }
    }
}

/// What a plugin-scoped factory's build function receives besides its dependencies.
#[derive(Debug)]
pub struct FactoryContext<C> {
    plugin_id: Arc<str>,
    root_context: Arc<C>,
}

impl<C> FactoryContext<C> {
    /// The id of the plugin the instance is built for.
    pub fn plugin_id(&self) -> &str {
        &self.plugin_id
    }

    /// The value built once by the factory's root context function.
    pub fn root_context(&self) -> &Arc<C> {
        &self.root_context
    }
}

/// Builder for a plugin-scoped [`ServiceFactory`]; see [`ServiceFactory::plugin`].
pub struct PluginFactoryBuilder<T: ?Sized + 'static, D, C> {
    service: &'static ServiceRef<T>,
    deps: D,
    root_deps: Vec<DepKey>,
    root_context: RootBuildFn,
    _ctx: PhantomData<fn() -> C>,
}

impl<T: ?Sized + Send + Sync + 'static, D, C> fmt::Debug for PluginFactoryBuilder<T, D, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginFactoryBuilder")
            .field("service", &self.service.key().id)
            .finish_non_exhaustive()
    }
}

impl<T: ?Sized + Send + Sync + 'static, D: Deps, C: Send + Sync + 'static>
    PluginFactoryBuilder<T, D, C>
{
    /// Declares the services each instance needs (root or plugin scoped).
    pub fn deps<D2: Deps>(self, deps: D2) -> PluginFactoryBuilder<T, D2, C> {
        PluginFactoryBuilder {
            service: self.service,
            deps,
            root_deps: self.root_deps,
            root_context: self.root_context,
            _ctx: PhantomData,
        }
    }

    /// Adds a root context: built once, from root services only, and handed to every
    /// per-plugin build.
    pub fn root_context<RD, C2, F, Fut>(self, root_deps: RD, f: F) -> PluginFactoryBuilder<T, D, C2>
    where
        RD: Deps,
        C2: Send + Sync + 'static,
        F: Fn(RD::Output) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Arc<C2>, BoxError>> + Send + 'static,
    {
        let keys = root_deps.keys();
        let service_id = self.service.id();
        let root_context: RootBuildFn =
            Arc::new(move |resolved| match root_deps.extract(resolved) {
                Some(out) => {
                    let fut = f(out);
                    Box::pin(async move { fut.await.map(|v| Arc::new(v) as AnyArc) })
                }
                None => Box::pin(async move { Err(resolution_mismatch(service_id)) }),
            });
        PluginFactoryBuilder {
            service: self.service,
            deps: self.deps,
            root_deps: keys,
            root_context,
            _ctx: PhantomData,
        }
    }

    /// Finishes the factory with the function that builds one plugin's instance.
    pub fn build<F, Fut>(self, f: F) -> ServiceFactory
    where
        F: Fn(FactoryContext<C>, D::Output) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Arc<T>, BoxError>> + Send + 'static,
    {
        let keys = self.deps.keys();
        let deps = self.deps;
        let service_id = self.service.id();
        let build: PluginBuildFn = Arc::new(move |ctx, plugin_id, resolved| {
            let root_context = ctx.downcast_ref::<Arc<C>>().cloned();
            match (root_context, deps.extract(resolved)) {
                (Some(root_context), Some(out)) => {
                    let fut = f(
                        FactoryContext {
                            plugin_id,
                            root_context,
                        },
                        out,
                    );
                    Box::pin(async move { fut.await.map(|v| Arc::new(v) as AnyArc) })
                }
                _ => Box::pin(async move { Err(resolution_mismatch(service_id)) }),
            }
        });
        ServiceFactory {
            service: self.service.key(),
            deps: keys,
            kind: FactoryKind::Plugin {
                root_deps: self.root_deps,
                root_context: self.root_context,
                build,
            },
        }
    }
}

fn resolution_mismatch(service_id: &str) -> BoxError {
    format!("internal error: dependencies of service '{service_id}' resolved to unexpected types")
        .into()
}
