#![allow(missing_docs)]
//! `BackendBuilder::add`: one entry point taking plugins, modules, service factories,
//! features, and tuples or `Vec`s of them.

mod support;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::get;
use backlot::backend::{
    Backend, BackendError, BackendModule, BackendPlugin, ExtensionPoint, Feature, IntoFeatures,
    ModuleRegistrar, PluginRegistrar, Registration, ServiceFactory, ServiceRef, WiringError,
};
use backlot::services::core_services::HTTP_ROUTER;

/// A greeting service with no default factory: the host must add one.
#[derive(Debug)]
struct Greeting(String);

static GREETING: ServiceRef<Greeting> = ServiceRef::root("test.greeting");

/// Words modules add to the `greeter` plugin.
#[derive(Debug, Default)]
struct Words(Mutex<Vec<String>>);

static WORDS: ExtensionPoint<Words> = ExtensionPoint::new("greeter.words");

/// Serves `/api/greeter/hello`: the greeting, then the words its modules added.
struct Greeter;

impl BackendPlugin for Greeter {
    fn id(&self) -> &str {
        "greeter"
    }
    fn register(&self, reg: PluginRegistrar) -> Registration {
        let words = Arc::new(Words::default());
        reg.extension_point(&WORDS, words.clone()).init(
            (&GREETING, &HTTP_ROUTER),
            move |(greeting, http)| async move {
                let added = words.0.lock().map_err(|e| e.to_string())?.join(" ");
                let text = format!("{} {added}", greeting.0);
                http.use_router(Router::new().route("/hello", get(move || async move { text })));
                Ok(())
            },
        )
    }
}

/// Adds "world" to the greeter.
struct World;

impl BackendModule for World {
    fn plugin_id(&self) -> &str {
        "greeter"
    }
    fn module_id(&self) -> &str {
        "world"
    }
    fn register(&self, reg: ModuleRegistrar) -> Registration {
        reg.init(&WORDS, |words| async move {
            words
                .get()?
                .0
                .lock()
                .map_err(|e| e.to_string())?
                .push("world".into());
            Ok(())
        })
    }
}

fn greeting(text: &'static str) -> ServiceFactory {
    ServiceFactory::root(&GREETING)
        .build(move |()| async move { Ok(Arc::new(Greeting(text.into()))) })
}

#[tokio::test]
async fn a_tuple_of_a_plugin_a_module_and_a_service_factory_starts() {
    let handle = Backend::builder()
        .listen_addr("127.0.0.1:0".parse().unwrap())
        .config_yaml(support::external_access_yaml())
        .add((Greeter, World, greeting("hello")))
        .start()
        .await
        .unwrap();
    let body = support::authed_get(handle.url("/api/greeter/hello"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "hello world");
    // The plugin's route sits behind the default-deny layer like any other.
    support::assert_unauthenticated_get(&handle.url("/api/greeter/hello")).await;
    handle.stop().await.unwrap();
}

#[test]
fn nested_tuples_vecs_and_features_keep_their_order() {
    let plain = |id: &str| Feature::plugin_fn(id, |reg| reg.init((), |()| async { Ok(()) }));
    let features = (
        plain("one"),
        vec![plain("two"), plain("three")],
        (Greeter, (World, greeting("hi"))),
    )
        .into_features();
    let names: Vec<String> = features.iter().map(|f| format!("{f:?}")).collect();
    assert_eq!(
        names,
        [
            "Feature::Plugin(one)",
            "Feature::Plugin(two)",
            "Feature::Plugin(three)",
            "Feature::Plugin(greeter)",
            "Feature::Module(greeter, world)",
            "Feature::Service(test.greeting)",
        ]
    );
    let backend = Backend::builder().add(features).build().unwrap();
    assert_eq!(backend.plugin_ids(), ["one", "two", "three", "greeter"]);
    assert_eq!(backend.module_order("greeter"), ["world"]);
}

#[test]
fn a_wiring_error_from_a_tuple_still_names_the_plugin() {
    // The greeter needs `test.greeting`, which has no default and is not in the tuple.
    let err = match Backend::builder().add((World, Greeter)).build() {
        Err(BackendError::Wiring(e)) => e,
        other => panic!("expected a wiring error, got {other:?}"),
    };
    assert!(
        matches!(&err, WiringError::MissingService { dependant, service }
            if dependant == "plugin 'greeter'" && service == "test.greeting"),
        "{err:?}"
    );
    assert!(err.to_string().contains("'greeter'"), "{err}");
}

#[test]
fn two_factories_for_one_ref_in_one_add_are_an_error() {
    let err = match Backend::builder()
        .add((Greeter, greeting("a"), greeting("b")))
        .build()
    {
        Err(BackendError::Wiring(e)) => e,
        other => panic!("expected a wiring error, got {other:?}"),
    };
    assert!(
        matches!(&err, WiringError::DuplicateServiceFactory { service } if service == "test.greeting"),
        "{err:?}"
    );
}
