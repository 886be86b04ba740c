//! The portal: the host program that composes backlot's reference plugins into one backend —
//! the software catalog, search, TechDocs, the scaffolder (software templates), sign-in (the
//! `auth` plugin), the example `hello` plugin — and the app (catalog, search, docs and
//! "Create..." pages) at `/`.
//!
//! The demo templates publish to the local git server of `integrations.gitea`
//! (`127.0.0.1:7900`) and register the result in the catalog.
//!
//! Every page asks you to sign in first: `app-config.yaml` enables the `guest` provider
//! (`auth.environment: development`), one click on `/signin`. For OpenID Connect, layer
//! `app-config.production.example.yaml` over it.
//!
//! ```sh
//! cargo run --release --example portal        # reads ./app-config.yaml: demo catalog, embedded SQLite in ./data
//! cargo run --release --example portal -- --config app-config.yaml --config app-config.local.yaml
//! ```
//!
//! Like Backstage's backend it takes `--config FILE` (repeatable, later files win; default
//! `app-config.yaml` in the working directory, plus `app-config.local.yaml` when present) and
//! listens on `backend.listen.port` (default 7007) and `backend.listen.host`.

#[path = "support/hello.rs"]
mod hello;

use std::path::PathBuf;

use backlot::backend::Backend;
use backlot::frontend::App;
use backlot::plugins::search::backend::{
    SearchCatalogCollatorModule, SearchTechdocsCollatorModule,
};
use backlot::plugins::{app, auth, catalog, scaffolder, search, techdocs};
use backlot::services::config::ConfigLoader;

const USAGE: &str = "usage: portal [--config FILE]...";

fn config_files() -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--config" || arg == "-c" {
            let file = args.next().ok_or("--config needs a file")?;
            files.push(PathBuf::from(file));
        } else if let Some(file) = arg.strip_prefix("--config=") {
            files.push(PathBuf::from(file));
        } else if arg == "--help" || arg == "-h" {
            return Err(USAGE.into());
        } else {
            return Err(format!("unknown argument '{arg}'; {USAGE}"));
        }
    }
    if files.is_empty() {
        for default in ["app-config.yaml", "app-config.local.yaml"] {
            if std::path::Path::new(default).exists() {
                files.push(PathBuf::from(default));
            }
        }
    }
    Ok(files)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = config_files()?;
    let mut loader = ConfigLoader::new();
    for file in &files {
        loader = loader.file(file);
    }
    let config = loader.load()?;
    let app = App::builder()
        .feature(catalog::frontend::plugin())
        .feature(search::frontend::plugin())
        .feature(techdocs::frontend::plugin())
        .feature(scaffolder::frontend::plugin());
    let backend = Backend::builder()
        .config(config)
        .add((
            catalog::backend::plugin(),
            auth::backend::plugin(),
            search::backend::plugin(),
            SearchCatalogCollatorModule,
            techdocs::backend::plugin(),
            SearchTechdocsCollatorModule,
            scaffolder::backend::plugin(),
            hello::HelloPlugin,
            hello::HelloModuleEurope,
            app::plugin(app),
        ))
        .build()?;
    let handle = backend.start().await?;
    tracing::info!(
        config = ?files,
        "backlot portal listening on {} — open {}",
        handle.local_addr(),
        handle.base_url()
    );
    handle.serve_until_shutdown().await?;
    Ok(())
}
