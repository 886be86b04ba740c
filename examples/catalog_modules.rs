//! A catalog backend extended by two modules (see `support/catalog_modules.rs`):
//!
//! - the `org-chart` entity provider reads the groups and users of `examples/org/people.yaml`
//!   and re-reads the file every 10 seconds from a task on the catalog's scheduler, so edits
//!   show up in the catalog without a restart;
//! - the `on-call` processor turns the `example.com/on-call` annotation into `onCall` /
//!   `onCallFor` relations, or into an error in `status.items` when it names no user.
//!
//! ```text
//! cargo run --example catalog_modules                      # http://127.0.0.1:7007
//! cargo run --example catalog_modules -- --port 7010 --org ./my-org.yaml
//! ```
//!
//! It prints the `curl` commands to try. See docs/catalog.md.
#![allow(clippy::print_stdout)]

#[path = "support/catalog_modules.rs"]
mod catalog_modules;

use std::path::PathBuf;
use std::time::Duration;

use backlot::backend::Backend;
use backlot::plugins::catalog;
use backlot::services::scheduler::TaskFrequency;
use catalog_modules::{ORG_CHART_TASK, on_call_module, org_chart_module};

const USAGE: &str = "usage: catalog_modules [--port PORT] [--org ORG_CHART.yaml]";

struct Args {
    port: u16,
    org: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        port: 7007,
        org: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/org/people.yaml"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--port" => {
                args.port = value
                    .parse()
                    .map_err(|e| format!("--port {value}: {e}\n{USAGE}"))?;
            }
            "--org" => args.org = PathBuf::from(value),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    // The provider names the file in each entity's managed-by-location annotation.
    args.org =
        std::path::absolute(&args.org).map_err(|e| format!("--org {}: {e}", args.org.display()))?;
    Ok(args)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    tracing_subscriber::fmt().with_env_filter("info").init();
    let config = format!(
        "backend:\n  baseUrl: http://127.0.0.1:{port}\n  database:\n    client: better-sqlite3\n    connection: ':memory:'\ncatalog:\n  locations: []\n",
        port = args.port
    );
    let backend = Backend::builder()
        .config_yaml(config)
        .listen_addr(([127, 0, 0, 1], args.port).into())
        .add((
            catalog::backend::plugin(),
            org_chart_module(
                args.org.clone(),
                TaskFrequency::Every(Duration::from_secs(10)),
            ),
            on_call_module(),
        ))
        .start()
        .await?;
    let api = format!("{}/api/catalog", backend.base_url());
    println!(
        "\
The catalog holds the org chart of {org}.

  curl '{api}/entities?filter=kind=group&fields=metadata.name,spec,relations'
  curl '{api}/entities?filter=kind=user&fields=metadata.name,spec.memberOf,relations'
  # the on-call processor's relation, and its error for a group that names no user:
  curl '{api}/entities/by-name/group/default/firmware'
  curl '{api}/entities/by-name/group/default/design'
  # edit the file, then wait up to 10 s or re-read it at once:
  curl -X POST '{api}/.backstage/scheduler/v1/tasks/{task}/trigger'
  curl '{api}/.backstage/scheduler/v1/tasks/{task}'

Ctrl-C stops the backend.",
        org = args.org.display(),
        task = ORG_CHART_TASK,
    );
    backend.serve_until_shutdown().await?;
    Ok(())
}
