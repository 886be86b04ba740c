//! A custom backend plugin: it depends on core services, offers an extension point that a
//! module extends, and serves `/api/hello/...`.
//!
//! ```sh
//! cargo run --example hello_plugin
//! curl http://127.0.0.1:7007/api/hello/greetings
//! curl http://127.0.0.1:7007/api/hello/greet/Ada
//! ```

#[path = "support/hello.rs"]
mod hello;

use backlot::backend::Backend;
use hello::{HelloModuleEurope, HelloPlugin};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let backend = Backend::builder()
        .config_yaml(
            "backend:\n  listen: { host: 127.0.0.1, port: 7007 }\nhello:\n  punctuation: '!'\n",
        )
        .add((HelloPlugin, HelloModuleEurope))
        .start()
        .await?;
    tracing::info!("hello plugin at {}/api/hello/greetings", backend.base_url());
    backend.serve_until_shutdown().await?;
    Ok(())
}
