//! Tests of tree resolution, overrides, APIs, routes and rendering through the public API.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use http::{Request, StatusCode};
use maud::html;
use serde_json::json;
use tower::ServiceExt;

use super::*;
use crate::services::config::Config;

static LABEL: ExtensionDataRef<String> = ExtensionDataRef::new("test.label");
static COUNT: ExtensionDataRef<u32> = ExtensionDataRef::new("test.count");
static ROOT: RouteRef = RouteRef::new("demo.root");
static OTHER_ROOT: RouteRef = RouteRef::new("other.root");

fn config(value: serde_json::Value) -> Config {
    Config::from_value(value)
}

fn label(name: &str, text: &'static str) -> Extension {
    Extension::builder("label", name)
        .attach_to(("holder:demo", "labels"))
        .output(&[LABEL.any()])
        .factory(move |_| Ok(Outputs::new().with(&LABEL, text.to_string())))
}

/// An extension attached to the demo page that collects labels through an input of the given
/// cardinality and records what it saw.
fn holder(
    cardinality: fn(&[AnyDataRef]) -> ExtensionInput,
    seen: Arc<Mutex<Vec<String>>>,
) -> Extension {
    Extension::builder("holder", "")
        .attach_to(("page:demo", "holders"))
        .input(("labels", cardinality(&[LABEL.any()])))
        .output(&[COUNT.any()])
        .factory(move |ctx| {
            let labels: Vec<String> = match ctx.inputs().many("labels") {
                Ok(items) => items
                    .iter()
                    .filter_map(|i| i.get(&LABEL).cloned())
                    .collect(),
                Err(e) => return Err(e),
            };
            seen.lock().unwrap().extend(labels.clone());
            Ok(Outputs::new().with(&COUNT, u32::try_from(labels.len()).unwrap_or(0)))
        })
}

/// A page with a `holders` input whose render lists the holders' counts.
fn demo_page() -> Extension {
    let spec = PageBlueprint::new("/demo", |_| async { Ok(html! { p { "demo" } }.into()) })
        .route_ref(&ROOT)
        .title("Demo")
        .build();
    // Re-declare it with an extra input (as a blueprint author would).
    Extension::builder("page", "")
        .attach_to(("app/routes", "routes"))
        .input(("holders", ExtensionInput::many(&[COUNT.any()])))
        .config::<PageConfig>()
        .output(spec.outputs())
        .factory(move |ctx, config| {
            let total: u32 = ctx
                .inputs()
                .many("holders")?
                .iter()
                .filter_map(|h| h.get(&COUNT).copied())
                .sum();
            let path = config.path.clone().unwrap_or_else(|| "/demo".into());
            Ok(Outputs::new()
                .with(&core_data::ROUTE_PATH, path)
                .with(&core_data::ROUTE_REF, ROOT.any_route())
                .with(&core_data::TITLE, "Demo".to_string())
                .with(
                    &core_data::PAGE,
                    PageRenderer::new(move |req| async move {
                        Ok(html! { p { "total " (total) } p { "rest=" (req.rest()) } }.into())
                    }),
                ))
        })
}

fn demo_plugin(extra: Vec<Extension>) -> FrontendPlugin {
    FrontendPlugin::new("demo")
        .route("root", &ROOT)
        .extension(demo_page())
        .extension(NavItemBlueprint::new("Demo", &ROOT).build())
        .extensions(extra)
}

async fn get(app: &App, path: &str) -> (StatusCode, String) {
    let res = app
        .router()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

// ---- tree resolution ----

#[test]
fn builds_the_builtin_tree_depth_first() {
    let app = App::builder().feature(demo_plugin(vec![])).build().unwrap();
    let order = app.tree().instantiated_ids();
    let pos = |id: &str| {
        order
            .iter()
            .position(|x| *x == id)
            .unwrap_or_else(|| panic!("{id} in {order:?}"))
    };
    assert!(pos("page:demo") < pos("app/routes"));
    assert!(pos("nav-item:demo") < pos("app/nav"));
    assert!(pos("app/nav") < pos("app/layout"));
    assert!(pos("app/layout") < pos("app"));
    assert_eq!(order.last(), Some(&"app"));
    assert!(app.warnings().is_empty());
}

#[test]
fn unknown_parent_and_input_detach_with_warnings() {
    let orphan = Extension::builder("label", "orphan")
        .attach_to(("page:nowhere", "labels"))
        .output(&[LABEL.any()])
        .factory(|_| panic!("a detached extension must not be instantiated"));
    let wrong_input = Extension::builder("label", "wrong")
        .attach_to(("app/nav", "nope"))
        .output(&[LABEL.any()])
        .factory(|_| panic!("a detached extension must not be instantiated"));
    let app = App::builder()
        .feature(demo_plugin(vec![orphan, wrong_input]))
        .build()
        .unwrap();
    assert_eq!(
        app.warnings(),
        &[
            AppWarning::UnknownParent {
                extension: "label:demo/orphan".into(),
                parent: "page:nowhere".into()
            },
            AppWarning::UnknownInput {
                extension: "label:demo/wrong".into(),
                parent: "app/nav".into(),
                input: "nope".into()
            },
        ]
    );
    assert!(
        app.warnings()[0]
            .to_string()
            .contains("'label:demo/orphan' is detached")
    );
    assert!(
        !app.tree()
            .get("label:demo/orphan")
            .unwrap()
            .is_instantiated()
    );
}

#[test]
fn singleton_input_with_two_children_is_an_error() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let err = App::builder()
        .feature(demo_plugin(vec![
            holder(ExtensionInput::maybe, seen),
            label("a", "A"),
            label("b", "B"),
        ]))
        .build()
        .unwrap_err();
    match err {
        AppError::SingletonInputConflict {
            extension,
            input,
            children,
        } => {
            assert_eq!(extension, "holder:demo");
            assert_eq!(input, "labels");
            assert_eq!(children, vec!["label:demo/a", "label:demo/b"]);
        }
        other => panic!("{other}"),
    }
}

#[test]
fn required_singleton_without_child_is_an_error() {
    let err = App::builder()
        .config(config(json!({"app": {"extensions": [{"app/nav": false}]}})))
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, AppError::MissingRequiredInput { extension, input } if extension == "app/layout" && input == "nav"),
        "{err}"
    );
}

#[test]
fn input_fed_data_it_does_not_accept_is_an_error() {
    let wrong = Extension::builder("label", "count")
        .attach_to(("holder:demo", "labels"))
        .output(&[COUNT.any()])
        .factory(|_| Ok(Outputs::new().with(&COUNT, 1)));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let err = App::builder()
        .feature(demo_plugin(vec![holder(ExtensionInput::many, seen), wrong]))
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, AppError::UnacceptedData { extension, parent, input, missing }
            if extension == "label:demo/count" && parent == "holder:demo" && input == "labels" && missing == &["test.label"]),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "extension 'label:demo/count' cannot attach to input 'labels' of 'holder:demo': it does not provide test.label"
    );
}

#[test]
fn optional_output_left_out_where_the_input_requires_it_is_an_error() {
    let maybe = Extension::builder("label", "maybe")
        .attach_to(("holder:demo", "labels"))
        .output(&[LABEL.optional().any()])
        .factory(|_| Ok(Outputs::new()));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let err = App::builder()
        .feature(demo_plugin(vec![holder(ExtensionInput::many, seen), maybe]))
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, AppError::UnacceptedData { extension, .. } if extension == "label:demo/maybe"),
        "{err}"
    );
}

#[test]
fn missing_and_undeclared_outputs_are_errors() {
    let missing = Extension::builder("label", "m")
        .attach_to(("holder:demo", "labels"))
        .output(&[LABEL.any()])
        .factory(|_| Ok(Outputs::new()));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let err = App::builder()
        .feature(demo_plugin(vec![
            holder(ExtensionInput::many, seen.clone()),
            missing,
        ]))
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, AppError::MissingOutput { extension, data_ref } if extension == "label:demo/m" && data_ref == "test.label"),
        "{err}"
    );

    let extra = Extension::builder("label", "x")
        .attach_to(("holder:demo", "labels"))
        .output(&[LABEL.any()])
        .factory(|_| Ok(Outputs::new().with(&LABEL, "x".into()).with(&COUNT, 3)));
    let err = App::builder()
        .feature(demo_plugin(vec![holder(ExtensionInput::many, seen), extra]))
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, AppError::UndeclaredOutput { extension, data_ref } if extension == "label:demo/x" && data_ref == "test.count"),
        "{err}"
    );
}

#[test]
fn factory_errors_name_the_extension_and_keep_the_source() {
    let failing = Extension::builder("label", "boom")
        .attach_to(("holder:demo", "labels"))
        .output(&[LABEL.any()])
        .factory(|_| Err("disk on fire".into()));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let err = App::builder()
        .feature(demo_plugin(vec![
            holder(ExtensionInput::many, seen),
            failing,
        ]))
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "extension 'label:demo/boom' failed to instantiate"
    );
    assert_eq!(
        std::error::Error::source(&err).unwrap().to_string(),
        "disk on fire"
    );
}

#[test]
fn duplicate_ids_from_two_plugins_are_an_error() {
    let a = FrontendPlugin::new("a").extension(label("x", "1").with_default_namespace("shared"));
    let b = FrontendPlugin::new("b").extension(label("x", "2").with_default_namespace("shared"));
    let err = App::builder().features([a, b]).build().unwrap_err();
    assert_eq!(
        err.to_string(),
        "extension 'label:shared/x' is provided by both plugin 'a' and plugin 'b'"
    );
    let err = App::builder()
        .features([FrontendPlugin::new("a"), FrontendPlugin::new("a")])
        .build()
        .unwrap_err();
    assert!(matches!(err, AppError::DuplicatePlugin { id } if id == "a"));
    let err = App::builder()
        .feature(FrontendPlugin::new("Bad_Id"))
        .build()
        .unwrap_err();
    assert!(matches!(err, AppError::InvalidPluginId { .. }));
}

// ---- config ----

#[test]
fn config_disables_enables_and_orders() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let late = Extension::builder("label", "late")
        .attach_to(("holder:demo", "labels"))
        .disabled(true)
        .output(&[LABEL.any()])
        .factory(|_| Ok(Outputs::new().with(&LABEL, "late".to_string())));
    let exts = vec![
        holder(ExtensionInput::many, seen.clone()),
        late,
        label("a", "A"),
        label("b", "B"),
    ];

    // Default: the disabled one is left out.
    App::builder()
        .feature(demo_plugin(exts.clone()))
        .build()
        .unwrap();
    assert_eq!(*seen.lock().unwrap(), vec!["A", "B"]);
    seen.lock().unwrap().clear();

    // Enabled by config: it moves to the end of its parent's input; `b` is disabled.
    let app = App::builder()
        .feature(demo_plugin(exts))
        .config(config(
            json!({"app": {"extensions": ["label:demo/late", {"label:demo/b": false}]}}),
        ))
        .build()
        .unwrap();
    assert_eq!(*seen.lock().unwrap(), vec!["A", "late"]);
    assert!(!app.tree().get("label:demo/b").unwrap().is_enabled());
}

#[tokio::test]
async fn config_configures_and_validates_against_the_schema() {
    let app = App::builder()
        .feature(demo_plugin(vec![]))
        .config(config(
            json!({"app": {"extensions": [{"page:demo": {"config": {"path": "/elsewhere"}}}]}}),
        ))
        .build()
        .unwrap();
    assert_eq!(app.routes().href(&ROOT, &()).as_deref(), Some("/elsewhere"));
    assert_eq!(get(&app, "/elsewhere").await.0, StatusCode::OK);
    assert_eq!(get(&app, "/demo").await.0, StatusCode::NOT_FOUND);

    let err = App::builder()
        .feature(demo_plugin(vec![]))
        .config(config(
            json!({"app": {"extensions": [{"page:demo": {"config": {"path": 3}}}]}}),
        ))
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, AppError::ExtensionConfig { extension, reason } if extension == "page:demo" && reason.starts_with("path:")),
        "{err}"
    );

    let err = App::builder()
        .feature(demo_plugin(vec![]))
        .config(config(
            json!({"app": {"extensions": [{"nav-item:demo": {"config": {"colour": "red"}}}]}}),
        ))
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, AppError::ExtensionConfig { extension, .. } if extension == "nav-item:demo"),
        "{err}"
    );

    let err = App::builder()
        .config(config(json!({"app": {"extensions": ["page:missing"]}})))
        .build()
        .unwrap_err();
    assert!(matches!(err, AppError::UnknownConfiguredExtension { id } if id == "page:missing"));
}

#[test]
fn config_reattaches_extensions() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let stray = Extension::builder("label", "stray")
        .attach_to(("nowhere", "labels"))
        .output(&[LABEL.any()])
        .factory(|_| Ok(Outputs::new().with(&LABEL, "stray".to_string())));
    let app = App::builder()
        .feature(demo_plugin(vec![
            holder(ExtensionInput::many, seen.clone()),
            stray,
        ]))
        .config(config(json!({"app": {"extensions": [
            {"label:demo/stray": {"attachTo": {"id": "holder:demo", "input": "labels"}}}
        ]}})))
        .build()
        .unwrap();
    assert!(app.warnings().is_empty());
    assert_eq!(*seen.lock().unwrap(), vec!["stray"]);
}

#[tokio::test]
async fn disabling_a_page_hides_its_nav_item_and_route() {
    let app = App::builder()
        .feature(demo_plugin(vec![]))
        .config(config(
            json!({"app": {"extensions": [{"page:demo": false}]}}),
        ))
        .build()
        .unwrap();
    assert_eq!(app.routes().href(&ROOT, &()), None);
    let (status, body) = get(&app, "/demo").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!body.contains(">Demo<"), "{body}");
}

// ---- overrides ----

#[tokio::test]
async fn overrides_replace_by_id_and_add_new_extensions() {
    let replacement =
        PageBlueprint::new("/demo", |_| async { Ok(html! { p { "replaced" } }.into()) })
            .namespace("demo")
            .route_ref(&ROOT)
            .build();
    let added = PageBlueprint::new("/added", |_| async { Ok(html! { p { "added" } }.into()) })
        .namespace("extra")
        .build();
    let app = App::builder()
        .feature(demo_plugin(vec![]))
        .extensions([replacement, added])
        .build()
        .unwrap();
    assert!(get(&app, "/demo").await.1.contains("<p>replaced</p>"));
    assert!(get(&app, "/added").await.1.contains("<p>added</p>"));
    assert!(app.tree().get("page:demo").unwrap().plugin_id().is_none());

    let err = App::builder()
        .extensions([
            label("x", "1").with_default_namespace("o"),
            label("x", "2").with_default_namespace("o"),
        ])
        .build()
        .unwrap_err();
    assert!(matches!(err, AppError::DuplicateExtension { .. }));
}

#[tokio::test]
async fn builtins_and_themes_are_overridable() {
    let nav = Extension::with_id("app/nav")
        .attach_to(("app/layout", "nav"))
        .input(("items", ExtensionInput::many(&[core_data::NAV_ITEM.any()])))
        .output(&[core_data::NAV.any()])
        .factory(|ctx| {
            let items = ctx.inputs().many("items")?.iter().filter_map(|i| i.get(&core_data::NAV_ITEM).cloned()).collect();
            Ok(Outputs::new().with(
                &core_data::NAV,
                core_data::Nav {
                    items,
                    render: Arc::new(|links| html! { nav aria-label="Custom" { @for l in links { a href=(l.href) { "*" (l.title) } } } }),
                },
            ))
        });
    let theme = ThemeBlueprint::make(Theme::light().var("--bl-accent", "#e11d48"), Some("app"));
    let app = App::builder()
        .feature(demo_plugin(vec![]))
        .extensions([nav, theme])
        .build()
        .unwrap();
    let (_, body) = get(&app, "/demo").await;
    assert!(
        body.contains("<nav aria-label=\"Custom\"><a href=\"/demo\">*Demo</a></nav>"),
        "{body}"
    );
    assert!(body.contains("--bl-accent:#e11d48;"));
    assert!(body.contains("@media (prefers-color-scheme:dark)"));

    let bad = ThemeBlueprint::make(Theme::dark().var("--bl-bg", "red}</style>"), Some("app"));
    let err = App::builder().extension(bad).build().unwrap_err();
    assert!(
        matches!(&err, AppError::Factory { extension, .. } if extension == "theme:app/dark"),
        "{err}"
    );
}

// ---- utility APIs ----

trait Greeter: Send + Sync {
    fn greet(&self) -> String;
}
struct Fixed(&'static str);
impl Greeter for Fixed {
    fn greet(&self) -> String {
        self.0.to_string()
    }
}
static GREETER: ApiRef<dyn Greeter> = ApiRef::new("plugin.demo.greeter");
static SHOUT: ApiRef<String> = ApiRef::new("plugin.demo.shout");

fn api_plugin() -> FrontendPlugin {
    FrontendPlugin::new("greet")
        .extension(ApiBlueprint::make(ApiFactory::instance(
            &GREETER,
            Arc::new(Fixed("hi")) as Arc<dyn Greeter>,
        )))
        .extension(ApiBlueprint::make(
            ApiFactory::builder(&SHOUT)
                .deps(&GREETER)
                .build(|greeter| Ok(Arc::new(greeter.greet().to_uppercase()))),
        ))
}

#[test]
fn apis_are_built_with_their_deps_and_overridable() {
    let app = App::builder().feature(api_plugin()).build().unwrap();
    assert_eq!(
        app.apis().get(&SHOUT).as_deref().map(String::as_str),
        Some("HI")
    );
    assert!(app.apis().get(&core_apis::CONFIG).is_some());
    assert!(app.apis().get(&core_apis::DISCOVERY).is_some());

    let replaced = ApiBlueprint::make(ApiFactory::instance(
        &GREETER,
        Arc::new(Fixed("hello")) as Arc<dyn Greeter>,
    ));
    let app = App::builder()
        .feature(api_plugin())
        .extension(replaced)
        .build()
        .unwrap();
    assert_eq!(
        app.apis().get(&SHOUT).as_deref().map(String::as_str),
        Some("HELLO")
    );
    assert_eq!(
        app.tree()
            .get("api:plugin.demo.greeter")
            .map(|n| n.plugin_id()),
        Some(None),
        "the override replaced the plugin's extension"
    );
}

#[test]
fn api_cycles_and_missing_deps_fail_the_build() {
    static A: ApiRef<String> = ApiRef::new("plugin.a");
    static B: ApiRef<String> = ApiRef::new("plugin.b");
    let cyc = FrontendPlugin::new("cyc")
        .extension(ApiBlueprint::make(
            ApiFactory::builder(&A).deps(&B).build(Ok),
        ))
        .extension(ApiBlueprint::make(
            ApiFactory::builder(&B).deps(&A).build(Ok),
        ));
    assert!(matches!(
        App::builder().feature(cyc).build(),
        Err(AppError::ApiCycle { .. })
    ));
    let missing = FrontendPlugin::new("miss").extension(ApiBlueprint::make(
        ApiFactory::builder(&A).deps(&B).build(Ok),
    ));
    assert!(matches!(
        App::builder().feature(missing).build(),
        Err(AppError::MissingApiDependency { api, dependency }) if api == "plugin.a" && dependency == "plugin.b"
    ));
}

#[tokio::test]
async fn pages_use_the_api_registry() {
    let page = PageBlueprint::new("/greet", |req| async move {
        let greeter = req.api(&GREETER)?;
        Ok(html! { p { (greeter.greet()) } }.into())
    })
    .build();
    let app = App::builder()
        .feature(api_plugin().extension(page))
        .build()
        .unwrap();
    assert!(get(&app, "/greet").await.1.contains("<p>hi</p>"));
}

// ---- routes ----

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

// ---- rendering ----

#[tokio::test]
async fn serves_pages_nav_404_and_stylesheet() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let app = App::builder()
        .feature(demo_plugin(vec![
            holder(ExtensionInput::many, seen),
            label("a", "A"),
            label("b", "B"),
        ]))
        .config(config(json!({"app": {"title": "My <Portal>"}})))
        .build()
        .unwrap();
    let (status, body) = get(&app, "/demo").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<p>total 2</p>"), "{body}");
    assert!(
        body.contains("<title>Demo · My &lt;Portal&gt;</title>"),
        "{body}"
    );
    assert!(body.contains("aria-current=\"page\""));
    assert!(body.contains(app.stylesheet_path()));

    let (status, _) = get(&app, "/").await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "the app's home redirects to its first page"
    );

    let (status, body) = get(&app, "/nope/%3Cb%3E").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("Page not found"));
    assert!(
        body.contains("There is no page at /nope/%3Cb%3E."),
        "{body}"
    );
    assert!(
        body.contains("<nav class=\"bl-nav\""),
        "the 404 page keeps the layout"
    );

    let res = app
        .router()
        .oneshot(
            Request::get(app.stylesheet_path())
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(res.headers()["content-type"], "text/css; charset=utf-8");
    let css = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    assert!(css.len() < 15 * 1024);

    assert!(body_has_script(
        &get(&app, "/demo").await.1,
        app.script_path()
    ));
    let res = app
        .router()
        .oneshot(Request::get(app.script_path()).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        res.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
}

#[tokio::test]
async fn page_errors_render_error_pages() {
    let p = FrontendPlugin::new("err")
        .extension(
            PageBlueprint::new("/missing", |_| async {
                Err(PageError::not_found("no such <thing>"))
            })
            .name("missing")
            .build(),
        )
        .extension(
            PageBlueprint::new("/broken", |_| async {
                Err(PageError::internal("secret detail"))
            })
            .name("broken")
            .build(),
        );
    let app = App::builder().feature(p).build().unwrap();
    let (status, body) = get(&app, "/missing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("no such &lt;thing&gt;"));
    let (status, body) = get(&app, "/broken").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!body.contains("secret detail"));
    assert!(body.contains("role=\"alert\""));
}

#[tokio::test]
async fn override_factories_wrap_the_original() {
    let plugin = demo_plugin(vec![]);
    let item = plugin.get_extension("nav-item:demo").unwrap();
    let renamed = item.override_factory(|ctx, original| {
        let mut out = original(ctx)?;
        let mut nav = out
            .get(&core_data::NAV_ITEM)
            .cloned()
            .ok_or("no nav item")?;
        nav.title = format!("{} <renamed>", nav.title);
        out.insert(&core_data::NAV_ITEM, nav);
        Ok(out)
    });
    let app = App::builder()
        .feature(plugin)
        .extension(renamed)
        .build()
        .unwrap();
    let (_, body) = get(&app, "/demo").await;
    assert!(body.contains("<span>Demo &lt;renamed&gt;</span>"), "{body}");
}

#[tokio::test]
async fn page_factories_read_inputs_and_config() {
    let page = PageBlueprint::from_factory("/sections", |ctx| {
        let labels: Vec<String> = ctx
            .inputs()
            .many("labels")?
            .iter()
            .filter_map(|i| i.get(&LABEL).cloned())
            .collect();
        Ok(PageRenderer::new(move |_| {
            let labels = labels.clone();
            async move { Ok(html! { @for l in &labels { li { (l) } } }.into()) }
        }))
    })
    .input(("labels", ExtensionInput::many(&[LABEL.any()])))
    .build();
    let child = Extension::builder("label", "one")
        .attach_to(("page:sections", "labels"))
        .output(&[LABEL.any()])
        .factory(|_| Ok(Outputs::new().with(&LABEL, "first".to_string())));
    let app = App::builder()
        .feature(FrontendPlugin::new("sections").extension(page))
        .feature(FrontendPlugin::new("other-labels").extension(child))
        .build()
        .unwrap();
    assert!(get(&app, "/sections").await.1.contains("<li>first</li>"));
}

fn body_has_script(body: &str, path: &str) -> bool {
    body.contains(&format!("<script src=\"{path}\" defer></script>"))
}
