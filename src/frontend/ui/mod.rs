//! The rendering kit: maud components for server-rendered pages.
//!
//! Every component returns [`maud::Markup`]; text arguments are escaped by construction, so
//! data from the catalog or from users can be passed as it is. The classes they use are styled
//! by the app's stylesheet (served by the [`App`](super::App)) and themed through `--bl-*`
//! CSS custom properties (see [`Theme`](super::Theme)).
//!
//! ```
//! use backlot::frontend::ui::{self, Tab};
//! use maud::html;
//!
//! let page = html! {
//!     (ui::header("Tech Radar", Some("What we use, and how much")))
//!     (ui::tabs("Sections", &[Tab::new("Overview", "/radar", true), Tab::new("Rings", "/radar/rings", false)]))
//!     (ui::card("Adopt", html! { p { "Rust <3" } }))
//!     (ui::empty_state("No blips", "Nothing has been added yet."))
//! };
//! let html = page.into_string();
//! assert!(html.contains("<h1"));
//! assert!(html.contains("aria-current=\"page\""));
//! assert!(html.contains("Rust &lt;3"));
//! ```

mod components;
mod layout;
mod table;
mod tabs;

pub use components::{
    button_link, card, chips, definition_list, empty_state, error_state, grid, header, link,
    progress,
};
pub use layout::{default_layout, default_nav};
pub use table::{Column, SortOrder, Table, TableState};
pub use tabs::{Tab, tabs};
