//! The portal: the host program that composes backlot's reference plugins into one backend —
//! the software catalog, search, TechDocs, the scaffolder (software templates), Kubernetes, the
//! proxy, sign-in (the `auth` plugin), the example `hello` plugin — and the app (catalog,
//! search, docs and "Create..." pages, the Kubernetes tab of entities) at `/`.
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
//!
//! `--plugins LIST` (comma-separated plugin ids: `catalog`, `auth`, `search`, `techdocs`,
//! `scaffolder`, `kubernetes`, `proxy`, `hello`, `app`; default all) runs only some plugins, so the same binary makes
//! the deployments of a split portal that find each other through `discovery.endpoints`; see
//! `docs/split-deployments.md`:
//!
//! ```sh
//! portal --config split.yaml --plugins catalog,auth
//! portal --config split.yaml --plugins search,techdocs
//! portal --config split.yaml --plugins app
//! ```

#[path = "support/hello.rs"]
mod hello;
#[path = "support/portal_plugins.rs"]
mod portal_plugins;

use std::path::PathBuf;

use backlot::backend::Backend;
use backlot::frontend::App;
use backlot::plugins::app;
use backlot::services::config::ConfigLoader;

const USAGE: &str = "usage: portal [--config FILE]... [--plugins ID,ID,...]";

/// The command line: the config files and the `--plugins` list, if given.
struct Args {
    files: Vec<PathBuf>,
    plugins: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut files = Vec::new();
    let mut plugins = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--config" || arg == "-c" {
            let file = args.next().ok_or("--config needs a file")?;
            files.push(PathBuf::from(file));
        } else if let Some(file) = arg.strip_prefix("--config=") {
            files.push(PathBuf::from(file));
        } else if arg == "--plugins" || arg.starts_with("--plugins=") {
            let list = match arg.strip_prefix("--plugins=") {
                Some(list) => list.to_string(),
                None => args.next().ok_or_else(|| {
                    format!(
                        "--plugins needs a comma-separated list of plugin ids: {}",
                        portal_plugins::known_ids()
                    )
                })?,
            };
            if plugins.replace(list).is_some() {
                return Err("--plugins is given twice".into());
            }
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
    Ok(Args { files, plugins })
}

/// The portal's allocator. Under glibc's, a first ingestion of 100,000 entities took about
/// 1.7 times as long, peaked higher and answered queries slower: its many small allocations
/// beside 1 KB entity texts send glibc into consolidating its free lists over and over (see
/// "Memory allocator" in `docs/deployment.md`). A program embedding backlot chooses its own.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (files, chosen, with_app) = match parse_args()
        .and_then(|args| Ok((args.files, portal_plugins::select(args.plugins.as_deref())?)))
    {
        Ok((files, (chosen, with_app))) => (files, chosen, with_app),
        Err(e) => {
            eprintln!("portal: {e}");
            std::process::exit(2);
        }
    };
    let mut loader = ConfigLoader::new();
    for file in &files {
        loader = loader.file(file);
    }
    let config = loader.load()?;
    let mut backend = Backend::builder().config(config);
    for plugin in &chosen {
        backend = backend.add((plugin.backend)());
    }
    if with_app {
        // The app shows every plugin's pages; discovery says where each backend runs.
        let mut app = App::builder();
        for frontend in portal_plugins::PLUGINS.iter().filter_map(|p| p.frontend) {
            app = app.feature(frontend());
        }
        backend = backend.add(app::plugin(app));
    }
    let handle = backend.build()?.start().await?;
    tracing::info!(
        config = ?files,
        plugins = ?handle_plugin_ids(&chosen, with_app),
        "backlot portal listening on {} — open {}",
        handle.local_addr(),
        handle.base_url()
    );
    handle.serve_until_shutdown().await?;
    Ok(())
}

fn handle_plugin_ids(
    chosen: &[&portal_plugins::PortalPlugin],
    with_app: bool,
) -> Vec<&'static str> {
    let mut ids: Vec<_> = chosen.iter().map(|p| p.id).collect();
    if with_app {
        ids.push(portal_plugins::APP);
    }
    ids
}
