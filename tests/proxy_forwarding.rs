//! What the proxy forwards and answers, against a real HTTP target: header filtering both
//! ways, `allowedMethods`, `pathRewrite`, query strings, `changeOrigin`, `headers` with
//! `${VAR}` from the config loader, legacy endpoint keys and the `proxy.endpoints` extension
//! point (config wins on a collision).
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod proxy_common;

use backlot::backend::{Backend, Feature};
use backlot::plugins::proxy;
use backlot::plugins::proxy::node::PROXY_ENDPOINTS;
use backlot::services::config::ConfigLoader;
use backlot::testing::{
    TestBackend, TestClient, mock_auth_factory, mock_credentials, mock_user_info_factory,
};
use proxy_common::{json_of, start_target};
use serde_json::json;

async fn backend(yaml: String) -> TestBackend {
    TestBackend::builder()
        .feature(Feature::plugin(proxy::backend::plugin()))
        .config_yaml(yaml)
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn headers_are_filtered_both_ways() {
    let target = start_target().await;
    let t = &target.url;
    let b = backend(format!(
        "proxy:
  endpoints:
    /plain: {t}
    /allowing:
      target: {t}
      allowedHeaders: [X-Allowed, Cookie, Set-Cookie, X-Allowed-Back, Authorization]
"
    ))
    .await;
    let user = mock_credentials::user_header("user:default/mo");
    let send = |endpoint: &'static str| {
        b.client()
            .request(reqwest::Method::GET, &format!("/api/proxy/{endpoint}/x"))
            .header("cookie", "backstage-session=abc")
            .header("x-allowed", "yes")
            .header("x-custom", "secret")
            .header("accept", "application/json")
            .header("accept-language", "fr")
            .header("cache-control", "no-cache")
            .header("user-agent", "proxy-test")
            .header("connection", "keep-alive, x-allowed")
    };
    // Dropped by default: cookies, Authorization, unknown headers; kept: the safe list.
    let res = b.client().execute(send("plain")).await.unwrap();
    assert_eq!(res.status(), 200);
    let got = &json_of(&res)["headers"];
    for dropped in [
        "cookie",
        "authorization",
        "x-custom",
        "x-allowed",
        "connection",
    ] {
        assert!(
            got.get(dropped).is_none(),
            "{dropped} reached the target: {got}"
        );
    }
    assert_eq!(got["accept"], "application/json");
    assert_eq!(got["accept-language"], "fr");
    assert_eq!(got["cache-control"], "no-cache");
    assert_eq!(got["user-agent"], "proxy-test");
    // changeOrigin (default true): Host is the target's.
    assert_eq!(got["host"], t.trim_start_matches("http://"));
    // Back: Set-Cookie and unknown headers dropped; safe ones kept.
    assert!(res.header("set-cookie").is_none());
    assert!(res.header("x-target-secret").is_none());
    assert!(res.header("x-allowed-back").is_none());
    assert_eq!(res.header("cache-control"), Some("max-age=7"));
    assert!(
        res.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );

    // allowedHeaders lets them through, both ways; a header named in Connection is
    // hop-by-hop and still dropped.
    let res = b
        .client()
        .execute(send("allowing").header("authorization", &user))
        .await
        .unwrap();
    let got = &json_of(&res)["headers"];
    assert_eq!(got["cookie"], "backstage-session=abc");
    assert_eq!(got["authorization"], user.as_str());
    assert!(
        got.get("x-allowed").is_none(),
        "named in Connection: hop-by-hop"
    );
    assert!(got.get("x-custom").is_none());
    assert_eq!(res.header("set-cookie"), Some("session=target-secret"));
    assert_eq!(res.header("x-allowed-back"), Some("visible"));
    assert!(res.header("x-target-secret").is_none());
}

#[tokio::test]
async fn methods_rewrites_queries_and_origin() {
    let target = start_target().await;
    let t = &target.url;
    let b = backend(format!(
        "proxy:
  endpoints:
    /read-only: {{ target: '{t}/base/', allowedMethods: [GET] }}
    /rewritten:
      target: {t}/svc.v1
      pathRewrite: {{ '^/api/proxy/rewritten/items/(\\w+)': '/v2/things/$1' }}
    /same-origin: {{ target: '{t}', changeOrigin: false }}
    /nested: {t}/outer
    /nested/inner: {t}/inner
"
    ))
    .await;
    let c = b.client();

    let res = c
        .get("/api/proxy/read-only/a/b?x=1&y=%20two")
        .await
        .unwrap();
    let body = json_of(&res);
    assert_eq!(body["method"], "GET");
    assert_eq!(body["path"], "/base/a/b");
    assert_eq!(body["query"], "x=1&y=%20two");
    assert_eq!(
        json_of(&c.get("/api/proxy/read-only").await.unwrap())["path"],
        "/base/"
    );

    // Another method is not allowed: 404 as in Backstage, the target never sees it (the
    // echo would answer 200).
    let res = c
        .post_json("/api/proxy/read-only/a", &json!({}))
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let err = json_of(&res);
    assert_eq!(err["error"]["name"], "NotFoundError");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("does not allow POST")
    );
    assert_eq!(err["request"]["method"], "POST");

    let res = c
        .get("/api/proxy/rewritten/items/42?full=true")
        .await
        .unwrap();
    let body = json_of(&res);
    assert_eq!(body["path"], "/svc.v1/v2/things/42");
    assert_eq!(body["query"], "full=true");
    // A path no rule matches goes on whole.
    let body = json_of(&c.get("/api/proxy/rewritten/other").await.unwrap());
    assert_eq!(body["path"], "/svc.v1/api/proxy/rewritten/other");

    let body = json_of(&c.get("/api/proxy/same-origin/h").await.unwrap());
    assert_eq!(
        body["headers"]["host"],
        b.url("").trim_start_matches("http://")
    );

    // The longest route wins; a route does not match a longer segment.
    assert_eq!(
        json_of(&c.get("/api/proxy/nested/inner/z").await.unwrap())["path"],
        "/inner/z"
    );
    assert_eq!(
        json_of(&c.get("/api/proxy/nested/innerz").await.unwrap())["path"],
        "/outer/innerz"
    );
    let res = c.get("/api/proxy/read-onlyx").await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(json_of(&res)["error"]["name"], "NotFoundError");

    // Bodies of any type pass (the JSON-only rule of plugin APIs does not apply).
    let req = c
        .request(reqwest::Method::PUT, "/api/proxy/rewritten/items/7")
        .header("content-type", "application/octet-stream")
        .body(vec![1u8; 1000]);
    let body = json_of(&c.execute(req).await.unwrap());
    assert_eq!(
        (body["method"].clone(), body["bodyLength"].clone()),
        (json!("PUT"), json!(1000))
    );
    assert_eq!(body["headers"]["content-type"], "application/octet-stream");

    // The target's own error answers come back untouched, not rewritten as the portal's.
    let res = c.get("/api/proxy/same-origin/status/418").await.unwrap();
    assert_eq!(res.status(), 418);
    assert_eq!(res.text(), "<h1>target's own page</h1>");
}

#[tokio::test]
async fn configured_headers_take_values_from_the_environment() {
    let target = start_target().await;
    let config = ConfigLoader::new()
        .yaml(
            "app-config.yaml",
            format!(
                "proxy:
  endpoints:
    /ci:
      target: {}
      headers:
        Circle-Token: ${{CI_TOKEN}}
        Authorization: Bearer ${{CI_TOKEN}}
",
                target.url
            ),
        )
        .env_vars([("CI_TOKEN", "s3cret-from-env")])
        .load()
        .unwrap();
    let handle = Backend::builder()
        .config(config)
        .listen_addr("127.0.0.1:0".parse().unwrap())
        .add_service(mock_auth_factory())
        .add_service(mock_user_info_factory())
        .add(proxy::backend::plugin())
        .start()
        .await
        .unwrap();
    let client = TestClient::new(handle.base_url())
        .with_authorization(&mock_credentials::user_header("user:default/mo"));
    let req = client
        .request(reqwest::Method::GET, "/api/proxy/ci/p")
        .header("circle-token", "the-caller-s-own");
    let body = json_of(&client.execute(req).await.unwrap());
    assert_eq!(body["headers"]["circle-token"], "s3cret-from-env");
    // The configured Authorization replaces the caller's Backstage token.
    assert_eq!(body["headers"]["authorization"], "Bearer s3cret-from-env");
    handle.stop().await.unwrap();
}

#[tokio::test]
async fn legacy_keys_and_module_endpoints_with_config_winning() {
    let target = start_target().await;
    let t = target.url.clone();
    let t2 = t.clone();
    let module = Feature::module_fn("proxy", "extra", move |reg| {
        let t = t2.clone();
        reg.init(&PROXY_ENDPOINTS, move |endpoints| async move {
            let e = endpoints.get()?;
            e.add_proxy_endpoint("/from-module", json!(format!("{t}/module")));
            e.add_proxy_endpoint("legacy", json!(format!("{t}/module-loses")));
            Ok(())
        })
    });
    let b = TestBackend::builder()
        .feature(Feature::plugin(proxy::backend::plugin()))
        .feature(module)
        .config_yaml(format!("proxy:\n  /legacy: {t}/from-config\n"))
        .start()
        .await
        .unwrap();
    let c = b.client();
    assert_eq!(
        json_of(&c.get("/api/proxy/from-module/a").await.unwrap())["path"],
        "/module/a"
    );
    assert_eq!(
        json_of(&c.get("/api/proxy/legacy/a").await.unwrap())["path"],
        "/from-config/a"
    );
    assert!(
        b.logger()
            .messages()
            .iter()
            .any(|m| m.contains("deprecated"))
    );
}

/// A listener counting the connections it accepts.
struct Counting(
    tokio::net::TcpListener,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
);

impl axum::serve::Listener for Counting {
    type Io = tokio::net::TcpStream;
    type Addr = std::net::SocketAddr;
    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            if let Ok(conn) = self.0.accept().await {
                self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                return conn;
            }
        }
    }
    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

#[tokio::test]
async fn idle_connections_per_target_are_bounded_and_reused() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let accepted = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(|| async {
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        "ok"
    });
    let counting = Counting(listener, accepted.clone());
    tokio::spawn(async move { axum::serve(counting, app).await.unwrap() });

    async fn burst(b: &TestBackend) {
        let calls = (0..4).map(|_| b.client().get("/api/proxy/t/x"));
        for res in futures::future::join_all(calls).await {
            assert_eq!(res.unwrap().status(), 200);
        }
    }
    for (max_idle, expected) in [(1, 4 + 3), (32, 4)] {
        accepted.store(0, Ordering::SeqCst);
        let b = backend(format!(
            "proxy:\n  maxIdleConnectionsPerTarget: {max_idle}\n  endpoints:\n    /t: {url}\n"
        ))
        .await;
        // Four at once need four connections; afterwards only `max_idle` stay pooled, so the
        // next burst opens the difference.
        burst(&b).await;
        burst(&b).await;
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            expected,
            "maxIdleConnectionsPerTarget {max_idle}"
        );
    }
}
