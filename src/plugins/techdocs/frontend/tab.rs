//! The Docs tab on catalog entity pages.

use maud::html;

use super::TECHDOCS_REF_ANNOTATION;
use super::reader::{docs_layout, error_content};
use crate::frontend::{Extension, ui};
use crate::plugins::catalog::react::{EntityContentBlueprint, EntityParams, EntityPredicate};
use crate::plugins::techdocs::react::{DocsLocation, DocsPage, TECHDOCS_API, reader_href};

/// The "Docs" tab (`entity-content:techdocs`, path `docs`) for entities with docs: the
/// site's home page with its nav, links pointing into the reader.
pub(crate) fn docs_tab() -> Extension {
    EntityContentBlueprint::new("docs", "Docs", |req| async move {
        let page_req = req.page();
        let api = page_req.api(&TECHDOCS_API)?;
        let entity = req.entity();
        let params = EntityParams::from_entity(entity);
        let reader = reader_href(page_req.routes(), entity);
        let open = html! {
            @if let Some(href) = &reader {
                p { (ui::button_link(href, "Open in the docs reader")) }
            }
        };
        match api.static_file(&params, "index.html").await {
            Ok(html) => {
                let loc = DocsLocation::new(
                    reader.clone().unwrap_or_else(|| "/docs".to_string()),
                    api.static_base_url(&params),
                );
                let page = DocsPage::parse(&html, "", &loc);
                Ok(html! { (open) (docs_layout(&page)) })
            }
            Err(e) => {
                let retry = reader
                    .clone()
                    .unwrap_or_else(|| page_req.path().to_string());
                let (_, content) = error_content(&e, &retry);
                Ok(html! { (content) (open) })
            }
        }
    })
    .filter(EntityPredicate::has_annotation(TECHDOCS_REF_ANNOTATION))
    .build()
}
