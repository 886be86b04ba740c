//! Tabs: a row of links with the current one marked.

use maud::{Markup, html};

/// One tab: a label, a link and whether it is the current one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tab {
    /// The label.
    pub label: String,
    /// The link.
    pub href: String,
    /// Whether this tab is shown.
    pub active: bool,
}

impl Tab {
    /// A tab.
    pub fn new(label: impl Into<String>, href: impl Into<String>, active: bool) -> Self {
        Self {
            label: label.into(),
            href: href.into(),
            active,
        }
    }
}

/// Tabs as a labelled `<nav>` of links; the active one has `aria-current="page"`.
///
/// ```
/// use backlot::frontend::ui::{Tab, tabs};
///
/// let html = tabs("Entity", &[Tab::new("Overview", "/e", true), Tab::new("Docs", "/e/docs", false)])
///     .into_string();
/// assert!(html.contains("aria-label=\"Entity\""));
/// assert!(html.contains("<a class=\"bl-tab\" href=\"/e\" aria-current=\"page\">Overview</a>"));
/// ```
pub fn tabs(label: &str, tabs: &[Tab]) -> Markup {
    html! {
        nav class="bl-tabs" aria-label=(label) {
            @for tab in tabs {
                @if tab.active {
                    a class="bl-tab" href=(tab.href) aria-current="page" { (tab.label) }
                } @else {
                    a class="bl-tab" href=(tab.href) { (tab.label) }
                }
            }
        }
    }
}
