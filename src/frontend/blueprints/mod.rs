//! Blueprints: ready-made extension kinds with fixed attachment points, inputs and outputs,
//! like Backstage's `PageBlueprint`, `NavItemBlueprint`, `ApiBlueprint` and `ThemeBlueprint`.

mod api;
mod nav_item;
mod page;
mod theme;

pub use api::ApiBlueprint;
pub use nav_item::{NavItemBlueprint, NavItemConfig};
pub use page::{PageBlueprint, PageConfig};
pub use theme::ThemeBlueprint;
