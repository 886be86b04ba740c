//! The docs index: catalog entities with a `backstage.io/techdocs-ref` annotation.

use axum::http::StatusCode;
use maud::html;

use super::TECHDOCS_REF_ANNOTATION;
use crate::frontend::ui::{self, Column, Table};
use crate::frontend::{PageContent, PageError, PageRequest};
use crate::plugins::catalog::common::CatalogClientError;
use crate::plugins::catalog::react::{
    CATALOG_API, CatalogApiError, EntityFilter, QueryEntitiesRequest, entity_href,
};
use crate::plugins::techdocs::react::reader_href;

pub(crate) async fn render(req: PageRequest) -> Result<PageContent, PageError> {
    let catalog = req.api(&CATALOG_API)?;
    let request = QueryEntitiesRequest {
        filter: vec![
            EntityFilter::new().exists(format!("metadata.annotations.{TECHDOCS_REF_ANNOTATION}")),
        ],
        limit: Some(50),
        order_fields: vec![("metadata.name".to_string(), "asc".to_string())],
        cursor: req
            .query("cursor")
            .filter(|c| !c.is_empty())
            .map(str::to_string),
        ..QueryEntitiesRequest::default()
    };
    let header = ui::header("Documentation", Some("Docs of the software in the catalog"));
    let page = match catalog.query_entities(&request).await {
        Ok(page) => page,
        // A 4xx from the catalog (a bad or stale cursor) is the visitor's request: shown with
        // its status and message, not as a failing upstream.
        Err(CatalogApiError::Client(CatalogClientError::Response {
            status: status @ 400..=499,
            message,
            ..
        })) => {
            let body = html! { (header) (ui::error_state("Invalid request", &message)) };
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            return Ok(PageContent::new(body).status(status));
        }
        Err(e) => {
            tracing::warn!(error = %e, "docs index: catalog query failed");
            let body = html! { (header) (ui::error_state("Could not load the docs index", &e.to_string())) };
            return Ok(PageContent::new(body).status(StatusCode::BAD_GATEWAY));
        }
    };
    let here = req.path().to_string();
    let cursor_href = |c: &str| {
        let q = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("cursor", c)
            .finish();
        format!("{here}?{q}")
    };
    let rows = page.items.iter().map(|e| {
        let title = e
            .metadata
            .title
            .clone()
            .unwrap_or_else(|| e.metadata.name.clone());
        let owner = e
            .spec
            .as_ref()
            .and_then(|s| s.get("owner"))
            .and_then(|o| o.as_str())
            .unwrap_or("")
            .to_string();
        let entity = e.to_ref();
        vec![
            match reader_href(req.routes(), e) {
                Some(href) => ui::link(&href, &title),
                None => html! { (title) },
            },
            match entity_href(req.routes(), &entity) {
                Some(href) => ui::link(&href, &entity.to_string()),
                None => html! { (entity.to_string()) },
            },
            html! { (owner) },
            html! { (e.metadata.description.clone().unwrap_or_default()) },
        ]
    });
    let body = html! {
        (header)
        @if page.items.is_empty() {
            (ui::empty_state("No documentation yet", "Add a backstage.io/techdocs-ref annotation to an entity to publish its docs."))
        } @else {
            (Table::new("Documentation")
                .columns(vec![
                    Column::new("title", "Document"),
                    Column::new("entity", "Entity"),
                    Column::new("owner", "Owner"),
                    Column::new("description", "Description"),
                ])
                .rows(rows)
                .total(page.total_items)
                .render())
            nav class="bl-search-paging" aria-label="Pages" {
                @if let Some(c) = &page.page_info.prev_cursor {
                    a class="bl-button" rel="prev" href=(cursor_href(c)) { "Previous" } " "
                }
                @if let Some(c) = &page.page_info.next_cursor {
                    a class="bl-button" rel="next" href=(cursor_href(c)) { "Next" }
                }
            }
        }
    };
    Ok(PageContent::new(body))
}
