//! Markdown → HTML for one page: CommonMark plus tables, task lists, footnotes,
//! strikethrough and admonitions; heading anchors and a table of contents; links between
//! pages and to images rewritten for the published layout; unsafe raw HTML escaped.

use std::collections::{HashMap, HashSet};

use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd, html};

use super::admonition::{self, Admonition};
use super::paths;
use super::slug::Slugger;

/// Where a page lives and what it can link to.
#[derive(Debug)]
pub(crate) struct PageLinks<'a> {
    /// The Markdown source, relative to `docs_dir` (`g/b.md`).
    pub(crate) source: &'a str,
    /// The page's directory URL (`g/b/`).
    pub(crate) url: &'a str,
    /// Every page: source path → directory URL.
    pub(crate) pages: &'a HashMap<String, String>,
    /// Every other file of `docs_dir` (copied as is).
    pub(crate) files: &'a HashSet<String>,
}

/// One table-of-contents entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TocEntry {
    pub(crate) level: u8,
    pub(crate) id: String,
    pub(crate) title: String,
}

/// Plain text of the part of a page under one heading, for the search index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Section {
    pub(crate) id: Option<String>,
    pub(crate) title: String,
    pub(crate) text: String,
}

/// A rendered page.
#[derive(Debug, Default)]
pub(crate) struct RenderedPage {
    pub(crate) html: String,
    pub(crate) toc: Vec<TocEntry>,
    /// The first level-1 heading.
    pub(crate) title: Option<String>,
    pub(crate) sections: Vec<Section>,
    pub(crate) warnings: Vec<String>,
}

/// Renders a page.
pub(crate) fn render(markdown: &str, links: &PageLinks<'_>) -> RenderedPage {
    let mut r = Renderer {
        links,
        slugger: Slugger::default(),
        page: RenderedPage {
            sections: vec![Section::default()],
            ..RenderedPage::default()
        },
        next_admonition: 0,
    };
    let html = r.fragment(markdown);
    r.page.html = html;
    r.page
        .sections
        .retain(|s| s.id.is_some() || !s.text.trim().is_empty());
    r.page
}

pub(crate) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_HEADING_ATTRIBUTES
}

fn level_num(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

fn has_scheme(url: &str) -> bool {
    match url.find(':') {
        Some(i) if i > 0 => {
            let scheme = &url[..i];
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        _ => false,
    }
}

/// Raw HTML that could run script: `<script>`, `<iframe>`, `javascript:` URLs, `on*=`
/// event handler attributes.
fn is_unsafe_html(html: &str) -> bool {
    let lower = html.to_ascii_lowercase();
    if [
        "<script",
        "<iframe",
        "<object",
        "<embed",
        "javascript:",
        "vbscript:",
    ]
    .iter()
    .any(|p| lower.contains(p))
    {
        return true;
    }
    let bytes = lower.as_bytes();
    let mut i = 0;
    while let Some(pos) = lower[i..].find("on") {
        let at = i + pos;
        let before_ok =
            at > 0 && matches!(bytes[at - 1], b' ' | b'\t' | b'\n' | b'/' | b'"' | b'\'');
        let mut j = at + 2;
        while j < bytes.len() && bytes[j].is_ascii_alphabetic() {
            j += 1;
        }
        let name_len = j - at - 2;
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        if before_ok && name_len > 0 && j < bytes.len() && bytes[j] == b'=' {
            return true;
        }
        i = at + 2;
    }
    false
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

fn encode_path(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'<')
        .add(b'>')
        .add(b'`')
        .add(b'#')
        .add(b'?');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// A heading being collected: level, requested id, classes and its inner events.
type OpenHeading<'e> = (
    HeadingLevel,
    Option<CowStr<'e>>,
    Vec<CowStr<'e>>,
    Vec<Event<'e>>,
);

struct Renderer<'a, 'b> {
    links: &'a PageLinks<'b>,
    slugger: Slugger,
    page: RenderedPage,
    next_admonition: usize,
}

impl Renderer<'_, '_> {
    /// Renders Markdown that may contain admonitions (recursively).
    fn fragment(&mut self, markdown: &str) -> String {
        let first = self.next_admonition;
        let (text, found) = admonition::extract(markdown, first);
        self.next_admonition += found.len();
        let mut out = self.markdown(&text);
        for (k, adm) in found.into_iter().enumerate() {
            let block = self.admonition(&adm);
            out = out.replacen(&admonition::placeholder(first + k), &block, 1);
        }
        out
    }

    fn admonition(&mut self, adm: &Admonition) -> String {
        let inner = self.fragment(&adm.body);
        let classes = adm
            .classes
            .iter()
            .map(|c| escape_html(c))
            .collect::<Vec<_>>()
            .join(" ");
        let title = match &adm.title {
            Some(t) => t.clone(),
            None => {
                let kind = adm.classes.first().map(String::as_str).unwrap_or("note");
                let mut chars = kind.chars();
                chars
                    .next()
                    .map(|c| c.to_uppercase().chain(chars).collect())
                    .unwrap_or_default()
            }
        };
        self.add_text(&title);
        match adm.collapsible {
            None => {
                let title_html = if title.is_empty() {
                    String::new()
                } else {
                    format!(
                        "<p class=\"admonition-title\">{}</p>\n",
                        escape_html(&title)
                    )
                };
                format!("<div class=\"admonition {classes}\">\n{title_html}{inner}</div>\n")
            }
            Some(open) => format!(
                "<details class=\"{classes}\"{}>\n<summary>{}</summary>\n{inner}</details>\n",
                if open { " open" } else { "" },
                escape_html(&title)
            ),
        }
    }

    fn add_text(&mut self, text: &str) {
        if let Some(section) = self.page.sections.last_mut() {
            if !section.text.is_empty() && !section.text.ends_with(' ') {
                section.text.push(' ');
            }
            section.text.push_str(text.trim());
        }
    }

    fn markdown(&mut self, text: &str) -> String {
        let mut events: Vec<Event<'_>> = Vec::new();
        let mut heading: Option<OpenHeading<'_>> = None;
        let mut heading_attrs = Vec::new();
        for event in Parser::new_ext(text, options()) {
            let event = self.transform(event);
            match event {
                Event::Start(Tag::Heading {
                    level,
                    id,
                    classes,
                    attrs,
                }) => {
                    heading = Some((level, id, classes, Vec::new()));
                    heading_attrs = attrs;
                }
                Event::End(TagEnd::Heading(level)) => {
                    let Some((_, id, classes, inner)) = heading.take() else {
                        continue;
                    };
                    let title: String = inner
                        .iter()
                        .filter_map(|e| match e {
                            Event::Text(t) | Event::Code(t) => Some(t.as_ref()),
                            _ => None,
                        })
                        .collect();
                    let slug = self.slugger.unique(id.as_deref().unwrap_or(title.as_str()));
                    let num = level_num(level);
                    if num == 1 && self.page.title.is_none() {
                        self.page.title = Some(title.clone());
                    }
                    self.page.toc.push(TocEntry {
                        level: num,
                        id: slug.clone(),
                        title: title.clone(),
                    });
                    self.page.sections.push(Section {
                        id: Some(slug.clone()),
                        title,
                        text: String::new(),
                    });
                    events.push(Event::Start(Tag::Heading {
                        level,
                        id: Some(CowStr::from(slug)),
                        classes,
                        attrs: std::mem::take(&mut heading_attrs),
                    }));
                    events.extend(inner);
                    events.push(Event::End(TagEnd::Heading(level)));
                }
                e => {
                    if let Some((_, _, _, inner)) = heading.as_mut() {
                        inner.push(e);
                        continue;
                    }
                    match &e {
                        Event::Text(t) | Event::Code(t) => {
                            let t = t.to_string();
                            self.add_text(&t);
                        }
                        _ => {}
                    }
                    events.push(e);
                }
            }
        }
        let mut out = String::with_capacity(text.len() * 3 / 2);
        html::push_html(&mut out, events.into_iter());
        out
    }

    fn transform<'e>(&mut self, event: Event<'e>) -> Event<'e> {
        match event {
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => {
                let dest_url = self
                    .rewrite_url(&dest_url, false)
                    .map_or(dest_url, CowStr::from);
                Event::Start(Tag::Link {
                    link_type,
                    dest_url,
                    title,
                    id,
                })
            }
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => {
                let dest_url = self
                    .rewrite_url(&dest_url, true)
                    .map_or(dest_url, CowStr::from);
                Event::Start(Tag::Image {
                    link_type,
                    dest_url,
                    title,
                    id,
                })
            }
            Event::Html(h) if is_unsafe_html(&h) => Event::Text(h),
            Event::InlineHtml(h) if is_unsafe_html(&h) => Event::Text(h),
            e => e,
        }
    }

    /// The rewritten URL of a link or image, `None` to keep it.
    fn rewrite_url(&mut self, dest: &str, image: bool) -> Option<String> {
        let trimmed = dest.trim();
        let lower = trimmed.to_ascii_lowercase();
        if lower.starts_with("javascript:")
            || lower.starts_with("vbscript:")
            || (lower.starts_with("data:") && !(image && lower.starts_with("data:image/")))
        {
            return Some("#".to_owned());
        }
        if trimmed.is_empty()
            || trimmed.starts_with('#')
            || trimmed.starts_with('/')
            || has_scheme(trimmed)
        {
            return None;
        }
        let (before_frag, frag) = match trimmed.split_once('#') {
            Some((p, f)) => (p, Some(f)),
            None => (trimmed, None),
        };
        let (path, query) = match before_frag.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (before_frag, None),
        };
        if path.is_empty() {
            return None;
        }
        let decoded = percent_decode(path);
        let source = self.links.source;
        let Some(target) = paths::join(paths::parent_dir(source), &decoded) else {
            self.page.warnings.push(format!(
                "'{source}' links to '{dest}' outside the docs directory"
            ));
            return None;
        };
        let site_path = if let Some(url) = self.links.pages.get(&target) {
            url.clone()
        } else if self.links.files.contains(&target) {
            encode_path(&target)
        } else if let Some(url) = self
            .links
            .pages
            .get(&format!("{}/index.md", target.trim_end_matches('/')))
        {
            url.clone()
        } else {
            let what = if image { "image" } else { "link" };
            self.page.warnings.push(format!(
                "'{source}' has a {what} to '{dest}' which is not in the docs directory"
            ));
            return None;
        };
        let mut out = paths::relative(self.links.url, &site_path);
        if let Some(q) = query {
            out.push('?');
            out.push_str(q);
        }
        if let Some(f) = frag {
            out.push('#');
            out.push_str(f);
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(md: &str, source: &str, url: &str) -> RenderedPage {
        let pages: HashMap<String, String> = [
            ("index.md", ""),
            ("a.md", "a/"),
            ("g/b.md", "g/b/"),
            ("g/index.md", "g/"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let files: HashSet<String> = ["img/logo.png".to_owned(), "g/pic 1.png".to_owned()].into();
        render(
            md,
            &PageLinks {
                source,
                url,
                pages: &pages,
                files: &files,
            },
        )
    }

    #[test]
    fn links_between_pages_use_directory_urls() {
        let p = page(
            "[a](../a.md) [b](index.md#setup) [home](../index.md) [ext](https://x.test/a.md) [top](#x)",
            "g/b.md",
            "g/b/",
        );
        assert!(p.html.contains(r#"href="../../a/""#), "{}", p.html);
        assert!(p.html.contains(r#"href="../#setup""#), "{}", p.html);
        assert!(p.html.contains(r#"href="../../""#), "{}", p.html);
        assert!(p.html.contains(r#"href="https://x.test/a.md""#));
        assert!(p.html.contains(r##"href="#x""##));
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    }

    #[test]
    fn images_and_missing_targets() {
        let p = page(
            "![l](../img/logo.png) ![s](pic%201.png) [x](nope.md)",
            "g/b.md",
            "g/b/",
        );
        assert!(p.html.contains(r#"src="../../img/logo.png""#), "{}", p.html);
        assert!(p.html.contains(r#"src="../pic%201.png""#), "{}", p.html);
        assert!(p.html.contains(r#"href="nope.md""#));
        assert_eq!(p.warnings.len(), 1);
    }

    #[test]
    fn headings_get_unique_ids_and_a_toc() {
        let p = page(
            "# Title\n\n## Setup\n\ntext\n\n## Setup\n\n### Deep `code`",
            "a.md",
            "a/",
        );
        assert_eq!(p.title.as_deref(), Some("Title"));
        assert!(
            p.html.contains(r#"<h2 id="setup">Setup</h2>"#),
            "{}",
            p.html
        );
        assert!(p.html.contains(r#"<h2 id="setup_1">Setup</h2>"#));
        assert!(
            p.html
                .contains(r#"<h3 id="deep-code">Deep <code>code</code></h3>"#)
        );
        let ids: Vec<_> = p.toc.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["title", "setup", "setup_1", "deep-code"]);
        assert_eq!(p.sections[1].text, "text");
    }

    #[test]
    fn script_is_escaped_but_plain_html_kept() {
        let p = page(
            "<div class=\"x\">ok</div>\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n[j](javascript:alert(1))",
            "a.md",
            "a/",
        );
        assert!(p.html.contains("<div class=\"x\">ok</div>"));
        assert!(!p.html.contains("<script"), "{}", p.html);
        assert!(!p.html.contains("<img src=x onerror"), "{}", p.html);
        assert!(p.html.contains(r##"href="#""##));
    }

    #[test]
    fn admonitions_nest_and_render_markdown() {
        let p = page(
            "!!! note \"Read *me*\"\n    Body with [a](a.md).\n\n    !!! tip\n        inner\n\n??? warning\n    hidden\n",
            "index.md",
            "",
        );
        assert!(
            p.html.contains(r#"<div class="admonition note">"#),
            "{}",
            p.html
        );
        assert!(
            p.html
                .contains(r#"<p class="admonition-title">Read *me*</p>"#)
        );
        assert!(p.html.contains(r#"<a href="a/">a</a>"#));
        assert!(p.html.contains(r#"<div class="admonition tip">"#));
        assert!(p.html.contains(r#"<details class="warning">"#));
        assert!(p.html.contains("<summary>Warning</summary>"));
        assert!(!p.html.contains("backlot-admonition"));
    }
}
