//! Small components: header, card, link, empty state, error state, progress.

use maud::{Markup, html};

/// A page header: an `<h1>` title and an optional subtitle.
///
/// ```
/// let html = backlot::frontend::ui::header("Catalog", Some("All <entities>")).into_string();
/// assert!(html.contains("<h1 class=\"bl-header-title\">Catalog</h1>"));
/// assert!(html.contains("All &lt;entities&gt;"));
/// ```
pub fn header(title: &str, subtitle: Option<&str>) -> Markup {
    html! {
        header class="bl-header" {
            h1 class="bl-header-title" { (title) }
            @if let Some(subtitle) = subtitle {
                p class="bl-header-subtitle" { (subtitle) }
            }
        }
    }
}

/// A card: a titled `<section>` labelled by its heading.
///
/// ```
/// use maud::html;
/// let html = backlot::frontend::ui::card("About", html! { p { "text" } }).into_string();
/// assert!(html.starts_with("<section class=\"bl-card\" aria-labelledby=\"card-about\">"));
/// ```
pub fn card(title: &str, body: Markup) -> Markup {
    let id = format!("card-{}", slug(title));
    html! {
        section class="bl-card" aria-labelledby=(id) {
            h2 class="bl-card-title" id=(id) { (title) }
            div class="bl-card-body" { (body) }
        }
    }
}

/// A link.
///
/// ```
/// let html = backlot::frontend::ui::link("/catalog?kind=api&x=1", "APIs").into_string();
/// assert_eq!(html, "<a class=\"bl-link\" href=\"/catalog?kind=api&amp;x=1\">APIs</a>");
/// ```
pub fn link(href: &str, text: &str) -> Markup {
    html! { a class="bl-link" href=(href) { (text) } }
}

/// An empty state: a message that a list has nothing in it.
///
/// ```
/// let html = backlot::frontend::ui::empty_state("No entities", "Register one.").into_string();
/// assert!(html.contains("role=\"status\""));
/// ```
pub fn empty_state(title: &str, description: &str) -> Markup {
    html! {
        div class="bl-empty" role="status" {
            p class="bl-empty-title" { (title) }
            p class="bl-muted" { (description) }
        }
    }
}

/// An error state: an alert with a title and message.
///
/// ```
/// let html = backlot::frontend::ui::error_state("Failed to load", "catalog unavailable").into_string();
/// assert!(html.contains("role=\"alert\""));
/// ```
pub fn error_state(title: &str, message: &str) -> Markup {
    html! {
        div class="bl-error" role="alert" {
            p class="bl-error-title" { (title) }
            p { (message) }
        }
    }
}

/// Progress: a labelled `<progress>`; `value` in `0.0..=1.0`, or `None` for indeterminate.
///
/// ```
/// let html = backlot::frontend::ui::progress("Processing", Some(0.5)).into_string();
/// assert!(html.contains("<progress"));
/// assert!(html.contains("value=\"0.5\""));
/// ```
pub fn progress(label: &str, value: Option<f64>) -> Markup {
    html! {
        div class="bl-progress" role="status" {
            label {
                span class="bl-muted" { (label) }
                @match value {
                    Some(v) => progress max="1" value=(v.clamp(0.0, 1.0)) { (format!("{:.0}%", v.clamp(0.0, 1.0) * 100.0)) },
                    None => progress { "…" },
                }
            }
        }
    }
}

/// A link styled as a button (for actions that navigate, such as "Register component").
///
/// ```
/// let html = backlot::frontend::ui::button_link("/catalog-import", "Register").into_string();
/// assert_eq!(html, "<a class=\"bl-button\" href=\"/catalog-import\">Register</a>");
/// ```
pub fn button_link(href: &str, text: &str) -> Markup {
    html! { a class="bl-button" href=(href) { (text) } }
}

/// A responsive grid of cards or other blocks.
///
/// ```
/// use backlot::frontend::ui;
/// use maud::html;
/// let html = ui::grid(&[ui::card("A", html! {}), ui::card("B", html! {})]).into_string();
/// assert!(html.starts_with("<div class=\"bl-grid\">"));
/// ```
pub fn grid(items: &[Markup]) -> Markup {
    html! { div class="bl-grid" { @for item in items { (item) } } }
}

/// A definition list of label/value pairs, as in an "About" card.
///
/// ```
/// use maud::html;
/// let html = backlot::frontend::ui::definition_list(&[("Owner", html! { "team-a" })]).into_string();
/// assert_eq!(html, "<dl class=\"bl-dl\"><div><dt>Owner</dt><dd>team-a</dd></div></dl>");
/// ```
pub fn definition_list(items: &[(&str, Markup)]) -> Markup {
    html! {
        dl class="bl-dl" {
            @for (label, value) in items {
                div { dt { (label) } dd { (value) } }
            }
        }
    }
}

/// Small labels such as tags.
///
/// ```
/// let html = backlot::frontend::ui::chips(&["rust", "web"]).into_string();
/// assert_eq!(html, "<ul class=\"bl-chips\"><li>rust</li><li>web</li></ul>");
/// ```
pub fn chips(labels: &[&str]) -> Markup {
    html! { ul class="bl-chips" { @for label in labels { li { (label) } } } }
}

pub(crate) fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_attribute_safe() {
        assert_eq!(slug("About <this> thing!"), "about-this-thing");
    }

    #[test]
    fn progress_is_indeterminate_without_value() {
        let html = progress("Loading", None).into_string();
        assert!(html.contains("<progress>"));
        assert!(!html.contains("value="));
    }
}
