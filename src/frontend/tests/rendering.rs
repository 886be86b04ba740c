//! App tests: pages served as HTML, error pages, override factories.

use super::*;

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
