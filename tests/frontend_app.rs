#![allow(missing_docs)]
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used)]
//! The `app` backend plugin serving a frontend plugin's pages over HTTP.

use backlot::frontend::{
    App, FrontendPlugin, NavItemBlueprint, PageBlueprint, RouteRef, core_apis, ui,
};
use backlot::plugins::app::app_plugin;
use backlot::testing::TestBackend;
use maud::html;

static NOTES: RouteRef = RouteRef::new("notes.root");

fn notes_plugin() -> FrontendPlugin {
    FrontendPlugin::new("notes")
        .route("root", &NOTES)
        .extension(
            PageBlueprint::new("/notes", |req| async move {
                let discovery = req.api(&core_apis::DISCOVERY)?;
                let note = req
                    .query("note")
                    .unwrap_or("<script>alert(1)</script>")
                    .to_string();
                Ok(html! {
                    (ui::header("Notes", None))
                    (ui::card("Latest", html! { p class="note" { (note) } }))
                    p class="api" { (discovery.base_url("notes")) }
                }
                .into())
            })
            .route_ref(&NOTES)
            .title("Notes")
            .build(),
        )
        .extension(NavItemBlueprint::new("Notes", &NOTES).build())
}

async fn backend() -> Result<TestBackend, backlot::backend::BackendError> {
    TestBackend::builder()
        .feature(app_plugin(App::builder().feature(notes_plugin())))
        .config_yaml("app:\n  title: Test Portal\n")
        .start()
        .await
}

#[tokio::test]
async fn serves_pages_as_html_with_the_nav() {
    let backend = backend().await.unwrap();
    let res = backend.client().get("/notes").await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.header("content-type"), Some("text/html; charset=utf-8"));
    let body = res.text();
    assert!(body.starts_with("<!DOCTYPE html>"), "{body}");
    assert!(
        body.contains("<title>Notes · Test Portal</title>"),
        "{body}"
    );
    assert!(
        body.contains("<a class=\"bl-nav-link\" href=\"/notes\" aria-current=\"page\">"),
        "{body}"
    );
    // The core.discovery API is the backend's own discovery service.
    assert!(
        body.contains(&format!(
            "<p class=\"api\">{}</p>",
            backend.url("/api/notes")
        )),
        "{body}"
    );

    let css_path = body
        .split("rel=\"stylesheet\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    let css = backend.client().get(&css_path).await.unwrap();
    assert_eq!(css.status(), 200);
    assert!(css.header("cache-control").unwrap().contains("immutable"));
    backend.stop().await.unwrap();
}

#[tokio::test]
async fn escapes_data_in_pages() {
    let backend = backend().await.unwrap();
    let body = backend.client().get("/notes").await.unwrap().text();
    assert!(
        body.contains("<p class=\"note\">&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
        "{body}"
    );
    assert!(!body.contains("<script>"));
    let body = backend
        .client()
        .get("/notes?note=%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E")
        .await
        .unwrap()
        .text();
    assert!(
        body.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"),
        "{body}"
    );
    assert!(!body.contains("<img"));
    backend.stop().await.unwrap();
}

#[tokio::test]
async fn unknown_pages_get_an_html_404_and_unknown_api_paths_json() {
    let backend = backend().await.unwrap();
    let res = backend.client().get("/no/such/page").await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.header("content-type"), Some("text/html; charset=utf-8"));
    let body = res.text();
    assert!(body.contains("Page not found"), "{body}");
    assert!(
        body.contains("href=\"/notes\""),
        "the 404 page keeps the nav: {body}"
    );

    let res = backend.client().get("/api/nothing/here").await.unwrap();
    assert_eq!(res.status(), 404);
    let json: serde_json::Value = res.json().unwrap();
    assert_eq!(json["error"]["name"], "NotFoundError");

    // Health stays reachable beside the app.
    let res = backend
        .client()
        .get("/.backstage/health/v1/readiness")
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    backend.stop().await.unwrap();
}

#[tokio::test]
async fn app_build_errors_fail_startup_naming_the_app_plugin() {
    let err = TestBackend::builder()
        .feature(app_plugin(App::builder().feature(notes_plugin())))
        .config_yaml("app:\n  extensions:\n    - page:unknown\n")
        .start()
        .await
        .unwrap_err();
    let text = format!("{err}");
    assert!(text.contains("app"), "{text}");
    let chain = {
        let mut out = Vec::new();
        let mut cur: Option<&dyn std::error::Error> = Some(&err);
        while let Some(e) = cur {
            out.push(e.to_string());
            cur = e.source();
        }
        out.join(" / ")
    };
    assert!(chain.contains("page:unknown"), "{chain}");
}

async fn html_of(app: &App, path: &str) -> String {
    use tower::ServiceExt;
    let res = app
        .router()
        .oneshot(
            http::Request::get(path)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(body.to_vec()).unwrap()
}

#[tokio::test]
async fn moving_the_search_page_through_config_moves_the_search_box() {
    use backlot::plugins::search::frontend::{SearchUiOptions, search_plugin};
    use backlot::services::config::Config;

    let config = Config::from_value(serde_json::json!({
        "app": { "extensions": [{ "page:search": { "config": { "path": "/find" } } }] }
    }));
    let app = App::builder()
        .feature(search_plugin(SearchUiOptions::default()))
        .feature(notes_plugin())
        .config(config)
        .build()
        .unwrap();
    let html = html_of(&app, "/notes").await;
    assert!(html.contains("action=\"/find\""), "{html}");
    assert!(!html.contains("action=\"/search\""), "{html}");

    // Without the config the box submits to the default path.
    let app = App::builder()
        .feature(search_plugin(SearchUiOptions::default()))
        .build()
        .unwrap();
    let html = html_of(&app, "/search").await;
    assert!(html.contains("action=\"/search\""), "{html}");
}

#[test]
fn a_nav_item_without_a_page_is_a_warning() {
    use backlot::frontend::AppWarning;

    static NOWHERE: RouteRef = RouteRef::new("nowhere.root");
    let app = App::builder()
        .feature(notes_plugin())
        .feature(
            FrontendPlugin::new("nowhere")
                .route("root", &NOWHERE)
                .extension(NavItemBlueprint::new("Nowhere", &NOWHERE).build()),
        )
        .build()
        .unwrap();
    assert_eq!(
        app.warnings(),
        [AppWarning::NavItemWithoutPage {
            title: "Nowhere".to_string(),
            route: "nowhere.root".to_string(),
        }]
    );
    assert_eq!(
        app.warnings()[0].to_string(),
        "nav item 'Nowhere' is left out of the sidebar: no page mounts route 'nowhere.root'"
    );
}
