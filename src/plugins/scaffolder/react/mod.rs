//! Building blocks for scaffolder pages (Backstage's `@backstage/plugin-scaffolder-react`):
//! the [`ScaffolderApi`] utility API ([`SCAFFOLDER_API`], over HTTP by
//! [`HttpScaffolderApi`] against `/api/scaffolder/v2` with the signed-in user's token), its
//! typed errors ([`ScaffolderApiError`], [`ValidationError`]), the request and response
//! bodies, and the route refs of the scaffolder pages.
//!
//! ```no_run
//! use backlot::plugins::scaffolder::react::{HttpScaffolderApi, ScaffoldRequest, ScaffolderApi};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let api = HttpScaffolderApi::new("http://127.0.0.1:7007/api/scaffolder").with_token("a user token");
//! let schema = api.get_template_parameter_schema(&"template:default/rust-service".parse()?).await?;
//! println!("{} asks {} steps", schema.title, schema.steps.len());
//! let id = api
//!     .scaffold(&ScaffoldRequest::new("template:default/rust-service").value("name", "billing"))
//!     .await?;
//! let task = api.get_task(&id).await?;
//! println!("task {id} is {:?}", task.status);
//! # Ok(()) }
//! ```

mod api;
mod error;
mod routes;
mod types;

pub use api::{HttpScaffolderApi, SCAFFOLDER_API, ScaffolderApi, TaskEventStream};
pub use error::{ScaffolderApiError, ValidationError};
pub use routes::{
    ONGOING_TASK_ROUTE, SCAFFOLDER_ROOT_ROUTE, SELECTED_TEMPLATE_ROUTE, TASKS_ROUTE, TaskParams,
    TemplateParams,
};
pub use types::{
    DryRunFile, DryRunLog, DryRunRequest, DryRunResponse, ListTasksRequest, ListTasksResponse,
    ParameterStep, ScaffoldRequest, TemplateParameterSchema,
};
