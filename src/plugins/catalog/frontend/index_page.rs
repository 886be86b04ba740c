//! The catalog index page: kind picker, facet filters, text search, a sortable table and
//! cursor paging — a plain GET form and links, so it works without JavaScript.

use std::collections::BTreeMap;

use maud::{Markup, html};

use super::links::{entity_title, kind_plural, ref_link, targets};
use super::style::style;
use crate::frontend::ui::{self, Column, Table, TableState};
use crate::frontend::{PageContent, PageError, PageRequest};
use crate::plugins::catalog::common::Entity;
use crate::plugins::catalog::react::{
    CATALOG_API, EntityFilter, FacetValue, QueryEntitiesRequest, QueryEntitiesResponse,
    entity_href,
};

/// Rows per page.
pub(crate) const PAGE_SIZE: usize = 20;
/// The kind shown when the query names none.
const DEFAULT_KIND: &str = "component";

/// The facets read for the filters (besides `kind`).
pub(crate) const FILTER_FACETS: [&str; 4] = [
    "spec.type",
    "relations.ownedBy",
    "spec.lifecycle",
    "metadata.tags",
];

/// The filters of the query string: `kind`, `type`, `owner`, `lifecycle`, `tag` (each may
/// repeat, meaning any of them) and `q` (full text).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Filters {
    pub(crate) kind: String,
    pub(crate) types: Vec<String>,
    pub(crate) owners: Vec<String>,
    pub(crate) lifecycles: Vec<String>,
    pub(crate) tags: Vec<String>,
    pub(crate) text: Option<String>,
}

fn all(query: &[(String, String)], key: &str) -> Vec<String> {
    query
        .iter()
        .filter(|(k, v)| k == key && !v.is_empty())
        .map(|(_, v)| v.clone())
        .collect()
}

impl Filters {
    pub(crate) fn from_query(query: &[(String, String)]) -> Self {
        Self {
            kind: all(query, "kind")
                .into_iter()
                .next()
                .unwrap_or_else(|| DEFAULT_KIND.to_string()),
            types: all(query, "type"),
            owners: all(query, "owner"),
            lifecycles: all(query, "lifecycle"),
            tags: all(query, "tag"),
            text: all(query, "q")
                .into_iter()
                .next()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty()),
        }
    }

    /// The catalog filter for the kind only (what the facets are counted over).
    pub(crate) fn kind_filter(&self) -> EntityFilter {
        EntityFilter::new().with("kind", self.kind.to_ascii_lowercase())
    }

    /// The catalog filter for everything but the text.
    pub(crate) fn entity_filter(&self) -> EntityFilter {
        let mut f = self.kind_filter();
        for (key, values) in [
            ("spec.type", &self.types),
            ("relations.ownedBy", &self.owners),
            ("spec.lifecycle", &self.lifecycles),
            ("metadata.tags", &self.tags),
        ] {
            for v in values {
                f = f.with(key, v.clone());
            }
        }
        f
    }
}

/// The sort keys of the table and the entity fields they order by.
fn order_field(key: &str) -> Option<&'static str> {
    Some(match key {
        "name" => "metadata.name",
        "system" => "spec.system",
        "owner" => "spec.owner",
        "type" => "spec.type",
        "lifecycle" => "spec.lifecycle",
        _ => return None,
    })
}

/// The by-query request for a page request's query string.
pub(crate) fn query_request(query: &[(String, String)]) -> QueryEntitiesRequest {
    let filters = Filters::from_query(query);
    let state = TableState::from_query(query, PAGE_SIZE);
    let mut order_fields = Vec::new();
    if let Some((key, order)) = state.sort() {
        if let Some(field) = order_field(key) {
            let dir = if order == ui::SortOrder::Desc {
                "desc"
            } else {
                "asc"
            };
            order_fields.push((field.to_string(), dir.to_string()));
        }
    }
    if !order_fields.iter().any(|(f, _)| f == "metadata.name") {
        order_fields.push(("metadata.name".to_string(), "asc".to_string()));
    }
    QueryEntitiesRequest {
        filter: vec![filters.entity_filter()],
        fields: Vec::new(),
        limit: Some(PAGE_SIZE),
        order_fields,
        full_text_filter_term: filters.text.clone(),
        cursor: all(query, "cursor").into_iter().next(),
    }
}

/// Renders the page.
pub(crate) async fn catalog_index(req: PageRequest) -> Result<PageContent, PageError> {
    if !req.rest().is_empty() {
        return Err(PageError::not_found(format!(
            "There is no page at {}.",
            req.path()
        )));
    }
    let api = req.api(&CATALOG_API)?;
    let filters = Filters::from_query(req.query_pairs());
    let request = query_request(req.query_pairs());
    let kind_facet = ["kind".to_string()];
    let filter_facets: Vec<String> = FILTER_FACETS.iter().map(|s| s.to_string()).collect();
    let kind_filter = [filters.kind_filter()];
    let (kinds, facets, page) = tokio::join!(
        api.get_entity_facets(&kind_facet, &[]),
        api.get_entity_facets(&filter_facets, &kind_filter),
        api.query_entities(&request),
    );
    let mut facets = facets?;
    if let Some(kinds) = kinds?.remove("kind") {
        facets.insert("kind".to_string(), kinds);
    }
    Ok(render_index(&req, &filters, &facets, &page?))
}

/// Renders the index page from the facets (`kind` plus [`FILTER_FACETS`]) and a by-query page.
pub(crate) fn render_index(
    req: &PageRequest,
    filters: &Filters,
    facets: &BTreeMap<String, Vec<FacetValue>>,
    page: &QueryEntitiesResponse,
) -> PageContent {
    let path = req.path();
    let empty = Vec::new();
    let facet = |name: &str| facets.get(name).unwrap_or(&empty);
    let plural = {
        let kinds = facet("kind");
        let written = kinds
            .iter()
            .find(|k| k.value.eq_ignore_ascii_case(&filters.kind))
            .map_or(filters.kind.as_str(), |k| k.value.as_str());
        kind_plural(written)
    };
    // Links keep the filters and sort; paging replaces the cursor.
    let base_query: Vec<(String, String)> = req
        .query_pairs()
        .iter()
        .filter(|(k, v)| k != "cursor" && !v.is_empty())
        .cloned()
        .collect();
    let cursor_href = |cursor: &str| {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &base_query {
            ser.append_pair(k, v);
        }
        ser.append_pair("cursor", cursor);
        format!("{path}?{}", ser.finish())
    };
    let has_filters = !(filters.types.is_empty()
        && filters.owners.is_empty()
        && filters.lifecycles.is_empty()
        && filters.tags.is_empty()
        && filters.text.is_none());
    let routes = req.routes();
    let rows = page.items.iter().map(|e| row(routes, e));
    let table = Table::new(format!("All {plural} ({})", page.total_items))
        .columns(vec![
            Column::sortable("name", "Name"),
            Column::sortable("system", "System"),
            Column::sortable("owner", "Owner"),
            Column::sortable("type", "Type"),
            Column::sortable("lifecycle", "Lifecycle"),
            Column::new("description", "Description"),
            Column::new("tags", "Tags"),
        ])
        .rows(rows)
        .state(TableState::from_query(req.query_pairs(), PAGE_SIZE))
        .link_base(path, &base_query);

    let body = html! {
        (style())
        (ui::header("Catalog", Some(&format!("Everything {} owns and runs", req.app_title()))))
        div class="cat-layout" {
            form class="cat-filters" method="get" action=(path) data-autosubmit role="search" aria-label="Filter entities" {
                label class="cat-field" {
                    span { "Kind" }
                    select name="kind" {
                        @let kinds = facet("kind");
                        @if !kinds.iter().any(|k| k.value.eq_ignore_ascii_case(&filters.kind)) {
                            option value=(filters.kind) selected { (filters.kind) " (0)" }
                        }
                        @for k in kinds {
                            option value=(k.value.to_ascii_lowercase()) selected[k.value.eq_ignore_ascii_case(&filters.kind)] {
                                (k.value) " (" (k.count) ")"
                            }
                        }
                    }
                }
                label class="cat-field cat-search" {
                    span { "Search" }
                    input type="search" name="q" value=[filters.text.as_deref()] placeholder="Name, description, tag…";
                }
                (select_filter("Type", "type", facet("spec.type"), &filters.types, |v| v.to_string()))
                (select_filter("Owner", "owner", facet("relations.ownedBy"), &filters.owners, |v| {
                    v.parse().map(|r| crate::plugins::catalog::react::humanize_ref(&r, Some("group"))).unwrap_or_else(|_| v.to_string())
                }))
                (checkbox_filter("Lifecycle", "lifecycle", facet("spec.lifecycle"), &filters.lifecycles))
                div class="cat-actions" {
                    button class="bl-button" type="submit" { "Apply" }
                    @if has_filters {
                        a class="bl-link" href=(format!("{path}?kind={}", url::form_urlencoded::byte_serialize(filters.kind.to_ascii_lowercase().as_bytes()).collect::<String>())) { "Clear filters" }
                    }
                }
                (tag_filter(facet("metadata.tags"), &filters.tags))
                @for (k, v) in req.query_pairs().iter().filter(|(k, _)| k == "sort" || k == "order") {
                    input type="hidden" name=(k) value=(v);
                }
            }
            div class="cat-results" {
                @if page.items.is_empty() {
                    (ui::empty_state(&format!("No {plural} found"), if has_filters { "Nothing matches these filters; try fewer." } else { "The catalog has none of this kind yet." }))
                } @else {
                    div class="cat-table" { (table.render()) }
                }
                @let info = &page.page_info;
                @if info.prev_cursor.is_some() || info.next_cursor.is_some() {
                    nav class="cat-paging" aria-label=(format!("{plural} pages")) {
                        @match &info.prev_cursor {
                            Some(c) => a class="bl-button cat-page" rel="prev" href=(cursor_href(c)) { "← Previous" },
                            None => span class="cat-page" aria-disabled="true" { "← Previous" },
                        }
                        span class="bl-muted" { (page.items.len()) " of " (page.total_items) " shown" }
                        @match &info.next_cursor {
                            Some(c) => a class="bl-button cat-page" rel="next" href=(cursor_href(c)) { "Next →" },
                            None => span class="cat-page" aria-disabled="true" { "Next →" },
                        }
                    }
                }
            }
        }
    };
    PageContent::new(body).title(format!("Catalog · {plural}"))
}

fn row(routes: &crate::frontend::Routes, e: &Entity) -> Vec<Markup> {
    let href = entity_href(routes, &e.to_ref());
    let system = targets(e, "partOf", Some("system")).next();
    let owners: Vec<&str> = targets(e, "ownedBy", None).collect();
    let tags: Vec<&str> = e.metadata.tags.iter().map(String::as_str).collect();
    vec![
        html! {
            @match href {
                Some(h) => a class="bl-link cat-name" href=(h) { (entity_title(e)) },
                None => strong { (entity_title(e)) },
            }
        },
        html! { @if let Some(s) = system { (ref_link(routes, s, Some("system"))) } },
        html! {
            @for (i, o) in owners.iter().enumerate() {
                @if i > 0 { ", " }
                (ref_link(routes, o, Some("group")))
            }
        },
        html! { (e.spec_str("type").unwrap_or_default()) },
        html! { (e.spec_str("lifecycle").unwrap_or_default()) },
        html! { span class="cat-desc" { (e.metadata.description.as_deref().unwrap_or_default()) } },
        html! { @if !tags.is_empty() { (ui::chips(&tags)) } },
    ]
}

fn select_filter(
    label: &str,
    name: &str,
    values: &[FacetValue],
    selected: &[String],
    display: impl Fn(&str) -> String,
) -> Markup {
    html! {
        label class="cat-field" {
            span { (label) }
            select name=(name) {
                option value="" { "All" }
                @for v in values {
                    option value=(v.value) selected[selected.iter().any(|s| s.eq_ignore_ascii_case(&v.value))] {
                        (display(&v.value)) " (" (v.count) ")"
                    }
                }
            }
        }
    }
}

fn checkboxes(name: &str, values: &[FacetValue], selected: &[String]) -> Markup {
    html! {
        @for v in values {
            label {
                input type="checkbox" name=(name) value=(v.value) checked[selected.iter().any(|s| s.eq_ignore_ascii_case(&v.value))];
                (v.value)
                span class="cat-count" { (v.count) }
            }
        }
    }
}

fn checkbox_filter(label: &str, name: &str, values: &[FacetValue], selected: &[String]) -> Markup {
    html! {
        @if !values.is_empty() {
            fieldset class="cat-field cat-checks" {
                legend { (label) }
                div { (checkboxes(name, values, selected)) }
            }
        }
    }
}

/// Tags fold away (a `<details>`, open while any is selected): there may be many.
fn tag_filter(values: &[FacetValue], selected: &[String]) -> Markup {
    html! {
        @if !values.is_empty() {
            details class="cat-tags" open[!selected.is_empty()] {
                summary {
                    "Tags"
                    @if !selected.is_empty() { " (" (selected.len()) " selected)" }
                }
                div { (checkboxes("tag", values, selected)) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn filters_default_to_components_and_repeat_as_any_of() {
        let f = Filters::from_query(&q(&[
            ("type", "service"),
            ("type", "website"),
            ("tag", "java"),
            ("q", "  "),
        ]));
        assert_eq!(f.kind, "component");
        assert_eq!(f.text, None);
        assert_eq!(
            f.entity_filter().to_query_value(),
            "kind=component,spec.type=service,spec.type=website,metadata.tags=java"
        );
    }

    #[test]
    fn requests_carry_sort_text_and_cursor() {
        let r = query_request(&q(&[
            ("kind", "API"),
            ("sort", "owner"),
            ("order", "desc"),
            ("q", "billing"),
            ("cursor", "abc"),
        ]));
        assert_eq!(
            r.order_fields,
            vec![
                ("spec.owner".to_string(), "desc".to_string()),
                ("metadata.name".to_string(), "asc".to_string())
            ]
        );
        assert_eq!(r.full_text_filter_term.as_deref(), Some("billing"));
        assert_eq!(r.cursor.as_deref(), Some("abc"));
        assert_eq!(r.filter[0].to_query_value(), "kind=api");
        // An unknown sort key orders by name only.
        let r = query_request(&q(&[("sort", "nope")]));
        assert_eq!(r.order_fields.len(), 1);
    }
}
