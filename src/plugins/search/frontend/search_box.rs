//! The sidebar search box.

use maud::html;

use crate::frontend::core_data::NAV_CONTENT;
use crate::frontend::{Extension, Outputs};

/// The sidebar search box: a GET form to `search_path` with a `term` field, as the extension
/// `nav-content:search/box` attached to `app/nav` input `content`.
///
/// ```
/// let ext = backlot::plugins::search::frontend::search_box("/search");
/// assert_eq!(ext.attach_to().map(|a| (a.id.as_str(), a.input.as_str())), Some(("app/nav", "content")));
/// ```
pub fn search_box(search_path: &str) -> Extension {
    let action = search_path.to_string();
    Extension::builder("nav-content", "box")
        .attach_to("app/nav", "content")
        .output(&[NAV_CONTENT.any()])
        .factory(move |_| {
            Ok(Outputs::new().with(
                &NAV_CONTENT,
                html! {
                    form class="bl-search-box" role="search" method="get" action=(action) {
                        input type="search" name="term" placeholder="Search" aria-label="Search the portal";
                        button class="bl-button" type="submit" { "Go" }
                    }
                },
            ))
        })
}
