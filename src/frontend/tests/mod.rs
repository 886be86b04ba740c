//! App tests through the public API: tree resolution and config here; overrides and APIs, routes, and rendering in the submodules.

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

mod apis;
mod rendering;
mod routes;
mod signin;
