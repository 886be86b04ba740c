#![allow(missing_docs)]
#![cfg(feature = "testing")]
//! The backend over HTTP: Backstage's error JSON on every error path, health endpoints,
//! discovery, listen config and logging.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use backlot::backend::{ApiError, ApiErrorKind, Backend, BackendError, Feature, ServiceFactory};
use backlot::services::core_services::{DISCOVERY, HTTP_ROUTER, LOGGER, ROOT_LOGGER};
use backlot::services::logger::{CapturingLogger, LogLevel, LoggerService, LoggerServiceExt};
use backlot::testing::{TestBackend, TestClient, TestResponse};
use serde_json::{Value, json};

/// A plugin with routes that fail in every way a handler can.
fn failing_routes() -> Feature {
    Feature::plugin_fn("errors", |reg| {
        reg.init(&HTTP_ROUTER, |http| async move {
            http.use_router(
                Router::new()
                    .route("/kind/{kind}", get(by_kind))
                    .route(
                        "/internal",
                        get(|| async {
                            Err::<(), _>(ApiError::internal(
                                "password=hunter2 in connection string",
                            ))
                        }),
                    )
                    .route("/panic", get(|| async { panic_now() }))
                    .route("/ok", get(|| async { "fine" }))
                    .route(
                        "/echo",
                        post(|Json(body): Json<Item>| async move { Json(body) }),
                    )
                    .route(
                        "/bytes",
                        post(|body: axum::body::Bytes| async move { body.len().to_string() }),
                    )
                    .route(
                        "/plain-400",
                        get(|| async { (StatusCode::BAD_REQUEST, "name must not be empty") }),
                    )
                    .route(
                        "/own-json",
                        get(|| async { (StatusCode::CONFLICT, Json(json!({"custom": true}))) }),
                    ),
            );
            Ok(())
        })
    })
}

fn panic_now() -> &'static str {
    panic!("handler blew up")
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Item {
    name: String,
    count: u32,
}

const KINDS: [(&str, ApiErrorKind, u16, &str); 9] = [
    ("input", ApiErrorKind::Input, 400, "InputError"),
    (
        "authentication",
        ApiErrorKind::Authentication,
        401,
        "AuthenticationError",
    ),
    (
        "not-allowed",
        ApiErrorKind::NotAllowed,
        403,
        "NotAllowedError",
    ),
    ("not-found", ApiErrorKind::NotFound, 404, "NotFoundError"),
    ("conflict", ApiErrorKind::Conflict, 409, "ConflictError"),
    (
        "payload-too-large",
        ApiErrorKind::PayloadTooLarge,
        413,
        "PayloadTooLargeError",
    ),
    (
        "not-modified",
        ApiErrorKind::NotModified,
        304,
        "NotModifiedError",
    ),
    (
        "not-implemented",
        ApiErrorKind::NotImplemented,
        501,
        "NotImplementedError",
    ),
    (
        "unavailable",
        ApiErrorKind::ServiceUnavailable,
        503,
        "ServiceUnavailableError",
    ),
];

async fn by_kind(Path(kind): Path<String>) -> Result<(), ApiError> {
    let (_, kind, _, _) = KINDS
        .iter()
        .find(|(k, ..)| *k == kind)
        .ok_or_else(|| ApiError::input(format!("unknown kind {kind}")))?;
    Err(ApiError::new(*kind, format!("failed as {kind:?}")))
}

async fn start(features: Vec<Feature>, yaml: &str) -> TestBackend {
    let mut builder = TestBackend::builder().config_yaml(yaml);
    for feature in features {
        builder = builder.feature(feature);
    }
    builder
        .start()
        .await
        .unwrap_or_else(|e| panic!("backend starts: {e}"))
}

/// Checks Backstage's error body and returns it.
fn assert_error_json(
    res: &TestResponse,
    status: u16,
    name: &str,
    method: &str,
    url: &str,
) -> Value {
    assert_eq!(res.status(), status, "{}", res.text());
    assert!(
        res.header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{:?}",
        res.header("content-type")
    );
    let body: Value = res
        .json()
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", res.text()));
    assert_eq!(body["error"]["name"], name, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    assert_eq!(
        body["request"],
        json!({"method": method, "url": url}),
        "{body}"
    );
    assert_eq!(body["response"], json!({"statusCode": status}), "{body}");
    body
}

#[tokio::test]
async fn unknown_paths_answer_404_error_json() {
    let backend = start(vec![failing_routes()], "").await;
    let client = backend.client();
    for url in [
        "/nowhere",
        "/api/no-such-plugin/x",
        "/api/errors/no-such-route?q=1",
    ] {
        let res = client.get(url).await.expect("request");
        assert_error_json(&res, 404, "NotFoundError", "GET", url);
    }
    let res = client.delete("/nowhere").await.expect("request");
    assert_error_json(&res, 404, "NotFoundError", "DELETE", "/nowhere");
    backend.stop().await.expect("stop");
}

#[tokio::test]
async fn each_error_kind_maps_to_its_status_and_name() {
    let backend = start(vec![failing_routes()], "").await;
    let client = backend.client();
    for (path, kind, status, name) in KINDS {
        assert_eq!((kind.status().as_u16(), kind.name()), (status, name));
        let url = format!("/api/errors/kind/{path}");
        let res = client.get(&url).await.expect("request");
        if status == 304 {
            // A 304 has no body.
            assert_eq!(res.status(), 304);
            assert!(res.bytes().is_empty());
            continue;
        }
        let body = assert_error_json(&res, status, name, "GET", &url);
        assert_eq!(body["error"]["message"], format!("failed as {kind:?}"));
    }
    backend.stop().await.expect("stop");
}

#[tokio::test]
async fn internal_errors_answer_500_without_details() {
    let backend = start(vec![failing_routes()], "").await;
    let res = backend
        .client()
        .get("/api/errors/internal")
        .await
        .expect("request");
    let body = assert_error_json(&res, 500, "Error", "GET", "/api/errors/internal");
    assert!(!res.text().contains("hunter2"), "{body}");
    backend.stop().await.expect("stop");
}

#[tokio::test]
async fn a_handler_panic_answers_500_and_the_backend_keeps_serving() {
    let backend = start(vec![failing_routes()], "").await;
    let client = backend.client();
    for _ in 0..3 {
        let res = client.get("/api/errors/panic").await.expect("request");
        assert_error_json(&res, 500, "Error", "GET", "/api/errors/panic");
        assert!(!res.text().contains("blew up"), "{}", res.text());
        let ok = client.get("/api/errors/ok").await.expect("request");
        assert_eq!((ok.status(), ok.text().as_str()), (200, "fine"));
    }
    backend.stop().await.expect("stop");
}

#[tokio::test]
async fn json_rejections_answer_400_input_error() {
    let backend = start(vec![failing_routes()], "").await;
    let client = backend.client();
    let ok = client
        .post_json("/api/errors/echo", &json!({"name": "a", "count": 2}))
        .await
        .expect("request");
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.json::<Value>().expect("json"),
        json!({"name": "a", "count": 2})
    );

    // Not JSON at all.
    let syntax = client
        .execute(
            client
                .request(reqwest::Method::POST, "/api/errors/echo")
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await
        .expect("request");
    let body = assert_error_json(&syntax, 400, "InputError", "POST", "/api/errors/echo");
    assert!(
        !body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
    );

    // JSON of the wrong shape (axum says 422; Backstage says 400 InputError).
    let shape = client
        .post_json("/api/errors/echo", &json!({"name": "a", "count": "many"}))
        .await
        .expect("request");
    let body = assert_error_json(&shape, 400, "InputError", "POST", "/api/errors/echo");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("count")),
        "{body}"
    );

    // A JSON body sent without a JSON content type: plugin APIs take JSON only (CSRF).
    let untyped = client
        .execute(
            client
                .request(reqwest::Method::POST, "/api/errors/echo")
                .body(r#"{"name": "a", "count": 2}"#),
        )
        .await
        .expect("request");
    assert_error_json(
        &untyped,
        415,
        "UnsupportedMediaTypeError",
        "POST",
        "/api/errors/echo",
    );

    // A plain-text 400 from a handler becomes error JSON with its text as the message.
    let plain = client.get("/api/errors/plain-400").await.expect("request");
    let body = assert_error_json(&plain, 400, "InputError", "GET", "/api/errors/plain-400");
    assert_eq!(body["error"]["message"], "name must not be empty");

    // A handler's own JSON error body is left alone.
    let own = client.get("/api/errors/own-json").await.expect("request");
    assert_eq!(own.status(), 409);
    assert_eq!(own.json::<Value>().expect("json"), json!({"custom": true}));
    backend.stop().await.expect("stop");
}

#[tokio::test]
async fn bodies_over_max_body_size_answer_413() {
    let backend = start(
        vec![failing_routes()],
        "backend:\n  http:\n    maxBodySize: 1024\n",
    )
    .await;
    let client = backend.client();
    let small = client
        .execute(
            client
                .request(reqwest::Method::POST, "/api/errors/bytes")
                .header("content-type", "application/json")
                .body(vec![b'x'; 1000]),
        )
        .await
        .expect("request");
    assert_eq!((small.status(), small.text().as_str()), (200, "1000"));

    // With a content-length over the limit.
    let big = client
        .execute(
            client
                .request(reqwest::Method::POST, "/api/errors/bytes")
                .header("content-type", "application/json")
                .body(vec![b'x'; 4096]),
        )
        .await
        .expect("request");
    assert_error_json(
        &big,
        413,
        "PayloadTooLargeError",
        "POST",
        "/api/errors/bytes",
    );

    // Streamed without a content-length.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..8).map(|_| Ok(vec![b'y'; 512])).collect();
    let streamed = client
        .execute(
            client
                .request(reqwest::Method::POST, "/api/errors/bytes")
                .header("content-type", "application/json")
                .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks))),
        )
        .await
        .expect("request");
    assert_error_json(
        &streamed,
        413,
        "PayloadTooLargeError",
        "POST",
        "/api/errors/bytes",
    );

    // A JSON body over the limit too.
    let long_name = "n".repeat(2000);
    let json_big = client
        .post_json("/api/errors/echo", &json!({"name": long_name, "count": 1}))
        .await
        .expect("request");
    assert_error_json(
        &json_big,
        413,
        "PayloadTooLargeError",
        "POST",
        "/api/errors/echo",
    );
    backend.stop().await.expect("stop");
}

#[tokio::test]
async fn health_endpoints_and_their_headers() {
    let yaml = "backend:\n  health:\n    headers:\n      x-health-check: portal\n      cache-control: no-store\n";
    let backend = start(vec![], yaml).await;
    let client = backend.client();
    for path in [
        "/.backstage/health/v1/liveness",
        "/.backstage/health/v1/readiness",
    ] {
        let res = client.get(path).await.expect("request");
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(
            res.json::<Value>().expect("json"),
            json!({"status": "ok"}),
            "{path}"
        );
        assert_eq!(res.header("x-health-check"), Some("portal"), "{path}");
        assert_eq!(res.header("cache-control"), Some("no-store"), "{path}");
    }
    // Only health responses carry them.
    let other = client.get("/nowhere").await.expect("request");
    assert_eq!(other.header("x-health-check"), None);
    backend.stop().await.expect("stop");
}

/// A backend with real auth (not the test kit's mock): plugin routes answer 401 error JSON
/// without a valid token, health stays open, and the static external-access token gets in.
#[tokio::test]
async fn plugin_routes_need_a_token_and_health_stays_open() {
    let handle = Backend::builder()
        .add(capturing_root_logger(&CapturingLogger::new()))
        .config_yaml(support::external_access_yaml())
        .add(failing_routes())
        .listen_addr("127.0.0.1:0".parse().expect("addr"))
        .start()
        .await
        .expect("start");
    let anonymous = TestClient::new(handle.base_url());
    let wrong = anonymous.with_authorization("Bearer not-the-configured-token-0123456789");
    // The test kit's mock tokens mean nothing to the real auth service.
    let mock = anonymous.as_user("user:default/jane");
    for client in [&anonymous, &wrong, &mock] {
        let res = client.get("/api/errors/ok").await.expect("request");
        assert_error_json(&res, 401, "AuthenticationError", "GET", "/api/errors/ok");
        let res = client
            .post_json("/api/errors/echo", &json!({"name": "a", "count": 1}))
            .await
            .expect("request");
        assert_error_json(&res, 401, "AuthenticationError", "POST", "/api/errors/echo");
    }
    for path in [
        "/.backstage/health/v1/liveness",
        "/.backstage/health/v1/readiness",
    ] {
        let res = anonymous.get(path).await.expect("request");
        assert_eq!(res.status(), 200, "{path}: {}", res.text());
    }
    let authed = anonymous.with_authorization(&support::test_bearer());
    let ok = authed.get("/api/errors/ok").await.expect("request");
    assert_eq!((ok.status(), ok.text().as_str()), (200, "fine"));
    let echo = authed
        .post_json("/api/errors/echo", &json!({"name": "a", "count": 1}))
        .await
        .expect("request");
    assert_eq!(
        echo.json::<Value>().expect("json"),
        json!({"name": "a", "count": 1})
    );
    handle.stop().await.expect("stop");
}

/// A plugin reporting what discovery says about itself and `search`.
fn discovery_reporter() -> Feature {
    Feature::plugin_fn("reporter", |reg| {
        reg.init((&HTTP_ROUTER, &DISCOVERY), |(http, discovery)| async move {
            http.use_router(Router::new().route(
                "/urls",
                get(move || {
                    let d = discovery.clone();
                    async move {
                        Json(json!({
                            "self": d.base_url("reporter"),
                            "selfExternal": d.external_base_url("reporter"),
                            "search": d.base_url("search"),
                            "searchExternal": d.external_base_url("search"),
                            "catalog": d.base_url("catalog"),
                            "catalogExternal": d.external_base_url("catalog"),
                        }))
                    }
                }),
            ));
            Ok(())
        })
    })
}

#[tokio::test]
async fn discovery_honours_endpoints_and_base_url() {
    let yaml = r#"
backend:
  baseUrl: https://portal.example.com/
discovery:
  endpoints:
    - target: http://search.internal:7007/api/{{pluginId}}
      plugins: [search]
    - target:
        internal: http://catalog.internal/api/{{ pluginId }}
        external: https://catalog.example.com/api/{{pluginId}}
      plugins: [catalog]
"#;
    let handle = Backend::builder()
        .add(capturing_root_logger(&CapturingLogger::new()))
        .config_yaml(yaml)
        .config_yaml(support::external_access_yaml())
        .add(discovery_reporter())
        .listen_addr("127.0.0.1:0".parse().expect("addr"))
        .start()
        .await
        .expect("start");
    let res = TestClient::new(handle.base_url())
        .with_authorization(&support::test_bearer())
        .get("/api/reporter/urls")
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    let port = handle.local_addr().port();
    assert_eq!(
        res.json::<Value>().expect("json"),
        json!({
            "self": format!("http://127.0.0.1:{port}/api/reporter"),
            "selfExternal": "https://portal.example.com/api/reporter",
            "search": "http://search.internal:7007/api/search",
            "searchExternal": "http://search.internal:7007/api/search",
            "catalog": "http://catalog.internal/api/catalog",
            "catalogExternal": "https://catalog.example.com/api/catalog",
        })
    );
    // The internal URL really reaches the plugin.
    let again = support::authed_get(format!("http://127.0.0.1:{port}/api/reporter/urls"))
        .await
        .expect("request");
    assert_eq!(again.status(), 200);
    handle.stop().await.expect("stop");
}

fn capturing_root_logger(logger: &CapturingLogger) -> ServiceFactory {
    let logger = logger.clone();
    ServiceFactory::root(&ROOT_LOGGER).build(move |()| {
        let logger = logger.clone();
        async move { Ok(Arc::new(logger) as Arc<dyn LoggerService>) }
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|probe| probe.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|e| panic!("probe listener: {e}"))
}

async fn start_with_listen(
    listen_yaml: &str,
) -> Result<backlot::backend::BackendHandle, BackendError> {
    Backend::builder()
        .add(capturing_root_logger(&CapturingLogger::new()))
        .config_yaml(format!("backend:\n  listen: {listen_yaml}\n"))
        .start()
        .await
}

#[tokio::test]
async fn backend_listen_config_forms() {
    let forms = [
        |p: u16| format!("{{ host: 127.0.0.1, port: {p} }}"),
        |p: u16| format!("'127.0.0.1:{p}'"),
        |p: u16| format!("{{ host: localhost, port: '{p}' }}"),
        |p: u16| format!("{{ host: '[::1]', port: {p} }}"),
    ];
    for (i, form) in forms.iter().enumerate() {
        let port = free_port();
        let yaml = form(port);
        let handle = match start_with_listen(&yaml).await {
            Ok(h) => h,
            // No IPv6 loopback on this machine.
            Err(BackendError::Server(e)) if i == 3 => {
                eprintln!("skipped [::1]: {e}");
                continue;
            }
            Err(e) => panic!("{yaml}: {e}"),
        };
        assert_eq!(handle.local_addr().port(), port, "{yaml}");
        assert!(handle.local_addr().ip().is_loopback(), "{yaml}");
        let res = TestClient::new(handle.base_url())
            .get("/.backstage/health/v1/liveness")
            .await
            .expect("request");
        assert_eq!(res.status(), 200, "{yaml}");
        handle.stop().await.expect("stop");
    }
    for bad in [
        "'127.0.0.1:notaport'",
        "{ host: 127.0.0.1, port: 70000 }",
        "[7007]",
    ] {
        let err = start_with_listen(bad).await.expect_err(bad);
        assert!(matches!(err, BackendError::Config(_)), "{bad}: {err}");
        assert!(err.to_string().contains("backend.listen"), "{bad}: {err}");
    }
}

#[tokio::test]
async fn listen_addr_overrides_backend_listen() {
    let handle = Backend::builder()
        .add(capturing_root_logger(&CapturingLogger::new()))
        .config_yaml("backend:\n  listen: ':1'\n")
        .listen_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
        .start()
        .await
        .expect("start");
    assert_ne!(handle.local_addr().port(), 1);
    handle.stop().await.expect("stop");
}

#[tokio::test]
async fn plugin_logger_records_carry_the_plugin_id() {
    let chatty = |id: &'static str| {
        Feature::plugin_fn(id, move |reg| {
            reg.init((&LOGGER, &HTTP_ROUTER), move |(logger, http)| async move {
                logger.info(&format!("{id} starting"));
                let request_logger = logger.clone();
                http.use_router(Router::new().route(
                    "/hello",
                    get(move || {
                        let logger = request_logger.clone();
                        async move {
                            logger.log(LogLevel::Warn, "said hello", &[("to", "world")]);
                            "hello"
                        }
                    }),
                ));
                Ok(())
            })
        })
    };
    let backend = start(vec![chatty("north"), chatty("south")], "").await;
    let res = backend
        .client()
        .get("/api/south/hello")
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    let records = backend.logger().records();
    for id in ["north", "south"] {
        let start = records
            .iter()
            .find(|r| r.message == format!("{id} starting"))
            .unwrap_or_else(|| panic!("no start record for {id}: {records:?}"));
        assert_eq!(start.field("plugin"), Some(id));
        assert_eq!(start.level, LogLevel::Info);
    }
    let hello = records
        .iter()
        .find(|r| r.message == "said hello")
        .unwrap_or_else(|| panic!("no request record: {records:?}"));
    assert_eq!(
        (hello.field("plugin"), hello.field("to")),
        (Some("south"), Some("world"))
    );
    assert_eq!(hello.level, LogLevel::Warn);
    backend.stop().await.expect("stop");
}

/// Collects `tracing` events of one target, each as `field=value` pairs.
#[tokio::test]
async fn root_http_router_serves_routes_outside_plugins() {
    use backlot::services::core_services::ROOT_HTTP_ROUTER;
    let plugin = Feature::plugin_fn("site", |reg| {
        reg.init(&ROOT_HTTP_ROUTER, |root| async move {
            root.use_router(
                "/",
                Router::new().route("/robots.txt", get(|| async { "User-agent: *" })),
            );
            root.use_router(
                "/static",
                Router::new().route("/app.js", get(|| async { "js" })),
            );
            Ok(())
        })
    });
    let backend = start(vec![plugin], "").await;
    let client = backend.client();
    for (path, body) in [("/robots.txt", "User-agent: *"), ("/static/app.js", "js")] {
        let res = client.get(path).await.expect("request");
        assert_eq!((res.status(), res.text().as_str()), (200, body), "{path}");
    }
    let res = client.get("/static/missing.js").await.expect("request");
    assert_error_json(&res, 404, "NotFoundError", "GET", "/static/missing.js");
    backend.stop().await.expect("stop");
}

#[tokio::test]
async fn conflicting_root_routes_fail_the_start_instead_of_panicking() {
    use backlot::services::core_services::ROOT_HTTP_ROUTER;
    let claimant = |id: &'static str| {
        Feature::plugin_fn(id, |reg| {
            reg.init(&ROOT_HTTP_ROUTER, |root| async move {
                root.use_router(
                    "/",
                    Router::new().route("/robots.txt", get(|| async { "mine" })),
                );
                Ok(())
            })
        })
    };
    let err = TestBackend::builder()
        .feature(claimant("first"))
        .feature(claimant("second"))
        .start()
        .await
        .expect_err("two plugins claim /robots.txt");
    assert!(
        matches!(&err, BackendError::Service { service, .. } if service == "core.rootHttpRouter"),
        "{err:?}"
    );
    assert!(err.to_string().contains("/robots.txt"), "{err}");
}
