//! Token verification: what the default-deny layer costs per request.
//!
//! - `es256_verify`: one ES256 signature check of a user identity token (`jwt::decode_verified`),
//!   what the first request with a new token pays.
//! - `authenticate_user_token`: `AUTH.authenticate` of a user token already seen, through a
//!   running backend's auth service (the verified-token cache: a SHA-256 of the token and a
//!   map lookup; the expiry is still checked).
//! - `authenticate_static_token`: an external access token.
//! - `mint_plugin_token`: `AUTH.plugin_request_token`, what each plugin-to-plugin call pays.
//!
//! Run with `cargo bench --bench auth_tokens`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::routing::get;
use backlot::backend::{Backend, Feature};
use backlot::services::auth::jwt::{self, EcSigningKey, JwtHeader};
use backlot::services::auth::{AUTH, AuthService, AuthenticateOptions, USER_TOKEN_TYPE};
use backlot::services::core_services::HTTP_ROUTER;
use backlot::services::http_router::{AuthPolicy, AuthPolicyAllow};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

const STATIC: &str = "bench-static-token-0123456789abcdef";

fn user_token(key: &EcSigningKey) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    key.sign(
        &JwtHeader::es256(key.kid()).with_typ(USER_TOKEN_TYPE),
        &json!({"iss": "http://bench/api/auth", "sub": "user:default/jane",
                "ent": ["user:default/jane", "group:default/team-a"],
                "aud": "backstage", "iat": now, "exp": now + 3600, "uip": "x"}),
    )
    .unwrap_or_else(|e| panic!("sign: {e}"))
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("runtime: {e}"));
    let key = Arc::new(EcSigningKey::generate("bench").unwrap_or_else(|e| panic!("key: {e}")));
    let token = user_token(&key);
    let jwk = key.public_jwk();

    let mut group = c.benchmark_group("auth_tokens");
    group.bench_function("es256_verify", |b| {
        b.iter(|| jwt::decode_verified(&token, std::slice::from_ref(&jwk)).is_ok())
    });

    // A backend with a stand-in auth plugin publishing the key, and a plugin to authenticate at.
    let published = key.clone();
    let auth_plugin = Feature::plugin_fn("auth", move |reg| {
        let key = published.clone();
        reg.init(&HTTP_ROUTER, move |http| async move {
            let jwks = json!({"keys": [key.public_jwk()]});
            http.use_router(axum::Router::new().route(
                "/.well-known/jwks.json",
                get(move || {
                    let jwks = jwks.clone();
                    async move { Json(jwks) }
                }),
            ));
            http.add_auth_policy(AuthPolicy {
                path: "/".into(),
                allow: AuthPolicyAllow::Unauthenticated,
            });
            Ok(())
        })
    });
    let (tx, rx) = std::sync::mpsc::channel::<Arc<dyn AuthService>>();
    let probe = Feature::plugin_fn("probe", move |reg| {
        let tx = tx.clone();
        reg.init(&AUTH, move |auth| async move {
            let _ = tx.send(auth);
            Ok(())
        })
    });
    let backend = rt
        .block_on(
            Backend::builder()
                .listen_addr(([127, 0, 0, 1], 0).into())
                .config_yaml(format!(
                    "backend:\n  database:\n    client: better-sqlite3\n    connection: ':memory:'\n  auth:\n    externalAccess:\n      - type: static\n        options: {{ token: {STATIC}, subject: bench }}\n"
                ))
                .add((auth_plugin, probe))
                .start(),
        )
        .unwrap_or_else(|e| panic!("backend: {e}"));
    let auth = rx.recv().unwrap_or_else(|e| panic!("auth: {e}"));
    let opts = AuthenticateOptions::default();
    // The first call fetches the key set and verifies the signature.
    rt.block_on(auth.authenticate(&token, opts))
        .unwrap_or_else(|e| panic!("authenticate: {e}"));
    group.bench_function("authenticate_user_token", |b| {
        b.iter(|| rt.block_on(auth.authenticate(&token, opts)).is_ok())
    });
    group.bench_function("authenticate_static_token", |b| {
        b.iter(|| rt.block_on(auth.authenticate(STATIC, opts)).is_ok())
    });
    let own = auth.own_service_credentials();
    group.bench_function("mint_plugin_token", |b| {
        b.iter(|| {
            rt.block_on(auth.plugin_request_token(&own, "catalog"))
                .is_ok()
        })
    });
    group.finish();
    rt.block_on(backend.stop())
        .unwrap_or_else(|e| panic!("stop: {e}"));
}

criterion_group!(benches, bench);
criterion_main!(benches);
