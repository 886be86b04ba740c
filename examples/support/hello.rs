//! The example `hello` plugin and its module, shared by the examples.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use backlot::backend::{
    ApiError, BackendModule, BackendPlugin, ExtensionList, ExtensionPoint, ModuleRegistrar,
    PluginRegistrar, Registration,
};
use backlot::services::core_services::{HTTP_ROUTER, LOGGER, ROOT_CONFIG};
use backlot::services::logger::LoggerServiceExt;

/// What modules can add to the hello plugin: greetings in more languages, as
/// `(language, greeting)` pairs.
pub(crate) static GREETINGS: ExtensionPoint<ExtensionList<(String, String)>> =
    ExtensionPoint::new("hello.greetings");

/// The plugin.
pub(crate) struct HelloPlugin;

#[derive(Clone)]
struct AppState {
    greetings: Arc<Vec<(String, String)>>,
    punctuation: String,
}

impl BackendPlugin for HelloPlugin {
    fn id(&self) -> &str {
        "hello"
    }

    fn register(&self, reg: PluginRegistrar) -> Registration {
        let greetings = Arc::new(ExtensionList::new());
        greetings.push(("en".to_owned(), "Hello".to_owned()));
        let collected = greetings.clone();
        reg.extension_point(&GREETINGS, greetings).init(
            (&ROOT_CONFIG, &LOGGER, &HTTP_ROUTER),
            move |(config, logger, http)| async move {
                let punctuation = config
                    .opt_string("hello.punctuation")?
                    .unwrap_or_else(|| "!".into());
                let state = AppState {
                    greetings: Arc::new(collected.take()),
                    punctuation,
                };
                logger.info_with("serving greetings", &[("count", &state.greetings.len())]);
                http.use_router(
                    Router::new()
                        .route("/greetings", get(list))
                        .route("/greet/{name}", get(greet))
                        .with_state(state),
                );
                Ok(())
            },
        )
    }
}

async fn list(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "items": state.greetings.iter().map(|(lang, text)| serde_json::json!({"language": lang, "text": text})).collect::<Vec<_>>()
    }))
}

async fn greet(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if name.trim().is_empty() || name.len() > 64 {
        return Err(ApiError::input("name must be 1 to 64 characters"));
    }
    let lines: Vec<String> = state
        .greetings
        .iter()
        .map(|(_, text)| format!("{text}, {name}{}", state.punctuation))
        .collect();
    Ok(Json(serde_json::json!({ "greetings": lines })))
}

/// A module adding French and Swedish greetings through the extension point.
pub(crate) struct HelloModuleEurope;

impl BackendModule for HelloModuleEurope {
    fn plugin_id(&self) -> &str {
        "hello"
    }

    fn module_id(&self) -> &str {
        "europe"
    }

    fn register(&self, reg: ModuleRegistrar) -> Registration {
        reg.init((&GREETINGS, &LOGGER), |(greetings, logger)| async move {
            let greetings = greetings.get()?;
            greetings.extend([
                ("fr".to_owned(), "Bonjour".to_owned()),
                ("sv".to_owned(), "Hej".to_owned()),
            ]);
            logger.info("added European greetings");
            Ok(())
        })
    }
}
