//! Runs built-in scaffolder actions the way the task engine does, with the services of a
//! running [`TestBackend`] (its catalog, URL reader and config).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use backlot::backend::Feature;
use backlot::plugins::catalog::CatalogPlugin;
use backlot::plugins::catalog::node::CATALOG;
use backlot::plugins::scaffolder::backend::{BuiltinActionDeps, builtin_actions};
use backlot::plugins::scaffolder::common::TemplateInfo;
use backlot::plugins::scaffolder::node::{
    ActionContext, ActionError, ActionLogSink, ActionLogger, TemplateAction, TemplatingExtensions,
};
use backlot::services::auth::Credentials;
use backlot::services::core_services::{ROOT_CONFIG, URL_READER};
use backlot::testing::TestBackend;
use parking_lot::Mutex;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

/// The log lines of one run.
#[derive(Debug, Default)]
pub struct Lines(pub Mutex<Vec<(String, String)>>);

impl ActionLogSink for Lines {
    fn log(&self, level: &str, message: &str) {
        self.0.lock().push((level.to_string(), message.to_string()));
    }
}

/// How to run an action.
#[derive(Debug, Clone, Default)]
pub struct RunOpts {
    pub credentials: Option<Credentials>,
    pub dry_run: bool,
    pub template_ref: Option<String>,
    pub secrets: Vec<String>,
    pub signal: Option<CancellationToken>,
}

/// What a run gave.
#[derive(Debug)]
pub struct Run {
    pub result: Result<(), ActionError>,
    pub outputs: Map<String, Value>,
    pub logs: Vec<(String, String)>,
}

impl Run {
    /// All log lines joined.
    pub fn log_text(&self) -> String {
        self.logs
            .iter()
            .map(|(_, m)| m.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The error's message; panics when the run succeeded.
    pub fn err(&self) -> String {
        match &self.result {
            Ok(()) => panic!("expected an error, got outputs {:?}", self.outputs),
            Err(e) => e.to_string(),
        }
    }
}

/// A backend with the catalog and the built-in actions made from its services.
#[derive(Debug)]
pub struct Harness {
    pub backend: TestBackend,
    pub actions: HashMap<String, Arc<dyn TemplateAction>>,
}

impl Harness {
    /// Starts a backend with the catalog plugin and `yaml` config.
    pub async fn start(yaml: &str) -> Self {
        let slot: Arc<Mutex<Option<BuiltinActionDeps>>> = Arc::default();
        let probe_slot = Arc::clone(&slot);
        let probe = Feature::plugin_fn("scaffolder-probe", move |reg| {
            let slot = Arc::clone(&probe_slot);
            reg.init(
                (&ROOT_CONFIG, &URL_READER, &CATALOG),
                move |(config, reader, catalog)| {
                    let slot = Arc::clone(&slot);
                    async move {
                        *slot.lock() = Some(BuiltinActionDeps {
                            config: Arc::new((*config).clone()),
                            reader,
                            catalog,
                            templating: Arc::new(TemplatingExtensions::default()),
                        });
                        Ok(())
                    }
                },
            )
        });
        let backend = TestBackend::builder()
            .feature(Feature::plugin(CatalogPlugin::new()))
            .feature(probe)
            .config_yaml("catalog:\n  processingInterval: { seconds: 1 }\n")
            .config_yaml(yaml.to_string())
            .start()
            .await
            .expect("backend starts");
        let deps = slot.lock().take().expect("probe plugin initialised");
        let actions = builtin_actions(&deps)
            .into_iter()
            .map(|a| (a.id().to_string(), a))
            .collect();
        Self { backend, actions }
    }

    /// The action `id`.
    pub fn action(&self, id: &str) -> Arc<dyn TemplateAction> {
        Arc::clone(
            self.actions
                .get(id)
                .unwrap_or_else(|| panic!("no action {id}")),
        )
    }

    /// Runs action `id` with `input` over workspace `ws`.
    pub async fn run(&self, id: &str, input: Value, ws: &Path, opts: RunOpts) -> Run {
        run_action(self.action(id), input, ws, opts).await
    }
}

/// Runs `action` with `input` over workspace `ws`.
pub async fn run_action(
    action: Arc<dyn TemplateAction>,
    input: Value,
    ws: &Path,
    opts: RunOpts,
) -> Run {
    let lines = Arc::new(Lines::default());
    let temp = tempfile::tempdir().unwrap();
    let logger = ActionLogger::new(lines.clone(), opts.secrets.clone());
    let mut ctx = ActionContext::new(
        input,
        ws.to_path_buf(),
        temp.path().to_path_buf(),
        logger,
        "task-1".to_string(),
        "step-1".to_string(),
        opts.signal.clone().unwrap_or_default(),
    );
    ctx.is_dry_run = opts.dry_run;
    if let Some(c) = opts.credentials {
        ctx.credentials = c;
    }
    if let Some(r) = opts.template_ref {
        ctx.template_info = Some(TemplateInfo {
            entity_ref: r,
            base_url: None,
            entity: None,
        });
    }
    let result = action.handler(&mut ctx).await;
    let outputs = ctx.take_outputs();
    let logs = lines.0.lock().clone();
    Run {
        result,
        outputs,
        logs,
    }
}
