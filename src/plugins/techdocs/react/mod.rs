//! Building blocks for TechDocs pages (Backstage's `@backstage/plugin-techdocs-react`): the
//! [`TechDocsApi`] utility API ([`TECHDOCS_API`], over HTTP by [`HttpTechDocsApi`]), the
//! route refs of the docs index and reader, and [`DocsPage::parse`], which takes a generated
//! page apart (site nav, table of contents, article) and rewrites its links to stay in the
//! reader.
//!
//! ```
//! use backlot::plugins::techdocs::react::{DocsLocation, DocsPage};
//!
//! let html = r#"<nav class="md-nav md-nav--primary" aria-label="Navigation"><label class="md-nav__title">Site</label><ul class="md-nav__list"><li class="md-nav__item"><a class="md-nav__link" href="../guide/">Guide</a></li></ul></nav>
//! <article class="md-content__inner md-typeset"><h1>Intro</h1><img src="../img/a.png"></article>"#;
//! let loc = DocsLocation::new("/docs/default/component/shop", "http://127.0.0.1:7007/api/techdocs/static/docs/default/component/shop");
//! let page = DocsPage::parse(html, "intro/", &loc);
//! assert!(page.nav.contains(r#"href="/docs/default/component/shop/guide/""#));
//! assert!(page.article.contains(r#"src="http://127.0.0.1:7007/api/techdocs/static/docs/default/component/shop/img/a.png""#));
//! assert_eq!(page.title, "Intro");
//! ```

mod api;
mod error;
mod page;
mod routes;

pub use api::{HttpTechDocsApi, TECHDOCS_API, TechDocsApi};
pub use error::TechDocsApiError;
pub use page::{DocsLocation, DocsPage, page_file};
pub use routes::{TECHDOCS_INDEX_ROUTE, TECHDOCS_READER_ROUTE, reader_href};
