//! The todo plugin of `docs/writing-a-backend-plugin.md`, served with the catalog and the app:
//! a backend plugin with its own table, cache, scheduled task and extension point; a module
//! extending it; a catalog module that turns open todos into `Resource` entities; a page.
//!
//! ```sh
//! cargo run --example todo_plugin
//! # every plugin route needs a token: this example accepts a static one (development only)
//! T='Authorization: Bearer todo-example-dev-token'
//! curl -H "$T" -X POST -H 'content-type: application/json' -d '{"title":"write docs"}' \
//!     http://localhost:7007/api/todo/items
//! curl -H "$T" http://localhost:7007/api/todo/items
//! curl -H "$T" -X POST http://localhost:7007/api/todo/items/1/complete
//! curl -H "$T" -X POST http://localhost:7007/api/todo/.backstage/scheduler/v1/tasks/purge-done/trigger
//! ```
//!
//! Then open <http://localhost:7007/todo> (sign in as guest), and
//! <http://localhost:7007/catalog> for the todos the catalog got (`Resource`s of type `todo`,
//! copied every minute).

#[path = "todo/mod.rs"]
mod todo;

use backlot::backend::Backend;
use backlot::frontend::App;
use backlot::plugins::{app, auth, catalog};

/// The default database (a SQLite file per plugin in `./data`) and a memory cache.
const CONFIG: &str = "
app:
  title: Todo Portal
backend:
  baseUrl: http://localhost:7007
  listen: { host: 127.0.0.1, port: 7007 }
  cache: { store: memory }
  auth:
    # For the curl commands above; a real deployment takes its tokens from the environment.
    externalAccess:
      - type: static
        options: { token: todo-example-dev-token, subject: curl }
auth:
  environment: development
  providers:
    guest: {}
todo:
  maxTitleLength: 120
  purgeEvery: 1h
";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let backend = Backend::builder()
        .config_yaml(CONFIG)
        .add((
            todo::TodoPlugin,
            todo::NoShoutingModule,
            catalog::backend::plugin(),
            todo::CatalogTodoModule,
            auth::backend::plugin(),
            app::plugin(
                App::builder()
                    .feature(catalog::frontend::plugin())
                    .feature(todo::frontend_plugin()),
            ),
        ))
        .start()
        .await?;
    tracing::info!("todo app at {}/todo", backend.base_url());
    backend.serve_until_shutdown().await?;
    Ok(())
}
