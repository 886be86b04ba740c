#![allow(missing_docs)]
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]
//! `/metrics`: off by default, Prometheus text that `promtool check metrics` accepts (when
//! `BACKLOT_TEST_PROMTOOL` names it), counters that move with requests, a catalog refresh,
//! scheduled tasks and cache reads, bounded label cardinality, the optional scrape token, and
//! JSON logs carrying each request's id.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use backlot::backend::{Backend, Feature};
use backlot::plugins::catalog::CatalogPlugin;
use backlot::services::cache::SetOptions;
use backlot::services::core_services::{CACHE, HTTP_ROUTER, LOGGER, SCHEDULER};
use backlot::services::http_router::{AuthPolicy, AuthPolicyAllow};
use backlot::services::logger::LoggerServiceExt;
use backlot::services::scheduler::TaskDefinition;
use backlot::testing::TestBackend;
use serde_json::{Value, json};

/// A plugin with one task that succeeds and one that fails, and a cache hit and miss.
fn probe() -> Feature {
    Feature::plugin_fn("probe", |reg| {
        reg.init((&SCHEDULER, &CACHE), |(scheduler, cache)| async move {
            for (id, fail) in [("probe-ok", false), ("probe-fail", true)] {
                let task = TaskDefinition::builder(id)
                    .every(Duration::from_millis(100))
                    .timeout(Duration::from_secs(5))
                    .initial_delay(Duration::from_millis(1))
                    .run(move |_| async move {
                        if fail {
                            Err("probe failure".into())
                        } else {
                            Ok(())
                        }
                    })
                    .build()?;
                scheduler.schedule_task(task).await?;
            }
            cache.set("present", &1, SetOptions::default()).await;
            let _: Option<i32> = cache.get("present").await;
            let _: Option<i32> = cache.get("absent").await;
            Ok(())
        })
    })
}

fn catalog_yaml(dir: &Path) -> String {
    let file = dir.join("catalog-info.yaml");
    std::fs::write(
        &file,
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: metered\n\
         spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n",
    )
    .unwrap();
    format!(
        "backend:\n  reading:\n    fileAllow: ['{dir}']\ncatalog:\n  allowedLocationTypes: [url, file]\n  \
         rules:\n    - allow: [Component, Location]\n  locations:\n    - type: file\n      target: {file}\n",
        dir = dir.display(),
        file = file.display()
    )
}

async fn start(extra_yaml: &str, features: Vec<Feature>) -> TestBackend {
    let mut builder = TestBackend::builder().config_yaml(extra_yaml.to_owned());
    for f in features {
        builder = builder.feature(f);
    }
    builder.start().await.expect("backend starts")
}

/// Scrapes `path` without credentials; returns status, content type and body.
async fn scrape_raw(
    backend: &TestBackend,
    path: &str,
    auth: Option<&str>,
) -> (u16, String, String) {
    let mut req = reqwest::Client::new().get(backend.url(path));
    if let Some(auth) = auth {
        req = req.header("authorization", auth);
    }
    let res = req.send().await.expect("scrape");
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, content_type, res.text().await.expect("body"))
}

async fn scrape(backend: &TestBackend) -> String {
    let (status, content_type, body) = scrape_raw(backend, "/metrics", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    promtool_check(&body);
    body
}

/// Runs `promtool check metrics` on `text` when `BACKLOT_TEST_PROMTOOL` names it.
fn promtool_check(text: &str) {
    use std::io::Write;
    let Some(promtool) = std::env::var_os("BACKLOT_TEST_PROMTOOL") else {
        eprintln!("skipped: promtool check (BACKLOT_TEST_PROMTOOL is not set)");
        return;
    };
    let mut child = std::process::Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("BACKLOT_TEST_PROMTOOL={promtool:?} cannot run: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n--- exposition ---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The samples of `text`: `name{labels}` to value.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}

fn value(text: &str, series: &str) -> f64 {
    samples(text).get(series).copied().unwrap_or(0.0)
}

fn http_count(text: &str, plugin: &str, route: &str, method: &str, class: &str) -> f64 {
    value(
        text,
        &format!(
            "backlot_http_requests_total{{plugin=\"{plugin}\",route=\"{route}\",method=\"{method}\",status_class=\"{class}\"}}"
        ),
    )
}

#[tokio::test]
async fn metrics_are_off_by_default() {
    let backend = start("", vec![]).await;
    let (status, content_type, body) = scrape_raw(&backend, "/metrics", None).await;
    assert_eq!(status, 404, "{body}");
    assert!(content_type.contains("json"), "{content_type}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["name"], "NotFoundError");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_move_with_requests_a_catalog_refresh_tasks_and_cache_reads() {
    let dir = tempfile::tempdir().unwrap();
    let backend = TestBackend::builder()
        .config_yaml("backend:\n  metrics:\n    enabled: true\n")
        .config_yaml(catalog_yaml(&std::fs::canonicalize(dir.path()).unwrap()))
        .feature(Feature::plugin(CatalogPlugin::new()))
        .feature(probe())
        .start()
        .await
        .expect("backend starts");
    let client = backend.client();
    let first = scrape(&backend).await;

    for _ in 0..3 {
        assert_eq!(
            client.get("/api/catalog/entities").await.unwrap().status(),
            200
        );
    }
    let by_name = client
        .get("/api/catalog/entities/by-name/component/default/metered")
        .await
        .unwrap();
    assert_eq!(by_name.status(), 200, "{}", by_name.text());
    let missing = client
        .get("/api/catalog/entities/by-name/component/default/nobody")
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let refreshed = client
        .post_json(
            "/api/catalog/refresh",
            &json!({ "entityRef": "component:default/metered" }),
        )
        .await
        .unwrap();
    assert!(refreshed.status() < 300, "{}", refreshed.text());

    // The catalog's refresh loop ticks every second; the tasks every 100 ms.
    let mut second = String::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        second = scrape(&backend).await;
        if second.contains("backlot_catalog_stitch_lag_seconds ")
            && value(
                &second,
                "backlot_scheduler_task_failures_total{plugin=\"probe\",task=\"probe-fail\"}",
            ) >= 2.0
            && value(
                &second,
                "backlot_scheduler_task_runs_total{plugin=\"probe\",task=\"probe-ok\"}",
            ) >= 2.0
        {
            break;
        }
    }

    let list = "/api/catalog/entities";
    assert_eq!(
        http_count(&second, "catalog", list, "GET", "2xx")
            - http_count(&first, "catalog", list, "GET", "2xx"),
        3.0,
        "{second}"
    );
    let by_name = "/api/catalog/entities/by-name/{kind}/{namespace}/{name}";
    assert_eq!(
        http_count(&second, "catalog", by_name, "GET", "2xx"),
        1.0,
        "{second}"
    );
    assert_eq!(
        http_count(&second, "catalog", by_name, "GET", "4xx"),
        1.0,
        "{second}"
    );
    assert_eq!(
        http_count(&second, "catalog", "/api/catalog/refresh", "POST", "2xx"),
        1.0,
        "{second}"
    );
    // Scrapes count themselves, under the backend.
    assert!(
        http_count(&second, "backend", "/metrics", "GET", "2xx") >= 1.0,
        "{second}"
    );
    assert!(
        value(
            &second,
            &format!(
                "backlot_http_request_duration_seconds_count{{plugin=\"catalog\",route=\"{list}\",method=\"GET\"}}"
            )
        ) >= 3.0,
        "{second}"
    );
    assert!(
        !second.contains("metered\""),
        "raw paths must not be labels: {second}"
    );

    // The catalog: one component and its location; the refresh loop's figures.
    assert_eq!(
        value(&second, "backlot_catalog_entities{kind=\"component\"}"),
        1.0,
        "{second}"
    );
    assert!(
        value(&second, "backlot_catalog_entities{kind=\"location\"}") >= 1.0,
        "{second}"
    );
    assert!(
        second.contains("backlot_catalog_processing_queue_depth "),
        "{second}"
    );
    assert!(value(&second, "backlot_catalog_stitch_lag_seconds") >= 0.0);

    // The scheduler: runs of both tasks, failures of the failing one only.
    let runs_ok = "backlot_scheduler_task_runs_total{plugin=\"probe\",task=\"probe-ok\"}";
    assert!(value(&second, runs_ok) >= 2.0, "{second}");
    assert!(
        value(&second, runs_ok) > value(&first, runs_ok),
        "{first}\n{second}"
    );
    assert_eq!(
        value(
            &second,
            "backlot_scheduler_task_failures_total{plugin=\"probe\",task=\"probe-ok\"}"
        ),
        0.0
    );
    assert!(
        value(
            &second,
            "backlot_scheduler_task_failures_total{plugin=\"probe\",task=\"probe-fail\"}"
        ) >= 2.0,
        "{second}"
    );

    // The cache: one hit and one miss at the probe's start.
    assert_eq!(
        value(&second, "backlot_cache_hits_total{plugin=\"probe\"}"),
        1.0,
        "{second}"
    );
    assert_eq!(
        value(&second, "backlot_cache_misses_total{plugin=\"probe\"}"),
        1.0,
        "{second}"
    );

    // Database pools: the catalog's and the probe scheduler's.
    assert!(
        value(
            &second,
            "backlot_database_pool_max_connections{plugin=\"catalog\"}"
        ) >= 1.0,
        "{second}"
    );
    assert!(
        second.contains("backlot_database_pool_connections{plugin=\"catalog\",state=\"idle\"}")
    );

    // The process.
    assert!(
        value(&second, "process_resident_memory_bytes") > 1_000_000.0,
        "{second}"
    );
    assert!(second.contains("process_cpu_seconds_total "), "{second}");

    // OpenMetrics for scrapers that ask for it.
    let om = reqwest::Client::new()
        .get(backend.url("/metrics"))
        .header("accept", "application/openmetrics-text; version=1.0.0")
        .send()
        .await
        .unwrap();
    assert!(
        om.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    assert!(om.text().await.unwrap().ends_with("# EOF\n"));
}

#[tokio::test]
async fn unknown_paths_do_not_grow_the_series() {
    let backend = start(
        "backend:\n  metrics:\n    enabled: true\n",
        vec![Feature::plugin(CatalogPlugin::new())],
    )
    .await;
    let client = backend.client();
    for i in 0..1000 {
        let path = match i % 3 {
            0 => format!("/api/catalog/no-such-route-{i}"),
            1 => format!("/nowhere/{i}"),
            _ => format!("/api/no-such-plugin-{i}/x"),
        };
        assert_eq!(client.get(&path).await.unwrap().status(), 404, "{path}");
    }
    let text = scrape(&backend).await;
    let series: BTreeSet<&str> = text
        .lines()
        .filter(|l| l.starts_with("backlot_http_requests_total{"))
        .collect();
    assert!(series.len() <= 4, "{series:#?}");
    assert!(!text.contains("no-such"), "{text}");
    assert!(!text.contains("nowhere"), "{text}");
    assert!(
        http_count(&text, "catalog", "unmatched", "GET", "4xx") >= 333.0,
        "{text}"
    );
    assert!(
        http_count(&text, "backend", "unmatched", "GET", "4xx") >= 666.0,
        "{text}"
    );
    let histogram_series = text
        .lines()
        .filter(|l| l.starts_with("backlot_http_request_duration_seconds_count{"))
        .count();
    assert!(histogram_series <= 3, "{text}");
}

#[tokio::test]
async fn a_token_and_path_guard_the_exposition() {
    let backend = start(
        "backend:\n  metrics:\n    enabled: true\n    path: /internal/metrics\n    token: scrape-secret\n",
        vec![],
    )
    .await;
    let (status, _, body) = scrape_raw(&backend, "/metrics", None).await;
    assert_eq!(status, 404, "{body}");
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("scrape-secret"),
        Some("Bearer scrape-secre"),
    ] {
        let (status, content_type, body) = scrape_raw(&backend, "/internal/metrics", auth).await;
        assert_eq!(status, 401, "{auth:?}: {body}");
        assert!(content_type.contains("json"));
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error"]["name"], "AuthenticationError");
        assert_eq!(body["response"]["statusCode"], 401);
    }
    let (status, content_type, body) =
        scrape_raw(&backend, "/internal/metrics", Some("Bearer scrape-secret")).await;
    assert_eq!(status, 200, "{body}");
    assert!(content_type.starts_with("text/plain; version=0.0.4"));
    promtool_check(&body);
    assert!(
        body.contains("# TYPE backlot_http_requests_total counter"),
        "{body}"
    );
}

#[tokio::test]
async fn bad_metrics_config_stops_the_start() {
    for yaml in [
        "backend:\n  metrics:\n    enabled: true\n    path: metrics\n",
        "backend:\n  metrics:\n    enabled: true\n    path: /api/metrics\n",
        "backend:\n  metrics:\n    enabled: true\n    maxLabelValues: 0\n",
        "backend:\n  metrics:\n    enabled: maybe\n",
    ] {
        let err = TestBackend::builder()
            .config_yaml(yaml)
            .start()
            .await
            .err()
            .unwrap_or_else(|| panic!("started with {yaml}"));
        assert!(err.to_string().contains("backend.metrics"), "{err}");
    }
}

const JSON_CHILD: &str = "BACKLOT_TEST_METRICS_JSON_LOG_CHILD";

/// Runs in a child process (the default logger installs a process-wide subscriber writing
/// JSON to standard output): a real backend with `backend.logging.format: json`.
async fn json_log_child() {
    let plugin = Feature::plugin_fn("echo", |reg| {
        reg.init((&HTTP_ROUTER, &LOGGER), |(http, logger)| async move {
            http.use_router(Router::new().route(
                "/hello",
                get(move || {
                    let logger = logger.clone();
                    async move {
                        logger.info("saying hello");
                        "hello"
                    }
                }),
            ));
            http.add_auth_policy(AuthPolicy {
                path: "/hello".into(),
                allow: AuthPolicyAllow::Unauthenticated,
            });
            Ok(())
        })
    });
    let handle = Backend::builder()
        .listen_addr("127.0.0.1:0".parse().unwrap())
        .config_value(json!({"backend": {
            "logging": {"format": "json", "level": "info"},
            "database": {"client": "better-sqlite3", "connection": ":memory:"},
        }}))
        .add_feature(plugin)
        .start()
        .await
        .expect("backend starts");
    let client = reqwest::Client::new();
    let res = client
        .get(handle.url("/api/echo/hello"))
        .header("x-request-id", "req-metrics-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-request-id"], "req-metrics-42");
    // A request without (or with an unusable) id gets a fresh one.
    for sent in [None, Some("has spaces in it"), Some(&*"x".repeat(200))] {
        let mut req = client.get(handle.url("/api/echo/hello"));
        if let Some(sent) = sent {
            req = req.header("x-request-id", sent);
        }
        let res = req.send().await.unwrap();
        let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
        assert_eq!(id.len(), 36, "{id}");
        println!("GENERATED-ID {id}");
    }
    handle.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_the_request_id() {
    if std::env::var_os(JSON_CHILD).is_some() {
        json_log_child().await;
        return;
    }
    let stdout = run_json_log_child(&[]).await;
    let records: Vec<Value> = stdout
        .lines()
        // libtest's own `test ... ` may precede the first record on its line.
        .filter_map(|l| serde_json::from_str(&l[l.find('{')?..]).ok())
        .collect();
    let request_id = |r: &Value| r["span"]["request_id"].as_str().map(str::to_string);
    let with_id: Vec<&Value> = records
        .iter()
        .filter(|r| request_id(r).as_deref() == Some("req-metrics-42"))
        .collect();
    let messages: Vec<&str> = with_id
        .iter()
        .filter_map(|r| r["fields"]["message"].as_str())
        .collect();
    // The plugin's own log line and the request log line both carry the id.
    assert!(messages.contains(&"saying hello"), "{stdout}");
    assert!(messages.contains(&"request"), "{stdout}");
    let hello = with_id
        .iter()
        .find(|r| r["fields"]["message"] == "saying hello")
        .unwrap();
    assert_eq!(hello["fields"]["plugin"], "echo", "{hello}");
    // Generated ids are logged too, one per request.
    let generated: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("GENERATED-ID "))
        .collect();
    assert_eq!(generated.len(), 3, "{stdout}");
    for id in generated {
        assert!(
            records.iter().any(|r| request_id(r).as_deref() == Some(id)
                && r["fields"]["message"] == "saying hello"),
            "{id}: {stdout}"
        );
    }
}

/// Runs the JSON log child with `env`; returns its standard output.
async fn run_json_log_child(env: &[(&str, String)]) -> String {
    let exe = std::env::current_exe().unwrap();
    let mut command = tokio::process::Command::new(exe);
    command
        .args([
            "--exact",
            "json_logs_carry_the_request_id",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(JSON_CHILD, "1")
        .env_remove("LOG_LEVEL")
        .env("NO_COLOR", "1")
        .kill_on_drop(true);
    for (k, v) in env {
        command.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .expect("child finishes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// With the `otel` feature, the request spans reach an OTLP/HTTP collector (a sink on
/// 127.0.0.1 recording what is posted to `/v1/traces`) named by `OTEL_EXPORTER_OTLP_ENDPOINT`.
#[cfg(feature = "otel")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otel_exports_request_spans_to_the_otlp_endpoint() {
    use std::sync::{Arc, Mutex};
    /// Each post's content type and body.
    type Posts = Arc<Mutex<Vec<(String, Vec<u8>)>>>;
    let posts: Posts = Arc::default();
    let recorded = posts.clone();
    let sink = Router::new().route(
        "/v1/traces",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let recorded = recorded.clone();
                async move {
                    let content_type = headers
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    recorded.lock().unwrap().push((content_type, body.to_vec()));
                    (
                        [("content-type", "application/x-protobuf")],
                        Vec::<u8>::new(),
                    )
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, sink).await });
    run_json_log_child(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_string()),
        ("OTEL_SERVICE_NAME", "backlot-metrics-test".to_string()),
    ])
    .await;
    server.abort();
    let posts = posts.lock().unwrap().clone();
    assert!(!posts.is_empty(), "nothing was exported");
    assert!(
        posts.iter().all(|(ct, _)| ct == "application/x-protobuf"),
        "{posts:?}"
    );
    let all: Vec<u8> = posts.into_iter().flat_map(|(_, b)| b).collect();
    let contains = |needle: &str| all.windows(needle.len()).any(|w| w == needle.as_bytes());
    // Protobuf keeps strings as they are: the service, the span name and its request id.
    assert!(contains("backlot-metrics-test"));
    assert!(contains("request"));
    assert!(contains("request_id"));
    assert!(contains("req-metrics-42"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_search_index_reports_its_documents_and_age() {
    use backlot::plugins::search::backend::{SearchCatalogCollatorModule, SearchPlugin};
    let dir = tempfile::tempdir().unwrap();
    let backend = TestBackend::builder()
        .config_yaml("backend:\n  metrics:\n    enabled: true\n")
        .config_yaml(catalog_yaml(&std::fs::canonicalize(dir.path()).unwrap()))
        .config_yaml(
            "search:\n  embedded:\n    inMemory: true\n  collators:\n    catalog:\n      schedule:\n        \
             frequency: { trigger: manual }\n        timeout: { minutes: 1 }\n",
        )
        .feature(Feature::plugin(CatalogPlugin::new()))
        .feature(Feature::plugin(SearchPlugin::new()))
        .feature(Feature::module(SearchCatalogCollatorModule))
        .start()
        .await
        .expect("backend starts");
    let client = backend.client();
    let documents = "backlot_search_index_documents{plugin=\"search\",type=\"software-catalog\"}";
    assert!(!scrape(&backend).await.contains(documents));
    let path = "/api/search/.backstage/scheduler/v1/tasks/search_index_software_catalog/trigger";
    let mut text = String::new();
    for _ in 0..100 {
        let res = client
            .execute(client.request(reqwest::Method::POST, path))
            .await
            .unwrap();
        assert!(matches!(res.status(), 200 | 409), "{}", res.text());
        tokio::time::sleep(Duration::from_millis(100)).await;
        text = scrape(&backend).await;
        if value(&text, documents) >= 2.0 {
            break;
        }
    }
    // The component and its location.
    assert_eq!(value(&text, documents), 2.0, "{text}");
    let age = "backlot_search_index_age_seconds{plugin=\"search\",type=\"software-catalog\"}";
    assert!(text.contains(age), "{text}");
    assert!(value(&text, age) < 60.0, "{text}");
    assert!(
        value(
            &text,
            "backlot_scheduler_task_runs_total{plugin=\"search\",task=\"search_index_software_catalog\"}"
        ) >= 1.0,
        "{text}"
    );
}
