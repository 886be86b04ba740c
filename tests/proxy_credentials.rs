//! The proxy's `credentials` modes over HTTP, each with a user token, a service token, no
//! token and a bad token, checking what reaches the target (a real HTTP server).
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod proxy_common;

use backlot::backend::Feature;
use backlot::plugins::proxy;
use backlot::testing::{TestBackend, mock_credentials};
use proxy_common::{json_of, start_target};
use serde_json::Value;

async fn backend(target: &str, extra: &str) -> TestBackend {
    TestBackend::builder()
        .feature(Feature::plugin(proxy::backend::plugin()))
        .config_yaml(format!(
            "{extra}
proxy:
  endpoints:
    /simple: {target}
    /require: {{ target: '{target}', credentials: require }}
    /forward: {{ target: '{target}', credentials: forward }}
    /open: {{ target: '{target}', credentials: dangerously-allow-unauthenticated }}
    /open-fwd:
      target: '{target}'
      credentials: dangerously-allow-unauthenticated
      allowedHeaders: [Authorization]
"
        ))
        .start()
        .await
        .unwrap()
}

/// Calls `endpoint` with `authorization`; the status and the `Authorization` the target got.
async fn call(b: &TestBackend, endpoint: &str, authorization: Option<&str>) -> (u16, Value) {
    let client = match authorization {
        Some(a) => b.client().with_authorization(a),
        None => b.client().unauthenticated(),
    };
    let res = client
        .get(&format!("/api/proxy/{endpoint}/just-some-path"))
        .await
        .unwrap();
    let body = json_of(&res);
    if res.status() == 200 {
        assert_eq!(body["path"], "/just-some-path");
        (200, body["headers"]["authorization"].clone())
    } else {
        (res.status(), body)
    }
}

#[tokio::test]
async fn every_credentials_mode_with_user_service_and_no_token() {
    let target = start_target().await;
    let b = backend(&target.url, "").await;
    let user = mock_credentials::user_header("user:default/mo");
    let service = mock_credentials::service_header("external:ci");

    for endpoint in ["simple", "require"] {
        for token in [&user, &service] {
            let (status, auth) = call(&b, endpoint, Some(token)).await;
            assert_eq!(
                (status, auth),
                (200, Value::Null),
                "{endpoint}: not forwarded"
            );
        }
        let (status, body) = call(&b, endpoint, None).await;
        assert_eq!(status, 401, "{endpoint} without a token");
        assert_eq!(body["error"]["name"], "AuthenticationError");
        assert_eq!(body["error"]["message"], "Missing credentials");
        let (status, body) = call(&b, endpoint, Some("Bearer not-valid")).await;
        assert_eq!(status, 401, "{endpoint} with a bad token: {body}");
    }

    for token in [&user, &service] {
        let (status, auth) = call(&b, "forward", Some(token)).await;
        assert_eq!(
            (status, auth),
            (200, Value::from(token.as_str())),
            "forwarded"
        );
    }
    assert_eq!(call(&b, "forward", None).await.0, 401);
    assert_eq!(call(&b, "forward", Some("Bearer not-valid")).await.0, 401);

    // Unauthenticated: anyone; the token is forwarded only with allowedHeaders.
    for token in [Some(user.as_str()), Some("Bearer not-valid"), None] {
        let (status, auth) = call(&b, "open", token).await;
        assert_eq!((status, auth), (200, Value::Null), "open with {token:?}");
        let (status, auth) = call(&b, "open-fwd", token).await;
        assert_eq!(status, 200);
        assert_eq!(
            auth,
            token.map_or(Value::Null, Value::from),
            "open-fwd with {token:?}"
        );
    }
}

#[tokio::test]
async fn disabling_the_default_auth_policy_opens_every_endpoint() {
    let target = start_target().await;
    let b = backend(
        &target.url,
        "backend:\n  auth:\n    dangerouslyDisableDefaultAuthPolicy: true\n",
    )
    .await;
    for endpoint in ["simple", "require", "forward", "open"] {
        let (status, auth) = call(&b, endpoint, None).await;
        assert_eq!((status, auth), (200, Value::Null), "{endpoint}");
    }
}
