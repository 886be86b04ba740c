//! The proxy's failures: a target that is down (502), a target slower than the timeout (504),
//! both with Backstage's error JSON; bad config stopping the start with the endpoint named,
//! or skipped under `proxy.skipInvalidProxies`.
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod proxy_common;

use std::time::{Duration, Instant};

use backlot::backend::Feature;
use backlot::plugins::proxy;
use backlot::testing::TestBackend;
use proxy_common::{closed_port_url, json_of, start_target};

fn builder(yaml: String) -> backlot::testing::TestBackendBuilder {
    TestBackend::builder()
        .feature(Feature::plugin(proxy::backend::plugin()))
        .config_yaml(yaml)
}

#[tokio::test]
async fn a_target_that_is_down_gives_502_with_the_error_json() {
    let down = closed_port_url().await;
    let b = builder(format!("proxy:\n  endpoints:\n    /down: {down}/api\n"))
        .start()
        .await
        .unwrap();
    let res = b.client().get("/api/proxy/down/things?x=1").await.unwrap();
    assert_eq!(res.status(), 502);
    let body = json_of(&res);
    assert_eq!(body["error"]["name"], "Error");
    assert_eq!(
        body["error"]["message"],
        "proxy endpoint '/down': the target could not be reached"
    );
    assert_eq!(body["request"]["method"], "GET");
    assert_eq!(body["request"]["url"], "/api/proxy/down/things?x=1");
    assert_eq!(body["response"]["statusCode"], 502);
    // The backend goes on serving.
    assert_eq!(
        b.client()
            .get("/.backstage/health/v1/liveness")
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn a_slow_target_gives_504_after_the_timeout() {
    let target = start_target().await;
    let t = &target.url;
    let b = builder(format!(
        "proxy:
  timeout: 300ms
  endpoints:
    /slow: {t}
    /patient: {{ target: '{t}', timeout: 3s }}
"
    ))
    .start()
    .await
    .unwrap();
    let started = Instant::now();
    let res = b
        .client()
        .get("/api/proxy/slow/slow?ms=3000")
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(res.status(), 504);
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let body = json_of(&res);
    assert_eq!(body["response"]["statusCode"], 504);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("300ms (proxy.timeout)")
    );
    // The endpoint's own timeout wins over proxy.timeout.
    let res = b
        .client()
        .get("/api/proxy/patient/slow?ms=600")
        .await
        .unwrap();
    assert_eq!((res.status(), res.text()), (200, "late".to_string()));
}

#[tokio::test]
async fn bad_config_fails_the_start_naming_the_endpoint() {
    let cases = [
        (
            "/no-target: { changeOrigin: true }",
            "'/no-target'",
            "'target' is missing",
        ),
        ("/bad-url: 'not a url'", "'/bad-url'", "not a valid URL"),
        ("/ftp: 'ftp://files.internal'", "'/ftp'", "scheme 'ftp'"),
        (
            "/creds: { target: 'http://x', credentials: always }",
            "'/creds'",
            "unknown credentials policy 'always'",
        ),
        (
            "/re: { target: 'http://x', pathRewrite: { '(': '/' } }",
            "'/re'",
            "regex '(' is invalid",
        ),
        (
            "/m: { target: 'http://x', allowedMethods: GET }",
            "'/m'",
            "'allowedMethods' must be a list",
        ),
        (
            "/h: { target: 'http://x', headers: { 'bad header': v } }",
            "'/h'",
            "invalid header name",
        ),
        (
            "/t: { target: 'http://x', timeout: soon }",
            "'/t'",
            "'timeout'",
        ),
    ];
    for (endpoint, route, reason) in cases {
        let err = builder(format!("proxy:\n  endpoints:\n    {endpoint}\n"))
            .start()
            .await
            .unwrap_err();
        let text = format!("{err} {:?}", std::error::Error::source(&err));
        assert!(
            text.contains(route) && text.contains(reason),
            "{endpoint}: {text}"
        );
    }
    // A secret in a header value never shows in the error.
    let err = builder("proxy:\n  endpoints:\n    /s: { target: 'http://x', headers: { X-Token: \"s3cret\\n\" } }\n".into())
        .start()
        .await
        .unwrap_err();
    let text = format!("{err} {:?}", std::error::Error::source(&err));
    assert!(text.contains("'/s'") && !text.contains("s3cret"), "{text}");
    // Plugin-wide limits are checked too.
    for (yaml, key) in [
        ("proxy:\n  timeout: 0s\n", "proxy.timeout"),
        (
            "proxy:\n  maxWebSocketConnections: 0\n",
            "proxy.maxWebSocketConnections",
        ),
        (
            "proxy:\n  maxIdleConnectionsPerTarget: 0\n",
            "proxy.maxIdleConnectionsPerTarget",
        ),
    ] {
        let err = builder(yaml.into()).start().await.unwrap_err();
        let text = format!("{err} {:?}", std::error::Error::source(&err));
        assert!(text.contains(key), "{text}");
    }
}

#[tokio::test]
async fn skip_invalid_proxies_keeps_the_valid_endpoints() {
    let target = start_target().await;
    let b = builder(format!(
        "proxy:\n  skipInvalidProxies: true\n  reviveConsumedRequestBodies: true\n  endpoints:\n    /broken: {{ target: 42 }}\n    /fine: {}\n",
        target.url
    ))
    .start()
    .await
    .unwrap();
    assert_eq!(
        b.client().get("/api/proxy/fine/x").await.unwrap().status(),
        200
    );
    assert_eq!(
        b.client()
            .get("/api/proxy/broken/x")
            .await
            .unwrap()
            .status(),
        404
    );
    assert!(
        b.logger()
            .messages()
            .iter()
            .any(|m| m.contains("skipped an invalid proxy endpoint")),
        "{:?}",
        b.logger().messages()
    );
}
