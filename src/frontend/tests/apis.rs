//! App tests: extension overrides and utility APIs.

use super::*;

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
