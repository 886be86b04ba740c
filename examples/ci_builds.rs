//! The third-party-backed plugin form: a "CI builds" card listing an entity's CircleCI
//! pipelines, with no backend code of its own — the card calls CircleCI's v2 API through the
//! proxy plugin, which adds the API token from the config.
//!
//! ```sh
//! export CIRCLECI_TOKEN=...            # a CircleCI personal API token
//! cargo run --example ci_builds
//! ```
//!
//! Then open <http://localhost:7007/catalog/default/component/payments> (sign in as guest):
//! the "CI builds" card lists the pipelines of the project named by the entity's
//! `circleci.com/project-slug` annotation (edit `examples/ci_builds/catalog.yaml` to point at
//! one of your projects). `ledger` has no annotation and so no card.

#[path = "ci_builds/mod.rs"]
mod ci_builds;

use std::path::PathBuf;

use backlot::backend::Backend;
use backlot::frontend::App;
use backlot::plugins::{app, auth, catalog, proxy};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let catalog_file =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/ci_builds/catalog.yaml");
    let backend = Backend::builder()
        .config_yaml(format!(
            "app:
  title: CI Builds Portal
backend:
  baseUrl: http://localhost:7007
  listen: {{ host: 127.0.0.1, port: 7007 }}
auth:
  environment: development
  providers:
    guest: {{}}
catalog:
  rules:
    - allow: [Component, Group]
  locations:
    - type: file
      target: {}
",
            catalog_file.display()
        ))
        .config_yaml(ci_builds::proxy_config("https://circleci.com/api/v2"))
        .add((
            catalog::backend::plugin(),
            auth::backend::plugin(),
            proxy::backend::plugin(),
            app::plugin(
                App::builder()
                    .feature(catalog::frontend::plugin())
                    .feature(ci_builds::frontend_plugin()),
            ),
        ))
        .start()
        .await?;
    tracing::info!(
        "CI builds at {}/catalog/default/component/payments",
        backend.base_url()
    );
    backend.serve_until_shutdown().await?;
    Ok(())
}
