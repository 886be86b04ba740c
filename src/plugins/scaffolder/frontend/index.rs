//! `/create`: the templates of the catalog as cards, with filters by tag, type and text.

use maud::{Markup, html};

use super::STYLE;
use super::form::root_href;
use crate::frontend::{PageContent, PageError, PageRequest, ui};
use crate::plugins::catalog::common::{Entity, EntityRef, RefDefaults};
use crate::plugins::catalog::react::{
    CATALOG_API, EntityFilter, QueryEntitiesRequest, entity_href, humanize_ref,
};
use crate::plugins::scaffolder::react::{SELECTED_TEMPLATE_ROUTE, TASKS_ROUTE, TemplateParams};

/// The most templates the page lists.
const MAX_TEMPLATES: usize = 500;

fn spec_str<'a>(e: &'a Entity, key: &str) -> Option<&'a str> {
    e.spec.as_ref()?.get(key)?.as_str()
}

fn card(req: &PageRequest, e: &Entity) -> Markup {
    let title = e
        .metadata
        .title
        .clone()
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| e.metadata.name.clone());
    let params = TemplateParams {
        namespace: e
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_string()),
        name: e.metadata.name.clone(),
    };
    let href = req
        .routes()
        .href(&SELECTED_TEMPLATE_ROUTE, &params)
        .unwrap_or_else(|| format!("/create/templates/{}/{}", params.namespace, params.name));
    let owner = spec_str(e, "owner").and_then(|o| {
        EntityRef::parse(
            o,
            RefDefaults {
                default_kind: Some("group"),
                default_namespace: None,
            },
        )
        .ok()
    });
    let tags: Vec<&str> = e.metadata.tags.iter().map(String::as_str).collect();
    html! {
        article class="bl-card sc-card" data-template=(e.metadata.name) {
            p class="sc-type" { (spec_str(e, "type").unwrap_or("")) }
            h2 class="bl-card-title" { (title) }
            @if let Some(d) = &e.metadata.description { p class="sc-card-desc" { (d) } }
            @if !tags.is_empty() { (ui::chips(&tags)) }
            @if let Some(o) = &owner {
                p class="bl-muted" { "Owner: "
                    @match entity_href(req.routes(), o) {
                        Some(h) => a class="bl-link" href=(h) { (humanize_ref(o, Some("group"))) },
                        None => (humanize_ref(o, Some("group"))),
                    }
                }
            }
            p { a class="bl-button sc-primary" href=(href) aria-label={ "Choose " (title) } { "Choose" } }
        }
    }
}

/// The template list.
pub(crate) async fn render(req: PageRequest) -> Result<PageContent, PageError> {
    let catalog = req.api(&CATALOG_API)?;
    let request = QueryEntitiesRequest {
        filter: vec![EntityFilter::new().with("kind", "Template")],
        limit: Some(MAX_TEMPLATES),
        order_fields: vec![("metadata.name".to_string(), "asc".to_string())],
        ..QueryEntitiesRequest::default()
    };
    let page = catalog.query_entities(&request).await?;
    let all = page.items;
    let tag = req
        .query("tag")
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    let ty = req
        .query("type")
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    let text = req
        .query("q")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase);
    let mut tags: Vec<&str> = all
        .iter()
        .flat_map(|e| e.metadata.tags.iter().map(String::as_str))
        .collect();
    tags.sort_unstable();
    tags.dedup();
    let mut types: Vec<&str> = all.iter().filter_map(|e| spec_str(e, "type")).collect();
    types.sort_unstable();
    types.dedup();
    let shown: Vec<&Entity> = all
        .iter()
        .filter(|e| tag.as_ref().is_none_or(|t| e.metadata.tags.contains(t)))
        .filter(|e| ty.as_deref().is_none_or(|t| spec_str(e, "type") == Some(t)))
        .filter(|e| {
            text.as_ref().is_none_or(|q| {
                [
                    Some(&e.metadata.name),
                    e.metadata.title.as_ref(),
                    e.metadata.description.as_ref(),
                ]
                .into_iter()
                .flatten()
                .any(|s| s.to_lowercase().contains(q.as_str()))
            })
        })
        .collect();
    let tasks = req
        .routes()
        .href(&TASKS_ROUTE, &())
        .unwrap_or_else(|| "/create/tasks".to_string());
    let here = root_href(&req);
    let body = html! {
        style { (maud::PreEscaped(STYLE)) }
        (ui::header("Create a new component", Some("Create new software components using standard templates in your organization")))
        p { a class="bl-link" href=(tasks) { "Your tasks" } }
        form method="get" action=(here) class="sc-filters" role="search" data-autosubmit {
            label { "Search " input type="search" name="q" value=(req.query("q").unwrap_or("")); }
            label { "Type "
                select name="type" {
                    option value="" { "All" }
                    @for t in &types { option value=(t) selected[ty.as_deref() == Some(*t)] { (t) } }
                }
            }
            label { "Tag "
                select name="tag" {
                    option value="" { "All" }
                    @for t in &tags { option value=(t) selected[tag.as_deref() == Some(*t)] { (t) } }
                }
            }
            button class="bl-button" type="submit" { "Apply" }
        }
        @if all.is_empty() {
            (ui::empty_state("No templates yet", "Register a Template entity (apiVersion scaffolder.backstage.io/v1beta3) in the catalog."))
        } @else if shown.is_empty() {
            (ui::empty_state("No templates match", "Try another tag, type or search."))
        } @else {
            p class="bl-muted" { (shown.len()) " of " (all.len()) " templates" }
            div class="sc-cards" { @for e in &shown { (card(&req, e)) } }
        }
    };
    Ok(PageContent::new(body))
}
