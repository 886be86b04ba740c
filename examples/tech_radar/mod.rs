//! The Tech Radar: a standalone plugin — frontend only, no backend route of its own — shared
//! by `examples/tech_radar.rs` and `tests/example_tech_radar.rs`.
//!
//! At start it reads a radar JSON file in the shape of Backstage's tech-radar plugin
//! (`quadrants`, `rings`, `entries` with a `timeline`), validates it (unknown ring or quadrant
//! ids, duplicate keys, unsafe links, size and count limits: errors name the entry), and
//! renders it once as server-side SVG: the page at `/tech-radar` shows the radar, a legend of
//! the rings and the entries per quadrant and ring, with moved-in/out markers.
//!
//! Config (`techRadar:`):
//!
//! | key | default | |
//! |---|---|---|
//! | `dataPath` | required | the radar JSON file |
//! | `title` | `Tech Radar` | the page title |
//! | `maxBytes` | `1048576` | the largest radar file read |
//! | `maxEntries` | `500` | the most entries accepted |

pub(crate) mod layout;
pub(crate) mod model;
pub(crate) mod render;

use std::path::PathBuf;
use std::sync::Arc;

use backlot::frontend::{
    FrontendPlugin, NavItemBlueprint, PageBlueprint, PageContent, RouteRef, ui,
};
use backlot::services::config::{Config, ConfigError};
use maud::{PreEscaped, html};
use serde::Deserialize;

pub(crate) use model::{RadarData, RadarError, RadarLimits};

/// The radar page.
pub(crate) static TECH_RADAR_PAGE: RouteRef = RouteRef::new("tech-radar.root");

/// `techRadar:` in the app config.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct TechRadarConfig {
    /// The radar JSON file.
    pub(crate) data_path: PathBuf,
    /// The page title.
    #[serde(default)]
    pub(crate) title: Option<String>,
    /// The largest radar file read.
    #[serde(default)]
    pub(crate) max_bytes: Option<u64>,
    /// The most entries accepted.
    #[serde(default)]
    pub(crate) max_entries: Option<usize>,
}

/// Why the plugin could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TechRadarError {
    /// `techRadar` is missing or malformed.
    #[error("techRadar config: {0}")]
    Config(#[from] ConfigError),
    /// The radar file was refused.
    #[error(transparent)]
    Data(#[from] RadarError),
}

impl TechRadarConfig {
    /// Reads `techRadar` from the app config.
    pub(crate) fn from_config(config: &Config) -> Result<Self, TechRadarError> {
        Ok(config.get_as("techRadar")?)
    }

    /// The limits to load the file with.
    pub(crate) fn limits(&self) -> RadarLimits {
        let default = RadarLimits::default();
        RadarLimits {
            max_bytes: self.max_bytes.unwrap_or(default.max_bytes),
            max_entries: self.max_entries.unwrap_or(default.max_entries),
        }
    }
}

/// The frontend plugin `tech-radar` for the radar in `techRadar.dataPath`; fails when the
/// file is missing, too large or invalid.
pub(crate) fn plugin_from_config(config: &Config) -> Result<FrontendPlugin, TechRadarError> {
    let settings = TechRadarConfig::from_config(config)?;
    let data = RadarData::load(&settings.data_path, settings.limits())?;
    Ok(frontend_plugin(
        &data,
        settings.title.as_deref().unwrap_or("Tech Radar"),
    ))
}

/// The frontend plugin `tech-radar` showing `data`: a page at `/tech-radar` and a nav item.
/// The page is rendered once, here; serving it reads no file and calls no backend.
pub(crate) fn frontend_plugin(data: &RadarData, title: &str) -> FrontendPlugin {
    let body: Arc<str> = render::page(data).into_string().into();
    let page_title: Arc<str> = title.into();
    FrontendPlugin::new("tech-radar")
        .route("root", &TECH_RADAR_PAGE)
        .extension(
            PageBlueprint::new("/tech-radar", move |_req| {
                let body = Arc::clone(&body);
                let title = Arc::clone(&page_title);
                async move {
                    Ok(PageContent::new(html! {
                        (ui::header(&title, Some("What we adopt, trial, assess and hold")))
                        (PreEscaped(&*body))
                    }))
                }
            })
            .route_ref(&TECH_RADAR_PAGE)
            .title(title)
            .build(),
        )
        .extension(
            NavItemBlueprint::new(title, &TECH_RADAR_PAGE)
                .icon("◎")
                .build(),
        )
}
