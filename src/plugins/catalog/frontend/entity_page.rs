//! The entity page: header, an Overview tab with the attached cards, and the attached tabs.

use std::sync::Arc;

use maud::html;

use super::links::entity_title;
use super::style::style;
use crate::backend::BoxError;
use crate::frontend::ui::{self, Tab};
use crate::frontend::{ExtensionContext, PageContent, PageError, PageRenderer, PageRequest};
use crate::plugins::catalog::common::EntityRef;
use crate::plugins::catalog::react::{
    CATALOG_API, ENTITY_CARD, ENTITY_CARDS, ENTITY_CONTENT, ENTITY_CONTENTS, ENTITY_ROUTE,
    EntityCard, EntityContent, EntityParams, EntityRequest,
};

/// Builds the page's renderer from the attached tabs (`contents`) and cards (`cards`).
pub(crate) fn entity_page_factory(ctx: &ExtensionContext<'_>) -> Result<PageRenderer, BoxError> {
    let contents: Vec<EntityContent> = ctx
        .inputs()
        .many(&ENTITY_CONTENTS)?
        .iter()
        .map(|i| i.require(&ENTITY_CONTENT).cloned())
        .collect::<Result<_, _>>()?;
    let cards: Vec<EntityCard> = ctx
        .inputs()
        .many(&ENTITY_CARDS)?
        .iter()
        .map(|i| i.require(&ENTITY_CARD).cloned())
        .collect::<Result<_, _>>()?;
    let parts = Arc::new((contents, cards));
    Ok(PageRenderer::new(move |req| {
        let parts = parts.clone();
        async move { render(req, &parts.0, &parts.1).await }
    }))
}

async fn render(
    req: PageRequest,
    contents: &[EntityContent],
    cards: &[EntityCard],
) -> Result<PageContent, PageError> {
    let param = |n: &str| req.param(n).unwrap_or_default().to_string();
    let params = EntityParams {
        namespace: param("namespace"),
        kind: param("kind"),
        name: param("name"),
    };
    let entity_ref = EntityRef::new(&params.kind, &params.namespace, &params.name);
    let api = req.api(&CATALOG_API)?;
    let Some(entity) = api.get_entity_by_ref(&entity_ref).await? else {
        return Err(PageError::not_found(format!(
            "There is no {} named '{}' in namespace '{}' in the catalog.",
            params.kind, params.name, params.namespace
        )));
    };
    let entity = Arc::new(entity);
    let base = req
        .routes()
        .href(&ENTITY_ROUTE, &params)
        .unwrap_or_else(|| req.path().to_string());
    let rest = req.rest().trim_matches('/');
    let visible: Vec<&EntityContent> = contents
        .iter()
        .filter(|c| c.filter.as_ref().is_none_or(|f| f.matches(&entity)))
        .collect();
    let current = if rest.is_empty() {
        None
    } else {
        Some(visible.iter().find(|c| c.path == rest).ok_or_else(|| {
            PageError::not_found(format!("{} has no tab at '{rest}'.", entity_title(&entity)))
        })?)
    };
    let mut tabs = vec![Tab::new("Overview", base.clone(), current.is_none())];
    for c in &visible {
        tabs.push(Tab::new(
            c.title.clone(),
            format!("{base}/{}", c.path),
            current.is_some_and(|cur| std::ptr::eq(*cur, *c)),
        ));
    }
    let ereq = EntityRequest::new(entity.clone(), req.clone());
    let main = match current {
        Some(content) => content.render.render(ereq).await?,
        None => {
            let shown = cards
                .iter()
                .filter(|c| c.filter.as_ref().is_none_or(|f| f.matches(&entity)));
            let rendered =
                futures::future::join_all(shown.map(|c| c.render.render(ereq.clone()))).await;
            let mut out = Vec::with_capacity(rendered.len());
            for card in rendered {
                match card {
                    Ok(markup) => out.push(markup),
                    Err(e) => {
                        tracing::warn!(entity = %entity.ref_string(), error = %e.message(), "entity card failed");
                        out.push(ui::error_state("This card failed to load", e.message()));
                    }
                }
            }
            html! { div class="cat-overview" { (ui::grid(&out)) } }
        }
    };
    let title = entity_title(&entity).to_string();
    let tags: Vec<&str> = entity.metadata.tags.iter().map(String::as_str).collect();
    let body = html! {
        (style())
        (ui::header(&title, entity.metadata.description.as_deref()))
        div class="cat-entity-head" {
            span class="cat-kind" { (entity.kind) }
            span class="bl-muted" { "namespace " (entity.metadata.namespace()) }
            @if let Some(t) = entity.spec_str("type") { span class="bl-muted" { "type " (t) } }
            @if !tags.is_empty() { (ui::chips(&tags)) }
        }
        (ui::tabs(&format!("{title} sections"), &tabs))
        (main)
    };
    let doc_title = match current {
        Some(c) => format!("{title} · {}", c.title),
        None => title,
    };
    Ok(PageContent::new(body).title(doc_title))
}
