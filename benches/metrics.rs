//! The per-request cost of the metrics layer: one keep-alive GET of a route with two path
//! parameters through a real backend, with `backend.metrics.enabled` off and on (the
//! difference is the layer's recording: route template, labels, counter and histogram), and
//! the time to render a scrape of the resulting exposition.

use std::hint::black_box;

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use backlot::backend::{Backend, BackendHandle, Feature};
use backlot::services::core_services::HTTP_ROUTER;
use backlot::services::http_router::{AuthPolicy, AuthPolicyAllow};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

fn echo() -> Feature {
    Feature::plugin_fn("echo", |reg| {
        reg.init(&HTTP_ROUTER, |http| async move {
            http.use_router(Router::new().route(
                "/items/{kind}/{name}",
                get(|Path((kind, name)): Path<(String, String)>| async move {
                    format!("{kind}/{name}")
                }),
            ));
            http.add_auth_policy(AuthPolicy {
                path: "/items/{kind}/{name}".into(),
                allow: AuthPolicyAllow::Unauthenticated,
            });
            Ok(())
        })
    })
}

async fn start(metrics: bool) -> BackendHandle {
    Backend::builder()
        .listen_addr(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .config_value(json!({"backend": {
            "logging": {"level": "warn"},
            "database": {"client": "better-sqlite3", "connection": ":memory:"},
            "metrics": {"enabled": metrics},
        }}))
        .add_feature(echo())
        .start()
        .await
        .unwrap_or_else(|e| panic!("backend starts: {e}"))
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let client = reqwest::Client::new();
    let mut group = c.benchmark_group("metrics");
    for enabled in [false, true] {
        let handle = rt.block_on(start(enabled));
        let url = handle.url("/api/echo/items/component/widget");
        let name = if enabled {
            "request_metrics_on"
        } else {
            "request_metrics_off"
        };
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                let res = client
                    .get(&url)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                black_box(res.bytes().await.unwrap_or_default());
            });
        });
        if enabled {
            let scrape = handle.url("/metrics");
            group.bench_function("scrape", |b| {
                b.to_async(&rt).iter(|| async {
                    let res = client
                        .get(&scrape)
                        .send()
                        .await
                        .unwrap_or_else(|e| panic!("{e}"));
                    black_box(res.bytes().await.unwrap_or_default());
                });
            });
        }
        rt.block_on(async {
            let _ = handle.stop().await;
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
