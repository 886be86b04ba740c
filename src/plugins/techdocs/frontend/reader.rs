//! The docs reader: a generated page inside the portal layout, with the site's nav.

use axum::http::StatusCode;
use maud::{Markup, PreEscaped, html};

use crate::frontend::{PageContent, PageError, PageRequest, ui};
use crate::plugins::catalog::common::EntityRef;
use crate::plugins::catalog::react::{EntityParams, entity_href};
use crate::plugins::techdocs::react::{
    DocsLocation, DocsPage, TECHDOCS_API, TECHDOCS_READER_ROUTE, TechDocsApiError, page_file,
};

const STYLE: &str = ".bl-docs{display:grid;grid-template-columns:14rem minmax(0,1fr) 12rem;gap:1.5rem;align-items:start}\
.bl-docs ul{list-style:none;padding-left:.8rem;margin:0}.bl-docs-nav,.bl-docs-toc{font-size:.9rem;position:sticky;top:1rem}\
.bl-docs .md-nav__item--active>a{font-weight:600}.bl-docs-article{min-width:0}.bl-docs-article img{max-width:100%}\
.bl-docs-article table{border-collapse:collapse}.bl-docs-article td,.bl-docs-article th{border:1px solid var(--bl-border,#ccc);padding:.3rem .6rem}\
.bl-docs .admonition{border-left:4px solid var(--bl-accent,#2563eb);padding:.2rem .8rem;margin:1rem 0;background:var(--bl-surface,transparent)}\
.bl-docs .admonition-title{font-weight:600}\
@media (max-width:60rem){.bl-docs{grid-template-columns:1fr}.bl-docs-toc{display:none}}";

/// The docs of one page rendered as reader content: site nav, article, table of contents.
pub(crate) fn docs_layout(page: &DocsPage) -> Markup {
    html! {
        style { (PreEscaped(STYLE)) }
        div class="bl-docs" {
            nav class="bl-docs-nav" aria-label="Documentation" {
                @if !page.site_name.is_empty() { p class="bl-card-title" { (page.site_name) } }
                // The generator escapes nav titles and builds the list itself.
                (PreEscaped(&page.nav))
            }
            // The generator sanitises Markdown output (no scripts or event handlers).
            article class="bl-docs-article" { (PreEscaped(&page.article)) }
            @if !page.toc.trim().is_empty() {
                nav class="bl-docs-toc" aria-label="Table of contents" {
                    p class="bl-muted" { "On this page" }
                    (PreEscaped(&page.toc))
                }
            }
        }
    }
}

/// What went wrong fetching a page, as content with a status.
pub(crate) fn error_content(error: &TechDocsApiError, retry_href: &str) -> (StatusCode, Markup) {
    match error {
        TechDocsApiError::Timeout { .. } => (
            StatusCode::ACCEPTED,
            html! {
                meta http-equiv="refresh" content="5";
                (ui::progress("Building documentation…", None))
                p class="bl-muted" {
                    "The docs are being generated; this page reloads in a few seconds. "
                    (ui::link(retry_href, "Reload now"))
                }
            },
        ),
        TechDocsApiError::Response {
            status: 404,
            message,
            ..
        } => (
            StatusCode::NOT_FOUND,
            html! {
                (ui::error_state("Documentation not available", message))
                p class="bl-muted" {
                    "Check the entity's backstage.io/techdocs-ref annotation and its mkdocs.yml."
                }
            },
        ),
        // Any other 4xx (a malformed path or request) is the visitor's: its status and message.
        TechDocsApiError::Response {
            status: status @ 400..=499,
            message,
            ..
        } => (
            StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST),
            html! { (ui::error_state("Invalid request", message)) },
        ),
        other => (
            StatusCode::BAD_GATEWAY,
            html! { (ui::error_state("Could not load the documentation", &other.user_message())) },
        ),
    }
}

pub(crate) async fn render(req: PageRequest) -> Result<PageContent, PageError> {
    let api = req.api(&TECHDOCS_API)?;
    let params = EntityParams {
        namespace: req.param("namespace").unwrap_or("default").to_string(),
        kind: req.param("kind").unwrap_or("").to_string(),
        name: req.param("name").unwrap_or("").to_string(),
    };
    let Some((file, page_path)) = page_file(req.rest()) else {
        return Err(PageError::bad_request(format!(
            "invalid docs path '{}'",
            req.rest()
        )));
    };
    let reader_base = req
        .routes()
        .href(&TECHDOCS_READER_ROUTE, &params)
        .unwrap_or_else(|| req.path().trim_end_matches(req.rest()).to_string());
    let loc = DocsLocation::new(reader_base, api.static_base_url(&params));
    let entity_label = format!("{}:{}/{}", params.kind, params.namespace, params.name);
    let entity_link = format!("{}:{}/{}", params.kind, params.namespace, params.name)
        .parse::<EntityRef>()
        .ok()
        .and_then(|r| entity_href(req.routes(), &r));
    let subtitle = html! {
        p class="bl-muted" {
            "Docs of "
            @match &entity_link {
                Some(href) => (ui::link(href, &entity_label)),
                None => (entity_label),
            }
        }
    };
    match api.static_file(&params, &file).await {
        Ok(html) => {
            let page = DocsPage::parse(&html, &page_path, &loc);
            let title = if page.site_name.is_empty() || page.site_name == page.title {
                page.title.clone()
            } else {
                format!("{} · {}", page.title, page.site_name)
            };
            let body = html! {
                (ui::header(if page.site_name.is_empty() { &page.title } else { &page.site_name }, None))
                (subtitle)
                (docs_layout(&page))
            };
            Ok(PageContent::new(body).title(title))
        }
        Err(e) => {
            tracing::warn!(error = %e, "docs reader: page failed to load");
            let (status, content) = error_content(&e, req.path());
            let body = html! {
                (ui::header("Documentation", None))
                (subtitle)
                (content)
            };
            Ok(PageContent::new(body).status(status))
        }
    }
}
