#![allow(missing_docs)]
#![cfg(feature = "testing")]
//! The backend's lifecycle as a host program sees it: the order of inits, hooks and factories,
//! service scopes, feature discovery, readiness across start and stop, requests held while a
//! plugin starts and requests drained while the backend stops.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use backlot::backend::{
    Backend, BackendBuilder, ExtensionPoint, Feature, FeatureRegistration, ServiceFactory,
    ServiceRef,
};
use backlot::services::core_services::{
    HTTP_ROUTER, LIFECYCLE, PLUGIN_METADATA, ROOT_LIFECYCLE, ROOT_LOGGER,
};
use backlot::services::logger::{CapturingLogger, LoggerService};
use backlot::testing::{TestBackend, TestClient};
use tokio::sync::{Barrier, Notify};

type Log = Arc<Mutex<Vec<String>>>;

fn record(log: &Log, event: impl Into<String>) {
    match log.lock() {
        Ok(mut log) => log.push(event.into()),
        Err(e) => panic!("event log: {e}"),
    }
}

fn events(log: &Log) -> Vec<String> {
    log.lock()
        .map(|l| l.clone())
        .unwrap_or_else(|e| panic!("event log: {e}"))
}

fn position(events: &[String], event: &str) -> usize {
    events
        .iter()
        .position(|e| e == event)
        .unwrap_or_else(|| panic!("event {event:?} missing from {events:?}"))
}

/// A loopback address with a port that was free a moment ago, so a test knows the port before
/// `start()` returns.
fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|probe| probe.local_addr())
        .unwrap_or_else(|e| panic!("probe listener: {e}"))
}

/// A builder whose root logger keeps records in memory instead of installing `tracing`, and
/// which accepts the test process's external-access token ([`authed`]).
fn quiet_builder() -> BackendBuilder {
    let logger = CapturingLogger::new();
    Backend::builder()
        .config_yaml(support::external_access_yaml())
        .add(ServiceFactory::root(&ROOT_LOGGER).build(move |()| {
            let logger = logger.clone();
            async move { Ok(Arc::new(logger) as Arc<dyn LoggerService>) }
        }))
}

/// A client of the backend at `base_url` sending the external-access token.
fn authed(base_url: &str) -> TestClient {
    TestClient::new(base_url).with_authorization(&support::test_bearer())
}

/// A per-plugin service whose factory records when it runs.
#[derive(Debug)]
struct Tracked {
    plugin: String,
}

static TRACKED: ServiceRef<Tracked> = ServiceRef::plugin("test.tracked");

fn tracked_factory(log: &Log) -> ServiceFactory {
    let log = log.clone();
    ServiceFactory::plugin(&TRACKED).build(move |ctx, ()| {
        let log = log.clone();
        async move {
            record(&log, format!("factory:{}", ctx.plugin_id()));
            Ok(Arc::new(Tracked {
                plugin: ctx.plugin_id().to_string(),
            }))
        }
    })
}

/// Something modules of the `host` plugin contribute to.
#[derive(Debug, Default)]
struct Slots(Mutex<Vec<String>>);

static HOST_SLOTS: ExtensionPoint<Slots> = ExtensionPoint::new("host.slots");
static EARLY_SLOTS: ExtensionPoint<Slots> = ExtensionPoint::new("host.earlySlots");

static UNUSED: ServiceRef<Tracked> = ServiceRef::plugin("test.unused");
static UNUSED_ROOT: ServiceRef<Tracked> = ServiceRef::root("test.unusedRoot");

#[tokio::test]
async fn startup_order_of_modules_plugins_and_factories() {
    let log: Log = Arc::default();
    let plugin_log = log.clone();
    let plugin = Feature::plugin_fn("host", move |reg| {
        let log = plugin_log.clone();
        reg.extension_point(&HOST_SLOTS, Arc::new(Slots::default()))
            .init(&TRACKED, move |tracked| async move {
                record(&log, format!("init:host tracked={}", tracked.plugin));
                Ok(())
            })
    });
    // Registered before the module whose extension point it uses.
    let late_log = log.clone();
    let late = Feature::module_fn("host", "late", move |reg| {
        let log = late_log.clone();
        reg.init(
            (&EARLY_SLOTS, &HOST_SLOTS),
            move |(early, host)| async move {
                let early_items = early.get()?.0.lock().map_err(|e| e.to_string())?.clone();
                record(&log, format!("init:late saw={}", early_items.join(",")));
                host.get()?
                    .0
                    .lock()
                    .map_err(|e| e.to_string())?
                    .push("late".into());
                Ok(())
            },
        )
    });
    let early_log = log.clone();
    let early = Feature::module_fn("host", "early", move |reg| {
        let log = early_log.clone();
        let slots = Arc::new(Slots::default());
        reg.extension_point(&EARLY_SLOTS, slots.clone()).init(
            &TRACKED,
            move |_tracked| async move {
                slots
                    .0
                    .lock()
                    .map_err(|e| e.to_string())?
                    .push("from-early".into());
                record(&log, "init:early");
                Ok(())
            },
        )
    });
    let unused_log = log.clone();
    let unused = ServiceFactory::plugin(&UNUSED).build(move |ctx, ()| {
        let log = unused_log.clone();
        async move {
            record(&log, "factory:unused");
            Ok(Arc::new(Tracked {
                plugin: ctx.plugin_id().to_string(),
            }))
        }
    });
    let backend = quiet_builder()
        .add(plugin)
        .add(late)
        .add(early)
        .add(tracked_factory(&log))
        .add(unused)
        .listen_addr("127.0.0.1:0".parse().expect("addr"))
        .build()
        .expect("wiring is valid");
    assert_eq!(backend.module_order("host"), vec!["early", "late"]);
    let handle = backend.start().await.expect("start");

    let events = events(&log);
    // The module providing an extension point runs before the module using it.
    assert!(position(&events, "init:early") < position(&events, "init:late saw=from-early"));
    // Modules complete before their plugin.
    assert!(
        position(&events, "init:late saw=from-early") < position(&events, "init:host tracked=host")
    );
    // A plugin-scoped factory runs once per plugin, before the first init that needs it.
    assert_eq!(
        events.iter().filter(|e| *e == "factory:host").count(),
        1,
        "{events:?}"
    );
    assert!(position(&events, "factory:host") < position(&events, "init:early"));
    // Nobody depends on it: never built.
    assert!(
        !events.contains(&"factory:unused".to_string()),
        "{events:?}"
    );
    handle.stop().await.expect("stop");
}

#[tokio::test]
async fn root_services_are_built_at_startup_even_when_unused() {
    let log: Log = Arc::default();
    let root_log = log.clone();
    let root = ServiceFactory::root(&UNUSED_ROOT).build(move |()| {
        let log = root_log.clone();
        async move {
            record(&log, "factory:root");
            Ok(Arc::new(Tracked {
                plugin: String::new(),
            }))
        }
    });
    let handle = quiet_builder()
        .add(root)
        .add(Feature::plugin_fn("idle", |reg| {
            reg.init((), |()| async { Ok(()) })
        }))
        .listen_addr("127.0.0.1:0".parse().expect("addr"))
        .start()
        .await
        .expect("start");
    assert_eq!(events(&log), vec!["factory:root"]);
    handle.stop().await.expect("stop");
}

#[tokio::test]
async fn plugins_initialize_concurrently() {
    let barrier = Arc::new(Barrier::new(2));
    let plugin = |id: &'static str| {
        let barrier = barrier.clone();
        Feature::plugin_fn(id, move |reg| {
            let barrier = barrier.clone();
            reg.init((), move |()| async move {
                // Both plugins must be inside init at once for either to pass.
                barrier.wait().await;
                Ok(())
            })
        })
    };
    let started = tokio::time::timeout(
        Duration::from_secs(10),
        TestBackend::builder()
            .feature(plugin("left"))
            .feature(plugin("right"))
            .start(),
    )
    .await
    .expect("plugin inits ran one after the other and deadlocked on the barrier")
    .expect("start");
    assert!(started.handle().health().is_ready());
    started.stop().await.expect("stop");
}

#[tokio::test]
async fn startup_hooks_run_after_every_init_plugin_hooks_first() {
    let log: Log = Arc::default();
    let fast_log = log.clone();
    let fast = Feature::plugin_fn("fast", move |reg| {
        let log = fast_log.clone();
        reg.init(
            (&ROOT_LIFECYCLE, &LIFECYCLE),
            move |(root, lifecycle)| async move {
                // The root hook is registered first and still runs after every plugin hook.
                let root_log = log.clone();
                root.add_startup_hook(move || async move {
                    record(&root_log, "root-hook");
                    Ok(())
                });
                let hook_log = log.clone();
                lifecycle.add_startup_hook(move || async move {
                    record(&hook_log, "hook:fast");
                    Ok(())
                });
                record(&log, "init:fast");
                Ok(())
            },
        )
    });
    let slow_log = log.clone();
    let slow = Feature::plugin_fn("slow", move |reg| {
        let log = slow_log.clone();
        reg.init(&LIFECYCLE, move |lifecycle| async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let hook_log = log.clone();
            lifecycle.add_startup_hook(move || async move {
                record(&hook_log, "hook:slow");
                Ok(())
            });
            record(&log, "init:slow");
            Ok(())
        })
    });
    let backend = TestBackend::builder()
        .feature(fast)
        .feature(slow)
        .start()
        .await
        .expect("start");
    let events = events(&log);
    assert_eq!(events.len(), 5, "{events:?}");
    let last_init = position(&events, "init:fast").max(position(&events, "init:slow"));
    let first_hook = position(&events, "hook:fast").min(position(&events, "hook:slow"));
    assert!(
        last_init < first_hook,
        "hooks ran before every init finished: {events:?}"
    );
    assert_eq!(
        events.last().map(String::as_str),
        Some("root-hook"),
        "{events:?}"
    );
    backend.stop().await.expect("stop");
}

#[tokio::test]
async fn shutdown_hooks_run_newest_first_plugin_before_root() {
    let log: Log = Arc::default();
    let first_log = log.clone();
    let first = Feature::plugin_fn("first", move |reg| {
        let log = first_log.clone();
        reg.init(
            (&ROOT_LIFECYCLE, &LIFECYCLE),
            move |(root, lifecycle)| async move {
                for name in ["root-1", "root-2"] {
                    let log = log.clone();
                    root.add_shutdown_hook(move || async move {
                        record(&log, name);
                        Ok(())
                    });
                }
                for name in ["first-1", "first-2"] {
                    let log = log.clone();
                    lifecycle.add_shutdown_hook(move || async move {
                        record(&log, name);
                        Ok(())
                    });
                }
                Ok(())
            },
        )
    });
    let second_log = log.clone();
    let second = Feature::plugin_fn("second", move |reg| {
        let log = second_log.clone();
        reg.init(&LIFECYCLE, move |lifecycle| async move {
            // Registers after `first` has registered its hooks.
            tokio::time::sleep(Duration::from_millis(50)).await;
            lifecycle.add_shutdown_hook(move || async move {
                record(&log, "second-1");
                Ok(())
            });
            Ok(())
        })
    });
    let backend = TestBackend::builder()
        .feature(first)
        .feature(second)
        .start()
        .await
        .expect("start");
    assert!(events(&log).is_empty(), "no shutdown hook runs before stop");
    backend.stop().await.expect("stop");
    assert_eq!(
        events(&log),
        vec!["second-1", "first-2", "first-1", "root-2", "root-1"]
    );
}

/// A service with an identity to compare.
#[derive(Debug)]
struct Instance {
    owner: String,
}

fn plugin_instance() -> ServiceFactory {
    ServiceFactory::plugin(&PER_PLUGIN).build(|ctx, ()| async move {
        Ok(Arc::new(Instance {
            owner: ctx.plugin_id().to_string(),
        }))
    })
}

fn root_instance() -> ServiceFactory {
    ServiceFactory::root(&SHARED).build(|()| async {
        Ok(Arc::new(Instance {
            owner: "root".to_string(),
        }))
    })
}

static PER_PLUGIN: ServiceRef<Instance> =
    ServiceRef::plugin("test.perPlugin").with_default(plugin_instance);
static SHARED: ServiceRef<Instance> = ServiceRef::root("test.shared").with_default(root_instance);

type Seen = Arc<Mutex<Vec<(String, Arc<Instance>, Arc<Instance>)>>>;

#[tokio::test]
async fn plugin_scoped_instances_are_per_plugin_root_ones_shared() {
    let seen: Seen = Arc::default();
    let consumer = |id: &'static str| {
        let seen = seen.clone();
        Feature::plugin_fn(id, move |reg| {
            let seen = seen.clone();
            reg.init(
                (&PER_PLUGIN, &SHARED, &PLUGIN_METADATA),
                move |(mine, shared, meta)| async move {
                    seen.lock().map_err(|e| e.to_string())?.push((
                        meta.id().to_string(),
                        mine,
                        shared,
                    ));
                    Ok(())
                },
            )
        })
    };
    let module_seen = seen.clone();
    let module = Feature::module_fn("one", "helper", move |reg| {
        let seen = module_seen.clone();
        reg.init((&PER_PLUGIN, &SHARED), move |(mine, shared)| async move {
            seen.lock()
                .map_err(|e| e.to_string())?
                .push(("one/helper".to_string(), mine, shared));
            Ok(())
        })
    });
    let backend = TestBackend::builder()
        .feature(consumer("one"))
        .feature(consumer("two"))
        .feature(module)
        .start()
        .await
        .expect("start");
    let seen = seen.lock().expect("lock").clone();
    let get = |who: &str| {
        seen.iter()
            .find(|(w, _, _)| w == who)
            .cloned()
            .unwrap_or_else(|| panic!("{who} did not run"))
    };
    let (_, one, shared_one) = get("one");
    let (_, two, shared_two) = get("two");
    let (_, helper, shared_helper) = get("one/helper");
    assert_eq!((one.owner.as_str(), two.owner.as_str()), ("one", "two"));
    assert!(
        !Arc::ptr_eq(&one, &two),
        "each plugin gets its own instance"
    );
    assert!(
        Arc::ptr_eq(&one, &helper),
        "a module shares its plugin's instance"
    );
    assert!(Arc::ptr_eq(&shared_one, &shared_two) && Arc::ptr_eq(&shared_one, &shared_helper));
    assert_eq!(shared_one.owner, "root");
    backend.stop().await.expect("stop");
}

#[tokio::test]
async fn an_override_replaces_the_default_factory() {
    let owners: Arc<Mutex<Vec<String>>> = Arc::default();
    let plugin_owners = owners.clone();
    let plugin = Feature::plugin_fn("user", move |reg| {
        let owners = plugin_owners.clone();
        reg.init((&PER_PLUGIN, &SHARED), move |(mine, shared)| async move {
            let mut owners = owners.lock().map_err(|e| e.to_string())?;
            owners.push(mine.owner.clone());
            owners.push(shared.owner.clone());
            Ok(())
        })
    });
    let per_plugin = ServiceFactory::plugin(&PER_PLUGIN).build(|ctx, ()| async move {
        Ok(Arc::new(Instance {
            owner: format!("override for {}", ctx.plugin_id()),
        }))
    });
    let shared = ServiceFactory::root(&SHARED).build(|()| async {
        Ok(Arc::new(Instance {
            owner: "root override".to_string(),
        }))
    });
    let backend = TestBackend::builder()
        .service(per_plugin)
        .service(shared)
        .feature(plugin)
        .start()
        .await
        .expect("start");
    assert_eq!(
        *owners.lock().expect("lock"),
        vec!["override for user", "root override"]
    );
    backend.stop().await.expect("stop");
}

static POOLED: ServiceRef<Instance> = ServiceRef::plugin("test.pooled");

#[tokio::test]
async fn root_context_is_built_once_for_all_plugins() {
    let contexts = Arc::new(AtomicUsize::new(0));
    let builds = Arc::new(AtomicUsize::new(0));
    let ctx_count = contexts.clone();
    let build_count = builds.clone();
    let factory = ServiceFactory::plugin(&POOLED)
        .root_context((), move |()| {
            let n = ctx_count.fetch_add(1, Ordering::SeqCst);
            async move { Ok(Arc::new(format!("pool #{n}"))) }
        })
        .build(move |ctx, ()| {
            build_count.fetch_add(1, Ordering::SeqCst);
            async move {
                Ok(Arc::new(Instance {
                    owner: format!("{} via {}", ctx.plugin_id(), ctx.root_context()),
                }))
            }
        });
    let owners: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut builder = TestBackend::builder().service(factory);
    for id in ["a", "b", "c"] {
        let owners = owners.clone();
        builder = builder.feature(Feature::plugin_fn(id, move |reg| {
            let owners = owners.clone();
            reg.init(&POOLED, move |pooled| async move {
                owners
                    .lock()
                    .map_err(|e| e.to_string())?
                    .push(pooled.owner.clone());
                Ok(())
            })
        }));
    }
    let backend = builder.start().await.expect("start");
    assert_eq!(contexts.load(Ordering::SeqCst), 1);
    assert_eq!(builds.load(Ordering::SeqCst), 3);
    let mut owners = owners.lock().expect("lock").clone();
    owners.sort();
    assert_eq!(
        owners,
        vec!["a via pool #0", "b via pool #0", "c via pool #0"]
    );
    backend.stop().await.expect("stop");
}

fn discovered_plugin() -> Feature {
    Feature::plugin_fn("discovered", |reg| {
        reg.init(&HTTP_ROUTER, |http| async move {
            http.use_router(Router::new().route("/who", get(|| async { "linked in" })));
            Ok(())
        })
    })
}

backlot::inventory::submit! {
    FeatureRegistration::new("discovered", discovered_plugin)
}

#[tokio::test]
async fn discover_features_finds_linked_plugins() {
    let handle = quiet_builder()
        .discover_features()
        .listen_addr("127.0.0.1:0".parse().expect("addr"))
        .start()
        .await
        .expect("start");
    let client = authed(handle.base_url());
    let res = client.get("/api/discovered/who").await.expect("request");
    assert_eq!((res.status(), res.text().as_str()), (200, "linked in"));
    handle.stop().await.expect("stop");

    // Without discovery the plugin is not there.
    let handle = quiet_builder()
        .listen_addr("127.0.0.1:0".parse().expect("addr"))
        .start()
        .await
        .expect("start");
    let res = authed(handle.base_url())
        .get("/api/discovered/who")
        .await
        .expect("request");
    assert_eq!(res.status(), 404);
    handle.stop().await.expect("stop");
}

#[tokio::test]
async fn an_explicit_plugin_wins_over_a_discovered_one() {
    let explicit = Feature::plugin_fn("discovered", |reg| {
        reg.init(&HTTP_ROUTER, |http| async move {
            http.use_router(Router::new().route("/who", get(|| async { "added explicitly" })));
            Ok(())
        })
    });
    let backend = quiet_builder()
        .add(explicit)
        .discover_features()
        .listen_addr("127.0.0.1:0".parse().expect("addr"))
        .build()
        .expect("no duplicate plugin error");
    assert_eq!(backend.plugin_ids(), vec!["discovered"]);
    let handle = backend.start().await.expect("start");
    let res = authed(handle.base_url())
        .get("/api/discovered/who")
        .await
        .expect("request");
    assert_eq!(
        (res.status(), res.text().as_str()),
        (200, "added explicitly")
    );
    handle.stop().await.expect("stop");
}

const READINESS: &str = "/.backstage/health/v1/readiness";

/// Polls readiness until the server answers; returns the first answer's status.
async fn first_readiness(client: &TestClient) -> u16 {
    for _ in 0..500 {
        if let Ok(res) = client.get(READINESS).await {
            return res.status();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the server never answered");
}

fn slow_plugin(id: &'static str, delay: Duration) -> Feature {
    Feature::plugin_fn(id, move |reg| {
        reg.init(&HTTP_ROUTER, move |http| async move {
            tokio::time::sleep(delay).await;
            http.use_router(Router::new().route("/ping", get(|| async { "pong" })));
            Ok(())
        })
    })
}

#[tokio::test]
async fn readiness_goes_503_then_200_then_503() {
    let addr = free_addr();
    let starting = tokio::spawn(
        quiet_builder()
            .config_yaml("backend:\n  lifecycle:\n    serverShutdownDelay: 1000\n")
            .add(slow_plugin("sleepy", Duration::from_millis(400)))
            .listen_addr(addr)
            .start(),
    );
    let client = authed(&format!("http://{addr}"));
    assert_eq!(
        first_readiness(&client).await,
        503,
        "not ready while a plugin starts"
    );
    let res = client.get(READINESS).await.expect("request");
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().expect("json");
    assert_eq!(body["status"], "error");
    assert!(body["message"].is_string(), "{body}");

    let handle = starting.await.expect("join").expect("start");
    let res = client.get(READINESS).await.expect("request");
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<serde_json::Value>().expect("json"),
        serde_json::json!({"status": "ok"})
    );

    let stopping = tokio::spawn(handle.stop());
    tokio::time::sleep(Duration::from_millis(50)).await;
    let res = client
        .get(READINESS)
        .await
        .expect("the server still answers during the shutdown delay");
    assert_eq!(res.status(), 503);
    assert_eq!(
        res.json::<serde_json::Value>().expect("json")["status"],
        "error"
    );
    let live = client
        .get("/.backstage/health/v1/liveness")
        .await
        .expect("request");
    assert_eq!(live.status(), 200);
    // Plugins keep serving during the delay, so load balancers can drain this instance.
    let res = client.get("/api/sleepy/ping").await.expect("request");
    assert_eq!((res.status(), res.text().as_str()), (200, "pong"));
    stopping.await.expect("join").expect("stop");
    assert!(
        client.get(READINESS).await.is_err(),
        "the server is closed after stop"
    );
}

#[tokio::test]
async fn a_request_during_startup_waits_for_the_plugin() {
    let addr = free_addr();
    let starting = tokio::spawn(
        quiet_builder()
            .add(slow_plugin("sleepy", Duration::from_millis(600)))
            .listen_addr(addr)
            .start(),
    );
    let client = authed(&format!("http://{addr}"));
    assert_eq!(first_readiness(&client).await, 503);
    assert!(!starting.is_finished(), "the plugin is still starting");
    let res = client.get("/api/sleepy/ping").await.expect("request");
    assert_eq!((res.status(), res.text().as_str()), (200, "pong"));
    let handle = starting.await.expect("join").expect("start");
    handle.stop().await.expect("stop");
}

#[tokio::test]
async fn a_request_during_startup_gives_up_after_the_pause_timeout() {
    let addr = free_addr();
    let starting = tokio::spawn(
        quiet_builder()
            .config_yaml("backend:\n  lifecycle:\n    startupRequestPauseTimeout: 100\n")
            .add(slow_plugin("sleepy", Duration::from_millis(1500)))
            .listen_addr(addr)
            .start(),
    );
    let client = authed(&format!("http://{addr}"));
    assert_eq!(first_readiness(&client).await, 503);
    let res = client.get("/api/sleepy/ping").await.expect("request");
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().expect("error JSON");
    assert_eq!(body["error"]["name"], "ServiceUnavailableError");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("sleepy")),
        "{body}"
    );
    let handle = starting.await.expect("join").expect("start");
    let res = client.get("/api/sleepy/ping").await.expect("request");
    assert_eq!(res.status(), 200, "answers once started");
    handle.stop().await.expect("stop");
}

#[tokio::test]
async fn stop_drains_an_in_flight_request() {
    let entered = Arc::new(Notify::new());
    let handler_entered = entered.clone();
    let plugin = Feature::plugin_fn("slowpoke", move |reg| {
        let entered = handler_entered.clone();
        reg.init(&HTTP_ROUTER, move |http| async move {
            http.use_router(Router::new().route(
                "/work",
                get(move || async move {
                    entered.notify_one();
                    tokio::time::sleep(Duration::from_millis(400)).await;
                    "done"
                }),
            ));
            Ok(())
        })
    });
    let backend = TestBackend::builder()
        .feature(plugin)
        .start()
        .await
        .expect("start");
    let client = backend.client().clone();
    let in_flight = tokio::spawn(async move { client.get("/api/slowpoke/work").await });
    entered.notified().await;
    let url = backend.url(READINESS);
    backend.stop().await.expect("stop");
    let res = in_flight
        .await
        .expect("join")
        .expect("the in-flight request completes");
    assert_eq!((res.status(), res.text().as_str()), (200, "done"));
    assert!(
        reqwest::get(url).await.is_err(),
        "no new connections after stop"
    );
}

#[tokio::test]
async fn a_hanging_shutdown_hook_hits_the_shutdown_timeout() {
    let plugin = Feature::plugin_fn("stuck", |reg| {
        reg.init(&LIFECYCLE, |lifecycle| async move {
            lifecycle.add_shutdown_hook(|| async {
                std::future::pending::<()>().await;
                Ok(())
            });
            Ok(())
        })
    });
    let backend = TestBackend::builder()
        .config_yaml("backend:\n  lifecycle:\n    shutdownTimeout: 200\n")
        .feature(plugin)
        .start()
        .await
        .expect("start");
    let result = tokio::time::timeout(Duration::from_secs(5), backend.stop())
        .await
        .expect("stop gives up at the shutdown timeout");
    assert!(
        matches!(result, Err(backlot::backend::BackendError::ShutdownTimeout(d)) if d == Duration::from_millis(200)),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_failing_startup_hook_fails_the_start_naming_the_plugin() {
    let plugin = Feature::plugin_fn("hooked", |reg| {
        reg.init(&LIFECYCLE, |lifecycle| async move {
            lifecycle.add_startup_hook(|| async { Err("warm-up failed".into()) });
            Ok(())
        })
    });
    let err = TestBackend::builder()
        .feature(plugin)
        .start()
        .await
        .expect_err("start fails");
    let backlot::backend::BackendError::Startup(errors) = &err else {
        panic!("expected a startup error, got {err}");
    };
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].plugin, "hooked");
    assert!(
        err.to_string().contains("'hooked'") && err.to_string().contains("warm-up failed"),
        "{err}"
    );
}

#[tokio::test]
async fn a_plugin_root_route_answers_with_and_without_trailing_slash() {
    let plugin = Feature::plugin_fn("todo", |reg| {
        reg.init(&HTTP_ROUTER, |http| async move {
            http.use_router(Router::new().route("/", get(|| async { "index" })));
            Ok(())
        })
    });
    let backend = TestBackend::builder()
        .feature(plugin)
        .start()
        .await
        .expect("start");
    for path in ["/api/todo", "/api/todo/"] {
        let res = backend.client().get(path).await.expect("request");
        assert_eq!(
            (res.status(), res.text().as_str()),
            (200, "index"),
            "{path}"
        );
    }
    backend.stop().await.expect("stop");
}

#[tokio::test]
async fn a_module_can_add_routes_to_its_plugin() {
    let plugin = Feature::plugin_fn("todo", |reg| {
        reg.init(&HTTP_ROUTER, |http| async move {
            http.use_router(Router::new().route("/items", get(|| async { "[]" })));
            Ok(())
        })
    });
    let module = Feature::module_fn("todo", "stats", |reg| {
        reg.init(&HTTP_ROUTER, |http| async move {
            http.use_router(Router::new().route("/stats", get(|| async { "0" })));
            Ok(())
        })
    });
    let backend = TestBackend::builder()
        .feature(plugin)
        .feature(module)
        .start()
        .await
        .expect("start");
    for (path, body) in [("/api/todo/items", "[]"), ("/api/todo/stats", "0")] {
        let res = backend.client().get(path).await.expect("request");
        assert_eq!((res.status(), res.text().as_str()), (200, body), "{path}");
    }
    backend.stop().await.expect("stop");
}

#[tokio::test]
async fn requests_held_during_a_failed_start_are_answered_at_once() {
    let addr = free_addr();
    let doomed = Feature::plugin_fn("doomed", |reg| {
        reg.init((), |()| async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            Err("gave up".into())
        })
    });
    let starting = tokio::spawn(
        quiet_builder()
            // Far longer than the test may take: held requests must not wait for it.
            .config_yaml("backend:\n  lifecycle:\n    startupRequestPauseTimeout: 60000\n")
            .add(doomed)
            .listen_addr(addr)
            .start(),
    );
    let client = authed(&format!("http://{addr}"));
    assert_eq!(first_readiness(&client).await, 503);
    let held_plugin = {
        let client = client.clone();
        tokio::spawn(async move { client.get("/api/doomed/x").await })
    };
    let held_root = {
        let client = client.clone();
        tokio::spawn(async move { client.get("/somewhere").await })
    };
    // Well under the 10 s shutdown timeout that would otherwise end the drain.
    let result = tokio::time::timeout(Duration::from_secs(5), starting)
        .await
        .expect("a failed start does not wait for held requests")
        .expect("join");
    assert!(
        matches!(result, Err(backlot::backend::BackendError::Startup(_))),
        "{result:?}"
    );
    for held in [held_plugin, held_root] {
        let res = tokio::time::timeout(Duration::from_secs(5), held)
            .await
            .expect("the held request is answered at once")
            .expect("join")
            .expect("the held request is answered");
        assert_eq!(res.status(), 503);
        let body: serde_json::Value = res.json().expect("error JSON");
        assert_eq!(body["error"]["name"], "ServiceUnavailableError");
    }
}

#[tokio::test]
async fn a_request_outliving_the_shutdown_timeout_is_cut_off() {
    let finished = Arc::new(AtomicUsize::new(0));
    let entered = Arc::new(Notify::new());
    let (handler_finished, handler_entered) = (finished.clone(), entered.clone());
    let plugin = Feature::plugin_fn("endless", move |reg| {
        let (finished, entered) = (handler_finished.clone(), handler_entered.clone());
        reg.init(&HTTP_ROUTER, move |http| async move {
            http.use_router(Router::new().route(
                "/work",
                get(move || async move {
                    entered.notify_one();
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    finished.fetch_add(1, Ordering::SeqCst);
                    "too late"
                }),
            ));
            Ok(())
        })
    });
    let backend = TestBackend::builder()
        .config_yaml("backend:\n  lifecycle:\n    shutdownTimeout: 200\n")
        .feature(plugin)
        .start()
        .await
        .expect("start");
    let client = backend.client().clone();
    let in_flight = tokio::spawn(async move { client.get("/api/endless/work").await });
    entered.notified().await;
    let result = backend.stop().await;
    assert!(
        matches!(
            result,
            Err(backlot::backend::BackendError::ShutdownTimeout(_))
        ),
        "{result:?}"
    );
    // Once stop has returned, nothing of the backend keeps running.
    let outcome = tokio::time::timeout(Duration::from_secs(5), in_flight)
        .await
        .expect("the in-flight request ends")
        .expect("join");
    if let Ok(res) = &outcome {
        assert_eq!(res.status(), 503, "{}", res.text());
        let body: serde_json::Value = res.json().expect("error JSON");
        assert_eq!(body["error"]["name"], "ServiceUnavailableError");
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        finished.load(Ordering::SeqCst),
        0,
        "the handler ran on after stop"
    );
}
