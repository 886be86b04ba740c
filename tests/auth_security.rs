#![allow(missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]
//! The default-deny layer against what an attacker sends: every request below is one a real
//! attacker would try, and each must be refused with the right status and Backstage's error
//! JSON. A stand-in `auth` plugin publishes the user-token keys at `/.well-known/jwks.json`
//! (the auth plugin's own contract), so user tokens are real ES256 JWTs signed here.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Extension, Path, State};
use axum::routing::get;
use axum::{Json, Router};
use backlot::backend::{Backend, BackendHandle, Feature};
use backlot::services::auth::jwt::{self, EcSigningKey, JwtHeader};
use backlot::services::auth::{
    AUTH, AuthService, Credentials, LIMITED_USER_TOKEN_TYPE, USER_TOKEN_TYPE,
};
use backlot::services::core_services::{DISCOVERY, HTTP_ROUTER};
use backlot::services::http_router::{AuthPolicy, AuthPolicyAllow};
use base64::Engine;
use serde_json::{Value, json};

const STATIC_TOKEN: &str = "static-token-for-the-security-tests-0123456789";
const RESTRICTED_TOKEN: &str = "restricted-token-for-the-security-tests-98765";
const LEGACY_SECRET_B64: &str = "c2VjdXJpdHktdGVzdHMtbGVnYWN5LXNlY3JldA=="; // security-tests-legacy-secret

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A user identity token as the auth plugin issues it (with `uip` for the limited token).
fn user_token(key: &EcSigningKey, sub: &str, exp: i64, aud: &str) -> String {
    let iat = now();
    let limited_header = JwtHeader::es256(key.kid()).with_typ(LIMITED_USER_TOKEN_TYPE);
    // Claims in the order the spec fixes (`sub`, `iat`, `exp`); `json!` would sort them.
    #[derive(serde::Serialize)]
    struct LimitedClaims<'a> {
        sub: &'a str,
        iat: i64,
        exp: i64,
    }
    let limited_input =
        jwt::signing_input(&limited_header, &LimitedClaims { sub, iat, exp }).unwrap();
    let uip = key.sign_bytes(limited_input.as_bytes()).unwrap();
    key.sign(
        &JwtHeader::es256(key.kid()).with_typ(USER_TOKEN_TYPE),
        &json!({"iss": "http://test/api/auth", "sub": sub, "ent": [sub, "group:default/team-a"],
                "aud": aud, "iat": iat, "exp": exp, "uip": uip}),
    )
    .unwrap()
}

fn limited_token(key: &EcSigningKey, sub: &str, exp: i64) -> String {
    let header = JwtHeader::es256(key.kid()).with_typ(LIMITED_USER_TOKEN_TYPE);
    key.sign(&header, &json!({"sub": sub, "iat": now(), "exp": exp}))
        .unwrap()
}

/// The stand-in auth plugin: publishes `key` as the user-token key set.
fn auth_plugin(key: Arc<EcSigningKey>) -> Feature {
    Feature::plugin_fn("auth", move |reg| {
        let key = key.clone();
        reg.init(&HTTP_ROUTER, move |http| async move {
            let jwks = json!({"keys": [key.public_jwk()]});
            http.use_router(Router::new().route(
                "/.well-known/jwks.json",
                get(move || {
                    let jwks = jwks.clone();
                    async move { Json(jwks) }
                }),
            ));
            http.add_auth_policy(AuthPolicy {
                path: "/.well-known".into(),
                allow: AuthPolicyAllow::Unauthenticated,
            });
            Ok(())
        })
    })
}

fn describe(c: &Credentials) -> Value {
    json!({
        "kind": c.kind().as_str(),
        "user": c.user_entity_ref(),
        "service": c.service_subject(),
        "limited": c.is_limited(),
    })
}

/// A plugin answering `/whoami` with its caller, `/call/{target}` by calling `target`'s
/// `/whoami` as itself, and `/obo/{target}` by calling it on behalf of its caller. `/files`
/// accepts the user cookie.
fn probe_plugin(id: &'static str) -> Feature {
    Feature::plugin_fn(id, move |reg| {
        reg.init(
            (&HTTP_ROUTER, &AUTH, &DISCOVERY),
            move |(http, auth, discovery)| async move {
                #[derive(Clone)]
                struct S {
                    auth: Arc<dyn AuthService>,
                    discovery: Arc<dyn backlot::services::discovery::DiscoveryService>,
                }
                async fn call(s: &S, creds: &Credentials, target: &str) -> Json<Value> {
                    let token = match s.auth.plugin_request_token(creds, target).await {
                        Ok(t) => t,
                        Err(e) => return Json(json!({"mintError": e.to_string()})),
                    };
                    let res = reqwest::Client::new()
                        .get(format!("{}/whoami", s.discovery.base_url(target)))
                        .bearer_auth(token)
                        .send()
                        .await
                        .unwrap();
                    let status = res.status().as_u16();
                    Json(json!({"status": status, "body": res.json::<Value>().await.unwrap_or(Value::Null)}))
                }
                let s = S { auth: auth.clone(), discovery };
                http.use_router(
                    Router::new()
                        .route(
                            "/whoami",
                            get(|Extension(c): Extension<Credentials>| async move {
                                Json(describe(&c))
                            }),
                        )
                        .route(
                            "/files/{name}",
                            get(|Extension(c): Extension<Credentials>| async move {
                                Json(describe(&c))
                            }),
                        )
                        .route(
                            "/call/{target}",
                            get(|State(s): State<S>, Path(target): Path<String>| async move {
                                let own = s.auth.own_service_credentials();
                                call(&s, &own, &target).await
                            }),
                        )
                        .route(
                            "/mint/{target}",
                            get(|State(s): State<S>, Path(target): Path<String>| async move {
                                let own = s.auth.own_service_credentials();
                                let token = s.auth.plugin_request_token(&own, &target).await.unwrap();
                                Json(json!({ "token": token }))
                            }),
                        )
                        .route(
                            "/obo/{target}",
                            get(
                                |State(s): State<S>,
                                 Extension(c): Extension<Credentials>,
                                 Path(target): Path<String>| async move {
                                    call(&s, &c, &target).await
                                },
                            ),
                        )
                        .with_state(s),
                );
                http.add_auth_policy(AuthPolicy {
                    path: "/files".into(),
                    allow: AuthPolicyAllow::UserCookie,
                });
                Ok(())
            },
        )
    })
}

fn security_config(extra: &str) -> String {
    format!(
        "backend:\n  database:\n    client: better-sqlite3\n    connection: ':memory:'\n  auth:\n    externalAccess:\n      - type: static\n        options: {{ token: {STATIC_TOKEN}, subject: ci }}\n      - type: static\n        options: {{ token: {RESTRICTED_TOKEN}, subject: reader }}\n        accessRestrictions:\n          - plugin: alpha\n      - type: legacy\n        options: {{ secret: '{LEGACY_SECRET_B64}', subject: old-system }}\n{extra}"
    )
}

struct Harness {
    backend: BackendHandle,
    key: Arc<EcSigningKey>,
    http: reqwest::Client,
}

impl Harness {
    async fn start() -> Self {
        let key = Arc::new(EcSigningKey::generate("user-key-1").unwrap());
        let backend = Backend::builder()
            .listen_addr("127.0.0.1:0".parse().unwrap())
            .config_yaml(security_config(""))
            .add((
                auth_plugin(key.clone()),
                probe_plugin("alpha"),
                probe_plugin("beta"),
            ))
            .start()
            .await
            .expect("backend starts");
        Self {
            backend,
            key,
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.backend.base_url())
    }

    async fn get(&self, path: &str, auth: Option<&str>) -> (u16, Value) {
        let mut req = self.http.get(self.url(path));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

fn assert_error(status: u16, body: &Value, want: u16, name: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["error"]["name"], name, "{body}");
    assert_eq!(body["response"]["statusCode"], want, "{body}");
}

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

#[tokio::test]
async fn requests_without_valid_credentials_are_refused_with_401() {
    let h = Harness::start().await;
    let good = user_token(&h.key, "user:default/jane", now() + 600, "backstage");

    // No token at all; health stays open.
    let (s, b) = h.get("/api/alpha/whoami", None).await;
    assert_error(s, &b, 401, "AuthenticationError");
    let (s, _) = h.get("/.backstage/health/v1/liveness", None).await;
    assert_eq!(s, 200);
    // Unknown routes are not revealed to the unauthenticated either.
    let (s, b) = h.get("/api/alpha/no-such-route", None).await;
    assert_error(s, &b, 401, "AuthenticationError");

    // A valid user token works.
    let (s, b) = h
        .get("/api/alpha/whoami", Some(&format!("Bearer {good}")))
        .await;
    assert_eq!((s, &b["user"]), (200, &json!("user:default/jane")), "{b}");

    let mut attacks: Vec<(&str, String)> = Vec::new();
    // Expired.
    attacks.push((
        "expired",
        user_token(&h.key, "user:default/jane", now() - 5, "backstage"),
    ));
    // Signed by a key the auth plugin never published (same kid, other key).
    let rogue = EcSigningKey::generate("user-key-1").unwrap();
    attacks.push((
        "unknown key",
        user_token(&rogue, "user:default/admin", now() + 600, "backstage"),
    ));
    // Another audience.
    attacks.push((
        "other audience",
        user_token(&h.key, "user:default/jane", now() + 600, "not-backstage"),
    ));
    // alg: none, claims of an admin.
    let none_header = json!({"alg": "none", "kid": "user-key-1", "typ": USER_TOKEN_TYPE});
    let claims = json!({"sub": "user:default/admin", "aud": "backstage", "exp": now() + 600});
    attacks.push((
        "alg none",
        format!("{}.{}.", b64(&none_header), b64(&claims)),
    ));
    // HS256 "signed" with the published public key as the secret.
    let jwk_json = serde_json::to_vec(&h.key.public_jwk()).unwrap();
    let hs_header = json!({"alg": "HS256", "kid": "user-key-1", "typ": USER_TOKEN_TYPE});
    let input = format!("{}.{}", b64(&hs_header), b64(&claims));
    let tag = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &jwk_json),
        input.as_bytes(),
    );
    attacks.push((
        "hs256 with public key",
        format!(
            "{input}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref())
        ),
    ));
    // A tampered payload on a good signature.
    let parts: Vec<&str> = good.split('.').collect();
    let forged = json!({"sub": "user:default/admin", "aud": "backstage", "exp": now() + 600});
    attacks.push((
        "tampered claims",
        format!("{}.{}.{}", parts[0], b64(&forged), parts[2]),
    ));
    // Garbage and an oversized token.
    attacks.push(("garbage", "not-a-token".to_string()));
    attacks.push(("huge", "a".repeat(20_000)));

    for (what, token) in attacks {
        let (s, b) = h
            .get("/api/alpha/whoami", Some(&format!("Bearer {token}")))
            .await;
        assert!(s == 401 || s == 431, "{what}: {s} {b}");
        if s == 401 {
            assert_error(s, &b, 401, "AuthenticationError");
        }
    }
    h.backend.stop().await.unwrap();
}

#[tokio::test]
async fn plugin_tokens_are_bound_to_their_target_plugin() {
    let h = Harness::start().await;
    // alpha calls beta as itself: beta sees the service principal plugin:alpha.
    let (s, b) = h
        .get(
            "/api/alpha/call/beta",
            Some(&format!("Bearer {STATIC_TOKEN}")),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["status"], 200, "{b}");
    assert_eq!(b["body"]["service"], "plugin:alpha", "{b}");

    // On behalf of a user: beta sees the user.
    let jane = user_token(&h.key, "user:default/jane", now() + 600, "backstage");
    let (_, b) = h
        .get("/api/alpha/obo/beta", Some(&format!("Bearer {jane}")))
        .await;
    assert_eq!(b["body"]["user"], "user:default/jane", "{b}");

    // A plugin token minted for beta, replayed to alpha (or auth): refused.
    let token = mint(&h, "beta").await;
    let (s, b) = h
        .get("/api/beta/whoami", Some(&format!("Bearer {token}")))
        .await;
    assert_eq!((s, &b["service"]), (200, &json!("plugin:alpha")), "{b}");
    let (s, b) = h
        .get("/api/alpha/whoami", Some(&format!("Bearer {token}")))
        .await;
    assert_error(s, &b, 401, "AuthenticationError");

    // Keys are published without credentials.
    let (s, b) = h.get("/api/alpha/.backstage/auth/v1/jwks.json", None).await;
    assert_eq!(s, 200);
    assert_eq!(b["keys"][0]["kty"], "EC", "{b}");
    assert!(b["keys"][0].get("d").is_none(), "no private part: {b}");
    h.backend.stop().await.unwrap();
}

/// A plugin token alpha minted for `target` (alpha's `/mint/{target}` hands it out).
async fn mint(h: &Harness, target: &str) -> String {
    let (_, b) = h
        .get(
            &format!("/api/alpha/mint/{target}"),
            Some(&format!("Bearer {STATIC_TOKEN}")),
        )
        .await;
    b["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn limited_tokens_work_only_on_cookie_routes_and_external_tokens_stay_in_bounds() {
    let h = Harness::start().await;
    let limited = limited_token(&h.key, "user:default/jane", now() + 600);

    // A limited token as a bearer on a normal route: 401; on a cookie route: accepted.
    let (s, b) = h
        .get("/api/alpha/whoami", Some(&format!("Bearer {limited}")))
        .await;
    assert_error(s, &b, 401, "AuthenticationError");
    let res = h
        .http
        .get(h.url("/api/alpha/files/a.png"))
        .header("cookie", format!("backstage-auth={limited}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let b: Value = res.json().await.unwrap();
    assert_eq!(
        (&b["user"], &b["limited"]),
        (&json!("user:default/jane"), &json!(true))
    );
    // A cookie route still needs the cookie.
    let (s, b) = h.get("/api/alpha/files/a.png", None).await;
    assert_error(s, &b, 401, "AuthenticationError");
    // The cookie is ignored on a normal route.
    let res = h
        .http
        .get(h.url("/api/alpha/whoami"))
        .header("cookie", format!("backstage-auth={limited}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // The cookie route issues a limited token from a user token, usable on cookie routes.
    let jane = user_token(&h.key, "user:default/jane", now() + 600, "backstage");
    let res = h
        .http
        .get(h.url("/api/alpha/.backstage/auth/v1/cookie"))
        .bearer_auth(&jane)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Path=/api/alpha"),
        "{cookie}"
    );
    let value = cookie.split(';').next().unwrap().to_string();
    let res = h
        .http
        .get(h.url("/api/alpha/files/b.png"))
        .header("cookie", value)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // A static external token restricted to alpha: fine at alpha, 403 at beta.
    let (s, b) = h
        .get(
            "/api/alpha/whoami",
            Some(&format!("Bearer {RESTRICTED_TOKEN}")),
        )
        .await;
    assert_eq!((s, &b["service"]), (200, &json!("external:reader")), "{b}");
    let (s, b) = h
        .get(
            "/api/beta/whoami",
            Some(&format!("Bearer {RESTRICTED_TOKEN}")),
        )
        .await;
    assert_error(s, &b, 403, "NotAllowedError");
    // A near-miss of a static token is not accepted.
    let (s, b) = h
        .get(
            "/api/alpha/whoami",
            Some(&format!("Bearer {STATIC_TOKEN}x")),
        )
        .await;
    assert_error(s, &b, 401, "AuthenticationError");

    // Legacy HS256 with the configured secret: accepted with sub backstage-server only.
    let secret = base64::engine::general_purpose::STANDARD
        .decode(LEGACY_SECRET_B64)
        .unwrap();
    let legacy = jwt::sign_hs256(
        &secret,
        &json!({"sub": "backstage-server", "exp": now() + 60}),
    )
    .unwrap();
    let (s, b) = h
        .get("/api/alpha/whoami", Some(&format!("Bearer {legacy}")))
        .await;
    assert_eq!(
        (s, &b["service"]),
        (200, &json!("external:old-system")),
        "{b}"
    );
    let legacy = jwt::sign_hs256(&secret, &json!({"sub": "someone", "exp": now() + 60})).unwrap();
    let (s, _) = h
        .get("/api/alpha/whoami", Some(&format!("Bearer {legacy}")))
        .await;
    assert_eq!(s, 401);
    let legacy = jwt::sign_hs256(
        b"wrong-secret-wrong",
        &json!({"sub": "backstage-server", "exp": now() + 60}),
    )
    .unwrap();
    let (s, _) = h
        .get("/api/alpha/whoami", Some(&format!("Bearer {legacy}")))
        .await;
    assert_eq!(s, 401);

    // Forged proxy headers mean nothing without a proxy provider.
    let res = h
        .http
        .get(h.url("/api/alpha/whoami"))
        .header("x-forwarded-user", "admin")
        .header("x-forwarded-email", "admin@example.com")
        .header("x-auth-request-user", "admin")
        .header("x-oauth2-proxy-user", "admin")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    h.backend.stop().await.unwrap();
}

#[tokio::test]
async fn the_default_policy_can_be_disabled_and_nobody_is_then_none() {
    let key = Arc::new(EcSigningKey::generate("k").unwrap());
    let backend = Backend::builder()
        .listen_addr("127.0.0.1:0".parse().unwrap())
        .config_yaml(security_config(
            "    dangerouslyDisableDefaultAuthPolicy: true\n",
        ))
        .add((auth_plugin(key), probe_plugin("alpha")))
        .start()
        .await
        .unwrap();
    let res = reqwest::get(format!("{}/api/alpha/whoami", backend.base_url()))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["kind"], "none");
    // A bad token is still refused.
    let res = reqwest::Client::new()
        .get(format!("{}/api/alpha/whoami", backend.base_url()))
        .bearer_auth("bad")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    backend.stop().await.unwrap();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn two_deployments_verify_each_others_plugin_tokens_through_discovery() {
    let key = Arc::new(EcSigningKey::generate("k").unwrap());
    let (p1, p2) = (free_port(), free_port());
    let discovery = format!(
        "discovery:\n  endpoints:\n    - target: http://127.0.0.1:{p1}/api/{{{{pluginId}}}}\n      plugins: [alpha, auth]\n    - target: http://127.0.0.1:{p2}/api/{{{{pluginId}}}}\n      plugins: [beta]\n"
    );
    let one = Backend::builder()
        .listen_addr(format!("127.0.0.1:{p1}").parse().unwrap())
        .config_yaml(security_config(""))
        .config_yaml(discovery.clone())
        .add((auth_plugin(key.clone()), probe_plugin("alpha")))
        .start()
        .await
        .unwrap();
    let two = Backend::builder()
        .listen_addr(format!("127.0.0.1:{p2}").parse().unwrap())
        .config_yaml(security_config(""))
        .config_yaml(discovery)
        .add(probe_plugin("beta"))
        .start()
        .await
        .unwrap();
    let http = reqwest::Client::new();
    // alpha (deployment one) calls beta (deployment two): beta fetches alpha's keys from one.
    let b: Value = http
        .get(format!("{}/api/alpha/call/beta", one.base_url()))
        .bearer_auth(STATIC_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&b["status"], &b["body"]["service"]),
        (&json!(200), &json!("plugin:alpha")),
        "{b}"
    );
    // beta calls alpha back, on behalf of a user whose token two verifies with one's auth keys.
    let jane = user_token(&key, "user:default/jane", now() + 600, "backstage");
    let b: Value = http
        .get(format!("{}/api/beta/obo/alpha", two.base_url()))
        .bearer_auth(&jane)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&b["status"], &b["body"]["user"]),
        (&json!(200), &json!("user:default/jane")),
        "{b}"
    );
    two.stop().await.unwrap();
    one.stop().await.unwrap();
}
