//! The app's own extensions: `app`, `app/layout`, `app/nav`, `app/routes`, the default themes
//! and the core APIs.

use std::sync::Arc;

use super::api::{ApiFactory, ApiRef};
use super::blueprints::{ApiBlueprint, ThemeBlueprint};
use super::core_data::{
    API_FACTORY, APP_APIS, APP_ROOT, APP_THEMES, LAYOUT, LAYOUT_CONTENT, LAYOUT_NAV, Layout, NAV,
    NAV_CONTENT, NAV_CONTENTS, NAV_ITEM, NAV_ITEMS, Nav, NavContent, PAGE, PAGES, PageRoute,
    ROUTE_PATH, ROUTES, THEME, TITLE,
};
use super::data_ref::{ExtensionDataRef, Outputs};
use super::extension::Extension;
use super::theme::Theme;
use super::ui;
use crate::services::config::Config;
use crate::services::discovery::{DiscoveryService, HostDiscovery};

/// The core utility API refs every app provides.
pub mod core_apis {
    use super::*;

    /// The app config (`core.config`).
    pub static CONFIG: ApiRef<Config> = ApiRef::new("core.config");
    /// Where backend plugins live (`core.discovery`); the `app` backend plugin provides the
    /// backend's own discovery service, a standalone app reads `backend.baseUrl`.
    pub static DISCOVERY: ApiRef<dyn DiscoveryService> = ApiRef::new("core.discovery");
    /// Calls plugin backends found through `core.discovery` (`core.fetch`), with the
    /// timeouts of `backend.httpClient.*`; see [`FetchApi`](crate::frontend::FetchApi).
    pub static FETCH: ApiRef<crate::frontend::FetchApi> = ApiRef::new("core.fetch");
}

/// What the root extension hands the app.
#[derive(Debug, Clone)]
pub(crate) struct AppParts {
    pub(crate) layout: Layout,
    pub(crate) routes: Vec<PageRoute>,
    pub(crate) apis: Vec<(String, ApiFactory)>,
    pub(crate) themes: Vec<Theme>,
}

pub(crate) static APP_PARTS: ExtensionDataRef<AppParts> = ExtensionDataRef::new("core.app.parts");

fn root() -> Extension {
    Extension::builder("", "app")
        .input(&APP_ROOT)
        .input(&APP_APIS)
        .input(&APP_THEMES)
        .output(&[APP_PARTS.any()])
        .factory(|ctx| {
            let root = ctx.inputs().one(&APP_ROOT)?;
            let apis = ctx
                .inputs()
                .many(&APP_APIS)?
                .iter()
                .map(|i| Ok((i.id().to_string(), i.require(&API_FACTORY)?.clone())))
                .collect::<Result<Vec<_>, crate::backend::BoxError>>()?;
            let themes = ctx
                .inputs()
                .many(&APP_THEMES)?
                .iter()
                .filter_map(|i| i.get(&THEME).cloned())
                .collect();
            Ok(Outputs::new().with(
                &APP_PARTS,
                AppParts {
                    layout: root.require(&LAYOUT)?.clone(),
                    routes: root.require(&ROUTES)?.clone(),
                    apis,
                    themes,
                },
            ))
        })
}

fn layout() -> Extension {
    Extension::builder("", "layout")
        .namespace("app")
        .attach_to(&APP_ROOT)
        .input(&LAYOUT_NAV)
        .input(&LAYOUT_CONTENT)
        .output(&[LAYOUT.any(), ROUTES.any()])
        .factory(|ctx| {
            let nav = ctx.inputs().one(&LAYOUT_NAV)?.require(&NAV)?.clone();
            let routes = ctx.inputs().one(&LAYOUT_CONTENT)?.require(&ROUTES)?.clone();
            Ok(Outputs::new()
                .with(
                    &LAYOUT,
                    Layout {
                        nav,
                        render: Arc::new(ui::default_layout),
                    },
                )
                .with(&ROUTES, routes))
        })
}

type NavRender = dyn Fn(&[super::core_data::NavLink]) -> maud::Markup + Send + Sync;

fn nav() -> Extension {
    Extension::builder("", "nav")
        .namespace("app")
        .attach_to(&LAYOUT_NAV)
        .input(&NAV_ITEMS)
        .input(&NAV_CONTENTS)
        .output(&[NAV.any()])
        .factory(|ctx| {
            let items = ctx
                .inputs()
                .many(&NAV_ITEMS)?
                .iter()
                .filter_map(|i| i.get(&NAV_ITEM).cloned())
                .collect();
            let content: Vec<NavContent> = ctx
                .inputs()
                .many(&NAV_CONTENTS)?
                .iter()
                .filter_map(|i| i.get(&NAV_CONTENT).cloned())
                .collect();
            let render: Arc<NavRender> = if content.is_empty() {
                Arc::new(ui::default_nav)
            } else {
                Arc::new(move |links| {
                    maud::html! {
                        div class="bl-nav-content" { @for c in &content { (c.markup()) } }
                        (ui::default_nav(links))
                    }
                })
            };
            Ok(Outputs::new().with(&NAV, Nav { items, render }))
        })
}

fn routes() -> Extension {
    Extension::builder("", "routes")
        .namespace("app")
        .attach_to(&LAYOUT_CONTENT)
        .input(&PAGES)
        .output(&[ROUTES.any()])
        .factory(|ctx| {
            let routes = ctx
                .inputs()
                .many(&PAGES)?
                .iter()
                .map(|i| {
                    Ok(PageRoute {
                        extension: i.id().to_string(),
                        path: i.require(&ROUTE_PATH)?.clone(),
                        title: i.get(&TITLE).cloned(),
                        render: i.require(&PAGE)?.clone(),
                    })
                })
                .collect::<Result<Vec<_>, crate::backend::BoxError>>()?;
            Ok(Outputs::new().with(&ROUTES, routes))
        })
}

fn config_api() -> Extension {
    Extension::builder("api", "")
        .namespace(core_apis::CONFIG.id())
        .attach_to(&APP_APIS)
        .output(&[API_FACTORY.any()])
        .factory(|ctx| {
            Ok(Outputs::new().with(
                &API_FACTORY,
                ApiFactory::instance(&core_apis::CONFIG, Arc::new(ctx.app_config().clone())),
            ))
        })
}

fn discovery_api() -> Extension {
    Extension::builder("api", "")
        .namespace(core_apis::DISCOVERY.id())
        .attach_to(&APP_APIS)
        .output(&[API_FACTORY.any()])
        .factory(|ctx| {
            let base = ctx
                .app_config()
                .opt_string("backend.baseUrl")?
                .unwrap_or_else(|| "http://localhost:7007".to_string());
            let discovery = HostDiscovery::from_config(ctx.app_config(), &base)?;
            Ok(Outputs::new().with(
                &API_FACTORY,
                ApiFactory::instance(
                    &core_apis::DISCOVERY,
                    Arc::new(discovery) as Arc<dyn DiscoveryService>,
                ),
            ))
        })
}

fn fetch_api() -> Extension {
    ApiBlueprint::make(
        ApiFactory::builder(&core_apis::FETCH)
            .deps((&core_apis::DISCOVERY, &core_apis::CONFIG))
            .build(|(discovery, config)| {
                let http = crate::services::http_client::http_client(&config)?;
                Ok(Arc::new(super::fetch::FetchApi::new(discovery, http)))
            }),
    )
}

/// The built-in extensions, root first.
pub(crate) fn builtin_extensions(discovery: Option<Arc<dyn DiscoveryService>>) -> Vec<Extension> {
    let discovery = match discovery {
        Some(d) => ApiBlueprint::make(ApiFactory::instance(&core_apis::DISCOVERY, d)),
        None => discovery_api(),
    };
    vec![
        root(),
        layout(),
        nav(),
        routes(),
        ThemeBlueprint::make(Theme::light(), Some("app")),
        ThemeBlueprint::make(Theme::dark(), Some("app")),
        config_api(),
        discovery,
        fetch_api(),
    ]
}

#[cfg(test)]
mod nav_content_tests {
    use axum::body::Body;
    use axum::http::Request;
    use maud::html;
    use tower::ServiceExt;

    use super::NAV_CONTENT;
    use crate::frontend::{App, Extension, FrontendPlugin, Outputs};

    async fn sidebar(app: &App) -> String {
        let res = app
            .router()
            .oneshot(Request::get("/nowhere").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        let html = String::from_utf8(body.to_vec()).unwrap();
        let start = html.find("<aside").unwrap();
        let end = html.find("</aside>").unwrap();
        html[start..end].to_string()
    }

    #[tokio::test]
    async fn nav_content_is_rendered_in_the_sidebar() {
        let box_ext = Extension::builder("nav-content", "")
            .attach_to(&crate::frontend::core_data::NAV_CONTENTS)
            .output(&[NAV_CONTENT.any()])
            .factory(|_| {
                Ok(Outputs::new().with(
                    &NAV_CONTENT,
                    html! { form role="search" action="/find" { input name="q"; } }.into(),
                ))
            });
        let app = App::builder()
            .feature(FrontendPlugin::new("finder").extension(box_ext))
            .build()
            .unwrap();
        let nav = app.tree().get("app/nav").unwrap();
        assert_eq!(nav.children("content").len(), 1);
        let html = sidebar(&app).await;
        assert!(
            html.contains("<form role=\"search\" action=\"/find\">"),
            "{html}"
        );
        assert!(html.contains("bl-nav-content"), "{html}");
    }

    #[tokio::test]
    async fn without_content_the_nav_is_the_default() {
        let app = App::builder().build().unwrap();
        let html = sidebar(&app).await;
        assert!(html.contains("aria-label=\"Main\""), "{html}");
        assert!(!html.contains("bl-nav-content"), "{html}");
    }
}
