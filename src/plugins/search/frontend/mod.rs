//! The search frontend plugin: the `/search` page and a search box in the sidebar.
//!
//! ```
//! use backlot::frontend::App;
//! use backlot::plugins::search::frontend::{SearchUiOptions, search_plugin};
//! use backlot::plugins::search::react::SEARCH_ROUTE;
//!
//! let app = App::builder()
//!     .feature(search_plugin(SearchUiOptions::default().page_limit(10)))
//!     .build()?;
//! assert_eq!(app.routes().href(&SEARCH_ROUTE, &()), Some("/search".to_string()));
//! assert!(app.tree().get("nav-content:search/box").is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod page;
mod search_box;

use std::sync::Arc;

use crate::frontend::{ApiBlueprint, FrontendPlugin, NavItemBlueprint, PageBlueprint};
use crate::plugins::search::react::{HttpSearchApi, SEARCH_ROUTE};

pub use search_box::search_box;

/// Options of the search page: the result types the type picker offers (with labels) and
/// the page size.
///
/// ```
/// use backlot::plugins::search::frontend::SearchUiOptions;
///
/// let options = SearchUiOptions::default().result_type("adr", "Decisions");
/// assert_eq!(options.types().len(), 3);
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct SearchUiOptions {
    types: Vec<(String, String)>,
    page_limit: usize,
    path: String,
}

impl Default for SearchUiOptions {
    fn default() -> Self {
        Self {
            types: vec![
                (
                    "software-catalog".to_string(),
                    "Software Catalog".to_string(),
                ),
                ("techdocs".to_string(), "Documentation".to_string()),
            ],
            page_limit: 25,
            path: "/search".to_string(),
        }
    }
}

impl SearchUiOptions {
    /// Adds a result type `id` shown as `label` in the type picker.
    pub fn result_type(mut self, id: &str, label: &str) -> Self {
        self.types.push((id.to_string(), label.to_string()));
        self
    }

    /// Replaces the result types.
    pub fn result_types(mut self, types: &[(&str, &str)]) -> Self {
        self.types = types
            .iter()
            .map(|(id, label)| (id.to_string(), label.to_string()))
            .collect();
        self
    }

    /// Results per page (25 by default).
    pub fn page_limit(mut self, limit: usize) -> Self {
        self.page_limit = limit.max(1);
        self
    }

    /// The path of the search page (`/search` by default); the sidebar box submits to it.
    pub fn path(mut self, path: &str) -> Self {
        self.path = path.to_string();
        self
    }

    /// The result types and labels.
    pub fn types(&self) -> &[(String, String)] {
        &self.types
    }
}

/// The search plugin (`search`): the [`SEARCH_API`](crate::plugins::search::react::SEARCH_API)
/// over HTTP, the search page (`page:search`, route `search.root`), a nav item
/// (`nav-item:search`) and the sidebar search box (`nav-content:search/box`).
pub fn search_plugin(options: SearchUiOptions) -> FrontendPlugin {
    let box_ext = search_box(&options.path);
    let options = Arc::new(options);
    let path = options.path.clone();
    FrontendPlugin::new("search")
        .route("root", &SEARCH_ROUTE)
        .extension(ApiBlueprint::make(HttpSearchApi::factory()))
        .extension(
            PageBlueprint::new(&path, move |req| {
                let options = options.clone();
                async move { page::render(req, &options).await }
            })
            .route_ref(&SEARCH_ROUTE)
            .title("Search")
            .build(),
        )
        .extension(
            NavItemBlueprint::new("Search", &SEARCH_ROUTE)
                .icon("⌕")
                .build(),
        )
        .extension(box_ext)
}

/// The search frontend plugin (id `search`) with the default [`SearchUiOptions`] (catalog and
/// TechDocs result types, 25 results a page, at `/search`), to add with
/// [`AppBuilder::feature`](crate::frontend::AppBuilder::feature); [`search_plugin`] takes other
/// options.
///
/// ```
/// use backlot::frontend::App;
/// use backlot::plugins::search;
///
/// let app = App::builder().feature(search::frontend::plugin()).build()?;
/// assert!(app.tree().get("page:search").is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn plugin() -> FrontendPlugin {
    search_plugin(SearchUiOptions::default())
}
