#![allow(missing_docs)]
#![cfg(feature = "testing")]
//! Request logging. In a test binary of its own: `tracing`'s scoped subscribers and its
//! process-wide interest cache do not mix with other tests emitting events on other threads.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::get;
use std::net::SocketAddr;

use backlot::backend::{Backend, Feature, ServiceFactory};
use backlot::services::core_services::{HTTP_ROUTER, LOGGER, ROOT_LOGGER};
use backlot::services::logger::{LogLevel, LoggerService};
use backlot::testing::TestBackend;

fn ok_routes() -> Feature {
    Feature::plugin_fn("errors", |reg| {
        reg.init(&HTTP_ROUTER, |http| async move {
            http.use_router(Router::new().route("/ok", get(|| async { "ok" })));
            Ok(())
        })
    })
}

async fn start(features: Vec<Feature>, _yaml: &str) -> TestBackend {
    let mut builder = TestBackend::builder();
    for f in features {
        builder = builder.feature(f);
    }
    match builder.start().await {
        Ok(backend) => backend,
        Err(e) => panic!("start: {e}"),
    }
}

#[derive(Clone, Default)]
struct RequestEvents(Arc<Mutex<Vec<String>>>, &'static str);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for RequestEvents {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if event.metadata().target() != self.1 {
            return;
        }
        struct Fields(Vec<String>);
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.push(format!("{}={value:?}", field.name()));
            }
        }
        let mut fields = Fields(Vec::new());
        event.record(&mut fields);
        if let Ok(mut events) = self.0.lock() {
            events.push(fields.0.join(" "));
        }
    }
}

#[tokio::test]
async fn requests_are_logged() {
    use tracing_subscriber::layer::SubscriberExt;
    let events = RequestEvents(Arc::default(), "backlot::http");
    // The test runtime is single-threaded, so the server's tasks see this default too.
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(events.clone()));
    let backend = start(vec![ok_routes()], "").await;
    let client = backend.client();
    assert_eq!(
        client
            .get("/api/errors/ok")
            .await
            .expect("request")
            .status(),
        200
    );
    assert_eq!(client.get("/nowhere").await.expect("request").status(), 404);
    backend.stop().await.expect("stop");
    let logged = events.0.lock().expect("lock").clone();
    let find = |path: &str, status: u16| {
        logged.iter().any(|e| {
            e.contains("method=GET")
                && e.contains(&format!("path={path}"))
                && e.contains(&format!("status={status}"))
        })
    };
    assert!(find("/api/errors/ok", 200), "{logged:?}");
    assert!(find("/nowhere", 404), "{logged:?}");
}

#[tokio::test]
async fn the_tracing_logger_tags_records_with_the_plugin_id() {
    use backlot::services::logger::TracingLogger;
    use tracing_subscriber::layer::SubscriberExt;
    let events = RequestEvents(Arc::default(), "backlot::services::logger::tracing_logger");
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(events.clone()));
    let plugin = Feature::plugin_fn("scribe", |reg| {
        reg.init(&LOGGER, |logger| async move {
            logger.log(LogLevel::Info, "ready to write", &[("pages", "3")]);
            Ok(())
        })
    });
    let handle = Backend::builder()
        .add(
            ServiceFactory::root(&ROOT_LOGGER)
                .build(|()| async { Ok(Arc::new(TracingLogger::new()) as Arc<dyn LoggerService>) }),
        )
        .add(plugin)
        .listen_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
        .start()
        .await
        .expect("start");
    handle.stop().await.expect("stop");
    let logged = events.0.lock().expect("lock").clone();
    assert!(
        logged.iter().any(|e| e.contains("message=ready to write")
            && e.contains("plugin=\"scribe\"")
            && e.contains("pages=3")),
        "{logged:?}"
    );
}
