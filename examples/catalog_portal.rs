//! A portal with the software catalog: the catalog backend reading the demo catalog
//! (`examples/demo-catalog/all.yaml`), and the app with the catalog frontend plugin, served at
//! http://127.0.0.1:7007/catalog.
//!
//! Run with `cargo run --example catalog_portal`; see docs/catalog-ui.md.

use std::path::PathBuf;

use backlot::backend::Backend;
use backlot::frontend::App;
use backlot::plugins::{app, catalog};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/demo-catalog/all.yaml");
    let config = format!(
        r#"
app:
  title: Northwind Portal
backend:
  baseUrl: http://127.0.0.1:7007
  database:
    client: better-sqlite3
    connection: ':memory:'
catalog:
  rules:
    - allow: [Component, API, Resource, System, Domain, Group, User, Location, Template]
  locations:
    - type: file
      target: {}
"#,
        demo.display()
    );
    let backend = Backend::builder()
        .config_yaml(config)
        .add((
            catalog::backend::plugin(),
            app::plugin(App::builder().feature(catalog::frontend::plugin())),
        ))
        .listen_addr("127.0.0.1:7007".parse()?)
        .start()
        .await?;
    tracing::info!("open http://127.0.0.1:7007/catalog");
    tokio::signal::ctrl_c().await?;
    backend.stop().await?;
    Ok(())
}
