//! The `/search` page.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use maud::{Markup, html};

use super::SearchUiOptions;
use crate::frontend::{PageContent, PageError, PageRequest, ui};
use crate::plugins::search::common::{SearchQuery, SearchResult};
use crate::plugins::search::react::{SEARCH_API, SearchApiError, highlight};

/// A link target that is safe to put in `href`: a path or an http(s) URL.
fn safe_location(location: &str) -> Option<&str> {
    let lower = location.trim_start().to_ascii_lowercase();
    let ok = (location.starts_with('/') && !location.starts_with("//"))
        || lower.starts_with("http://")
        || lower.starts_with("https://");
    ok.then_some(location)
}

fn page_href(base: &str, term: &str, doc_type: Option<&str>, cursor: Option<&str>) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("term", term);
    if let Some(t) = doc_type {
        q.append_pair("types", t);
    }
    if let Some(c) = cursor {
        q.append_pair("pageCursor", c);
    }
    format!("{base}?{}", q.finish())
}

fn field_markup(result: &SearchResult, field: &str, plain: &str) -> Markup {
    match &result.highlight {
        Some(h) => match h.fields.get(field) {
            Some(text) => highlight(text, &h.pre_tag, &h.post_tag),
            None => html! { (plain) },
        },
        None => html! { (plain) },
    }
}

fn result_item(result: &SearchResult) -> Markup {
    let doc = &result.document;
    let title = field_markup(result, "title", &doc.title);
    let text: String = if doc.text.chars().count() > 300 {
        let cut: String = doc.text.chars().take(300).collect();
        format!("{cut}…")
    } else {
        doc.text.clone()
    };
    html! {
        li class="bl-search-result" data-type=(result.doc_type) {
            p class="bl-search-result-title" {
                @match safe_location(&doc.location) {
                    Some(href) => a class="bl-link" href=(href) { (title) },
                    None => strong { (title) },
                }
            }
            p class="bl-search-result-text" { (field_markup(result, "text", &text)) }
        }
    }
}

pub(crate) async fn render(
    req: PageRequest,
    options: &SearchUiOptions,
) -> Result<PageContent, PageError> {
    let api = req.api(&SEARCH_API)?;
    // `query` is the parameter of Backstage's search page; `term` is ours.
    let term = req
        .query("term")
        .or_else(|| req.query("query"))
        .unwrap_or("")
        .trim()
        .to_string();
    let selected = req
        .query("types")
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    let cursor = req
        .query("pageCursor")
        .filter(|c| !c.is_empty())
        .map(str::to_string);
    let base = req.path().to_string();

    let mut query = SearchQuery::new(term.clone()).with_page_limit(options.page_limit);
    if let Some(t) = &selected {
        query = query.with_types([t.clone()]);
    }
    if let Some(c) = &cursor {
        query = query.with_page_cursor(c.clone());
    }
    let count_queries = std::iter::once(None)
        .chain(options.types.iter().map(|(id, _)| Some(id.clone())))
        .map(|t| {
            let mut q = SearchQuery::new(term.clone()).with_page_limit(1);
            if let Some(t) = t {
                q = q.with_types([t]);
            }
            let api = api.clone();
            async move { api.query(&q).await.ok().and_then(|r| r.number_of_results) }
        });
    let (result, counts) =
        futures::join!(api.query(&query), futures::future::join_all(count_queries));

    let form = html! {
        form class="bl-search-form" role="search" method="get" action=(base) {
            label for="search-term" { "Search" }
            " "
            input id="search-term" type="search" name="term" value=(term) autofocus;
            @if let Some(t) = &selected {
                input type="hidden" name="types" value=(t);
            }
            " "
            button class="bl-button" type="submit" { "Search" }
        }
    };
    let results = match result {
        Ok(r) => r,
        // A 4xx from the backend (a term too long, a bad cursor or type) is the visitor's
        // request: the page says what is wrong, with that status, instead of a 502.
        Err(SearchApiError::Response {
            status: status @ 400..=499,
            message,
            ..
        }) => {
            let body = html! {
                (ui::header("Search", None))
                (form)
                (ui::error_state("Invalid search", &message))
            };
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            return Ok(PageContent::new(body).status(status));
        }
        Err(e) => {
            tracing::warn!(error = %e, "search query failed");
            let body = html! {
                (ui::header("Search", None))
                (form)
                (ui::error_state("Search failed", &e.to_string()))
            };
            return Ok(PageContent::new(body).status(StatusCode::BAD_GATEWAY));
        }
    };

    // The type picker: All plus the configured types and any type seen on this page.
    let mut picker: Vec<(Option<String>, String, Option<usize>)> =
        vec![(None, "All".to_string(), counts.first().copied().flatten())];
    for (i, (id, label)) in options.types.iter().enumerate() {
        picker.push((
            Some(id.clone()),
            label.clone(),
            counts.get(i + 1).copied().flatten(),
        ));
    }
    for r in &results.results {
        if !picker
            .iter()
            .any(|(id, _, _)| id.as_deref() == Some(&r.doc_type))
        {
            picker.push((Some(r.doc_type.clone()), r.doc_type.clone(), None));
        }
    }
    let mut groups: BTreeMap<&str, Vec<&SearchResult>> = BTreeMap::new();
    for r in &results.results {
        groups.entry(r.doc_type.as_str()).or_default().push(r);
    }
    let label_of = |id: &str| {
        options
            .types
            .iter()
            .find(|(t, _)| t == id)
            .map_or_else(|| id.to_string(), |(_, l)| l.clone())
    };
    let total = results.number_of_results;

    let body = html! {
        (ui::header("Search", None))
        (form)
        nav class="bl-search-types" aria-label="Result type" {
            ul {
                @for (id, label, count) in &picker {
                    li {
                        a class="bl-link" href=(page_href(&base, &term, id.as_deref(), None))
                            aria-current=[(id == &selected).then_some("page")] {
                            (label)
                            @if let Some(n) = count { " (" (n) ")" }
                        }
                    }
                }
            }
        }
        @if let Some(n) = total {
            p class="bl-search-count bl-muted" role="status" {
                (n) @if n == 1 { " result" } @else { " results" }
                @if !term.is_empty() { " for “" (term) "”" }
            }
        }
        @if results.results.is_empty() {
            (ui::empty_state("No results", "Try other words or another result type."))
        } @else {
            @for (doc_type, items) in &groups {
                section class="bl-search-group" aria-label=(label_of(doc_type)) {
                    h2 { (label_of(doc_type)) }
                    ol class="bl-search-results" {
                        @for r in items { (result_item(r)) }
                    }
                }
            }
        }
        @if results.previous_page_cursor.is_some() || results.next_page_cursor.is_some() {
            nav class="bl-search-paging" aria-label="Pages" {
                @if let Some(c) = &results.previous_page_cursor {
                    a class="bl-button" rel="prev" href=(page_href(&base, &term, selected.as_deref(), Some(c))) { "Previous" }
                }
                " "
                @if let Some(c) = &results.next_page_cursor {
                    a class="bl-button" rel="next" href=(page_href(&base, &term, selected.as_deref(), Some(c))) { "Next" }
                }
            }
        }
    };
    let title = if term.is_empty() {
        "Search".to_string()
    } else {
        format!("Search: {term}")
    };
    Ok(PageContent::new(body).title(title))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_locations_are_not_links() {
        assert_eq!(
            safe_location("/catalog/default/component/a"),
            Some("/catalog/default/component/a")
        );
        assert_eq!(safe_location("https://x.test/a"), Some("https://x.test/a"));
        assert_eq!(safe_location("javascript:alert(1)"), None);
        assert_eq!(safe_location("//evil.test"), None);
    }

    #[test]
    fn page_links_keep_term_and_type() {
        assert_eq!(
            page_href("/search", "a b&c", Some("techdocs"), Some("Mg==")),
            "/search?term=a+b%26c&types=techdocs&pageCursor=Mg%3D%3D"
        );
    }
}
