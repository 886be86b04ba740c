//! Building blocks for search pages (Backstage's `@backstage/plugin-search-react`): the
//! [`SearchApi`] utility API ([`SEARCH_API`], over HTTP by [`HttpSearchApi`]), the search
//! page's route ref [`SEARCH_ROUTE`] and [`highlight`], which renders a highlighted field safely.
//!
//! ```
//! use backlot::plugins::search::react::highlight;
//!
//! let html = highlight("<b>x</b> @@hl@@rust@@/hl@@", "@@hl@@", "@@/hl@@").into_string();
//! assert_eq!(html, "&lt;b&gt;x&lt;/b&gt; <mark>rust</mark>");
//! ```

mod api;
mod error;
mod highlight;

pub use api::{HttpSearchApi, SEARCH_API, SEARCH_ROUTE, SearchApi};
pub use error::SearchApiError;
pub use highlight::highlight;
