//! The sidebar search box.

use maud::html;

use crate::frontend::core_data::{NAV_CONTENT, NAV_CONTENTS, NavContent};
use crate::frontend::{Extension, Outputs};
use crate::plugins::search::react::SEARCH_ROUTE;

/// The sidebar search box: a GET form with a `term` field, as the extension
/// `nav-content:search/box` attached to `app/nav` input `content`. The form submits to
/// wherever the app mounts the search page (route `search.root`, so moving `page:search`
/// through config moves the form), or to `fallback_path` when no page mounts it.
///
/// ```
/// let ext = backlot::plugins::search::frontend::search_box("/search");
/// assert_eq!(ext.attach_to().map(|a| (a.id.as_str(), a.input.as_str())), Some(("app/nav", "content")));
/// ```
pub fn search_box(fallback_path: &str) -> Extension {
    let fallback = fallback_path.to_string();
    Extension::builder("nav-content", "box")
        .attach_to(&NAV_CONTENTS)
        .output(&[NAV_CONTENT.any()])
        .factory(move |ctx| {
            let routes = ctx.routes().clone();
            let fallback = fallback.clone();
            Ok(Outputs::new().with(
                &NAV_CONTENT,
                NavContent::render(move || {
                    let action = routes
                        .href(&SEARCH_ROUTE, &())
                        .unwrap_or_else(|| fallback.clone());
                    html! {
                        form class="bl-search-box" role="search" method="get" action=(action) {
                            input type="search" name="term" placeholder="Search" aria-label="Search the portal";
                            button class="bl-button" type="submit" { "Go" }
                        }
                    }
                }),
            ))
        })
}
