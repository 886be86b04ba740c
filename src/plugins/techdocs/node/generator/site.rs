//! The page template: navigation, table of contents and the stylesheet.

use super::markdown::{TocEntry, escape_html};
use super::paths;

/// A navigation entry with its target resolved.
#[derive(Debug, Clone)]
pub(crate) enum SiteNav {
    Page {
        title: String,
        url: String,
    },
    Link {
        title: String,
        url: String,
    },
    Section {
        title: String,
        children: Vec<SiteNav>,
    },
}

/// The stylesheet's path in the site.
pub(crate) const CSS_PATH: &str = "assets/stylesheets/techdocs.css";

/// A small stylesheet; Backstage's reader applies its own theme on top.
pub(crate) const CSS: &str = "\
body{margin:0;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;line-height:1.6;color:#1f2328}
.md-grid{display:grid;grid-template-columns:16rem minmax(0,1fr) 14rem;gap:2rem;max-width:80rem;margin:0 auto;padding:1rem}
.md-sidebar{font-size:.9rem}.md-sidebar--secondary{order:3}.md-content{order:2;min-width:0}
.md-nav__title{font-weight:600;display:block;margin-bottom:.5rem}
.md-nav__list{list-style:none;padding-left:.8rem;margin:0}.md-nav__item--active>a{font-weight:600}
.md-nav__link{text-decoration:none;color:inherit}a{color:#0969da}
pre{background:#f6f8fa;padding:.8rem;overflow:auto;border-radius:6px}code{font-size:.9em}
table{border-collapse:collapse}th,td{border:1px solid #d0d7de;padding:.3rem .6rem}
.admonition,details{border-left:4px solid #448aff;background:#f5f8ff;padding:.2rem 1rem;margin:1rem 0;border-radius:4px}
.admonition-title,summary{font-weight:600}
.warning,.caution,.attention{border-color:#ff9100}.danger,.error,.failure,.bug{border-color:#ff1744}
.tip,.hint,.important,.success,.check,.done{border-color:#00c853}
.footnote-definition{font-size:.9rem}img{max-width:100%}
@media (max-width:60rem){.md-grid{grid-template-columns:1fr}.md-sidebar--secondary{display:none}}
";

fn nav_html(items: &[SiteNav], current: &str, out: &mut String) {
    out.push_str("<ul class=\"md-nav__list\">");
    for item in items {
        match item {
            SiteNav::Page { title, url } => {
                let active = if url == current {
                    " md-nav__item--active"
                } else {
                    ""
                };
                out.push_str(&format!(
                    "<li class=\"md-nav__item{active}\"><a class=\"md-nav__link\" href=\"{}\">{}</a></li>",
                    escape_html(&paths::relative(current, url)),
                    escape_html(title)
                ));
            }
            SiteNav::Link { title, url } => out.push_str(&format!(
                "<li class=\"md-nav__item\"><a class=\"md-nav__link\" href=\"{}\">{}</a></li>",
                escape_html(url),
                escape_html(title)
            )),
            SiteNav::Section { title, children } => {
                out.push_str(&format!(
                    "<li class=\"md-nav__item md-nav__item--nested\"><span class=\"md-nav__link\">{}</span>",
                    escape_html(title)
                ));
                nav_html(children, current, out);
                out.push_str("</li>");
            }
        }
    }
    out.push_str("</ul>");
}

fn toc_html(toc: &[TocEntry], out: &mut String) {
    let mut stack: Vec<u8> = Vec::new();
    for entry in toc {
        match stack.last() {
            None => {
                out.push_str("<ul class=\"md-nav__list\">");
                stack.push(entry.level);
            }
            Some(&top) if entry.level > top => {
                out.push_str("<ul class=\"md-nav__list\">");
                stack.push(entry.level);
            }
            Some(_) => {
                while stack.len() > 1 && stack.last().is_some_and(|&l| entry.level < l) {
                    out.push_str("</li></ul>");
                    stack.pop();
                }
                out.push_str("</li>");
            }
        }
        out.push_str(&format!(
            "<li class=\"md-nav__item\"><a class=\"md-nav__link\" href=\"#{}\">{}</a>",
            escape_html(&entry.id),
            escape_html(&entry.title)
        ));
    }
    while stack.pop().is_some() {
        out.push_str("</li></ul>");
    }
}

/// What a page template needs.
#[derive(Debug)]
pub(crate) struct PageView<'a> {
    pub(crate) site_name: &'a str,
    pub(crate) site_description: &'a str,
    pub(crate) title: &'a str,
    pub(crate) url: &'a str,
    pub(crate) content: &'a str,
    pub(crate) toc: &'a [TocEntry],
    pub(crate) nav: &'a [SiteNav],
}

/// A full HTML page.
pub(crate) fn page_html(view: &PageView<'_>) -> String {
    let mut out = String::with_capacity(view.content.len() + 4096);
    let css = paths::relative(view.url, CSS_PATH);
    let title = if view.title == view.site_name {
        escape_html(view.site_name)
    } else {
        format!(
            "{} - {}",
            escape_html(view.title),
            escape_html(view.site_name)
        )
    };
    out.push_str(&format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<meta name=\"description\" content=\"{}\">\n\
         <link rel=\"stylesheet\" href=\"{}\">\n</head>\n<body>\n<div class=\"md-container\">\n\
         <main class=\"md-main\"><div class=\"md-main__inner md-grid\">\n\
         <div class=\"md-sidebar md-sidebar--primary\"><nav class=\"md-nav md-nav--primary\" aria-label=\"Navigation\">\
         <label class=\"md-nav__title\">{}</label>",
        escape_html(view.site_description),
        escape_html(&css),
        escape_html(view.site_name),
    ));
    nav_html(view.nav, view.url, &mut out);
    out.push_str(
        "</nav></div>\n<div class=\"md-sidebar md-sidebar--secondary\"><nav class=\"md-nav md-nav--secondary\" aria-label=\"Table of contents\">\
         <label class=\"md-nav__title\">Table of contents</label>",
    );
    toc_html(view.toc, &mut out);
    out.push_str(
        "</nav></div>\n<div class=\"md-content\" data-md-component=\"content\"><article class=\"md-content__inner md-typeset\">\n",
    );
    out.push_str(view.content);
    out.push_str("</article></div>\n</div></main>\n</div>\n</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toc_nests_by_level() {
        let e = |level, id: &str| TocEntry {
            level,
            id: id.to_owned(),
            title: id.to_owned(),
        };
        let mut out = String::new();
        toc_html(&[e(2, "a"), e(3, "b"), e(2, "c")], &mut out);
        assert_eq!(
            out,
            "<ul class=\"md-nav__list\"><li class=\"md-nav__item\"><a class=\"md-nav__link\" href=\"#a\">a</a>\
             <ul class=\"md-nav__list\"><li class=\"md-nav__item\"><a class=\"md-nav__link\" href=\"#b\">b</a></li></ul>\
             </li><li class=\"md-nav__item\"><a class=\"md-nav__link\" href=\"#c\">c</a></li></ul>"
        );
    }

    #[test]
    fn nav_marks_the_current_page_and_escapes_titles() {
        let nav = vec![
            SiteNav::Page {
                title: "<Home>".into(),
                url: String::new(),
            },
            SiteNav::Section {
                title: "G".into(),
                children: vec![SiteNav::Page {
                    title: "B".into(),
                    url: "g/b/".into(),
                }],
            },
        ];
        let mut out = String::new();
        nav_html(&nav, "g/b/", &mut out);
        assert!(out.contains("href=\"../../\">&lt;Home&gt;</a>"));
        assert!(out.contains("md-nav__item--active\"><a class=\"md-nav__link\" href=\"./\">B</a>"));
    }
}
