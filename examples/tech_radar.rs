//! A standalone plugin: the Tech Radar. A portal with the catalog, sign-in (guest) and the
//! radar page at <http://127.0.0.1:7007/tech-radar>, drawn as SVG on the server from
//! `examples/tech_radar/radar.json` (Backstage's tech-radar data shape). The plugin has no
//! backend route: the radar is read and validated once at start.
//!
//! ```sh
//! cargo run --example tech_radar
//! cargo run --example tech_radar -- path/to/radar.json   # another radar file
//! ```

#[path = "tech_radar/mod.rs"]
mod tech_radar;

use std::path::PathBuf;

use backlot::backend::Backend;
use backlot::frontend::App;
use backlot::plugins::{app, auth, catalog};
use backlot::services::config::ConfigLoader;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let radar = std::env::args()
        .nth(1)
        .map_or_else(|| root.join("tech_radar/radar.json"), PathBuf::from);
    let yaml = format!(
        r#"
app:
  title: Northwind Portal
backend:
  baseUrl: http://127.0.0.1:7007
  listen: {{ host: 127.0.0.1, port: 7007 }}
  database: {{ client: better-sqlite3, connection: ':memory:' }}
auth:
  environment: development
  providers:
    guest: {{}}
catalog:
  rules:
    - allow: [Component, API, Resource, System, Domain, Group, User, Location, Template]
  locations:
    - type: file
      target: '{catalog}'
techRadar:
  dataPath: '{radar}'
  maxEntries: 500
"#,
        catalog = root.join("demo-catalog/all.yaml").display(),
        radar = radar.display(),
    );
    let config = ConfigLoader::new().yaml("tech_radar.rs", yaml).load()?;
    // A bad radar file stops the start here, naming the entry.
    let radar = match tech_radar::plugin_from_config(&config) {
        Ok(radar) => radar,
        Err(e) => {
            eprintln!("tech radar: {e}");
            std::process::exit(1);
        }
    };
    let backend = Backend::builder()
        .config(config)
        .add((
            catalog::backend::plugin(),
            auth::backend::plugin(),
            app::plugin(
                App::builder()
                    .feature(catalog::frontend::plugin())
                    .feature(radar),
            ),
        ))
        .start()
        .await?;
    tracing::info!("open {}/tech-radar", backend.base_url());
    backend.serve_until_shutdown().await?;
    Ok(())
}
