//! The default document layout and sidebar.

use maud::{DOCTYPE, Markup, html};

use crate::frontend::core_data::{NavLink, Shell};

/// The default sidebar: a `<nav aria-label="Main">` list of links, the current one with
/// `aria-current="page"`.
///
/// ```
/// use backlot::frontend::core_data::NavLink;
///
/// let html = backlot::frontend::ui::default_nav(&[NavLink {
///     title: "Catalog".into(),
///     href: "/catalog".into(),
///     icon: None,
///     current: true,
/// }])
/// .into_string();
/// assert!(html.contains("aria-current=\"page\""));
/// ```
pub fn default_nav(links: &[NavLink]) -> Markup {
    html! {
        nav class="bl-nav" aria-label="Main" {
            ul {
                @for link in links {
                    li {
                        a class="bl-nav-link" href=(link.href) aria-current=[link.current.then_some("page")] {
                            @if let Some(icon) = &link.icon {
                                span class="bl-nav-icon" aria-hidden="true" { (icon) }
                            }
                            span { (link.title) }
                        }
                    }
                }
            }
        }
    }
}

/// The default document: a skip link, a sidebar with the app title and nav, and the page in
/// `<main>`.
///
/// ```
/// use backlot::frontend::core_data::Shell;
/// use maud::html;
///
/// let html = backlot::frontend::ui::default_layout(&Shell {
///     app_title: "Portal",
///     page_title: Some("Home"),
///     nav: html! {},
///     body: html! { p { "hi" } },
///     head: html! {},
///     current_path: "/",
/// })
/// .into_string();
/// assert!(html.starts_with("<!DOCTYPE html><html lang=\"en\">"));
/// assert!(html.contains("<title>Home · Portal</title>"));
/// assert!(html.contains("<main id=\"main\""));
/// ```
pub fn default_layout(shell: &Shell<'_>) -> Markup {
    let title = match shell.page_title {
        Some(page) if !page.is_empty() => format!("{page} · {}", shell.app_title),
        _ => shell.app_title.to_string(),
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                (shell.head)
            }
            body {
                a class="bl-skip" href="#main" { "Skip to content" }
                div class="bl-app" {
                    aside class="bl-sidebar" {
                        a class="bl-brand" href="/" { (shell.app_title) }
                        (shell.nav)
                    }
                    main id="main" class="bl-main" tabindex="-1" {
                        (shell.body)
                    }
                }
            }
        }
    }
}
