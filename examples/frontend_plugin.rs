//! A standalone frontend plugin: a tech radar page with a utility API, a nav item and
//! config, served by a backend with the `app` plugin at http://127.0.0.1:7007/tech-radar.
//!
//! Run with `cargo run --example frontend_plugin`; see docs/writing-a-frontend-plugin.md.

use std::sync::Arc;

use backlot::backend::Backend;
use backlot::frontend::ui::{self, Column, Tab, Table, TableState};
use backlot::frontend::{
    ApiBlueprint, ApiFactory, ApiRef, App, FrontendPlugin, NavItemBlueprint, PageBlueprint,
    PageContent, PageError, PageRequest, RouteRef,
};
use backlot::plugins::app;
use maud::html;

/// One entry on the radar.
#[derive(Debug, Clone)]
pub struct Blip {
    name: &'static str,
    ring: &'static str,
    quadrant: &'static str,
    note: &'static str,
}

/// Where the radar's entries come from: a utility API, so an app can swap in its own.
pub trait RadarApi: Send + Sync {
    /// Every entry.
    fn blips(&self) -> Vec<Blip>;
}

/// The API ref pages ask for.
pub static RADAR_API: ApiRef<dyn RadarApi> = ApiRef::new("plugin.tech-radar");
/// The radar page's route.
pub static RADAR: RouteRef = RouteRef::new("tech-radar.root");

const RINGS: [&str; 4] = ["adopt", "trial", "assess", "hold"];

struct SampleRadar;

impl RadarApi for SampleRadar {
    fn blips(&self) -> Vec<Blip> {
        let blip = |name, ring, quadrant, note| Blip {
            name,
            ring,
            quadrant,
            note,
        };
        vec![
            blip("Rust", "adopt", "languages", "Services and tooling."),
            blip("PostgreSQL", "adopt", "platforms", "Default database."),
            blip("Valkey", "trial", "platforms", "Cache for replicas."),
            blip(
                "WebAssembly",
                "assess",
                "platforms",
                "Plugins in the browser?",
            ),
            blip("Grunt", "hold", "tools", "Use <cargo> or npm scripts."),
            blip("OpenTelemetry", "trial", "tools", "Traces across services."),
            blip("Kotlin", "adopt", "languages", "Android apps."),
        ]
    }
}

async fn radar_page(req: PageRequest) -> Result<PageContent, PageError> {
    let radar = req.api(&RADAR_API)?;
    let ring = req
        .query("ring")
        .filter(|r| RINGS.contains(r))
        .map(str::to_string);
    let mut blips: Vec<Blip> = radar
        .blips()
        .into_iter()
        .filter(|b| ring.as_deref().is_none_or(|r| b.ring == r))
        .collect();
    let state = TableState::from_query(req.query_pairs(), 5);
    if let Some((key, order)) = state.sort() {
        blips.sort_by(|a, b| match key {
            "ring" => a.ring.cmp(b.ring),
            "quadrant" => a.quadrant.cmp(b.quadrant),
            _ => a.name.cmp(b.name),
        });
        if order == ui::SortOrder::Desc {
            blips.reverse();
        }
    }
    let here = req.path().to_string();
    let mut tabs = vec![Tab::new("All", here.clone(), ring.is_none())];
    for r in RINGS {
        tabs.push(Tab::new(
            r,
            format!("{here}?ring={r}"),
            ring.as_deref() == Some(r),
        ));
    }
    let rows = state.page_slice(&blips).iter().map(|b| {
        vec![
            html! { strong { (b.name) } },
            html! { (b.ring) },
            html! { (b.quadrant) },
            html! { (b.note) },
        ]
    });
    let body = html! {
        (ui::header("Tech Radar", Some("What we use, and how much")))
        (ui::tabs("Rings", &tabs))
        @if blips.is_empty() {
            (ui::empty_state("No entries", "Nothing in this ring yet."))
        } @else {
            (Table::new("Entries")
                .columns(vec![
                    Column::sortable("name", "Name"),
                    Column::sortable("ring", "Ring"),
                    Column::sortable("quadrant", "Quadrant"),
                    Column::new("note", "Note"),
                ])
                .rows(rows)
                .total(blips.len())
                .state(state)
                .link_base(&here, req.query_pairs())
                .render())
        }
    };
    Ok(PageContent::new(body))
}

/// The plugin: an API, a page and a nav item.
pub fn tech_radar_plugin() -> FrontendPlugin {
    FrontendPlugin::new("tech-radar")
        .route("root", &RADAR)
        .extension(ApiBlueprint::make(ApiFactory::instance(
            &RADAR_API,
            Arc::new(SampleRadar) as Arc<dyn RadarApi>,
        )))
        .extension(
            PageBlueprint::new("/tech-radar", radar_page)
                .route_ref(&RADAR)
                .title("Tech Radar")
                .build(),
        )
        .extension(
            NavItemBlueprint::new("Tech Radar", &RADAR)
                .icon("◎")
                .build(),
        )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let backend = Backend::builder()
        .config_yaml("app:\n  title: Example Portal\nbackend:\n  baseUrl: http://127.0.0.1:7007\n")
        .add(app::plugin(App::builder().feature(tech_radar_plugin())))
        .listen_addr("127.0.0.1:7007".parse()?)
        .start()
        .await?;
    tracing::info!("open http://127.0.0.1:7007/tech-radar");
    tokio::signal::ctrl_c().await?;
    backend.stop().await?;
    Ok(())
}
