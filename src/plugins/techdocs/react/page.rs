//! Taking a generated TechDocs page apart and keeping its links inside the reader.

use std::sync::LazyLock;

use regex::{Captures, Regex};

/// Where a site's pages are read and its assets fetched from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocsLocation {
    reader_base: String,
    static_base: String,
}

impl DocsLocation {
    /// Pages under `reader_base` (`/docs/default/component/shop`), assets (images, files)
    /// under `static_base` (the backend's `…/static/docs/default/component/shop`).
    pub fn new(reader_base: impl Into<String>, static_base: impl Into<String>) -> Self {
        Self {
            reader_base: reader_base.into().trim_end_matches('/').to_string(),
            static_base: static_base.into().trim_end_matches('/').to_string(),
        }
    }

    /// The reader URL of a site path (`guide/` → `/docs/…/guide/`).
    pub fn page_href(&self, site_path: &str) -> String {
        format!("{}/{}", self.reader_base, site_path)
    }

    /// The backend URL of a site file.
    pub fn asset_href(&self, site_path: &str) -> String {
        format!("{}/{}", self.static_base, site_path)
    }
}

/// A generated page taken apart, with links rewritten.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocsPage {
    /// The page title (its first `<h1>`, else the `<title>`), as text.
    pub title: String,
    /// The site name (the nav's title), as text.
    pub site_name: String,
    /// The site navigation: the `<ul>` of the primary nav, as HTML.
    pub nav: String,
    /// The table of contents: the `<ul>` of the secondary nav, as HTML (may be empty).
    pub toc: String,
    /// The page's article, as HTML.
    pub article: String,
}

/// The site file of a reader path below the entity (`""` → `index.html`, `/guide/` and
/// `/guide` → `guide/index.html`, `/a.html` → `a.html`), and the page's site path (the
/// directory links resolve against). `None` for paths that climb out of the site.
///
/// ```
/// use backlot::plugins::techdocs::react::page_file;
///
/// assert_eq!(page_file(""), Some(("index.html".to_string(), String::new())));
/// assert_eq!(page_file("/guide"), Some(("guide/index.html".to_string(), "guide/".to_string())));
/// assert_eq!(page_file("/../x"), None);
/// ```
pub fn page_file(rest: &str) -> Option<(String, String)> {
    let trimmed = rest.trim_start_matches('/');
    if trimmed.split('/').any(|s| s == ".." || s == ".") || trimmed.contains('\\') {
        return None;
    }
    if trimmed.is_empty() {
        return Some(("index.html".to_string(), String::new()));
    }
    let last = trimmed.rsplit('/').next().unwrap_or("");
    if last.ends_with(".html") {
        return Some((trimmed.to_string(), trimmed.to_string()));
    }
    let dir = format!("{}/", trimmed.trim_end_matches('/'));
    Some((format!("{dir}index.html"), dir))
}

fn between<'a>(html: &'a str, start_marker: &str, end_marker: &str) -> Option<&'a str> {
    let start = html.find(start_marker)?;
    let open_end = html[start..].find('>')? + start + 1;
    let end = html[open_end..].find(end_marker)? + open_end;
    Some(&html[open_end..end])
}

static TAGS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<[^>]*>").unwrap_or_else(|_| unreachable!()));
static LINKS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(href|src)\s*=\s*"([^"]*)""#).unwrap_or_else(|_| unreachable!())
});
static DANGEROUS_ELEMENTS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    ["script", "iframe", "object", "embed", "style", "template"]
        .iter()
        .filter_map(|t| Regex::new(&format!(r"(?is)<{t}\b.*?</{t}\s*>|<{t}\b[^>]*/?>")).ok())
        .collect()
});
static EVENT_ATTRS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\s(on[a-z]+|srcdoc|formaction)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)"#)
        .unwrap_or_else(|_| unreachable!())
});

/// Removes what could run code: script-like elements, event-handler attributes (URLs with
/// a script scheme are dropped by the link rewriting). The generator already strips them;
/// this guards sites built elsewhere (`techdocs.builder: external`).
fn sanitize(html: &str) -> String {
    let mut out = html.to_string();
    for re in DANGEROUS_ELEMENTS.iter() {
        out = re.replace_all(&out, "").into_owned();
    }
    EVENT_ATTRS.replace_all(&out, "").into_owned()
}

static TITLE_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"<label class="md-nav__title">([^<]*)</label>"#).unwrap_or_else(|_| unreachable!())
});

fn text_of(html: &str) -> String {
    let text = TAGS.replace_all(html, "");
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
        .trim()
        .to_string()
}

/// Resolves `href` against the directory of `page_path`; `None` when it climbs out.
fn resolve(page_path: &str, href: &str) -> Option<String> {
    let dir = match page_path.rfind('/') {
        Some(i) => &page_path[..=i],
        None => "",
    };
    let mut parts: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
    let ends_with_slash = href.ends_with('/') || href.is_empty();
    for seg in href.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    let mut out = parts.join("/");
    if ends_with_slash && !out.is_empty() {
        out.push('/');
    }
    Some(out)
}

fn is_page(path: &str) -> bool {
    path.is_empty() || path.ends_with('/') || path.ends_with(".html")
}

fn rewrite_url(url: &str, page_path: &str, loc: &DocsLocation) -> String {
    let lower: String = url
        .chars()
        .filter(|c| !c.is_ascii_whitespace() && !c.is_ascii_control())
        .collect::<String>()
        .to_ascii_lowercase();
    if lower.starts_with("javascript:")
        || lower.starts_with("vbscript:")
        || lower.starts_with("data:text")
    {
        return "#".to_string();
    }
    if url.is_empty()
        || url.starts_with('#')
        || url.starts_with('/')
        || lower.starts_with("mailto:")
        || lower.contains("://")
        || lower.starts_with("data:")
    {
        return url.to_string();
    }
    let (path, fragment) = match url.find(['#', '?']) {
        Some(i) => (&url[..i], &url[i..]),
        None => (url, ""),
    };
    match resolve(page_path, path) {
        Some(site_path) if is_page(&site_path) => {
            let site_path = site_path.strip_suffix("index.html").unwrap_or(&site_path);
            format!("{}{fragment}", loc.page_href(site_path))
        }
        Some(site_path) => format!("{}{fragment}", loc.asset_href(&site_path)),
        None => loc.page_href(""),
    }
}

fn rewrite_links(html: &str, page_path: &str, loc: &DocsLocation) -> String {
    let html = sanitize(html);
    LINKS
        .replace_all(&html, |c: &Captures<'_>| {
            format!("{}=\"{}\"", &c[1], rewrite_url(&c[2], page_path, loc))
        })
        .into_owned()
}

impl DocsPage {
    /// Takes a page of a generated site apart. `page_path` is the page's site path (from
    /// [`page_file`]); relative links to pages become reader links under `loc`, links to
    /// other files become backend URLs, fragments and absolute URLs are kept.
    pub fn parse(html: &str, page_path: &str, loc: &DocsLocation) -> Self {
        let primary =
            between(html, "<nav class=\"md-nav md-nav--primary\"", "</nav>").unwrap_or("");
        let secondary =
            between(html, "<nav class=\"md-nav md-nav--secondary\"", "</nav>").unwrap_or("");
        let strip_label = |nav: &str| TITLE_LABEL.replace(nav, "").into_owned();
        let site_name = TITLE_LABEL
            .captures(primary)
            .map(|c| text_of(&c[1]))
            .unwrap_or_default();
        let article = match (html.find("<article"), html.rfind("</article>")) {
            (Some(s), Some(e)) if s < e => {
                let open_end = html[s..].find('>').map_or(s, |i| s + i + 1);
                &html[open_end.min(e)..e]
            }
            _ => between(html, "<body", "</body>").unwrap_or(""),
        };
        let title = between(article, "<h1", "</h1>")
            .map(text_of)
            .filter(|t| !t.is_empty())
            .or_else(|| between(html, "<title", "</title>").map(text_of))
            .unwrap_or_default();
        Self {
            title,
            site_name,
            nav: rewrite_links(&strip_label(primary), page_path, loc),
            toc: rewrite_links(&strip_label(secondary), page_path, loc),
            article: rewrite_links(article, page_path, loc),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc() -> DocsLocation {
        DocsLocation::new(
            "/docs/default/component/a",
            "http://b/api/techdocs/static/docs/default/component/a",
        )
    }

    #[test]
    fn urls_are_rewritten_by_kind() {
        let l = loc();
        assert_eq!(
            rewrite_url("../guide/", "intro/", &l),
            "/docs/default/component/a/guide/"
        );
        assert_eq!(rewrite_url("./", "", &l), "/docs/default/component/a/");
        assert_eq!(
            rewrite_url("../", "guide/", &l),
            "/docs/default/component/a/"
        );
        assert_eq!(
            rewrite_url("setup/#install", "guide/", &l),
            "/docs/default/component/a/guide/setup/#install"
        );
        assert_eq!(rewrite_url("#top", "guide/", &l), "#top");
        assert_eq!(
            rewrite_url("https://x.test/", "guide/", &l),
            "https://x.test/"
        );
        assert_eq!(rewrite_url("/catalog", "guide/", &l), "/catalog");
        assert_eq!(
            rewrite_url("img/a.png", "", &l),
            "http://b/api/techdocs/static/docs/default/component/a/img/a.png"
        );
        assert_eq!(
            rewrite_url("../../../../etc/passwd", "guide/", &l),
            "/docs/default/component/a/"
        );
        assert_eq!(
            rewrite_url("b/index.html", "", &l),
            "/docs/default/component/a/b/"
        );
    }

    #[test]
    fn scripts_and_handlers_are_removed() {
        let html = r#"<p onclick="x()">a</p><script>alert(1)</script><SCRIPT src=x></SCRIPT><a href="javascript:alert(1)">j</a><a href=" JavaScript:x">k</a><iframe src="x"></iframe><img src="i.png" onerror='y()'>"#;
        let out = rewrite_links(html, "", &loc());
        assert!(!out.to_ascii_lowercase().contains("script"), "{out}");
        assert!(
            !out.contains("onclick") && !out.contains("onerror") && !out.contains("iframe"),
            "{out}"
        );
        assert!(out.contains("<p>a</p>"), "{out}");
        assert!(
            out.contains(r##"<a href="#">j</a><a href="#">k</a>"##),
            "{out}"
        );
        assert!(
            out.contains("static/docs/default/component/a/i.png"),
            "{out}"
        );
    }

    #[test]
    fn page_files_of_reader_paths() {
        assert_eq!(
            page_file("/a/b/"),
            Some(("a/b/index.html".into(), "a/b/".into()))
        );
        assert_eq!(
            page_file("/404.html"),
            Some(("404.html".into(), "404.html".into()))
        );
        assert_eq!(page_file("/a/./b"), None);
    }

    #[test]
    fn missing_parts_give_empty_strings() {
        let page = DocsPage::parse("<html><body><p>x</p></body></html>", "", &loc());
        assert_eq!(page.nav, "");
        assert_eq!(page.article, "<p>x</p>");
    }
}
