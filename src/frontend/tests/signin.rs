//! Sign-in through the app's router: a fake auth backend (guest refresh, logout) and a plugin
//! that echoes the `Authorization` it receives, on a loopback port; an [`AuthService`] that
//! accepts tokens `valid:<entity ref>`.

use std::sync::Mutex;

use axum::Json;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use serde_json::Value;

use super::*;
use crate::services::auth::{
    AuthError, AuthService, AuthenticateOptions, Credentials, LimitedToken, jwt::JwkSet,
};

#[derive(Debug)]
struct PrefixAuth;

#[async_trait::async_trait]
impl AuthService for PrefixAuth {
    async fn authenticate(
        &self,
        token: &str,
        _: AuthenticateOptions,
    ) -> Result<Credentials, AuthError> {
        match token.strip_prefix("valid:") {
            Some(user) => Ok(Credentials::user(user).with_token(token)),
            None if token.starts_with("service:") => Ok(Credentials::service("plugin:x")),
            None => Err(AuthError::Authentication("bad token".into())),
        }
    }
    fn own_service_credentials(&self) -> Credentials {
        Credentials::service("plugin:app")
    }
    async fn plugin_request_token(&self, _: &Credentials, _: &str) -> Result<String, AuthError> {
        Err(AuthError::Internal("unused".into()))
    }
    async fn limited_user_token(&self, _: &Credentials) -> Result<LimitedToken, AuthError> {
        Err(AuthError::Internal("unused".into()))
    }
    async fn list_public_service_keys(&self) -> Result<JwkSet, AuthError> {
        Ok(JwkSet::default())
    }
}

#[derive(Default)]
struct Seen {
    refresh_headers: Vec<(Option<String>, String)>,
    logouts: Vec<String>,
}

/// The fake backend: `/api/auth/guest/refresh` answers a token for `token_for`,
/// `/api/auth/guest/logout` records the call, `/api/echo/whoami` echoes `Authorization`.
async fn backend(token_for: &'static str, seen: Arc<Mutex<Seen>>) -> String {
    let s1 = seen.clone();
    let s2 = seen.clone();
    let app = axum::Router::new()
        .route(
            "/api/auth/guest/refresh",
            get(move |headers: HeaderMap, uri: http::Uri| {
                let seen = s1.clone();
                async move {
                    seen.lock().unwrap().refresh_headers.push((
                        headers
                            .get("x-requested-with")
                            .map(|v| v.to_str().unwrap().to_string()),
                        uri.query().unwrap_or("").to_string(),
                    ));
                    Json(json!({
                        "profile": { "displayName": "Gus Guest" },
                        "providerInfo": {},
                        "backstageIdentity": {
                            "token": token_for,
                            "expiresInSeconds": 3600,
                            "identity": { "type": "user", "userEntityRef": "user:development/guest", "ownershipEntityRefs": [] }
                        }
                    }))
                }
            }),
        )
        .route(
            "/api/auth/guest/logout",
            post(move |headers: HeaderMap| {
                let seen = s2.clone();
                async move {
                    let auth = headers
                        .get("authorization")
                        .map(|v| v.to_str().unwrap().to_string())
                        .unwrap_or_default();
                    seen.lock().unwrap().logouts.push(auth);
                    ""
                }
            }),
        )
        .route(
            "/api/techdocs/.backstage/auth/v1/cookie",
            get(|headers: HeaderMap| async move {
                let auth = headers
                    .get("authorization")
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_default();
                let limited = auth
                    .trim_start_matches("Bearer valid:")
                    .replace([':', '/'], "-");
                (
                    [(
                        "set-cookie",
                        format!("backstage-auth=limited-{limited}; Path=/api/techdocs; HttpOnly"),
                    )],
                    Json(json!({ "expiresAt": null })),
                )
            })
            .delete(|| async {
                (
                    StatusCode::NO_CONTENT,
                    [(
                        "set-cookie",
                        "backstage-auth=; Path=/api/techdocs; Max-Age=0; HttpOnly",
                    )],
                )
            }),
        )
        .route(
            "/api/echo/whoami",
            get(|headers: HeaderMap| async move {
                let auth = headers
                    .get("authorization")
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_default();
                Json(json!({ "auth": auth }))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// An app whose `/whoami` page shows what the echo plugin received and who the page is for.
fn make_app(base: &str, providers: Value) -> App {
    let page = PageBlueprint::new("/whoami", |req| async move {
        let fetch = req.api(&core_apis::FETCH)?;
        let echo: Value = fetch
            .get_json("echo", "/whoami")
            .await
            .map_err(|e| PageError::internal(e.to_string()))?;
        let user = req.user().map(|u| u.user_entity_ref().to_string());
        Ok(html! {
            p id="sent" { (echo["auth"].as_str().unwrap_or("")) }
            p id="user" { (user.unwrap_or_default()) }
        }
        .into())
    })
    .build();
    App::builder()
        .feature(FrontendPlugin::new("who").extension(page))
        .auth_service(Arc::new(PrefixAuth))
        .config(config(json!({
            "app": { "title": "T" },
            "backend": { "baseUrl": base },
            "auth": { "providers": providers }
        })))
        .build()
        .unwrap()
}

async fn send(app: &App, req: Request<Body>) -> (StatusCode, HeaderMap, String) {
    let res = app.router().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn session_of(headers: &HeaderMap) -> String {
    let set = headers
        .get("set-cookie")
        .expect("a session cookie")
        .to_str()
        .unwrap();
    set.split(';').next().unwrap().to_string()
}

fn page_with(cookie: &str, path: &str) -> Request<Body> {
    Request::get(path)
        .header("cookie", cookie)
        .body(Body::empty())
        .unwrap()
}

fn guest_post(next: &str, origin: Option<&str>) -> Request<Body> {
    let mut req = Request::post("/signin/guest")
        .header("host", "app.test")
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(origin) = origin {
        req = req.header("origin", origin);
    }
    req.body(Body::from(format!(
        "next={}",
        url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
    )))
    .unwrap()
}

#[tokio::test]
async fn a_guest_signs_in_in_one_post_and_pages_call_plugins_with_the_guest_token() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let base = backend("valid:user:development/guest", seen.clone()).await;
    let app = make_app(&base, json!({ "guest": {} }));
    assert!(app.has_sign_in());

    // Not signed in: the page sends the person to sign in, remembering where they were.
    let (status, headers, _) = send(&app, page_with("", "/whoami?x=1")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/signin?next=%2Fwhoami%3Fx%3D1");

    // The sign-in page: one button, a form POST to /signin/guest carrying `next`.
    let (status, _, html) = send(&app, page_with("", "/signin?next=%2Fwhoami%3Fx%3D1")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"<form method="post" action="/signin/guest">"#),
        "{html}"
    );
    assert!(
        html.contains(r#"name="next" value="/whoami?x=1""#),
        "{html}"
    );
    assert!(html.contains("Sign in as Guest"), "{html}");

    // One POST: the app asks the auth backend, verifies the token, sets the session.
    let (status, headers, _) = send(&app, guest_post("/whoami?x=1", Some("http://app.test"))).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/whoami?x=1");
    let set = headers["set-cookie"].to_str().unwrap();
    for part in ["backlot-session=v1.", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set.contains(part), "{set}");
    }
    assert!(!set.contains("Secure"), "{set}");
    // ... and passes on the user cookie of TechDocs, whose images the browser loads itself.
    let all: Vec<&str> = headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(
        all[1],
        "backstage-auth=limited-user-development-guest; Path=/api/techdocs; HttpOnly"
    );
    let refreshes = seen.lock().unwrap().refresh_headers.clone();
    assert_eq!(
        refreshes[0],
        (
            Some("XMLHttpRequest".to_string()),
            "env=development".to_string()
        )
    );
    let cookie = session_of(&headers);

    // Signed in: the page's plugin call carried the user's token; the sidebar names them.
    let (status, headers, html) = send(&app, page_with(&cookie, "/whoami")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains(r#"<p id="sent">Bearer valid:user:development/guest</p>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<p id="user">user:development/guest</p>"#),
        "{html}"
    );
    assert!(
        html.contains(
            r#"<span class="bl-user-name" title="user:development/guest">Gus Guest</span>"#
        ),
        "{html}"
    );
    assert!(
        html.contains(r#"<form method="post" action="/signout""#),
        "{html}"
    );
    assert_eq!(headers["cache-control"], "private, no-store");

    // Sign-out clears the cookie and tells the provider (with the user's token).
    let (status, headers, _) = send(
        &app,
        Request::post("/signout")
            .header("cookie", &cookie)
            .header("host", "app.test")
            .header("origin", "http://app.test")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/signin?signedOut=guest");
    let all: Vec<&str> = headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(all[0].starts_with("backlot-session=;") && all[0].contains("Max-Age=0"));
    assert_eq!(
        all[1],
        "backstage-auth=; Path=/api/techdocs; Max-Age=0; HttpOnly"
    );
    assert_eq!(
        seen.lock().unwrap().logouts,
        ["Bearer valid:user:development/guest"]
    );
}

#[tokio::test]
async fn forged_cookies_cross_site_posts_and_foreign_next_are_refused() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let base = backend("valid:user:development/guest", seen.clone()).await;
    let app = make_app(&base, json!({ "guest": {} }));

    // A cookie with a token the auth service does not accept: back to sign-in, cookie cleared.
    let forged = format!(
        "backlot-session=v1.{}",
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            br#"{"t":"forged.token.sig","p":"guest","n":"Admin"}"#
        )
    );
    let (status, headers, _) = send(&app, page_with(&forged, "/whoami")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/signin?next=%2Fwhoami");
    assert!(
        headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    // A service token is not a person's session either; nor is junk.
    let service = format!(
        "backlot-session=v1.{}",
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            br#"{"t":"service:x","p":"guest"}"#
        )
    );
    for cookie in [service.as_str(), "backlot-session=garbage"] {
        let (status, _, _) = send(&app, page_with(cookie, "/whoami")).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{cookie}");
    }

    // A sign-in POST from another site sets nothing.
    let (status, headers, _) =
        send(&app, guest_post("/whoami", Some("https://evil.example"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(headers.get("set-cookie").is_none());

    // `next` pointing away from the app lands on the app's home instead.
    for next in ["https://evil.example/", "//evil.example", "/\\evil.example"] {
        let (status, headers, _) = send(&app, guest_post(next, None)).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{next}");
        assert_eq!(headers["location"], "/", "{next}");
    }

    // A token from the auth backend that does not verify is not a session.
    let bad_base = backend("not-a-valid-token", seen).await;
    let bad = make_app(&bad_base, json!({ "guest": {} }));
    let (status, headers, html) = send(&bad, guest_post("/whoami", None)).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(headers.get("set-cookie").is_none());
    assert!(html.contains("did not verify"), "{html}");
}

#[tokio::test]
async fn the_oauth_landing_hands_a_verified_token_to_the_session_route() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let base = backend("valid:user:development/guest", seen).await;
    let app = make_app(&base, json!({ "guest": {}, "oidc": { "development": {} } }));

    // The OIDC button starts the redirect flow at the auth plugin, coming back to the landing.
    let (_, _, html) = send(
        &app,
        Request::get("/signin?next=%2Fwhoami")
            .header("host", "app.test")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(
        html.contains(&format!(r#"action="{base}/api/auth/oidc/start""#)),
        "{html}"
    );
    assert!(html.contains(r#"name="flow" value="redirect""#), "{html}");
    assert!(
        html.contains(r#"name="redirectUrl" value="http://app.test/signin/complete?provider=oidc&amp;next=%2Fwhoami""#),
        "{html}"
    );
    assert!(html.find("oidc").unwrap() < html.find("Sign in as Guest").unwrap());

    let (status, _, html) = send(
        &app,
        Request::get("/signin/complete?provider=oidc&next=%2Fwhoami")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(&format!(
            r#"data-refresh="{base}/api/auth/oidc/refresh?env=development""#
        )),
        "{html}"
    );

    let post = |body: &str, content_type: &str, origin: &str| {
        Request::post("/signin/session")
            .header("host", "app.test")
            .header("origin", origin)
            .header("content-type", content_type)
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let good = r#"{"provider":"oidc","token":"valid:user:default/jane","displayName":"Jane Doe"}"#;
    // Not JSON, another site, an unknown provider, a bad token: refused, no cookie.
    for (req, status) in [
        (post(good, "text/plain", "http://app.test"), 415),
        (post(good, "application/json", "https://evil.example"), 403),
        (
            post(
                r#"{"provider":"guest","token":"valid:user:default/jane"}"#,
                "application/json",
                "http://app.test",
            ),
            400,
        ),
        (
            post(
                r#"{"provider":"oidc","token":"forged"}"#,
                "application/json",
                "http://app.test",
            ),
            401,
        ),
    ] {
        let (got, headers, body) = send(&app, req).await;
        assert_eq!(got.as_u16(), status, "{body}");
        assert!(headers.get("set-cookie").is_none());
    }
    let (status, headers, body) =
        send(&app, post(good, "application/json", "http://app.test")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["userEntityRef"],
        "user:default/jane"
    );
    let cookie = session_of(&headers);
    let (_, _, html) = send(&app, page_with(&cookie, "/whoami")).await;
    assert!(html.contains("Bearer valid:user:default/jane"), "{html}");
    assert!(html.contains(">Jane Doe</span>"), "{html}");

    // An oidc session that no longer verifies goes to the landing page to renew silently.
    let stale = format!(
        "backlot-session=v1.{}",
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            br#"{"t":"expired","p":"oidc"}"#
        )
    );
    let (status, headers, _) = send(&app, page_with(&stale, "/whoami")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        headers["location"],
        "/signin/complete?provider=oidc&next=%2Fwhoami"
    );
}

#[tokio::test]
async fn without_providers_or_auth_service_pages_render_without_sign_in() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let base = backend("valid:user:development/guest", seen).await;
    let app = make_app(&base, json!({}));
    assert!(!app.has_sign_in());
    let (status, _, html) = send(&app, page_with("", "/whoami")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"<p id="sent"></p>"#), "{html}");
    assert!(!html.contains("bl-user"), "{html}");
    // A client sending a user's token itself gets the page as that user; a bad token is
    // ignored, a service token is not a user.
    for (token, sent) in [
        ("valid:user:default/joe", "Bearer valid:user:default/joe"),
        ("forged", ""),
        ("service:x", ""),
    ] {
        let req = Request::get("/whoami")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let (status, _, html) = send(&app, req).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            html.contains(&format!(r#"<p id="sent">{sent}</p>"#)),
            "{html}"
        );
    }
    // With sign-in on, a bearer token stands in for the session; without one, sign in.
    let signin_app = make_app(&base, json!({ "guest": {} }));
    let req = |token: &str| {
        Request::get("/whoami")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    let (status, _, html) = send(&signin_app, req("valid:user:default/joe")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"<p id="user">user:default/joe</p>"#),
        "{html}"
    );
    let (status, _, _) = send(&signin_app, req("forged")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    let reserved =
        App::builder()
            .feature(FrontendPlugin::new("x").extension(
                PageBlueprint::new("/signin", |_| async { Ok(html! {}.into()) }).build(),
            ))
            .build()
            .unwrap_err();
    assert!(reserved.to_string().contains("reserved"), "{reserved}");
}
