//! App tests: route refs, sub-routes, external routes and their bindings.

use super::*;

static CREATE: ExternalRouteRef = ExternalRouteRef::new("demo.create");
static DOCS: ExternalRouteRef = ExternalRouteRef::new("demo.docs")
    .optional()
    .default_target("other.root");

fn linking_plugin() -> FrontendPlugin {
    FrontendPlugin::new("linker")
        .external_route("create", &CREATE)
        .external_route("docs", &DOCS)
}

fn other_plugin() -> FrontendPlugin {
    FrontendPlugin::new("other")
        .route("root", &OTHER_ROOT)
        .extension(
            PageBlueprint::new("/other", |_| async { Ok(html! {}.into()) })
                .route_ref(&OTHER_ROOT)
                .build(),
        )
}

#[test]
fn required_external_routes_must_be_bound() {
    let err = App::builder()
        .features([linking_plugin(), other_plugin()])
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "external route 'create' of plugin 'linker' is required but not bound"
    );
}

#[test]
fn external_routes_bind_in_code_and_config() {
    let app = App::builder()
        .features([linking_plugin(), other_plugin(), demo_plugin(vec![])])
        .bind_route(&CREATE, &ROOT)
        .build()
        .unwrap();
    assert_eq!(app.routes().href(&CREATE, &()).as_deref(), Some("/demo"));
    // The default target applies when nothing else binds.
    assert_eq!(app.routes().href(&DOCS, &()).as_deref(), Some("/other"));

    let app = App::builder()
        .features([linking_plugin(), other_plugin(), demo_plugin(vec![])])
        .bind_route(&CREATE, &ROOT)
        .config(config(json!({"app": {"routes": {"bindings": {
            "linker.create": "other.root",
            "linker.docs": false
        }}}})))
        .build()
        .unwrap();
    assert_eq!(app.routes().href(&CREATE, &()).as_deref(), Some("/other"));
    assert_eq!(
        app.routes().href(&DOCS, &()),
        None,
        "false unbinds the default target"
    );
}

#[test]
fn invalid_bindings_are_reported() {
    for bindings in [
        json!({"linker.nope": "other.root"}),
        json!({"linker.create": "other.nope"}),
        json!({"linker.create": 3}),
        json!({"nodot": "other.root"}),
    ] {
        let err = App::builder()
            .features([linking_plugin(), other_plugin()])
            .config(config(json!({"app": {"routes": {"bindings": bindings}}})))
            .build()
            .unwrap_err();
        assert!(matches!(err, AppError::InvalidRouteBinding { .. }), "{err}");
    }
}

struct Named(String);
impl RouteParams for Named {
    fn names() -> &'static [&'static str] {
        &["name"]
    }
    fn values(&self) -> Vec<&str> {
        vec![&self.0]
    }
}
static THING: RouteRef<Named> = RouteRef::new("things.thing");
static THING_DOCS: SubRouteRef<Named> = SubRouteRef::new("things.docs", &THING, "/docs");
static TO_THING: ExternalRouteRef<Named> = ExternalRouteRef::new("linker2.thing");

#[tokio::test]
async fn params_sub_routes_and_param_checks() {
    let things = FrontendPlugin::new("things")
        .route("thing", &THING)
        .route("docs", &THING_DOCS)
        .extension(
            PageBlueprint::new("/things/:name", |req| async move {
                let name = req.param("name").unwrap_or_default().to_string();
                let docs = req
                    .routes()
                    .href(&THING_DOCS, &Named(name.clone()))
                    .unwrap_or_default();
                Ok(
                    html! { p { "thing " (name) " rest=" (req.rest()) } a href=(docs) { "docs" } }
                        .into(),
                )
            })
            .route_ref(&THING)
            .build(),
        );
    let linker = FrontendPlugin::new("linker2").external_route("thing", &TO_THING);
    let app = App::builder()
        .features([things.clone(), linker.clone()])
        .config(config(
            json!({"app": {"routes": {"bindings": {"linker2.thing": "things.docs"}}}}),
        ))
        .build()
        .unwrap();
    assert_eq!(
        app.routes()
            .href(&TO_THING, &Named("a b".into()))
            .as_deref(),
        Some("/things/a%20b/docs")
    );
    let (status, body) = get(&app, "/things/x%3Cy/docs/more").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("thing x&lt;y rest=/docs/more"), "{body}");
    assert!(body.contains("href=\"/things/x%3Cy/docs\""), "{body}");

    // A binding between routes of different params fails.
    let err = App::builder()
        .features([things.clone(), linker, other_plugin()])
        .config(config(
            json!({"app": {"routes": {"bindings": {"linker2.thing": "other.root"}}}}),
        ))
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, AppError::InvalidRouteBinding { reason, .. } if reason.contains("different params")),
        "{err}"
    );

    // A path without the route ref's params fails.
    let err = App::builder()
        .feature(things)
        .config(config(
            json!({"app": {"extensions": [{"page:things": {"config": {"path": "/things"}}}]}}),
        ))
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, AppError::InvalidPagePath { extension, .. } if extension == "page:things"),
        "{err}"
    );
}

#[test]
fn duplicate_page_paths_are_an_error() {
    let a = FrontendPlugin::new("a")
        .extension(PageBlueprint::new("/same", |_| async { Ok(html! {}.into()) }).build());
    let b = FrontendPlugin::new("b")
        .extension(PageBlueprint::new("/same/", |_| async { Ok(html! {}.into()) }).build());
    let err = App::builder().features([a, b]).build().unwrap_err();
    assert!(
        matches!(err, AppError::DuplicatePagePath { first, second, .. } if first == "page:a" && second == "page:b")
    );
}
