//! `PageBlueprint`: a page mounted at a path in `app/routes`.

use std::future::Future;
use std::sync::Arc;

use serde::Deserialize;

use crate::backend::BoxError;
use crate::frontend::core_data::{PAGE, ROUTE_PATH, ROUTE_REF, TITLE};
use crate::frontend::data_ref::Outputs;
use crate::frontend::extension::{Extension, ExtensionBuilder, ExtensionContext};
use crate::frontend::input::{ExtensionInput, IntoInputDeclaration};
use crate::frontend::page::{PageContent, PageError, PageRenderer, PageRequest};
use crate::frontend::routing::{AnyRouteRef, BindTarget, RouteParams, RouteRef};

/// The config every page takes in `app.extensions`: `path` and `title` replace the defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PageConfig {
    /// The mount path.
    pub path: Option<String>,
    /// The title.
    pub title: Option<String>,
}

/// A page: kind `page`, attached to `app/routes` input `routes`, with a default path (`:param`
/// segments allowed), an optional route ref and title, and an async render function.
///
/// ```
/// use backlot::frontend::{FrontendPlugin, PageBlueprint, RouteRef};
/// use maud::html;
///
/// static ROOT: RouteRef = RouteRef::new("todo.root");
///
/// let page = PageBlueprint::new("/todo", |req| async move {
///     let filter = req.query("filter").unwrap_or("all").to_string();
///     Ok(html! { h1 { "Todos (" (filter) ")" } }.into())
/// })
/// .route_ref(&ROOT)
/// .title("Todo")
/// .build();
/// let plugin = FrontendPlugin::new("todo").extension(page);
/// assert_eq!(plugin.extension_ids()?, vec!["page:todo"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A page that other extensions plug into — like the catalog's entity page with its content
/// tabs — declares inputs and builds its renderer from them with [`PageBlueprint::from_factory`]:
///
/// ```
/// use backlot::frontend::{App, Extension, ExtensionDataRef, FrontendPlugin, InputRef, Outputs, PageBlueprint, PageRenderer};
/// use maud::html;
///
/// /// A section other plugins add to the overview page.
/// pub static SECTION: ExtensionDataRef<String> = ExtensionDataRef::new("overview.section");
/// /// The input of the overview page sections attach to.
/// pub static SECTIONS: InputRef = InputRef::many("page:overview", "sections", || vec![SECTION.any()]);
///
/// let page = PageBlueprint::from_factory("/overview", |ctx| {
///     let sections: Vec<String> = ctx
///         .inputs()
///         .many(&SECTIONS)?
///         .iter()
///         .filter_map(|s| s.get(&SECTION).cloned())
///         .collect();
///     Ok(PageRenderer::new(move |_req| {
///         let sections = sections.clone();
///         async move { Ok(html! { @for s in &sections { section { (s) } } }.into()) }
///     }))
/// })
/// .input(&SECTIONS)
/// .build();
/// let section = Extension::builder("overview-section", "news")
///     .attach_to(&SECTIONS)
///     .output(&[SECTION.any()])
///     .factory(|_| Ok(Outputs::new().with(&SECTION, "News".to_string())));
///
/// let app = App::builder()
///     .feature(FrontendPlugin::new("overview").extension(page))
///     .feature(FrontendPlugin::new("news").extension(section))
///     .build()?;
/// assert_eq!(app.tree().get("page:overview").map(|n| n.children("sections").len()), Some(1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct PageBlueprint {
    name: String,
    namespace: Option<String>,
    path: String,
    route_ref: Option<AnyRouteRef>,
    title: Option<String>,
    disabled: bool,
    render: Render,
    inputs: Vec<(String, ExtensionInput)>,
    forms: bool,
}

type RenderFactory =
    Arc<dyn Fn(&ExtensionContext<'_>) -> Result<PageRenderer, BoxError> + Send + Sync>;

#[derive(Clone)]
enum Render {
    Fixed(PageRenderer),
    Factory(RenderFactory),
}

impl std::fmt::Debug for Render {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fixed(_) => f.write_str("Fixed"),
            Self::Factory(_) => f.write_str("Factory"),
        }
    }
}

impl PageBlueprint {
    /// A page at `default_path` rendered by `render`.
    pub fn new<F, Fut>(default_path: &str, render: F) -> Self
    where
        F: Fn(PageRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<PageContent, PageError>> + Send + 'static,
    {
        Self {
            name: String::new(),
            namespace: None,
            path: default_path.to_string(),
            route_ref: None,
            title: None,
            disabled: false,
            render: Render::Fixed(PageRenderer::new(render)),
            inputs: Vec::new(),
            forms: false,
        }
    }

    /// A page at `default_path` whose renderer is made when the app is built, from the page's
    /// inputs and config (the extension context).
    pub fn from_factory(
        default_path: &str,
        factory: impl Fn(&ExtensionContext<'_>) -> Result<PageRenderer, BoxError>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        Self {
            name: String::new(),
            namespace: None,
            path: default_path.to_string(),
            route_ref: None,
            title: None,
            disabled: false,
            render: Render::Factory(Arc::new(factory)),
            inputs: Vec::new(),
            forms: false,
        }
    }

    /// Declares an input other extensions attach to: an [`InputRef`](crate::frontend::InputRef)
    /// whose extension is `page:<plugin>[/<name>]` (children `.attach_to(&IT)`), or
    /// `(name, ExtensionInput)`; read it in a [`from_factory`](Self::from_factory) factory.
    pub fn input(mut self, input: impl IntoInputDeclaration) -> Self {
        self.inputs.push(input.into_declaration());
        self
    }

    /// Names the page (`page:<plugin>/<name>`); without a name the id is `page:<plugin>`.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// Sets the namespace (by default the plugin id).
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.namespace = Some(namespace.to_string());
        self
    }

    /// The route ref the page mounts, so other pages can link to it.
    pub fn route_ref<P: RouteParams>(mut self, route: &RouteRef<P>) -> Self {
        self.route_ref = Some(route.any_route());
        self
    }

    /// The default title.
    pub fn title(mut self, title: &str) -> Self {
        self.title = Some(title.to_string());
        self
    }

    /// Lets the page take form posts from the app's own pages
    /// ([`PageRenderer::accept_forms`]).
    pub fn accept_forms(mut self) -> Self {
        self.forms = true;
        self
    }

    /// Makes the page disabled unless config enables it.
    pub fn disabled(mut self, disabled: bool) -> Self {
        self.disabled = disabled;
        self
    }

    fn extension_builder(&self) -> ExtensionBuilder<PageConfig> {
        let mut builder = Extension::builder("page", &self.name)
            .attach_to(&crate::frontend::core_data::PAGES)
            .disabled(self.disabled)
            .config::<PageConfig>()
            .output(&[
                ROUTE_PATH.any(),
                PAGE.any(),
                ROUTE_REF.optional().any(),
                TITLE.optional().any(),
            ]);
        if let Some(ns) = &self.namespace {
            builder = builder.namespace(ns);
        }
        for (name, input) in &self.inputs {
            builder = builder.input((name.as_str(), input.clone()));
        }
        builder
    }

    /// Finishes the page extension.
    pub fn build(self) -> Extension {
        let builder = self.extension_builder();
        builder.factory(move |ctx, config| {
            let render = match &self.render {
                Render::Fixed(render) => render.clone(),
                Render::Factory(factory) => factory(ctx)?,
            };
            let render = if self.forms {
                render.accept_forms()
            } else {
                render
            };
            let mut out = Outputs::new()
                .with(
                    &ROUTE_PATH,
                    config.path.clone().unwrap_or_else(|| self.path.clone()),
                )
                .with(&PAGE, render);
            if let Some(route) = self.route_ref {
                out.insert(&ROUTE_REF, route);
            }
            if let Some(title) = config.title.clone().or_else(|| self.title.clone()) {
                out.insert(&TITLE, title);
            }
            Ok(out)
        })
    }
}
