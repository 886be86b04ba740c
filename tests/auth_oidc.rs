#![allow(missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]
//! OpenID Connect sign-in against a real provider (`tests/support/oidc/provider.js`, started by
//! `.ci/run`; its issuer URL in `BACKLOT_TEST_OIDC_URL`): the redirect and popup flows end to
//! end with a plain HTTP client, the catalog user and groups in the token, refresh and logout,
//! and the refusals (tampered state, wrong ID token nonce, changed PKCE challenge, a user not
//! in the catalog).

#[path = "support/oidc/kit.rs"]
mod kit;

use kit::{Jar, Running};
use reqwest::redirect::Policy;
use serde_json::Value;

const APP: &str = "http://localhost:3000";

/// The provider's issuer URL, or `None` (the test is skipped) when the variable is unset. A
/// set but unreachable provider fails the test.
async fn provider() -> Option<String> {
    let Ok(url) = std::env::var("BACKLOT_TEST_OIDC_URL") else {
        println!("skipped: BACKLOT_TEST_OIDC_URL is not set");
        return None;
    };
    let url = url.trim_end_matches('/').to_string();
    let res = reqwest::get(format!("{url}/.well-known/openid-configuration"))
        .await
        .unwrap_or_else(|e| panic!("OIDC provider at {url} is unreachable: {e}"));
    assert!(
        res.status().is_success(),
        "OIDC provider answered {}",
        res.status()
    );
    Some(url)
}

async fn backend(issuer: &str) -> (tempfile::TempDir, Running) {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "app:\n  baseUrl: {APP}\nauth:\n  session:\n    secret: oidc-test-secret\n  providers:\n    oidc:\n      development:\n        metadataUrl: {issuer}/.well-known/openid-configuration\n        clientId: backlot\n        clientSecret: backlot-secret\n        prompt: login\n        signIn:\n          resolvers:\n            - resolver: emailMatchingUserEntityProfileEmail\n"
    );
    let b = kit::start(dir.path(), &yaml).await;
    (dir, b)
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// A browser: one cookie jar for the backend, one for the provider.
#[derive(Debug, Default)]
struct Browser {
    backend: Jar,
    idp: Jar,
}

fn path_of(url: &str) -> String {
    url::Url::parse(url).unwrap().path().to_string()
}

impl Browser {
    fn jar(&mut self, b: &Running, url: &str) -> &mut Jar {
        if url.starts_with(&b.url("/")) {
            &mut self.backend
        } else {
            &mut self.idp
        }
    }

    async fn get(&mut self, b: &Running, url: &str) -> reqwest::Response {
        let cookie = self.jar(b, url).header_for(&path_of(url));
        let res = http()
            .get(url)
            .header("Cookie", cookie)
            .send()
            .await
            .unwrap();
        self.jar(b, url).store(res.headers());
        res
    }

    async fn post_form(
        &mut self,
        b: &Running,
        url: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let cookie = self.jar(b, url).header_for(&path_of(url));
        let res = http()
            .post(url)
            .header("Cookie", cookie)
            .form(form)
            .send()
            .await
            .unwrap();
        self.jar(b, url).store(res.headers());
        res
    }

    /// Starts a sign-in; returns the provider's authorization URL.
    async fn start(&mut self, b: &Running, query: &str) -> String {
        let res = self
            .get(
                b,
                &b.url(&format!("/api/auth/oidc/start?env=development{query}")),
            )
            .await;
        assert_eq!(res.status(), 302);
        let nonce = self.backend.0.get("oidc-nonce").expect("nonce cookie");
        assert_eq!(nonce.1, "/api/auth/oidc/handler");
        location(&res)
    }

    /// Goes through the provider's pages as `login` from `authorize_url`, until the provider
    /// sends the browser back to the backend; returns that callback URL.
    async fn log_in_at_provider(
        &mut self,
        b: &Running,
        authorize_url: &str,
        login: &str,
    ) -> String {
        let mut url = authorize_url.to_string();
        for _ in 0..12 {
            if url.starts_with(&b.url("/")) {
                return url;
            }
            let res = self.get(b, &url).await;
            if res.status().is_redirection() {
                url = resolve(&url, &location(&res));
                continue;
            }
            let status = res.status();
            let page = res.text().await.unwrap();
            assert_eq!(status, 200, "{page}");
            let action = page
                .split("action=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or_else(|| panic!("no login form: {page}"));
            let res = self
                .post_form(b, &resolve(&url, action), &[("login", login)])
                .await;
            assert!(res.status().is_redirection(), "{}", res.status());
            url = resolve(&url, &location(&res));
        }
        panic!("the provider did not send the browser back");
    }

    async fn refresh(&mut self, b: &Running) -> reqwest::Response {
        let cookie = self.backend.header_for("/api/auth/oidc/refresh");
        let res = http()
            .get(b.url("/api/auth/oidc/refresh?env=development"))
            .header("X-Requested-With", "XMLHttpRequest")
            .header("Cookie", cookie)
            .send()
            .await
            .unwrap();
        self.backend.store(res.headers());
        res
    }
}

fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_string()
}

fn resolve(base: &str, href: &str) -> String {
    url::Url::parse(base)
        .unwrap()
        .join(href)
        .unwrap()
        .to_string()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn with_query_param(url: &str, name: &str, value: &str) -> String {
    let mut u = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name {
                value.to_string()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    u.query_pairs_mut().clear().extend_pairs(pairs);
    u.to_string()
}

const REDIRECT: &str = "&flow=redirect&redirectUrl=http%3A%2F%2Flocalhost%3A3000%2Fcatalog";

/// The whole redirect flow as `login`: the backend's answer to the provider's callback.
async fn redirect_sign_in(browser: &mut Browser, b: &Running, login: &str) -> reqwest::Response {
    let authorize = browser.start(b, REDIRECT).await;
    assert_eq!(
        query_param(&authorize, "code_challenge_method").as_deref(),
        Some("S256")
    );
    let callback = browser.log_in_at_provider(b, &authorize, login).await;
    browser.get(b, &callback).await
}

#[tokio::test]
async fn redirect_flow_signs_in_the_catalog_user_refreshes_and_logs_out() {
    let Some(issuer) = provider().await else {
        return;
    };
    let (_dir, b) = backend(&issuer).await;
    let mut browser = Browser::default();
    let res = redirect_sign_in(&mut browser, &b, "jane").await;
    assert_eq!(res.status(), 302);
    assert_eq!(location(&res), format!("{APP}/catalog"));
    let cookies = kit::set_cookies(res.headers());
    let refresh_cookie = cookies
        .iter()
        .find(|c| c.starts_with("oidc-refresh-token="))
        .expect("refresh cookie");
    assert!(
        refresh_cookie.contains("Path=/api/auth/oidc;"),
        "{refresh_cookie}"
    );
    assert!(refresh_cookie.contains("HttpOnly"), "{refresh_cookie}");
    assert!(refresh_cookie.contains("SameSite=Lax"), "{refresh_cookie}");
    // The nonce is single-use, and the cookie does not carry the provider's token readably.
    assert!(!browser.backend.0.contains_key("oidc-nonce"));
    let sealed = &browser.backend.0["oidc-refresh-token"].0;
    assert!(sealed.len() > 40);

    let res = browser.refresh(&b).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["profile"]["email"], "jane@example.com");
    assert_eq!(body["profile"]["displayName"], "Jane Doe");
    assert_eq!(body["profile"]["picture"], "https://example.com/jane.png");
    assert!(body["providerInfo"]["accessToken"].as_str().is_some());
    assert!(body["providerInfo"]["idToken"].as_str().is_some());
    let identity = &body["backstageIdentity"];
    assert_eq!(identity["identity"]["userEntityRef"], "user:default/jane");
    assert_eq!(
        identity["identity"]["ownershipEntityRefs"],
        serde_json::json!(["user:default/jane", "group:default/team-a"])
    );
    let token = identity["token"].as_str().unwrap();
    let (_, claims) = kit::verify(&b, token).await;
    assert_eq!(claims["sub"], "user:default/jane");
    assert_eq!(
        claims["ent"],
        serde_json::json!(["user:default/jane", "group:default/team-a"])
    );
    assert_eq!(claims["iss"], b.url("/api/auth"));

    // The token opens other plugins' routes behind the default-deny layer.
    let res = http()
        .get(b.url("/api/catalog/entities/by-name/user/default/jane"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = http()
        .get(b.url("/api/catalog/entities/by-name/user/default/jane"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // A second refresh works with the (possibly rotated) refresh token.
    assert_eq!(browser.refresh(&b).await.status(), 200);

    // Logout clears the cookie; refresh then fails.
    let cookie = browser.backend.header_for("/api/auth/oidc/logout");
    let res = http()
        .post(b.url("/api/auth/oidc/logout"))
        .header("X-Requested-With", "XMLHttpRequest")
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    browser.backend.store(res.headers());
    assert!(!browser.backend.0.contains_key("oidc-refresh-token"));
    let res = browser.refresh(&b).await;
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["name"], "AuthenticationError");
    b.stop().await;
}

#[tokio::test]
async fn plus_addressed_emails_and_unknown_users() {
    let Some(issuer) = provider().await else {
        return;
    };
    let (_dir, b) = backend(&issuer).await;
    // john+work@example.com matches john@example.com, a member of team-b.
    let mut browser = Browser::default();
    let res = redirect_sign_in(&mut browser, &b, "john").await;
    assert_eq!(location(&res), format!("{APP}/catalog"));
    let body: Value = browser.refresh(&b).await.json().await.unwrap();
    assert_eq!(
        body["backstageIdentity"]["identity"]["ownershipEntityRefs"],
        serde_json::json!(["user:default/john", "group:default/team-b"])
    );

    // A person the catalog does not know is sent back with the reason, and no session.
    let mut browser = Browser::default();
    let res = redirect_sign_in(&mut browser, &b, "ghost").await;
    assert_eq!(res.status(), 302);
    let target = location(&res);
    assert!(
        target.starts_with(&format!("{APP}/catalog?error=")),
        "{target}"
    );
    let error = query_param(&target, "error").unwrap();
    assert!(error.contains("unable to resolve user identity"), "{error}");
    assert!(!browser.backend.0.contains_key("oidc-refresh-token"));
    assert_eq!(browser.refresh(&b).await.status(), 401);
    b.stop().await;
}

#[tokio::test]
async fn tampered_state_wrong_nonce_and_changed_pkce_challenge_are_refused() {
    let Some(issuer) = provider().await else {
        return;
    };
    let (_dir, b) = backend(&issuer).await;

    // A state whose nonce is not the one in the browser's cookie.
    let mut browser = Browser::default();
    let authorize = browser.start(&b, REDIRECT).await;
    let callback = browser.log_in_at_provider(&b, &authorize, "jane").await;
    let state = query_param(&callback, "state").unwrap();
    let decoded = String::from_utf8(
        (0..state.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&state[i..i + 2], 16).unwrap())
            .collect(),
    )
    .unwrap();
    let nonce = decoded.split('&').next().unwrap();
    let forged: String = decoded
        .replacen(nonce, "nonce=forged", 1)
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    let res = browser
        .get(&b, &with_query_param(&callback, "state", &forged))
        .await;
    assert_eq!(res.status(), 302);
    let target = location(&res);
    assert_eq!(
        query_param(&target, "error").as_deref(),
        Some("Invalid nonce")
    );
    assert!(!browser.backend.0.contains_key("oidc-refresh-token"));

    // A state that is not one at all gets the popup's error page.
    let mut browser = Browser::default();
    let authorize = browser.start(&b, "").await;
    let callback = browser.log_in_at_provider(&b, &authorize, "jane").await;
    let res = browser
        .get(&b, &with_query_param(&callback, "state", "zz"))
        .await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains("NotAllowedError"), "{page}");
    assert!(!browser.backend.0.contains_key("oidc-refresh-token"));

    // An ID token issued for another nonce.
    let mut browser = Browser::default();
    let authorize = browser.start(&b, REDIRECT).await;
    let authorize = with_query_param(&authorize, "nonce", "someone-elses-nonce");
    let callback = browser.log_in_at_provider(&b, &authorize, "jane").await;
    let res = browser.get(&b, &callback).await;
    let error = query_param(&location(&res), "error").unwrap();
    assert!(error.contains("nonce does not match"), "{error}");
    assert!(!browser.backend.0.contains_key("oidc-refresh-token"));

    // A code requested with another PKCE challenge cannot be redeemed by the backend.
    let mut browser = Browser::default();
    let authorize = browser.start(&b, REDIRECT).await;
    let authorize = with_query_param(
        &authorize,
        "code_challenge",
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    );
    let callback = browser.log_in_at_provider(&b, &authorize, "jane").await;
    let res = browser.get(&b, &callback).await;
    let error = query_param(&location(&res), "error").unwrap();
    assert!(error.contains("Authentication failed"), "{error}");
    assert!(!browser.backend.0.contains_key("oidc-refresh-token"));
    b.stop().await;
}

#[tokio::test]
async fn popup_flow_posts_the_identity_to_the_app_origin_only() {
    let Some(issuer) = provider().await else {
        return;
    };
    let (_dir, b) = backend(&issuer).await;
    let mut browser = Browser::default();
    let authorize = browser.start(&b, "").await;
    let callback = browser.log_in_at_provider(&b, &authorize, "jane").await;
    let res = browser.get(&b, &callback).await;
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.starts_with("script-src 'sha256-"), "{csp}");
    assert_eq!(res.headers()["x-frame-options"], "sameorigin");
    assert!(browser.backend.0.contains_key("oidc-refresh-token"));
    let page = res.text().await.unwrap();
    let encoded = page
        .split("decodeURIComponent('")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .unwrap();
    let message: Value = serde_json::from_str(
        &percent_encoding::percent_decode_str(encoded)
            .decode_utf8()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(message["type"], "authorization_response");
    assert_eq!(
        message["response"]["backstageIdentity"]["identity"]["userEntityRef"],
        "user:default/jane"
    );
    assert!(
        page.contains("decodeURIComponent('http%3A%2F%2Flocalhost%3A3000')"),
        "{page}"
    );

    // Another origin, or a redirect off the app's origin, is refused before the provider.
    let res = browser
        .get(
            &b,
            &b.url("/api/auth/oidc/start?env=development&origin=https%3A%2F%2Fevil.example"),
        )
        .await;
    assert_eq!(res.status(), 403);
    b.stop().await;
}
