//! Backend startup: build and start a backend with 50 small plugins, each depending on five
//! plugin-scoped services plus the logger and HTTP router, wait for readiness, then stop.

use std::hint::black_box;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use backlot::backend::{Backend, Feature, ServiceFactory, ServiceRef};
use backlot::services::core_services::{HTTP_ROUTER, LOGGER};
use criterion::{Criterion, criterion_group, criterion_main};

/// A small per-plugin service.
#[derive(Debug)]
struct Small {
    plugin: String,
    slot: usize,
}

macro_rules! small_service {
    ($name:ident, $factory:ident, $id:literal, $slot:literal) => {
        static $name: ServiceRef<Small> = ServiceRef::plugin($id).with_default($factory);
        fn $factory() -> ServiceFactory {
            ServiceFactory::plugin(&$name).build(|ctx, ()| async move {
                Ok(Arc::new(Small {
                    plugin: ctx.plugin_id().to_string(),
                    slot: $slot,
                }))
            })
        }
    };
}

small_service!(SVC_0, svc_0, "bench.svc0", 0);
small_service!(SVC_1, svc_1, "bench.svc1", 1);
small_service!(SVC_2, svc_2, "bench.svc2", 2);
small_service!(SVC_3, svc_3, "bench.svc3", 3);
small_service!(SVC_4, svc_4, "bench.svc4", 4);

const PLUGINS: usize = 50;

fn plugin(i: usize) -> Feature {
    Feature::plugin_fn(format!("plugin-{i}"), |reg| {
        reg.init(
            (
                &SVC_0,
                &SVC_1,
                &SVC_2,
                &SVC_3,
                &SVC_4,
                &LOGGER,
                &HTTP_ROUTER,
            ),
            |(s0, s1, s2, s3, s4, logger, http)| async move {
                let slots = s0.slot + s1.slot + s2.slot + s3.slot + s4.slot;
                black_box((&s0.plugin, slots, &logger));
                http.use_router(Router::new().route("/ping", get(|| async { "pong" })));
                Ok(())
            },
        )
    })
}

async fn start_and_stop() {
    let mut builder =
        Backend::builder().listen_addr(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
    for i in 0..PLUGINS {
        builder = builder.add(plugin(i));
    }
    let handle = match builder.start().await {
        Ok(handle) => handle,
        Err(e) => panic!("backend failed to start: {e}"),
    };
    assert!(handle.health().is_ready());
    if let Err(e) = handle.stop().await {
        panic!("backend failed to stop: {e}");
    }
}

fn backend_startup(c: &mut Criterion) {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("tokio runtime: {e}"),
    };
    c.bench_function("start 50 plugins x 7 deps to readiness, then stop", |b| {
        b.to_async(&runtime).iter(start_and_stop);
    });
}

criterion_group!(benches, backend_startup);
criterion_main!(benches);
