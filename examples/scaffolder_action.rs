//! A custom scaffolder action in a module: `acme:adr:create` writes an Architecture Decision
//! Record into the task's workspace. The portal here runs the catalog, the scaffolder with the
//! module, sign-in and the app; the template `examples/scaffolder/adr-template.yaml` uses the
//! action and shows the file it wrote in its output.
//!
//! ```sh
//! cargo run --example scaffolder_action
//! T='Authorization: Bearer scaffolder-example-dev-token'
//! curl -H "$T" -H 'content-type: application/json' \
//!     -d '{"templateRef":"template:default/adr","values":{"title":"Use PostgreSQL","status":"accepted"}}' \
//!     http://localhost:7007/api/scaffolder/v2/tasks
//! curl -H "$T" http://localhost:7007/api/scaffolder/v2/tasks/<id>/events
//! ```
//!
//! Or open <http://localhost:7007/create> (sign in as guest) and choose "Architecture Decision
//! Record".

use std::sync::Arc;

use async_trait::async_trait;
use backlot::backend::{Backend, Feature};
use backlot::frontend::App;
use backlot::plugins::scaffolder::common::ActionExample;
use backlot::plugins::scaffolder::node::{
    ActionContext, ActionError, SCAFFOLDER_ACTIONS, TemplateAction, resolve_safe_child_path,
};
use backlot::plugins::{app, auth, catalog, scaffolder};
use serde_json::{Value, json};

/// Writes `docs/adr/NNNN-<slug>.md`, numbered after the records already in the workspace.
#[derive(Debug)]
struct CreateAdr;

#[async_trait]
impl TemplateAction for CreateAdr {
    fn id(&self) -> &str {
        "acme:adr:create"
    }

    fn description(&self) -> Option<&str> {
        Some("Writes an Architecture Decision Record into the workspace")
    }

    fn examples(&self) -> Vec<ActionExample> {
        vec![ActionExample {
            description: "Record a decision".into(),
            example: "steps:\n  - id: adr\n    action: acme:adr:create\n    input:\n      title: Use PostgreSQL\n      status: accepted\n".into(),
        }]
    }

    fn input_schema(&self) -> Option<Value> {
        Some(json!({
            "type": "object",
            "required": ["title"],
            "properties": {
                "title": {"type": "string", "minLength": 3, "maxLength": 120},
                "status": {"type": "string", "enum": ["proposed", "accepted", "superseded"]},
                "directory": {"type": "string", "default": "docs/adr"},
            },
        }))
    }

    fn output_schema(&self) -> Option<Value> {
        Some(json!({"type": "object", "properties": {"path": {"type": "string"}}}))
    }

    fn supports_dry_run(&self) -> bool {
        // It only writes into the workspace.
        true
    }

    async fn handler(&self, ctx: &mut ActionContext) -> Result<(), ActionError> {
        let title = ctx
            .input_str("title")
            .ok_or_else(|| ActionError::InvalidInput("title is required".into()))?
            .to_string();
        let status = ctx.input_str("status").unwrap_or("proposed").to_string();
        let directory = ctx.input_str("directory").unwrap_or("docs/adr").to_string();
        // Every path from the input is resolved inside the workspace, or refused.
        let dir = resolve_safe_child_path(&ctx.workspace_path, &directory)?;
        tokio::fs::create_dir_all(&dir).await?;
        let mut existing = 0;
        let mut entries = tokio::fs::read_dir(&dir).await?;
        while let Some(e) = entries.next_entry().await? {
            if e.file_name().to_string_lossy().ends_with(".md") {
                existing += 1;
            }
        }
        let slug: String = title
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect::<String>()
            .split('-')
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        let file = format!("{:04}-{slug}.md", existing + 1);
        let body = format!(
            "# {title}\n\nStatus: {status}\n\n## Context\n\n## Decision\n\n## Consequences\n"
        );
        ctx.check_cancelled()?;
        tokio::fs::write(dir.join(&file), body).await?;
        let path = format!("{}/{file}", directory.trim_end_matches('/'));
        ctx.logger.info(&format!("wrote {path}"));
        ctx.output("path", path);
        Ok(())
    }
}

const CONFIG: &str = "
app:
  title: Scaffolder action example
backend:
  baseUrl: http://localhost:7007
  listen: { host: 127.0.0.1, port: 7007 }
  cache: { store: memory }
  auth:
    # For the curl commands above; a real deployment takes its tokens from the environment.
    externalAccess:
      - type: static
        options: { token: scaffolder-example-dev-token, subject: curl }
  reading:
    fileAllow: [examples/scaffolder]
auth:
  environment: development
  providers:
    guest: {}
catalog:
  rules:
    - allow: [Template, Component, Group, User, Location]
  locations:
    - type: file
      target: examples/scaffolder/adr-template.yaml
";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let adr_module = Feature::module_fn("scaffolder", "acme-adr", |reg| {
        reg.init(&SCAFFOLDER_ACTIONS, |actions| async move {
            actions.get()?.add_action(Arc::new(CreateAdr));
            Ok(())
        })
    });
    let backend = Backend::builder()
        .config_yaml(CONFIG)
        .add((
            catalog::backend::plugin(),
            scaffolder::backend::plugin(),
            adr_module,
            auth::backend::plugin(),
            app::plugin(
                App::builder()
                    .feature(catalog::frontend::plugin())
                    .feature(scaffolder::frontend::plugin()),
            ),
        ))
        .start()
        .await?;
    tracing::info!("templates at {}/create", backend.base_url());
    backend.serve_until_shutdown().await?;
    Ok(())
}
