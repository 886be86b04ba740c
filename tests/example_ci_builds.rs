//! The "CI builds" example (examples/ci_builds): its card lists an entity's builds from a
//! local server speaking CircleCI's v2 API behind `proxy.endpoints`. The fake server checks
//! the `Circle-Token` header as CircleCI does and records every request, so the test can
//! check that the configured token reaches it and the user's backlot token never does.
//! A headless-Chromium case opens the entity page (skipped without chromedriver).
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

#[path = "../examples/ci_builds/mod.rs"]
mod ci_builds;
mod support;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use backlot::backend::{Backend, BackendHandle};
use backlot::frontend::App;
use backlot::plugins::{app, auth, catalog, proxy};
use backlot::services::config::ConfigLoader;
use backlot::testing::{TestClient, mock_auth_factory, mock_credentials, mock_user_info_factory};
use serde_json::{Value, json};
use support::webdriver::Browser;

const TOKEN: &str = "fake-circle-token-7f3a";
const SLUG: &str = "github/acme/payments";

/// What the fake CircleCI saw: path and headers of each request.
type Seen = Arc<Mutex<Vec<(String, HeaderMap)>>>;

fn pipeline(
    n: u64,
    id: &str,
    branch: Option<&str>,
    tag: Option<&str>,
    sha: &str,
    subject: &str,
) -> Value {
    let mut vcs = json!({
        "provider_name": "GitHub",
        "origin_repository_url": "https://github.com/acme/payments",
        "target_repository_url": "https://github.com/acme/payments",
        "revision": sha,
        "commit": { "subject": subject, "body": "" },
    });
    if let Some(b) = branch {
        vcs["branch"] = json!(b);
    }
    if let Some(t) = tag {
        vcs["tag"] = json!(t);
    }
    json!({
        "id": id,
        "errors": [],
        "project_slug": "gh/acme/payments",
        "updated_at": format!("2026-12-0{n}T10:00:05Z"),
        "number": 40 + n,
        "state": "created",
        "created_at": format!("2026-12-0{n}T10:00:00Z"),
        "trigger": { "type": "webhook", "received_at": "2026-12-01T10:00:00Z", "actor": { "login": "mo", "avatar_url": "" } },
        "vcs": vcs,
    })
}

fn workflows_of(id: &str) -> Option<Vec<Value>> {
    let wf = |wid: &str, name: &str, status: &str, number: u64| {
        json!({
            "pipeline_id": id, "id": wid, "name": name, "project_slug": "gh/acme/payments",
            "status": status, "started_by": "5e1e2b6e", "pipeline_number": number,
            "created_at": "2026-12-01T10:00:01Z", "stopped_at": "2026-12-01T10:04:00Z",
        })
    };
    Some(match id {
        "5034460f-c7c4-4c43-9457-de07e2029e7b" => vec![wf(
            "fda08377-fe7e-46b1-8992-3a7aaecac9c3",
            "build-and-test",
            "success",
            42,
        )],
        "9f2b1d44-0c3e-4a5e-8f8f-2b1e6c1a7d10" => vec![
            wf(
                "b1c2d3e4-0000-4000-8000-000000000001",
                "build-and-test",
                "success",
                41,
            ),
            wf(
                "b1c2d3e4-0000-4000-8000-000000000002",
                "deploy",
                "failed",
                41,
            ),
        ],
        "0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d" => vec![wf(
            "c0ffee00-0000-4000-8000-000000000003",
            "release",
            "running",
            43,
        )],
        _ => return None,
    })
}

/// A server answering CircleCI's v2 pipeline and workflow routes under `/api/v2`.
async fn fake_circleci() -> (String, Seen) {
    let seen: Seen = Arc::default();
    fn check(seen: &Seen, path: String, headers: &HeaderMap) -> Option<Response> {
        seen.lock().unwrap().push((path, headers.clone()));
        // CircleCI answers an unknown or missing token this way.
        (headers.get("circle-token").and_then(|v| v.to_str().ok()) != Some(TOKEN)).then(|| {
            (
                StatusCode::UNAUTHORIZED,
                Json(json!({ "message": "Invalid token provided." })),
            )
                .into_response()
        })
    }
    let app = axum::Router::new()
        .route(
            "/api/v2/project/{vcs}/{org}/{repo}/pipeline",
            get(
                |State(seen): State<Seen>, Path((vcs, org, repo)): Path<(String, String, String)>, headers: HeaderMap| async move {
                    if let Some(denied) = check(&seen, format!("/api/v2/project/{vcs}/{org}/{repo}/pipeline"), &headers) {
                        return denied;
                    }
                    if format!("{vcs}/{org}/{repo}") != SLUG {
                        return (StatusCode::NOT_FOUND, Json(json!({ "message": "Project not found" }))).into_response();
                    }
                    Json(json!({
                        "items": [
                            pipeline(3, "0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d", None, Some("v1.0.0"), "0123456789abcdef", "Release 1.0"),
                            pipeline(2, "5034460f-c7c4-4c43-9457-de07e2029e7b", Some("main"), None, "abc1234def5678", "Fix rounding"),
                            pipeline(1, "9f2b1d44-0c3e-4a5e-8f8f-2b1e6c1a7d10", Some("feature/refunds"), None, "fedcba9876543210", "Refunds <beta>"),
                        ],
                        "next_page_token": null,
                    }))
                    .into_response()
                },
            ),
        )
        .route(
            "/api/v2/pipeline/{id}/workflow",
            get(|State(seen): State<Seen>, Path(id): Path<String>, headers: HeaderMap| async move {
                if let Some(denied) = check(&seen, format!("/api/v2/pipeline/{id}/workflow"), &headers) {
                    return denied;
                }
                match workflows_of(&id) {
                    Some(items) => Json(json!({ "items": items, "next_page_token": null })).into_response(),
                    None => (StatusCode::NOT_FOUND, Json(json!({ "message": "Pipeline not found" }))).into_response(),
                }
            }),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v2", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

fn catalog_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/ci_builds/catalog.yaml")
}

/// The example's portal with the proxy pointing at `circleci`; `real_auth` for the browser.
async fn portal(circleci: &str, real_auth: bool) -> BackendHandle {
    let config = ConfigLoader::new()
        .yaml(
            "app-config.yaml",
            format!(
                "app:\n  title: CI Builds Portal\nauth:\n  environment: development\n  providers:\n    guest: {{}}\ncatalog:\n  rules:\n    - allow: [Component, Group]\n  locations:\n    - type: file\n      target: {}\nbackend:\n  database: {{ client: better-sqlite3, connection: ':memory:' }}\n",
                catalog_file().display()
            ),
        )
        .yaml("proxy.yaml", ci_builds::proxy_config(circleci))
        .env_vars([("CIRCLECI_TOKEN", TOKEN)])
        .load()
        .unwrap();
    let mut builder = Backend::builder()
        .config(config)
        .listen_addr("127.0.0.1:0".parse().unwrap())
        .add((
            catalog::backend::plugin(),
            auth::backend::plugin(),
            proxy::backend::plugin(),
            app::plugin(
                App::builder()
                    .feature(catalog::frontend::plugin())
                    .feature(ci_builds::frontend_plugin()),
            ),
        ));
    if !real_auth {
        builder = builder
            .add_service(mock_auth_factory())
            .add_service(mock_user_info_factory());
    }
    builder.start().await.unwrap()
}

/// Checks what reached the fake CircleCI: the configured token on every request, and no
/// trace of the user's credentials.
fn check_seen(seen: &Seen, user_secret: Option<&str>) {
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.len(),
        4,
        "one pipeline list and three workflow lists: {seen:?}"
    );
    for (path, headers) in seen.iter() {
        assert_eq!(headers.get("circle-token").unwrap(), TOKEN, "{path}");
        assert!(
            headers.get("authorization").is_none(),
            "{path}: {headers:?}"
        );
        assert!(headers.get("cookie").is_none(), "{path}: {headers:?}");
        if let Some(secret) = user_secret {
            for (name, value) in headers {
                assert!(
                    !value.to_str().unwrap_or("").contains(secret),
                    "{path}: the user's token reached CircleCI in {name}"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_card_lists_builds_through_the_proxy_with_the_api_token_only() {
    let (circleci, seen) = fake_circleci().await;
    let handle = portal(&circleci, false).await;
    let user_token = mock_credentials::user_token("user:default/mo");
    let client =
        TestClient::new(handle.base_url()).with_authorization(&format!("Bearer {user_token}"));

    let res = client
        .get("/catalog/default/component/payments")
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text();
    assert!(html.contains("id=\"card-ci-builds\""), "{html}");
    assert!(html.contains("Builds of github/acme/payments"), "{html}");
    // Newest first, with status, branch or tag, short commit, time and link.
    let rows: Vec<&str> = html.split("<tr").skip(2).collect();
    assert_eq!(rows.len(), 3, "{html}");
    assert!(
        rows[0].contains(">running<")
            && rows[0].contains(">v1.0.0<")
            && rows[0].contains(">0123456<")
    );
    assert!(
        rows[1].contains(">success<")
            && rows[1].contains(">main<")
            && rows[1].contains(">abc1234<")
    );
    assert!(rows[1].contains("Fix rounding") && rows[1].contains("2026-12-02 10:00:00"));
    assert!(rows[1].contains(
        "href=\"https://app.circleci.com/pipelines/gh/acme/payments/42/workflows/fda08377-fe7e-46b1-8992-3a7aaecac9c3\""
    ));
    assert!(rows[2].contains(">failed<") && rows[2].contains(">feature/refunds<"));
    assert!(
        rows[2].contains("Refunds &lt;beta&gt;"),
        "escaped: {}",
        rows[2]
    );
    check_seen(&seen, Some(&user_token));

    // An entity without the annotation has no card (and costs CircleCI nothing).
    let html = client
        .get("/catalog/default/component/ledger")
        .await
        .unwrap()
        .text();
    assert!(
        html.contains("ledger") && !html.contains("card-ci-builds"),
        "{html}"
    );
    assert_eq!(seen.lock().unwrap().len(), 4);

    // The proxy endpoint itself needs a backlot token, and takes only GET.
    let anonymous = TestClient::new(handle.base_url());
    let res = anonymous
        .get("/api/proxy/circleci/api/project/github/acme/payments/pipeline")
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = client
        .post("/api/proxy/circleci/api/project/github/acme/payments/pipeline")
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(seen.lock().unwrap().len(), 4, "neither reached CircleCI");
    handle.stop().await.unwrap();
}

#[tokio::test]
async fn a_wrong_api_token_shows_an_error_in_the_card_not_a_broken_page() {
    let (circleci, seen) = fake_circleci().await;
    let config = ConfigLoader::new()
        .yaml(
            "app-config.yaml",
            format!(
                "catalog:\n  rules:\n    - allow: [Component, Group]\n  locations:\n    - type: file\n      target: {}\nbackend:\n  database: {{ client: better-sqlite3, connection: ':memory:' }}\n",
                catalog_file().display()
            ),
        )
        .yaml("proxy.yaml", ci_builds::proxy_config(&circleci))
        .env_vars([("CIRCLECI_TOKEN", "revoked")])
        .load()
        .unwrap();
    let handle = Backend::builder()
        .config(config)
        .listen_addr("127.0.0.1:0".parse().unwrap())
        .add_service(mock_auth_factory())
        .add_service(mock_user_info_factory())
        .add((
            catalog::backend::plugin(),
            proxy::backend::plugin(),
            app::plugin(
                App::builder()
                    .feature(catalog::frontend::plugin())
                    .feature(ci_builds::frontend_plugin()),
            ),
        ))
        .start()
        .await
        .unwrap();
    let client = TestClient::new(handle.base_url()).as_user("user:default/mo");
    let res = client
        .get("/catalog/default/component/payments")
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text();
    assert!(
        html.contains("Could not load builds") && html.contains("401"),
        "{html}"
    );
    assert!(
        html.contains("About"),
        "the rest of the page renders: {html}"
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert!(!ci_builds::valid_slug("github/acme/../../me") && !ci_builds::valid_slug("a/b"));
    handle.stop().await.unwrap();
}

#[tokio::test]
async fn a_person_sees_the_ci_builds_card_in_chromium() {
    let (circleci, seen) = fake_circleci().await;
    let handle = portal(&circleci, true).await;
    let Some(browser) = Browser::start().await else {
        handle.stop().await.unwrap();
        return;
    };
    browser.sign_in_as_guest(handle.base_url()).await;
    browser
        .goto(&format!(
            "{}/catalog/default/component/payments",
            handle.base_url()
        ))
        .await;
    assert_eq!(browser.text_of("h1").await, "payments");
    let card = browser.text_of("#card-ci-builds + .bl-card-body").await;
    for expected in [
        "Builds of github/acme/payments",
        "success",
        "failed",
        "running",
        "main",
        "abc1234",
        "#42",
    ] {
        assert!(card.contains(expected), "{expected} missing in {card}");
    }
    let link = browser.find("a.ci-link").await;
    assert_eq!(browser.text(&link).await, "#43");
    browser.close().await;
    check_seen(&seen, None);
    handle.stop().await.unwrap();
}
