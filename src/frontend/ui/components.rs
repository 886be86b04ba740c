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
