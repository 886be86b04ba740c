//! A service-backed plugin: Lighthouse. A portal with the catalog, sign-in (guest), the
//! `lighthouse` backend plugin (audits in its own tables, the real `lighthouse` CLI driving
//! headless Chromium) and its entity card, plus a small website (`/api/website/home`) that
//! the catalog's `northwind-website` component points at with `lighthouse.com/website-url`.
//!
//! ```sh
//! # once: the CLI (Node 20: lighthouse 12.2.3), Chromium at /usr/bin/chromium
//! mkdir -p ~/.cache/backlot-lighthouse && (cd ~/.cache/backlot-lighthouse && npm i -E lighthouse@12.2.3)
//! LIGHTHOUSE=~/.cache/backlot-lighthouse/node_modules/.bin/lighthouse cargo run --example lighthouse
//! ```
//!
//! Open <http://127.0.0.1:7007/catalog/default/component/northwind-website>, sign in as
//! guest, and press "Audit now" on the Lighthouse card; the scores show after a reload once
//! the audit completed (10–30 s). <http://127.0.0.1:7007/lighthouse> lists the audited sites.
//! Audits are kept in `./data/lighthouse.sqlite`.

#[path = "lighthouse/mod.rs"]
mod lighthouse;

use std::path::PathBuf;

use backlot::backend::Backend;
use backlot::frontend::App;
use backlot::plugins::{app, auth, catalog};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let command = std::env::var("LIGHTHOUSE").unwrap_or_else(|_| "lighthouse".to_string());
    let config = format!(
        r#"
app:
  title: Northwind Portal
backend:
  baseUrl: http://127.0.0.1:7007
  listen: {{ host: 127.0.0.1, port: 7007 }}
  database: {{ client: better-sqlite3, connection: {{ directory: ./data }} }}
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
lighthouse:
  command: '{command}'
  chromePath: /usr/bin/chromium
  timeout: 2m
  maxConcurrentAudits: 1
  reauditEvery: 1d
"#,
        catalog = examples.join("lighthouse/catalog-info.yaml").display(),
    );
    let backend = Backend::builder()
        .config_yaml(config)
        .add((
            catalog::backend::plugin(),
            auth::backend::plugin(),
            lighthouse::LighthousePlugin,
            lighthouse::site::WebsitePlugin,
            app::plugin(
                App::builder()
                    .feature(catalog::frontend::plugin())
                    .feature(lighthouse::card::frontend_plugin()),
            ),
        ))
        .start()
        .await?;
    tracing::info!(
        "open {}/catalog/default/component/northwind-website",
        backend.base_url()
    );
    backend.serve_until_shutdown().await?;
    Ok(())
}
