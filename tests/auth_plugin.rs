#![allow(missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The auth plugin over HTTP: guest sign-in, identity tokens and their keys, key rotation
//! across restarts, the CSRF header on refresh, logout, discovery and userinfo.

#[path = "support/oidc/kit.rs"]
mod kit;

use backlot::services::auth::jwt;
use kit::Running;
use reqwest::redirect::Policy;
use serde_json::Value;

const DEV_GUEST: &str = "auth:\n  environment: development\n  providers:\n    guest: {}\n";

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

async fn refresh(b: &Running, provider: &str) -> reqwest::Response {
    http()
        .get(b.url(&format!("/api/auth/{provider}/refresh?env=development")))
        .header("X-Requested-With", "XMLHttpRequest")
        .send()
        .await
        .unwrap()
}

fn error_name(body: &Value) -> &str {
    body["error"]["name"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn guest_refresh_issues_a_token_that_verifies_against_the_jwks() {
    let dir = tempfile::tempdir().unwrap();
    let b = kit::start(dir.path(), DEV_GUEST).await;
    let res = refresh(&b, "guest").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["profile"]["displayName"], "Guest");
    let identity = &body["backstageIdentity"];
    assert_eq!(identity["identity"]["type"], "user");
    assert_eq!(
        identity["identity"]["userEntityRef"],
        "user:development/guest"
    );
    assert_eq!(
        identity["identity"]["ownershipEntityRefs"],
        serde_json::json!(["user:development/guest"])
    );
    let expires = identity["expiresInSeconds"].as_i64().unwrap();
    assert!((3590..=3600).contains(&expires), "{expires}");

    let token = identity["token"].as_str().unwrap();
    let (header, claims) = kit::verify(&b, token).await;
    assert_eq!(header.alg, "ES256");
    assert_eq!(header.typ.as_deref(), Some("vnd.backstage.user"));
    assert!(header.kid.is_some());
    assert_eq!(claims["iss"], b.url("/api/auth"));
    assert_eq!(claims["sub"], "user:development/guest");
    assert_eq!(claims["aud"], "backstage");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    assert!(claims["uip"].as_str().is_some_and(|s| s.len() > 40));

    // Tampering with the claims breaks the signature.
    let parts: Vec<&str> = token.split('.').collect();
    let forged_claims = {
        use base64::Engine;
        let mut c = claims.clone();
        c["sub"] = "user:default/admin".into();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(c.to_string())
    };
    let forged = format!("{}.{}.{}", parts[0], forged_claims, parts[2]);
    assert!(jwt::decode_verified(&forged, &kit::jwks(&b).await).is_err());

    // userinfo answers what was recorded for the caller's token.
    let res = http()
        .get(b.url("/api/auth/v1/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let info: Value = res.json().await.unwrap();
    assert_eq!(info["claims"]["sub"], "user:development/guest");
    let res = http()
        .get(b.url("/api/auth/v1/userinfo"))
        .bearer_auth(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    b.stop().await;
}

#[tokio::test]
async fn guest_as_a_catalog_user_owns_through_its_groups() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "auth:\n  environment: development\n  backstageTokenExpiration: { minutes: 30 }\n  providers:\n    guest:\n      userEntityRef: user:default/jane\n";
    let b = kit::start(dir.path(), yaml).await;
    let body: Value = refresh(&b, "guest").await.json().await.unwrap();
    let token = body["backstageIdentity"]["token"].as_str().unwrap();
    let (_, claims) = kit::verify(&b, token).await;
    assert_eq!(claims["sub"], "user:default/jane");
    assert_eq!(
        claims["ent"],
        serde_json::json!(["user:default/jane", "group:default/team-a"])
    );
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        1800
    );
    b.stop().await;
}

#[tokio::test]
async fn guest_is_refused_outside_development() {
    let dir = tempfile::tempdir().unwrap();
    let b = kit::start(
        dir.path(),
        "auth:\n  environment: production\n  providers:\n    guest: {}\n",
    )
    .await;
    let res = refresh(&b, "guest").await;
    assert_eq!(res.status(), 501);
    let body: Value = res.json().await.unwrap();
    assert_eq!(error_name(&body), "NotImplementedError");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("dangerouslyAllowOutsideDevelopment")
    );
    // The popup flow is refused the same way.
    let res = http()
        .get(b.url("/api/auth/guest/handler/frame"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 501);
    b.stop().await;

    let allowed = "auth:\n  environment: production\n  providers:\n    guest:\n      dangerouslyAllowOutsideDevelopment: true\n";
    let b = kit::start(dir.path(), allowed).await;
    assert_eq!(refresh(&b, "guest").await.status(), 200);
    b.stop().await;
}

#[tokio::test]
async fn refresh_and_logout_need_the_xhr_header_and_unknown_providers_are_404() {
    let dir = tempfile::tempdir().unwrap();
    let b = kit::start(dir.path(), DEV_GUEST).await;
    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        let res = http()
            .request(
                method.clone(),
                b.url("/api/auth/guest/refresh?env=development"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{method}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(error_name(&body), "AuthenticationError");
        assert_eq!(body["error"]["message"], "Invalid X-Requested-With header");
    }
    let res = http()
        .post(b.url("/api/auth/guest/refresh?env=development"))
        .header("X-Requested-With", "XMLHttpRequest")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = http()
        .post(b.url("/api/auth/guest/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = refresh(&b, "github").await;
    assert_eq!(res.status(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["message"], "Unknown auth provider 'github'");
    // The guest start redirects to its frame handler, which posts the identity to the app.
    let res = http()
        .get(b.url("/api/auth/guest/start?env=development"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"], "handler/frame");
    let res = http()
        .get(b.url("/api/auth/guest/handler/frame"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("script-src 'sha256-")
    );
    let page = res.text().await.unwrap();
    assert!(page.contains("postMessage"), "{page}");
    assert!(page.contains("authorization_response"), "{page}");
    b.stop().await;
}

#[tokio::test]
async fn logout_clears_the_refresh_cookie_of_its_provider() {
    let dir = tempfile::tempdir().unwrap();
    // Logging out never reaches the provider, so its metadata URL is never fetched.
    let yaml = "app:\n  baseUrl: http://localhost:3000\nauth:\n  session:\n    secret: test-secret\n  providers:\n    oidc:\n      development:\n        metadataUrl: http://127.0.0.1:9/.well-known/openid-configuration\n        clientId: backlot\n        clientSecret: s\n";
    let b = kit::start(dir.path(), yaml).await;
    let res = http()
        .post(b.url("/api/auth/oidc/logout"))
        .header("X-Requested-With", "XMLHttpRequest")
        .header("Cookie", "oidc-refresh-token=abc")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cookies = kit::set_cookies(res.headers());
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let c = &cookies[0];
    assert!(c.starts_with("oidc-refresh-token=;"), "{c}");
    assert!(c.contains("Max-Age=0"), "{c}");
    assert!(c.contains("Path=/api/auth/oidc"), "{c}");
    assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax"), "{c}");
    assert!(!c.contains("Secure"), "{c}");
    // A refresh with a cookie that was not sealed by this backend fails.
    let res = http()
        .get(b.url("/api/auth/oidc/refresh?env=development"))
        .header("X-Requested-With", "XMLHttpRequest")
        .header("Cookie", "oidc-refresh-token=abc")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Invalid session cookie")
    );
    // An environment that is not configured, and a redirect off the app's origin.
    let res = refresh_env(&b, "production").await;
    assert_eq!(res.status(), 404);
    let res = http()
        .get(b.url(
            "/api/auth/oidc/start?env=development&flow=redirect&redirectUrl=https%3A%2F%2Fevil.example%2F",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    b.stop().await;
}

async fn refresh_env(b: &Running, env: &str) -> reqwest::Response {
    http()
        .get(b.url(&format!("/api/auth/oidc/refresh?env={env}")))
        .header("X-Requested-With", "XMLHttpRequest")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn openid_configuration_describes_the_issuer() {
    let dir = tempfile::tempdir().unwrap();
    let b = kit::start(dir.path(), DEV_GUEST).await;
    let res = http()
        .get(b.url("/api/auth/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let c: Value = res.json().await.unwrap();
    let base = b.url("/api/auth");
    assert_eq!(c["issuer"], base);
    assert_eq!(c["jwks_uri"], format!("{base}/.well-known/jwks.json"));
    assert_eq!(c["userinfo_endpoint"], format!("{base}/v1/userinfo"));
    assert_eq!(c["token_endpoint"], format!("{base}/v1/token"));
    assert_eq!(c["subject_types_supported"], serde_json::json!(["public"]));
    assert_eq!(c["claims_supported"], serde_json::json!(["sub", "ent"]));
    assert_eq!(
        c["id_token_signing_alg_values_supported"],
        serde_json::json!(["ES256"])
    );
    // No keys are made before the first token.
    assert!(kit::jwks(&b).await.is_empty());
    b.stop().await;
}

fn kid(token: &str) -> String {
    jwt::decode_unverified(token).unwrap().header.kid.unwrap()
}

async fn guest_token(b: &Running) -> String {
    let body: Value = refresh(b, "guest").await.json().await.unwrap();
    body["backstageIdentity"]["token"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn keys_survive_restarts_and_old_keys_verify_their_tokens_after_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    std::fs::create_dir_all(&db).unwrap();
    // The issuer is the external base URL: fixed across restarts, as in a deployment.
    let yaml = format!(
        "backend:\n  baseUrl: http://localhost:7007\n{DEV_GUEST}  session:\n    secret: rotation-secret\n"
    );
    let b = kit::start_with_db(dir.path(), &yaml, Some(&db)).await;
    let first = guest_token(&b).await;
    b.stop().await;

    // A restart within the key's lifetime signs with the same key (kept sealed in the DB).
    let b = kit::start_with_db(dir.path(), &yaml, Some(&db)).await;
    let again = guest_token(&b).await;
    assert_eq!(kid(&again), kid(&first));
    b.stop().await;

    // Once the key is older than the token lifetime, the next token gets a new key, and the
    // old public key stays published while tokens it signed are unexpired.
    age_keys(&db, 3700, None).await;
    let b = kit::start_with_db(dir.path(), &yaml, Some(&db)).await;
    let rotated = guest_token(&b).await;
    assert_ne!(kid(&rotated), kid(&first));
    let keys = kit::jwks(&b).await;
    assert_eq!(keys.len(), 2);
    assert!(jwt::decode_verified(&first, &keys).is_ok());
    assert!(jwt::decode_verified(&rotated, &keys).is_ok());
    let res = http()
        .get(b.url("/api/auth/v1/userinfo"))
        .bearer_auth(&first)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    b.stop().await;

    // Three lifetimes after its creation the old key is gone.
    age_keys(&db, 7300, Some(&kid(&first))).await;
    let b = kit::start_with_db(dir.path(), &yaml, Some(&db)).await;
    let keys = kit::jwks(&b).await;
    assert_eq!(keys.len(), 1);
    assert!(jwt::decode_verified(&first, &keys).is_err());
    b.stop().await;
}

/// Makes the auth plugin's signing keys in `db` (the one `kid`, or all) `secs` older.
async fn age_keys(db: &std::path::Path, secs: i64, kid: Option<&str>) {
    use backlot::services::database::{DatabaseManager, Sql};
    let config = serde_json::json!({"client": "better-sqlite3", "connection": {"directory": db}});
    let manager = DatabaseManager::from_config(Some(&config), db).unwrap();
    let auth_db = manager.for_plugin("auth").await.unwrap();
    let sql = match kid {
        Some(k) => Sql::new("UPDATE signing_keys SET created_at = created_at - ? WHERE kid = ?")
            .bind(secs)
            .bind(k),
        None => Sql::new("UPDATE signing_keys SET created_at = created_at - ?").bind(secs),
    };
    assert!(sql.execute(&auth_db).await.unwrap() >= 1);
    manager.close().await;
}

#[tokio::test]
async fn identity_tokens_become_user_cookies_that_verify_against_the_jwks() {
    let dir = tempfile::tempdir().unwrap();
    let b = kit::start(dir.path(), DEV_GUEST).await;
    let token = guest_token(&b).await;
    // The core rebuilds a limited token from the `uip` claim; it must carry the auth
    // plugin's signature.
    let res = http()
        .get(b.url("/api/catalog/.backstage/auth/v1/cookie"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cookie = kit::set_cookies(res.headers())
        .into_iter()
        .find(|c| c.starts_with("backstage-auth="))
        .expect("user cookie");
    let limited = cookie["backstage-auth=".len()..].split(';').next().unwrap();
    let (header, claims) = jwt::decode_verified(limited, &kit::jwks(&b).await)
        .expect("the limited token verifies against the auth plugin's keys");
    assert_eq!(header.typ.as_deref(), Some("vnd.backstage.limited-user"));
    assert_eq!(claims["sub"], "user:development/guest");
    assert!(claims.get("ent").is_none());
    // What the core asks the auth plugin about a limited token: its user's ownership.
    for req in [
        http()
            .get(b.url("/api/auth/v1/userinfo"))
            .bearer_auth(limited),
        http()
            .get(b.url("/api/auth/v1/userinfo"))
            .header("Cookie", format!("backstage-auth={limited}")),
    ] {
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 200);
        let info: Value = res.json().await.unwrap();
        assert_eq!(
            info["claims"]["ent"],
            serde_json::json!(["user:development/guest"])
        );
    }
    let res = http()
        .get(b.url("/api/auth/v1/userinfo"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    b.stop().await;
}
