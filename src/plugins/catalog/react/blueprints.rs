//! Entity page slots: content tabs and overview cards other plugins attach to the catalog's
//! entity page, like Backstage's `EntityContentBlueprint` and `EntityCardBlueprint`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use maud::Markup;
use serde::Deserialize;

use crate::frontend::{Extension, ExtensionDataRef, InputRef, Outputs, PageError, PageRequest};
use crate::plugins::catalog::common::Entity;

/// The id of the catalog's entity page, which takes the inputs `contents` (tabs) and `cards`
/// (overview cards).
pub const ENTITY_PAGE_ID: &str = "page:catalog/entity";

/// Input `contents` of the entity page: tabs ([`EntityContentBlueprint`]).
pub static ENTITY_CONTENTS: InputRef =
    InputRef::many(ENTITY_PAGE_ID, "contents", || vec![ENTITY_CONTENT.any()]);
/// Input `cards` of the entity page: overview cards ([`EntityCardBlueprint`]).
pub static ENTITY_CARDS: InputRef =
    InputRef::many(ENTITY_PAGE_ID, "cards", || vec![ENTITY_CARD.any()]);

/// What a tab or card renders for: the entity and the page request (query, routes, APIs).
#[derive(Debug, Clone)]
pub struct EntityRequest {
    entity: Arc<Entity>,
    page: PageRequest,
}

impl EntityRequest {
    /// A request for `entity` within `page`.
    pub fn new(entity: Arc<Entity>, page: PageRequest) -> Self {
        Self { entity, page }
    }

    /// The entity the page shows.
    pub fn entity(&self) -> &Entity {
        &self.entity
    }

    /// The page request: query, routes (`page().routes()`), utility APIs (`page().api(..)`).
    pub fn page(&self) -> &PageRequest {
        &self.page
    }
}

type RenderFn = dyn Fn(EntityRequest) -> Pin<Box<dyn Future<Output = Result<Markup, PageError>> + Send>>
    + Send
    + Sync;

/// An async render function of a tab or card.
#[derive(Clone)]
pub struct EntityRenderer(Arc<RenderFn>);

impl fmt::Debug for EntityRenderer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EntityRenderer")
    }
}

impl EntityRenderer {
    /// Wraps an async render function.
    pub fn new<F, Fut>(render: F) -> Self
    where
        F: Fn(EntityRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Markup, PageError>> + Send + 'static,
    {
        Self(Arc::new(move |req| Box::pin(render(req))))
    }

    /// Renders for a request.
    pub async fn render(&self, req: EntityRequest) -> Result<Markup, PageError> {
        (self.0)(req).await
    }
}

/// Which entities a tab or card is shown for.
#[derive(Clone)]
pub struct EntityPredicate(Arc<dyn Fn(&Entity) -> bool + Send + Sync>);

impl fmt::Debug for EntityPredicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EntityPredicate")
    }
}

impl EntityPredicate {
    /// A predicate from a function.
    pub fn new(f: impl Fn(&Entity) -> bool + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// Entities of one of `kinds` (compared case-insensitively).
    ///
    /// ```
    /// use backlot::plugins::catalog::common::Entity;
    /// use backlot::plugins::catalog::react::EntityPredicate;
    ///
    /// let p = EntityPredicate::kinds(&["component", "api"]);
    /// assert!(p.matches(&Entity::new("backstage.io/v1alpha1", "API", "x")));
    /// assert!(!p.matches(&Entity::new("backstage.io/v1alpha1", "Group", "x")));
    /// ```
    pub fn kinds(kinds: &[&str]) -> Self {
        let kinds: Vec<String> = kinds.iter().map(|k| k.to_ascii_lowercase()).collect();
        Self::new(move |e| kinds.iter().any(|k| k.eq_ignore_ascii_case(&e.kind)))
    }

    /// Entities carrying annotation `key`.
    pub fn has_annotation(key: &str) -> Self {
        let key = key.to_string();
        Self::new(move |e| e.metadata.annotations.contains_key(&key))
    }

    /// Whether `entity` matches.
    pub fn matches(&self, entity: &Entity) -> bool {
        (self.0)(entity)
    }
}

/// A tab of the entity page: a path below the entity page (`docs` → `/catalog/ns/kind/name/docs`),
/// a title, an optional filter and a renderer.
#[derive(Debug, Clone)]
pub struct EntityContent {
    /// The path segment(s) below the entity page, without a leading `/`.
    pub path: String,
    /// The tab label.
    pub title: String,
    /// Shown only for entities matching this.
    pub filter: Option<EntityPredicate>,
    /// Renders the tab.
    pub render: EntityRenderer,
}

/// A card on the entity page's Overview tab.
#[derive(Debug, Clone)]
pub struct EntityCard {
    /// Shown only for entities matching this.
    pub filter: Option<EntityPredicate>,
    /// Renders the card (usually with [`ui::card`](crate::frontend::ui::card)).
    pub render: EntityRenderer,
}

/// The data an `entity-content` extension gives the entity page.
pub static ENTITY_CONTENT: ExtensionDataRef<EntityContent> =
    ExtensionDataRef::new("catalog.entity-content");
/// The data an `entity-card` extension gives the entity page.
pub static ENTITY_CARD: ExtensionDataRef<EntityCard> = ExtensionDataRef::new("catalog.entity-card");

/// Config of an entity content extension: `path` and `title` replace the defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EntityContentConfig {
    /// The path below the entity page.
    pub path: Option<String>,
    /// The tab title.
    pub title: Option<String>,
}

/// A tab on entity pages: kind `entity-content`, attached to `page:catalog/entity` input
/// `contents`; id `entity-content:<plugin>[/<name>]`.
///
/// ```
/// use backlot::frontend::{App, FrontendPlugin};
/// use backlot::plugins::catalog::react::{EntityContentBlueprint, EntityPredicate};
/// use maud::html;
///
/// let docs_tab = EntityContentBlueprint::new("docs", "Docs", |req| async move {
///     Ok(html! { p { "Docs of " (req.entity().metadata.name) } })
/// })
/// .filter(EntityPredicate::has_annotation("backstage.io/techdocs-ref"))
/// .build();
/// assert_eq!(docs_tab.attach_to().map(|a| a.input.as_str()), Some("contents"));
/// let plugin = FrontendPlugin::new("techdocs").extension(docs_tab);
/// assert_eq!(plugin.extension_ids()?, vec!["entity-content:techdocs"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct EntityContentBlueprint {
    name: String,
    path: String,
    title: String,
    filter: Option<EntityPredicate>,
    render: EntityRenderer,
}

impl EntityContentBlueprint {
    /// A tab at `path` (below the entity page) titled `title`.
    pub fn new<F, Fut>(path: &str, title: &str, render: F) -> Self
    where
        F: Fn(EntityRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Markup, PageError>> + Send + 'static,
    {
        Self {
            name: String::new(),
            path: path.trim_matches('/').to_string(),
            title: title.to_string(),
            filter: None,
            render: EntityRenderer::new(render),
        }
    }

    /// Names the extension (`entity-content:<plugin>/<name>`), for several tabs per plugin.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// Shows the tab only for entities matching `filter`.
    pub fn filter(mut self, filter: EntityPredicate) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Finishes the extension.
    pub fn build(self) -> Extension {
        Extension::builder("entity-content", &self.name)
            .attach_to(&ENTITY_CONTENTS)
            .config::<EntityContentConfig>()
            .output(&[ENTITY_CONTENT.any()])
            .factory(move |_, config| {
                Ok(Outputs::new().with(
                    &ENTITY_CONTENT,
                    EntityContent {
                        path: config
                            .path
                            .as_deref()
                            .map_or_else(|| self.path.clone(), |p| p.trim_matches('/').to_string()),
                        title: config.title.clone().unwrap_or_else(|| self.title.clone()),
                        filter: self.filter.clone(),
                        render: self.render.clone(),
                    },
                ))
            })
    }
}

/// A card on the Overview tab of entity pages: kind `entity-card`, attached to
/// `page:catalog/entity` input `cards`; id `entity-card:<plugin>/<name>`.
///
/// ```
/// use backlot::frontend::ui;
/// use backlot::plugins::catalog::react::{EntityCardBlueprint, EntityPredicate};
/// use maud::html;
///
/// let card = EntityCardBlueprint::new("pods", |req| async move {
///     Ok(ui::card("Pods", html! { p { "3 pods of " (req.entity().metadata.name) } }))
/// })
/// .filter(EntityPredicate::kinds(&["component"]))
/// .build();
/// assert_eq!(card.attach_to().map(|a| a.id.as_str()), Some("page:catalog/entity"));
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct EntityCardBlueprint {
    name: String,
    filter: Option<EntityPredicate>,
    render: EntityRenderer,
}

impl EntityCardBlueprint {
    /// A card named `name` (`entity-card:<plugin>/<name>`).
    pub fn new<F, Fut>(name: &str, render: F) -> Self
    where
        F: Fn(EntityRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Markup, PageError>> + Send + 'static,
    {
        Self {
            name: name.to_string(),
            filter: None,
            render: EntityRenderer::new(render),
        }
    }

    /// Shows the card only for entities matching `filter`.
    pub fn filter(mut self, filter: EntityPredicate) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Finishes the extension.
    pub fn build(self) -> Extension {
        Extension::builder("entity-card", &self.name)
            .attach_to(&ENTITY_CARDS)
            .output(&[ENTITY_CARD.any()])
            .factory(move |_| {
                Ok(Outputs::new().with(
                    &ENTITY_CARD,
                    EntityCard {
                        filter: self.filter.clone(),
                        render: self.render.clone(),
                    },
                ))
            })
    }
}
