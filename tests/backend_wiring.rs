#![allow(missing_docs)]
#![cfg(feature = "testing")]
//! Wiring the backend: every mistake `build()` or `start()` reports, with the ids involved in
//! the message, and plugins that fail to boot.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::get;
use backlot::backend::{
    Backend, BackendError, ExtensionPoint, ExtensionPointHandle, Feature, ServiceFactory,
    ServiceRef, WiringError,
};
use backlot::services::core_services::{
    HTTP_ROUTER, LOGGER, PLUGIN_METADATA, PluginMetadata, ROOT_CONFIG,
};
use backlot::testing::TestBackend;

/// A plugin with an empty `init`.
fn plain_plugin(id: &str) -> Feature {
    Feature::plugin_fn(id, |reg| reg.init((), |()| async { Ok(()) }))
}

/// A module with an empty `init`.
fn plain_module(plugin: &str, module: &str) -> Feature {
    Feature::module_fn(plugin, module, |reg| reg.init((), |()| async { Ok(()) }))
}

/// Builds a backend from `features` and returns the wiring error it must fail with.
fn wiring_error(features: Vec<Feature>) -> WiringError {
    let mut builder = Backend::builder();
    for feature in features {
        builder = builder.add(feature);
    }
    match builder.build() {
        Ok(backend) => panic!("expected a wiring error, the backend built: {backend:?}"),
        Err(BackendError::Wiring(e)) => e,
        Err(other) => panic!("expected a wiring error, got {other}"),
    }
}

/// A plain root service for these tests.
#[derive(Debug)]
struct Thing;

static NO_DEFAULT: ServiceRef<Thing> = ServiceRef::plugin("test.noDefault");

#[test]
fn missing_service_names_the_service_and_the_plugin() {
    let plugin = Feature::plugin_fn("needy", |reg| {
        reg.init(&NO_DEFAULT, |_thing| async { Ok(()) })
    });
    let err = wiring_error(vec![plugin]);
    assert!(
        matches!(&err, WiringError::MissingService { dependant, service }
            if dependant == "plugin 'needy'" && service == "test.noDefault"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("'needy'") && text.contains("'test.noDefault'"),
        "{text}"
    );
}

#[test]
fn missing_service_of_a_module_names_the_module() {
    let module = Feature::module_fn("host", "needy-module", |reg| {
        reg.init(&NO_DEFAULT, |_thing| async { Ok(()) })
    });
    let err = wiring_error(vec![plain_plugin("host"), module]);
    assert!(
        matches!(&err, WiringError::MissingService { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("'needy-module'")
            && text.contains("'host'")
            && text.contains("'test.noDefault'"),
        "{text}"
    );
}

fn cycle_a() -> ServiceFactory {
    ServiceFactory::plugin(&CYCLE_A)
        .deps(&CYCLE_B)
        .build(|_, _b| async { Ok(Arc::new(Thing)) })
}

fn cycle_b() -> ServiceFactory {
    ServiceFactory::plugin(&CYCLE_B)
        .deps(&CYCLE_A)
        .build(|_, _a| async { Ok(Arc::new(Thing)) })
}

static CYCLE_A: ServiceRef<Thing> = ServiceRef::plugin("a").with_default(cycle_a);
static CYCLE_B: ServiceRef<Thing> = ServiceRef::plugin("b").with_default(cycle_b);

#[test]
fn dependency_cycle_prints_the_path() {
    let plugin = Feature::plugin_fn("loopy", |reg| reg.init(&CYCLE_A, |_a| async { Ok(()) }));
    let err = wiring_error(vec![plugin]);
    assert!(
        matches!(&err, WiringError::DependencyCycle { cycle, .. } if cycle == &["a", "b", "a"]),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("'a' -> 'b' -> 'a'"), "{text}");
    assert!(text.contains("'loopy'"), "{text}");
}

#[test]
fn duplicate_plugin_id() {
    let err = wiring_error(vec![plain_plugin("twice"), plain_plugin("twice")]);
    assert!(
        matches!(&err, WiringError::DuplicatePlugin { plugin } if plugin == "twice"),
        "{err:?}"
    );
    assert!(err.to_string().contains("'twice'"), "{err}");
}

#[test]
fn duplicate_module() {
    let err = wiring_error(vec![
        plain_plugin("host"),
        plain_module("host", "extra"),
        plain_module("host", "extra"),
    ]);
    assert!(
        matches!(&err, WiringError::DuplicateModule { plugin, module } if plugin == "host" && module == "extra"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("'extra'") && text.contains("'host'"),
        "{text}"
    );
}

#[test]
fn same_module_id_for_two_plugins_is_fine() {
    let built = Backend::builder()
        .add(plain_plugin("one"))
        .add(plain_plugin("two"))
        .add(plain_module("one", "extra"))
        .add(plain_module("two", "extra"))
        .build();
    assert!(built.is_ok(), "{:?}", built.err());
}

static OVERRIDDEN: ServiceRef<Thing> = ServiceRef::root("test.overridden");

fn thing_factory() -> ServiceFactory {
    ServiceFactory::root(&OVERRIDDEN).build(|()| async { Ok(Arc::new(Thing)) })
}

#[test]
fn duplicate_service_override() {
    let err = wiring_error(vec![
        Feature::Service(thing_factory()),
        Feature::Service(thing_factory()),
    ]);
    assert!(
        matches!(&err, WiringError::DuplicateServiceFactory { service } if service == "test.overridden"),
        "{err:?}"
    );
    assert!(err.to_string().contains("'test.overridden'"), "{err}");
}

#[test]
fn overriding_plugin_metadata_is_refused() {
    let factory = ServiceFactory::plugin(&PLUGIN_METADATA)
        .build(|_, ()| async { Ok(Arc::new(PluginMetadata::new("impostor"))) });
    let err = wiring_error(vec![Feature::Service(factory), plain_plugin("host")]);
    assert!(
        matches!(&err, WiringError::NotOverridable { service } if service == "core.pluginMetadata"),
        "{err:?}"
    );
    assert!(err.to_string().contains("'core.pluginMetadata'"), "{err}");
}

#[test]
fn module_for_an_absent_plugin() {
    let err = wiring_error(vec![
        plain_plugin("present"),
        plain_module("absent", "orphan"),
    ]);
    assert!(
        matches!(&err, WiringError::ModuleWithoutPlugin { plugin, module } if plugin == "absent" && module == "orphan"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("'absent'") && text.contains("'orphan'"),
        "{text}"
    );
}

/// Things modules add to a plugin.
#[derive(Debug, Default)]
struct Additions(Mutex<Vec<String>>);

impl Additions {
    fn push(&self, item: &str) {
        if let Ok(mut items) = self.0.lock() {
            items.push(item.to_string());
        }
    }

    fn items(&self) -> Vec<String> {
        self.0.lock().map(|i| i.clone()).unwrap_or_default()
    }
}

static ALPHA_ADDITIONS: ExtensionPoint<Additions> = ExtensionPoint::new("alpha.additions");
static NOBODYS_ADDITIONS: ExtensionPoint<Additions> = ExtensionPoint::new("nobody.additions");

fn alpha_plugin() -> Feature {
    Feature::plugin_fn("alpha", |reg| {
        reg.extension_point(&ALPHA_ADDITIONS, Arc::new(Additions::default()))
            .init((), |()| async { Ok(()) })
    })
}

#[test]
fn extension_point_of_another_plugin() {
    let thief = Feature::module_fn("beta", "thief", |reg| {
        reg.init(&ALPHA_ADDITIONS, |points| async move {
            points.get()?.push("stolen");
            Ok(())
        })
    });
    let err = wiring_error(vec![alpha_plugin(), plain_plugin("beta"), thief]);
    assert!(
        matches!(&err, WiringError::ForeignExtensionPoint { plugin, module, extension_point, owner }
            if plugin == "beta" && module == "thief" && extension_point == "alpha.additions" && owner == "alpha"),
        "{err:?}"
    );
    let text = err.to_string();
    for id in ["'beta'", "'thief'", "'alpha.additions'", "'alpha'"] {
        assert!(text.contains(id), "{id} missing from: {text}");
    }
}

#[test]
fn extension_point_nobody_registers() {
    let module = Feature::module_fn("alpha", "hopeful", |reg| {
        reg.init(&NOBODYS_ADDITIONS, |points| async move {
            points.get()?.push("lost");
            Ok(())
        })
    });
    let err = wiring_error(vec![alpha_plugin(), module]);
    assert!(
        matches!(&err, WiringError::MissingExtensionPoint { plugin, module, extension_point }
            if plugin == "alpha" && module == "hopeful" && extension_point == "nobody.additions"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("'hopeful'") && text.contains("'nobody.additions'"),
        "{text}"
    );
}

#[test]
fn plugin_depending_on_an_extension_point() {
    let greedy = Feature::plugin_fn("greedy", |reg| {
        reg.init(&ALPHA_ADDITIONS, |_points| async { Ok(()) })
    });
    let err = wiring_error(vec![alpha_plugin(), greedy]);
    assert!(
        matches!(&err, WiringError::PluginUsesExtensionPoint { plugin, extension_point }
            if plugin == "greedy" && extension_point == "alpha.additions"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("'greedy'") && text.contains("'alpha.additions'"),
        "{text}"
    );
}

static PLUGIN_THING: ServiceRef<Thing> =
    ServiceRef::plugin("test.pluginThing").with_default(plugin_thing);
static ROOT_ON_PLUGIN: ServiceRef<Thing> =
    ServiceRef::root("test.rootOnPlugin").with_default(root_on_plugin);

fn plugin_thing() -> ServiceFactory {
    ServiceFactory::plugin(&PLUGIN_THING).build(|_, ()| async { Ok(Arc::new(Thing)) })
}

fn root_on_plugin() -> ServiceFactory {
    ServiceFactory::root(&ROOT_ON_PLUGIN)
        .deps(&PLUGIN_THING)
        .build(|_thing| async { Ok(Arc::new(Thing)) })
}

#[test]
fn root_service_depending_on_a_plugin_scoped_one() {
    let plugin = Feature::plugin_fn("user", |reg| {
        reg.init(&ROOT_ON_PLUGIN, |_root| async { Ok(()) })
    });
    let err = wiring_error(vec![plugin]);
    assert!(
        matches!(&err, WiringError::RootDependsOnPluginScope { service, dependency }
            if service == "test.rootOnPlugin" && dependency == "test.pluginThing"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("'test.rootOnPlugin'") && text.contains("'test.pluginThing'"),
        "{text}"
    );
}

#[test]
fn root_override_depending_on_a_plugin_scoped_one_is_refused_even_unused() {
    let factory = ServiceFactory::root(&OVERRIDDEN)
        .deps(&LOGGER)
        .build(|_logger| async { Ok(Arc::new(Thing)) });
    let err = wiring_error(vec![Feature::Service(factory)]);
    assert!(
        matches!(&err, WiringError::RootDependsOnPluginScope { service, dependency }
            if service == "test.overridden" && dependency == "core.logger"),
        "{err:?}"
    );
}

#[test]
fn invalid_ids() {
    for bad in [
        "",
        "9lives",
        "under_score",
        "trailing-",
        "double--dash",
        "with space",
        "dotted.id",
    ] {
        let err = wiring_error(vec![plain_plugin(bad)]);
        assert!(
            matches!(&err, WiringError::InvalidId { what: "plugin", id } if id == bad),
            "{bad:?}: {err:?}"
        );
        assert!(err.to_string().contains(&format!("'{bad}'")), "{err}");
    }
    let err = wiring_error(vec![
        plain_plugin("host"),
        plain_module("host", "bad_module"),
    ]);
    assert!(
        matches!(&err, WiringError::InvalidId { what: "module", id } if id == "bad_module"),
        "{err:?}"
    );
    assert!(err.to_string().contains("'bad_module'"), "{err}");
    // Backstage ids are case-insensitive kebab-case; digits after the first letter are fine.
    let ok = Backend::builder()
        .add(plain_plugin("Catalog-v2"))
        .add(plain_module("Catalog-v2", "github2"))
        .build();
    assert!(ok.is_ok(), "{:?}", ok.err());
}

#[tokio::test]
async fn extension_point_used_after_its_plugin_started_is_closed() {
    let stash: Arc<Mutex<Option<ExtensionPointHandle<Additions>>>> = Arc::default();
    let seen_by_plugin: Arc<Mutex<Vec<String>>> = Arc::default();
    let additions = Arc::new(Additions::default());
    let plugin_additions = additions.clone();
    let plugin_seen = seen_by_plugin.clone();
    let plugin = Feature::plugin_fn("alpha", move |reg| {
        let additions = plugin_additions.clone();
        let seen = plugin_seen.clone();
        reg.extension_point(&ALPHA_ADDITIONS, additions.clone())
            .init((), move |()| async move {
                if let Ok(mut seen) = seen.lock() {
                    *seen = additions.items();
                }
                Ok(())
            })
    });
    let module_stash = stash.clone();
    let module = Feature::module_fn("alpha", "hoarder", move |reg| {
        let stash = module_stash.clone();
        reg.init(&ALPHA_ADDITIONS, move |points| async move {
            points.get()?.push("during init");
            if let Ok(mut slot) = stash.lock() {
                *slot = Some(points);
            }
            Ok(())
        })
    });
    let backend = TestBackend::builder()
        .feature(plugin)
        .feature(module)
        .start()
        .await
        .expect("backend starts");
    assert_eq!(
        *seen_by_plugin.lock().expect("lock"),
        vec!["during init".to_string()]
    );

    let handle = stash
        .lock()
        .expect("lock")
        .take()
        .expect("the module stashed its handle");
    let err = handle
        .get()
        .expect_err("the extension point is closed once the plugin started");
    assert!(
        matches!(&err, WiringError::ExtensionPointClosed { plugin, extension_point }
            if plugin == "alpha" && extension_point == "alpha.additions"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("'alpha'") && text.contains("'alpha.additions'"),
        "{text}"
    );
    assert_eq!(additions.items(), vec!["during init".to_string()]);
    backend.stop().await.expect("stop");
}

fn startup_errors(
    result: Result<TestBackend, BackendError>,
) -> Vec<backlot::backend::StartupError> {
    match result {
        Ok(backend) => panic!(
            "expected startup to fail, it started at {}",
            backend.url("")
        ),
        Err(BackendError::Startup(errors)) => errors,
        Err(other) => panic!("expected a startup error, got {other}"),
    }
}

#[tokio::test]
async fn plugin_init_failure_aborts_and_names_the_plugin() {
    let broken = Feature::plugin_fn("broken", |reg| {
        reg.init((), |()| async { Err("the database is on fire".into()) })
    });
    let shutdowns: Arc<Mutex<Vec<String>>> = Arc::default();
    let fine_shutdowns = shutdowns.clone();
    let fine = Feature::plugin_fn("fine", move |reg| {
        let shutdowns = fine_shutdowns.clone();
        reg.init(
            &backlot::services::core_services::LIFECYCLE,
            move |lifecycle| async move {
                lifecycle.add_shutdown_hook(move || async move {
                    shutdowns
                        .lock()
                        .map_err(|e| e.to_string())?
                        .push("fine stopped".into());
                    Ok(())
                });
                Ok(())
            },
        )
    });
    let result = TestBackend::builder()
        .feature(fine)
        .feature(broken)
        .start()
        .await;
    let err_text = match &result {
        Err(e) => e.to_string(),
        Ok(_) => String::new(),
    };
    let errors = startup_errors(result);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].plugin, "broken");
    assert_eq!(errors[0].module, None);
    assert_eq!(errors[0].service, None);
    assert_eq!(errors[0].source.to_string(), "the database is on fire");
    assert!(
        err_text.contains("plugin 'broken' failed to start")
            && err_text.contains("the database is on fire"),
        "{err_text}"
    );
    // The plugins that did start are shut down again.
    assert_eq!(
        *shutdowns.lock().expect("lock"),
        vec!["fine stopped".to_string()]
    );
}

#[tokio::test]
async fn module_init_failure_names_the_module_and_the_plugin() {
    let module = Feature::module_fn("host", "flaky", |reg| {
        reg.init((), |()| async { Err("cannot reach github".into()) })
    });
    let plugin_ran = Arc::new(Mutex::new(false));
    let ran = plugin_ran.clone();
    let plugin = Feature::plugin_fn("host", move |reg| {
        let ran = ran.clone();
        reg.init((), move |()| async move {
            *ran.lock().map_err(|e| e.to_string())? = true;
            Ok(())
        })
    });
    let result = TestBackend::builder()
        .feature(plugin)
        .feature(module)
        .start()
        .await;
    let err_text = result
        .as_ref()
        .err()
        .map(ToString::to_string)
        .unwrap_or_default();
    let errors = startup_errors(result);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].plugin, "host");
    assert_eq!(errors[0].module.as_deref(), Some("flaky"));
    assert!(
        err_text.contains("module 'flaky' for plugin 'host' failed to start"),
        "{err_text}"
    );
    assert!(
        !*plugin_ran.lock().expect("lock"),
        "the plugin's init must not run after its module failed"
    );
}

static FAILING: ServiceRef<Thing> =
    ServiceRef::plugin("test.failing").with_default(failing_factory);

fn failing_factory() -> ServiceFactory {
    ServiceFactory::plugin(&FAILING).build(|ctx, ()| async move {
        Err(format!("no credentials for {}", ctx.plugin_id()).into())
    })
}

#[tokio::test]
async fn failing_service_factory_names_the_service() {
    let plugin = Feature::plugin_fn("consumer", |reg| {
        reg.init(&FAILING, |_thing| async { Ok(()) })
    });
    let result = TestBackend::builder().feature(plugin).start().await;
    let err_text = result
        .as_ref()
        .err()
        .map(ToString::to_string)
        .unwrap_or_default();
    let errors = startup_errors(result);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].plugin, "consumer");
    assert_eq!(errors[0].service.as_deref(), Some("test.failing"));
    assert_eq!(errors[0].source.to_string(), "no credentials for consumer");
    assert!(
        err_text.contains("'consumer'") && err_text.contains("'test.failing'"),
        "{err_text}"
    );
}

static FAILING_ROOT: ServiceRef<Thing> = ServiceRef::root("test.failingRoot");

#[tokio::test]
async fn failing_root_service_factory_names_the_service() {
    let factory = ServiceFactory::root(&FAILING_ROOT)
        .deps(&ROOT_CONFIG)
        .build(|_config| async { Err::<Arc<Thing>, _>("pool exhausted".into()) });
    let plugin = Feature::plugin_fn("consumer", |reg| {
        reg.init(&FAILING_ROOT, |_thing| async { Ok(()) })
    });
    let err = TestBackend::builder()
        .service(factory)
        .feature(plugin)
        .start()
        .await
        .expect_err("startup fails");
    let text = err.to_string();
    assert!(
        text.contains("'test.failingRoot'") && text.contains("pool exhausted"),
        "{text}"
    );
}

#[tokio::test]
async fn boot_failure_continue_keeps_the_backend_up() {
    let broken = Feature::plugin_fn("broken", |reg| {
        reg.init(&HTTP_ROUTER, |http| async move {
            http.use_router(Router::new().route("/ping", get(|| async { "never" })));
            Err("cannot start".into())
        })
    });
    let healthy = Feature::plugin_fn("healthy", |reg| {
        reg.init(&HTTP_ROUTER, |http| async move {
            http.use_router(Router::new().route("/ping", get(|| async { "pong" })));
            Ok(())
        })
    });
    let backend = TestBackend::builder()
        .config_yaml("backend:\n  startup:\n    default:\n      onPluginBootFailure: continue\n")
        .feature(broken)
        .feature(healthy)
        .start()
        .await
        .expect("the backend starts without the broken plugin");
    let client = backend.client();

    let ok = client.get("/api/healthy/ping").await.expect("request");
    assert_eq!((ok.status(), ok.text().as_str()), (200, "pong"));

    let res = client.get("/api/broken/ping").await.expect("request");
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().expect("error JSON");
    assert_eq!(body["error"]["name"], "ServiceUnavailableError");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("broken")),
        "{body}"
    );
    assert_eq!(body["response"]["statusCode"], 503);
    assert_eq!(body["request"]["method"], "GET");
    assert_eq!(body["request"]["url"], "/api/broken/ping");

    let ready = client
        .get("/.backstage/health/v1/readiness")
        .await
        .expect("request");
    assert_eq!(ready.status(), 200);
    backend.stop().await.expect("stop");
}

#[tokio::test]
async fn boot_failure_continue_per_plugin_only_covers_that_plugin() {
    let yaml = "backend:\n  startup:\n    plugins:\n      tolerated-one:\n        onPluginBootFailure: continue\n";
    let tolerated = Feature::plugin_fn("tolerated-one", |reg| {
        reg.init((), |()| async { Err("meh".into()) })
    });
    let backend = TestBackend::builder()
        .config_yaml(yaml)
        .feature(tolerated)
        .start()
        .await
        .expect("a tolerated failure does not abort");
    let res = backend
        .client()
        .get("/api/tolerated-one/anything")
        .await
        .expect("request");
    assert_eq!(res.status(), 503);
    backend.stop().await.expect("stop");

    let tolerated = Feature::plugin_fn("tolerated-one", |reg| {
        reg.init((), |()| async { Err("meh".into()) })
    });
    let strict = Feature::plugin_fn("strict", |reg| {
        reg.init((), |()| async { Err("boom".into()) })
    });
    let errors = startup_errors(
        TestBackend::builder()
            .config_yaml(yaml)
            .feature(tolerated)
            .feature(strict)
            .start()
            .await,
    );
    assert_eq!(
        errors.iter().map(|e| e.plugin.as_str()).collect::<Vec<_>>(),
        vec!["strict"]
    );
}

static FIRST_POINT: ExtensionPoint<Additions> = ExtensionPoint::new("ring.first");
static SECOND_POINT: ExtensionPoint<Additions> = ExtensionPoint::new("ring.second");

#[test]
fn modules_using_each_others_extension_points_in_a_circle() {
    // `bystander` uses the circle but is not part of it, and is registered first.
    let bystander = Feature::module_fn("ring", "bystander", |reg| {
        reg.init(&FIRST_POINT, |_p| async { Ok(()) })
    });
    let one = Feature::module_fn("ring", "one", |reg| {
        reg.extension_point(&FIRST_POINT, Arc::new(Additions::default()))
            .init(&SECOND_POINT, |_p| async { Ok(()) })
    });
    let two = Feature::module_fn("ring", "two", |reg| {
        reg.extension_point(&SECOND_POINT, Arc::new(Additions::default()))
            .init(&FIRST_POINT, |_p| async { Ok(()) })
    });
    let err = wiring_error(vec![plain_plugin("ring"), bystander, one, two]);
    let WiringError::ModuleCycle { plugin, cycle } = &err else {
        panic!("expected a module cycle, got {err:?}");
    };
    assert_eq!(plugin, "ring");
    assert_eq!(cycle.len(), 3, "{cycle:?}");
    assert_eq!(cycle.first(), cycle.last(), "{cycle:?}");
    assert!(!cycle.contains(&"bystander".to_string()), "{cycle:?}");
    let text = err.to_string();
    assert!(
        text.contains("'one' -> 'two' -> 'one'") || text.contains("'two' -> 'one' -> 'two'"),
        "{text}"
    );
    assert!(text.contains("'ring'"), "{text}");
}

#[test]
fn service_factory_needing_a_missing_service_names_the_factory() {
    static NEEDS_MISSING: ServiceRef<Thing> = ServiceRef::plugin("test.needsMissing");
    let factory = ServiceFactory::plugin(&NEEDS_MISSING)
        .deps(&NO_DEFAULT)
        .build(|_, _missing| async { Ok(Arc::new(Thing)) });
    let plugin = Feature::plugin_fn("user", |reg| {
        reg.init(&NEEDS_MISSING, |_t| async { Ok(()) })
    });
    let err = wiring_error(vec![Feature::Service(factory), plugin]);
    assert!(
        matches!(&err, WiringError::MissingService { dependant, service }
            if dependant == "service 'test.needsMissing'" && service == "test.noDefault"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_panicking_init_is_a_startup_failure_naming_the_plugin() {
    let panicky = Feature::plugin_fn("panicky", |reg| {
        reg.init((), |()| async {
            if std::hint::black_box(true) {
                panic!("unexpected state");
            }
            Ok(())
        })
    });
    let errors = startup_errors(TestBackend::builder().feature(panicky).start().await);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].plugin, "panicky");
    assert!(
        errors[0].source.to_string().contains("unexpected state"),
        "{}",
        errors[0].source
    );

    // With `continue`, the rest of the backend stays up.
    let panicky = Feature::module_fn("host", "panicky", |reg| {
        reg.init((), |()| async {
            if std::hint::black_box(true) {
                panic!("module bug");
            }
            Ok(())
        })
    });
    let backend = TestBackend::builder()
        .config_yaml("backend:\n  startup:\n    default:\n      onPluginBootFailure: continue\n")
        .feature(plain_plugin("host"))
        .feature(panicky)
        .feature(plain_plugin("other"))
        .start()
        .await
        .expect("continue keeps the backend up");
    let res = backend.client().get("/api/host/x").await.expect("request");
    assert_eq!(res.status(), 503);
    let res = backend.client().get("/api/other/x").await.expect("request");
    assert_eq!(res.status(), 404);
    backend.stop().await.expect("stop");
}

#[tokio::test]
async fn per_plugin_abort_overrides_a_continue_default() {
    let yaml = "backend:\n  startup:\n    default:\n      onPluginBootFailure: continue\n    plugins:\n      catalog:\n        onPluginBootFailure: abort\n";
    let catalog = Feature::plugin_fn("catalog", |reg| {
        reg.init((), |()| async { Err("no db".into()) })
    });
    let errors = startup_errors(
        TestBackend::builder()
            .config_yaml(yaml)
            .feature(catalog)
            .start()
            .await,
    );
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].plugin, "catalog");
}

/// Not the type `alpha` registered its extension point with.
#[derive(Debug, Default)]
struct Impostor;

static ALPHA_ADDITIONS_WRONG_TYPE: ExtensionPoint<Impostor> =
    ExtensionPoint::new("alpha.additions");

#[test]
fn extension_point_used_with_another_type() {
    let confused = Feature::module_fn("alpha", "confused", |reg| {
        reg.init(&ALPHA_ADDITIONS_WRONG_TYPE, |_points| async { Ok(()) })
    });
    let err = wiring_error(vec![alpha_plugin(), confused]);
    assert!(
        matches!(&err, WiringError::ConflictingExtensionPoint { plugin, module, extension_point }
            if plugin == "alpha" && module == "confused" && extension_point == "alpha.additions"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("'confused'") && text.contains("'alpha.additions'"),
        "{text}"
    );
}

static CONFLICT_STRING: ServiceRef<String> =
    ServiceRef::root("test.conflict").with_default(conflict_string);
static CONFLICT_NUMBER: ServiceRef<u64> =
    ServiceRef::root("test.conflict").with_default(conflict_number);

fn conflict_string() -> ServiceFactory {
    ServiceFactory::root(&CONFLICT_STRING).build(|()| async { Ok(Arc::new(String::from("s"))) })
}

fn conflict_number() -> ServiceFactory {
    ServiceFactory::root(&CONFLICT_NUMBER).build(|()| async { Ok(Arc::new(1u64)) })
}

#[test]
fn two_service_refs_with_one_id_and_different_types() {
    let a = Feature::plugin_fn("one", |reg| {
        reg.init(&CONFLICT_STRING, |_s| async { Ok(()) })
    });
    let b = Feature::plugin_fn("two", |reg| {
        reg.init(&CONFLICT_NUMBER, |_n| async { Ok(()) })
    });
    let err = wiring_error(vec![a, b]);
    assert!(
        matches!(&err, WiringError::ConflictingServiceRef { service } if service == "test.conflict"),
        "{err:?}"
    );
    assert!(err.to_string().contains("'test.conflict'"), "{err}");
}

#[tokio::test]
async fn a_module_and_its_plugin_claiming_one_route_fail_the_start() {
    let module = Feature::module_fn("todo", "shadow", |reg| {
        reg.init(&HTTP_ROUTER, |http| async move {
            http.use_router(Router::new().route("/items", get(|| async { "module" })));
            Ok(())
        })
    });
    let plugin = Feature::plugin_fn("todo", |reg| {
        reg.init(&HTTP_ROUTER, |http| async move {
            http.use_router(Router::new().route("/items", get(|| async { "plugin" })));
            Ok(())
        })
    });
    let errors = startup_errors(
        TestBackend::builder()
            .feature(plugin)
            .feature(module)
            .start()
            .await,
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].plugin, "todo");
    assert!(
        errors[0].source.to_string().contains("/items"),
        "{}",
        errors[0].source
    );
}
