//! Utility APIs: typed refs, factories with dependencies, and the registry pages use.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use super::error::AppError;
use crate::backend::BoxError;

/// A typed reference to a utility API, like Backstage's `createApiRef<T>({ id })`.
///
/// ```
/// use backlot::frontend::ApiRef;
///
/// pub trait RadarApi: Send + Sync {
///     fn rings(&self) -> Vec<String>;
/// }
/// pub static RADAR_API: ApiRef<dyn RadarApi> = ApiRef::new("plugin.tech-radar");
/// assert_eq!(RADAR_API.id(), "plugin.tech-radar");
/// ```
pub struct ApiRef<T: ?Sized> {
    id: &'static str,
    _type: PhantomData<fn() -> Box<T>>,
}

impl<T: ?Sized> fmt::Debug for ApiRef<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiRef({})", self.id)
    }
}

impl<T: ?Sized + Send + Sync + 'static> ApiRef<T> {
    /// A ref with an id: `core.<name>` or `plugin.<pluginId>[.<name>]`.
    pub const fn new(id: &'static str) -> Self {
        Self {
            id,
            _type: PhantomData,
        }
    }

    /// The id.
    pub const fn id(&self) -> &'static str {
        self.id
    }
}

type BuildFn =
    Arc<dyn Fn(&ApiRegistry) -> Result<Box<dyn Any + Send + Sync>, BoxError> + Send + Sync>;

/// The APIs an API factory depends on, as typed refs: `()`, one `&ApiRef<A>`, or a tuple of up
/// to six (`(&DISCOVERY, &CONFIG)`). The factory receives the implementations in the same
/// shape (`Arc<A>`, or a tuple of them), like the backend's service dependencies, so a
/// factory cannot use an API it did not declare.
pub trait ApiDepRefs: Send + Sync + 'static {
    /// What the factory receives.
    type Apis;

    /// The ids of the declared APIs.
    fn ids(&self) -> Vec<&'static str>;

    /// The implementations from `registry`; `None` when one is not built (the registry builds
    /// dependencies first, so this does not happen in an app).
    fn resolve(&self, registry: &ApiRegistry) -> Option<Self::Apis>;
}

impl ApiDepRefs for () {
    type Apis = ();

    fn ids(&self) -> Vec<&'static str> {
        Vec::new()
    }

    fn resolve(&self, _: &ApiRegistry) -> Option<()> {
        Some(())
    }
}

impl<A: ?Sized + Send + Sync + 'static> ApiDepRefs for &'static ApiRef<A> {
    type Apis = Arc<A>;

    fn ids(&self) -> Vec<&'static str> {
        vec![self.id()]
    }

    fn resolve(&self, registry: &ApiRegistry) -> Option<Arc<A>> {
        registry.get(self)
    }
}

macro_rules! api_dep_tuple {
    ($($name:ident),+) => {
        impl<$($name: ?Sized + Send + Sync + 'static),+> ApiDepRefs for ($(&'static ApiRef<$name>,)+) {
            type Apis = ($(Arc<$name>,)+);

            #[allow(non_snake_case)]
            fn ids(&self) -> Vec<&'static str> {
                let ($($name,)+) = self;
                vec![$($name.id()),+]
            }

            #[allow(non_snake_case)]
            fn resolve(&self, registry: &ApiRegistry) -> Option<Self::Apis> {
                let ($($name,)+) = self;
                Some(($(registry.get($name)?,)+))
            }
        }
    };
}

api_dep_tuple!(A);
api_dep_tuple!(A, B);
api_dep_tuple!(A, B, C);
api_dep_tuple!(A, B, C, D);
api_dep_tuple!(A, B, C, D, E);
api_dep_tuple!(A, B, C, D, E, F);

/// How to build one API: its ref, the APIs it depends on and a factory, like Backstage's
/// `createApiFactory({ api, deps, factory })`. Give it to the app with
/// [`ApiBlueprint`](super::ApiBlueprint).
///
/// ```
/// use std::sync::Arc;
/// use backlot::frontend::{ApiFactory, ApiRef, core_apis};
///
/// pub struct Greeter { pub greeting: String }
/// pub static GREETER: ApiRef<Greeter> = ApiRef::new("plugin.demo.greeter");
/// pub static LOUD: ApiRef<Greeter> = ApiRef::new("plugin.demo.loud");
///
/// let base = ApiFactory::instance(&GREETER, Arc::new(Greeter { greeting: "hi".into() }));
/// let loud = ApiFactory::builder(&LOUD)
///     .deps((&GREETER, &core_apis::CONFIG))
///     .build(|(inner, _config)| Ok(Arc::new(Greeter { greeting: inner.greeting.to_uppercase() })));
/// assert_eq!(loud.api_id(), "plugin.demo.loud");
/// assert_eq!(loud.dependencies(), ["plugin.demo.greeter", "core.config"]);
/// # let _ = base;
/// ```
#[derive(Clone)]
pub struct ApiFactory {
    api: &'static str,
    deps: Vec<&'static str>,
    build: BuildFn,
}

impl fmt::Debug for ApiFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiFactory")
            .field("api", &self.api)
            .field("deps", &self.deps)
            .finish_non_exhaustive()
    }
}

/// Builds an [`ApiFactory`]; see [`ApiFactory::builder`].
#[must_use]
pub struct ApiFactoryBuilder<T: ?Sized, D = ()> {
    api: &'static str,
    deps: D,
    _type: PhantomData<fn() -> Box<T>>,
}

impl<T: ?Sized, D> fmt::Debug for ApiFactoryBuilder<T, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiFactoryBuilder")
            .field("api", &self.api)
            .finish_non_exhaustive()
    }
}

impl ApiFactory {
    /// Starts a factory for `api`, without dependencies until [`deps`](ApiFactoryBuilder::deps).
    pub fn builder<T: ?Sized + Send + Sync + 'static>(api: &ApiRef<T>) -> ApiFactoryBuilder<T> {
        ApiFactoryBuilder {
            api: api.id(),
            deps: (),
            _type: PhantomData,
        }
    }

    /// A factory that hands out an existing instance.
    pub fn instance<T: ?Sized + Send + Sync + 'static>(api: &ApiRef<T>, value: Arc<T>) -> Self {
        Self::builder(api).build(move |()| Ok(value.clone()))
    }

    /// The API id.
    pub fn api_id(&self) -> &'static str {
        self.api
    }

    /// The ids of the APIs it depends on.
    pub fn dependencies(&self) -> &[&'static str] {
        &self.deps
    }
}

impl<T: ?Sized + Send + Sync + 'static, D: ApiDepRefs> ApiFactoryBuilder<T, D> {
    /// Declares the dependencies: one `&ApiRef` or a tuple of them; the factory receives
    /// their implementations in the same shape.
    pub fn deps<E: ApiDepRefs>(self, deps: E) -> ApiFactoryBuilder<T, E> {
        ApiFactoryBuilder {
            api: self.api,
            deps,
            _type: PhantomData,
        }
    }

    /// Sets the factory; it gets the declared dependencies.
    pub fn build(
        self,
        factory: impl Fn(D::Apis) -> Result<Arc<T>, BoxError> + Send + Sync + 'static,
    ) -> ApiFactory {
        let api = self.api;
        let ids = self.deps.ids();
        let deps = self.deps;
        ApiFactory {
            api,
            deps: ids,
            build: Arc::new(move |registry| {
                let apis = deps
                    .resolve(registry)
                    .ok_or_else(|| format!("a dependency of api '{api}' is not available"))?;
                let value = factory(apis)?;
                Ok(Box::new(value) as Box<dyn Any + Send + Sync>)
            }),
        }
    }
}

/// The app's built utility APIs; pages read them with
/// [`PageRequest::api`](super::PageRequest::api).
///
/// ```
/// use std::sync::Arc;
/// use backlot::frontend::{ApiBlueprint, ApiFactory, ApiRef, App, FrontendPlugin};
///
/// pub struct Motd(pub String);
/// pub static MOTD: ApiRef<Motd> = ApiRef::new("plugin.motd");
///
/// let plugin = FrontendPlugin::new("motd")
///     .extension(ApiBlueprint::make(ApiFactory::instance(&MOTD, Arc::new(Motd("hello".into())))));
/// let app = App::builder().feature(plugin).build()?;
/// assert_eq!(app.apis().get(&MOTD).map(|m| m.0.clone()), Some("hello".to_string()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Default)]
pub struct ApiRegistry {
    apis: HashMap<&'static str, Box<dyn Any + Send + Sync>>,
}

impl fmt::Debug for ApiRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<_> = self.apis.keys().collect();
        ids.sort();
        f.debug_struct("ApiRegistry").field("apis", &ids).finish()
    }
}

impl ApiRegistry {
    /// The implementation of `api`, if one was installed.
    pub fn get<T: ?Sized + Send + Sync + 'static>(&self, api: &ApiRef<T>) -> Option<Arc<T>> {
        self.apis
            .get(api.id())
            .and_then(|b| b.downcast_ref::<Arc<T>>())
            .cloned()
    }

    /// The ids of the installed APIs, sorted.
    pub fn ids(&self) -> Vec<&'static str> {
        let mut ids: Vec<_> = self.apis.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// Builds every API in dependency order. `factories` pairs each factory with the id of the
    /// extension that provided it.
    pub(crate) fn build(factories: Vec<(String, ApiFactory)>) -> Result<Self, AppError> {
        let mut by_api: HashMap<&'static str, (String, ApiFactory)> = HashMap::new();
        let mut order: Vec<&'static str> = Vec::new();
        for (ext, factory) in factories {
            if let Some((first, _)) = by_api.get(factory.api) {
                return Err(AppError::DuplicateApi {
                    api: factory.api.to_string(),
                    first: first.clone(),
                    second: ext,
                });
            }
            order.push(factory.api);
            by_api.insert(factory.api, (ext, factory));
        }
        for (api, (_, factory)) in &by_api {
            for dep in &factory.deps {
                if !by_api.contains_key(dep) {
                    return Err(AppError::MissingApiDependency {
                        api: api.to_string(),
                        dependency: dep.to_string(),
                    });
                }
            }
        }
        let mut registry = Self::default();
        let mut done: HashSet<&'static str> = HashSet::new();
        for api in order {
            let mut stack = Vec::new();
            visit(api, &by_api, &mut registry, &mut done, &mut stack)?;
        }
        Ok(registry)
    }
}

fn visit(
    api: &'static str,
    by_api: &HashMap<&'static str, (String, ApiFactory)>,
    registry: &mut ApiRegistry,
    done: &mut HashSet<&'static str>,
    stack: &mut Vec<&'static str>,
) -> Result<(), AppError> {
    if done.contains(api) {
        return Ok(());
    }
    if let Some(pos) = stack.iter().position(|a| *a == api) {
        let mut cycle: Vec<String> = stack[pos..].iter().map(|s| s.to_string()).collect();
        cycle.push(api.to_string());
        return Err(AppError::ApiCycle { cycle });
    }
    let Some((_, factory)) = by_api.get(api) else {
        return Ok(());
    };
    stack.push(api);
    for dep in &factory.deps {
        visit(dep, by_api, registry, done, stack)?;
    }
    stack.pop();
    let built = (factory.build)(registry).map_err(|source| AppError::ApiFactory {
        api: api.to_string(),
        source,
    })?;
    registry.apis.insert(api, built);
    done.insert(api);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Num(u32);
    static A: ApiRef<Num> = ApiRef::new("t.a");
    static B: ApiRef<Num> = ApiRef::new("t.b");
    static C: ApiRef<Num> = ApiRef::new("t.c");

    fn plus_one(api: &'static ApiRef<Num>, dep: &'static ApiRef<Num>) -> ApiFactory {
        ApiFactory::builder(api)
            .deps(dep)
            .build(|n| Ok(Arc::new(Num(n.0 + 1))))
    }

    #[test]
    fn builds_in_dependency_order_whatever_the_input_order() {
        let registry = ApiRegistry::build(vec![
            ("api:t.c".into(), plus_one(&C, &B)),
            ("api:t.b".into(), plus_one(&B, &A)),
            ("api:t.a".into(), ApiFactory::instance(&A, Arc::new(Num(1)))),
        ])
        .unwrap();
        assert_eq!(registry.get(&C).map(|n| n.0), Some(3));
        assert_eq!(registry.ids(), vec!["t.a", "t.b", "t.c"]);
    }

    #[test]
    fn reports_cycles_with_their_path() {
        let err = ApiRegistry::build(vec![
            ("api:t.a".into(), plus_one(&A, &B)),
            ("api:t.b".into(), plus_one(&B, &A)),
        ])
        .unwrap_err();
        assert!(matches!(&err, AppError::ApiCycle { cycle } if cycle == &["t.a", "t.b", "t.a"]));
        assert_eq!(
            err.to_string(),
            "api dependency cycle: 't.a' -> 't.b' -> 't.a'"
        );
    }

    #[test]
    fn reports_missing_dependencies_and_duplicates() {
        let err = ApiRegistry::build(vec![("api:t.b".into(), plus_one(&B, &A))]).unwrap_err();
        assert!(
            matches!(err, AppError::MissingApiDependency { ref api, ref dependency } if api == "t.b" && dependency == "t.a")
        );
        let err = ApiRegistry::build(vec![
            ("api:x".into(), ApiFactory::instance(&A, Arc::new(Num(1)))),
            ("api:y".into(), ApiFactory::instance(&A, Arc::new(Num(2)))),
        ])
        .unwrap_err();
        assert!(matches!(err, AppError::DuplicateApi { .. }));
    }
}
