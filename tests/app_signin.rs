#![allow(missing_docs)]
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used)]
//! Signing in to the app over HTTP, as a browser without JavaScript would: the portal's
//! plugins (catalog, auth with the guest provider, the app) with default-deny auth, a client
//! that keeps cookies by hand and never follows redirects.

use std::path::PathBuf;

use backlot::backend::{Backend, BackendHandle, Feature};
use backlot::frontend::App;
use backlot::plugins::app::app_plugin;
use backlot::plugins::auth;
use backlot::plugins::catalog::CatalogPlugin;
use backlot::plugins::catalog::frontend::catalog_frontend_plugin;
use backlot::services::auth::jwt::{EcSigningKey, JwtHeader, decode_unverified};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// The real `AUTH` service (not the test kit's mock): the app verifies the auth plugin's
/// tokens against its published keys, and every plugin route is default-deny.
async fn portal() -> BackendHandle {
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/demo-catalog/all.yaml");
    Backend::builder()
        .listen_addr(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .config_yaml("backend:\n  database:\n    client: better-sqlite3\n    connection: ':memory:'\n")
        .add_feature(Feature::plugin(CatalogPlugin::new()))
        .add_feature(Feature::plugin(auth::backend::plugin()))
        .add_feature(app_plugin(App::builder().feature(catalog_frontend_plugin())))
        .config_yaml(format!(
            "app:\n  title: Northwind Portal\nauth:\n  environment: development\n  providers:\n    guest: {{}}\ncatalog:\n  rules:\n    - allow: [Component, API, Resource, System, Domain, Group, User, Location, Template]\n  locations:\n    - type: file\n      target: {}\n",
            demo.display()
        ))
        .start()
        .await
        .unwrap()
}

/// A browser-like client: no redirects followed, cookies set by hand.
struct Browser {
    base: String,
    http: reqwest::Client,
}

struct Answer {
    status: u16,
    location: Option<String>,
    set_cookie: Option<String>,
    body: String,
}

impl Browser {
    fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        let res = req.send().await.unwrap();
        let header = |name: &str| {
            res.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
        };
        let (location, set_cookie) = (header("location"), header("set-cookie"));
        let status = res.status().as_u16();
        Answer {
            status,
            location,
            set_cookie,
            body: res.text().await.unwrap(),
        }
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> Answer {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(cookie) = cookie {
            req = req.header("cookie", cookie);
        }
        self.send(req).await
    }

    async fn post_form(&self, path: &str, form: &[(&str, &str)], cookie: Option<&str>) -> Answer {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("origin", &self.base)
            .form(form);
        if let Some(cookie) = cookie {
            req = req.header("cookie", cookie);
        }
        self.send(req).await
    }
}

/// `name=value` of a `Set-Cookie`.
fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().trim().to_string()
}

/// The identity token inside the app's session cookie.
fn token_in(cookie: &str) -> String {
    let value = cookie.strip_prefix("backlot-session=v1.").unwrap();
    let json: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(value).unwrap()).unwrap();
    json["t"].as_str().unwrap().to_string()
}

fn session_with(token: &str) -> String {
    let json = serde_json::json!({ "t": token, "p": "guest" }).to_string();
    format!("backlot-session=v1.{}", URL_SAFE_NO_PAD.encode(json))
}

async fn sign_in_as_guest(browser: &Browser, next: &str) -> (Answer, String) {
    let res = browser
        .post_form("/signin/guest", &[("next", next)], None)
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let cookie = cookie_pair(res.set_cookie.as_deref().unwrap());
    (res, cookie)
}

#[tokio::test]
async fn a_guest_signs_in_and_the_catalog_shows_what_the_api_shows_them() {
    let backend = portal().await;
    let browser = Browser::new(&backend.url(""));

    // Not signed in: pages send people to sign in, remembering the page.
    let res = browser.get("/catalog?kind=system", None).await;
    assert_eq!(res.status, 303);
    assert_eq!(
        res.location.as_deref(),
        Some("/signin?next=%2Fcatalog%3Fkind%3Dsystem")
    );
    // The API itself refuses an anonymous caller.
    let anon = browser
        .get("/api/catalog/entities/by-query?filter=kind=system", None)
        .await;
    assert_eq!(anon.status, 401, "{}", anon.body);

    let page = browser
        .get("/signin?next=%2Fcatalog%3Fkind%3Dsystem", None)
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(r#"action="/signin/guest""#),
        "{}",
        page.body
    );

    // One POST signs in and returns to the page.
    let (res, cookie) = sign_in_as_guest(&browser, "/catalog?kind=system").await;
    assert_eq!(res.location.as_deref(), Some("/catalog?kind=system"));
    let set = res.set_cookie.unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    let token = token_in(&cookie);
    let sub = decode_unverified(&token).unwrap().claims["sub"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(sub, "user:development/guest");

    // The page lists exactly what the API lists for that user's token.
    let page = browser.get("/catalog?kind=system", Some(&cookie)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let api: Value = browser
        .send(
            browser
                .http
                .get(format!(
                    "{}/api/catalog/entities/by-query?filter=kind=system&limit=100",
                    browser.base
                ))
                .bearer_auth(&token),
        )
        .await
        .body
        .parse::<Value>()
        .unwrap();
    let total = api["totalItems"].as_u64().unwrap();
    assert!(total > 0);
    assert!(
        page.body.contains(&format!("All Systems ({total})")),
        "{}",
        page.body
    );
    for item in api["items"].as_array().unwrap() {
        let title = item["metadata"]["title"]
            .as_str()
            .or(item["metadata"]["name"].as_str())
            .unwrap();
        assert!(page.body.contains(title), "{title} missing");
    }
    // The sidebar names the user and offers sign-out.
    assert!(
        page.body
            .contains(r#"class="bl-user-name" title="user:development/guest""#),
        "{}",
        page.body
    );
    assert!(page.body.contains(r#"action="/signout""#));

    // Sign-out clears the session; the next page asks to sign in again.
    let res = browser.post_form("/signout", &[], Some(&cookie)).await;
    assert_eq!(res.status, 303);
    assert!(res.set_cookie.unwrap().contains("Max-Age=0"));
    assert!(res.location.unwrap().starts_with("/signin"));
    let res = browser.get("/catalog", None).await;
    assert_eq!(res.status, 303);

    backend.stop().await.unwrap();
}

#[tokio::test]
async fn forged_sessions_cross_site_sign_ins_and_open_redirects_are_refused() {
    let backend = portal().await;
    let browser = Browser::new(&backend.url(""));
    let (_, cookie) = sign_in_as_guest(&browser, "/catalog").await;
    let token = token_in(&cookie);
    assert_eq!(browser.get("/catalog", Some(&cookie)).await.status, 200);

    // The same token with another user in its claims (the signature no longer matches).
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    claims["sub"] = "user:default/admin".into();
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    let tampered = parts.join(".");
    // A token signed by a key of the attacker's, with the real key id.
    let kid = decode_unverified(&token).unwrap().header.kid.unwrap();
    let own = EcSigningKey::generate(&kid).unwrap();
    let forged = own
        .sign(
            &JwtHeader::es256(&kid).with_typ("vnd.backstage.user"),
            &claims,
        )
        .unwrap();
    // An expired token, otherwise well formed (signed by the attacker's key: the real key
    // never signs one in the past).
    claims["exp"] = 1_000_000.into();
    claims["sub"] = "user:development/guest".into();
    let expired = own
        .sign(
            &JwtHeader::es256(&kid).with_typ("vnd.backstage.user"),
            &claims,
        )
        .unwrap();
    for bad in [
        session_with(&tampered),
        session_with(&forged),
        session_with(&expired),
        session_with("not-a-jwt"),
        "backlot-session=garbage".to_string(),
    ] {
        let res = browser.get("/catalog", Some(&bad)).await;
        assert_eq!(res.status, 303, "{bad}");
        assert_eq!(res.location.as_deref(), Some("/signin?next=%2Fcatalog"));
        assert!(res.set_cookie.unwrap().contains("Max-Age=0"));
    }

    // A sign-in POST from another site sets nothing.
    let res = browser
        .send(
            browser
                .http
                .post(format!("{}/signin/guest", browser.base))
                .header("origin", "https://evil.example")
                .form(&[("next", "/catalog")]),
        )
        .await;
    assert_eq!(res.status, 403);
    assert!(res.set_cookie.is_none());
    // So does a JSON session POST from another site, or without JSON.
    let res = browser
        .send(
            browser
                .http
                .post(format!("{}/signin/session", browser.base))
                .header("origin", "https://evil.example")
                .json(&serde_json::json!({ "provider": "guest", "token": token })),
        )
        .await;
    assert!(res.set_cookie.is_none());
    assert!(res.status >= 400);

    // `next` cannot send anyone off the site.
    for next in [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
    ] {
        let (res, _) = sign_in_as_guest(&browser, next).await;
        assert_eq!(res.location.as_deref(), Some("/"), "{next}");
        let page = browser
            .get(
                &format!(
                    "/signin?next={}",
                    url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                ),
                None,
            )
            .await;
        assert!(page.body.contains(r#"name="next" value="/""#), "{next}");
    }

    backend.stop().await.unwrap();
}
