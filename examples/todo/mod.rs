//! The todo plugin of `docs/writing-a-backend-plugin.md`, shared by `examples/todo_plugin.rs`
//! and `tests/todo_plugin.rs`:
//!
//! - the backend plugin `todo`: a `todos` table in its own database (`DATABASE`, migrations),
//!   the open list cached (`CACHE`), a `purge-done` task (`SCHEDULER`) that deletes done items,
//!   an extension point for title validators, an HTTP API (`HTTP_ROUTER`) answering errors
//!   as Backstage's error JSON, logs through `LOGGER`;
//! - the module `todo.no-shouting`: a validator added through the extension point;
//! - the catalog module `catalog.todo`: an entity provider that turns open todos into
//!   `Resource` entities, read from the todo API through `DISCOVERY` by a catalog task;
//! - the frontend plugin `todo`: a page at `/todo` showing the backend's items through the
//!   fetch API, and a nav item.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use backlot::backend::{
    ApiError, BackendModule, BackendPlugin, BoxError, ExtensionList, ExtensionPoint,
    ModuleRegistrar, PluginRegistrar, Registration,
};
use backlot::frontend::ui::{self, Column, Table};
use backlot::frontend::{
    FetchError, FrontendPlugin, NavItemBlueprint, PageBlueprint, PageContent, PageError,
    PageRequest, RouteRef, core_apis,
};
use backlot::plugins::catalog::common::{ANNOTATION_LOCATION, ANNOTATION_ORIGIN_LOCATION, Entity};
use backlot::plugins::catalog::node::{
    CATALOG_PROCESSING, DeferredEntity, EntityProvider, EntityProviderConnection,
    EntityProviderMutation,
};
use backlot::services::auth::{AUTH, AuthService};
use backlot::services::cache::{CacheClient, SetOptions};
use backlot::services::config::parse_duration_value;
use backlot::services::core_services::{
    CACHE, DATABASE, DISCOVERY, HTTP_ROUTER, LOGGER, ROOT_CONFIG, SCHEDULER,
};
use backlot::services::database::{
    DatabaseError, DbRow, FromDbRow, Migration, PluginDatabase, Sql,
};
use backlot::services::discovery::DiscoveryService;
use backlot::services::http_client::http_client;
use backlot::services::logger::{LoggerService, LoggerServiceExt};
use backlot::services::scheduler::{PluginScheduler, TaskDefinition};
use maud::html;
use serde::{Deserialize, Serialize};

/// The id of the task that deletes done items.
pub(crate) const PURGE_TASK: &str = "purge-done";
/// The id of the catalog task that copies open todos into the catalog.
pub(crate) const SYNC_TASK: &str = "todo-sync";
/// The cache key of the list of items.
const LIST_KEY: &str = "items";

/// The plugin's schema, applied once per database.
static MIGRATIONS: &[Migration] = &[Migration::new(
    1,
    "create_todos",
    "CREATE TABLE todos (
        id ${id},
        title ${text} NOT NULL,
        done ${bool} NOT NULL DEFAULT FALSE,
        created_at ${timestamp} NOT NULL DEFAULT ${now}
    );",
)];

// ------------------------------------------------------------------ the extension point

/// Checks a new todo's title; modules add validators through [`VALIDATORS`].
pub(crate) trait TodoValidator: Send + Sync {
    /// `Err(reason)` rejects the title with a 400.
    fn check(&self, title: &str) -> Result<(), String>;
}

/// What modules can add to the todo plugin: title validators.
pub(crate) static VALIDATORS: ExtensionPoint<ExtensionList<Arc<dyn TodoValidator>>> =
    ExtensionPoint::new("todo.validators");

// ------------------------------------------------------------------ the backend plugin

/// One todo item, as stored and as the API answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Todo {
    pub(crate) id: i64,
    pub(crate) title: String,
    pub(crate) done: bool,
}

impl FromDbRow for Todo {
    fn from_row(row: DbRow) -> Result<Self, DatabaseError> {
        Ok(Todo {
            id: row.get("id")?,
            title: row.get("title")?,
            done: row.get("done")?,
        })
    }
}

/// The plugin's config, `todo:` in the app config.
#[derive(Debug, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
struct TodoConfig {
    /// The longest title accepted.
    max_title_length: usize,
    /// How often `purge-done` runs (`1h`, `{ minutes: 30 }`, ...).
    #[serde(deserialize_with = "config_duration")]
    purge_every: Duration,
}

impl Default for TodoConfig {
    fn default() -> Self {
        Self {
            max_title_length: 200,
            purge_every: Duration::from_secs(3600),
        }
    }
}

/// A duration in config as the rest of backlot reads it: `1h 30m`, `PT1H`, `{ hours: 1 }`.
fn config_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    parse_duration_value(&value).map_err(serde::de::Error::custom)
}

/// The backend plugin `todo`.
pub(crate) struct TodoPlugin;

/// What the request handlers share.
#[derive(Clone)]
struct Todos {
    db: Arc<PluginDatabase>,
    cache: Arc<CacheClient>,
    logger: Arc<dyn LoggerService>,
    validators: Arc<Vec<Arc<dyn TodoValidator>>>,
    max_title_length: usize,
}

impl BackendPlugin for TodoPlugin {
    fn id(&self) -> &str {
        "todo"
    }

    fn register(&self, reg: PluginRegistrar) -> Registration {
        let validators = Arc::new(ExtensionList::new());
        let collected = Arc::clone(&validators);
        reg.extension_point(&VALIDATORS, validators).init(
            (
                &ROOT_CONFIG,
                &LOGGER,
                &HTTP_ROUTER,
                &DATABASE,
                &CACHE,
                &SCHEDULER,
            ),
            move |(config, logger, http, db, cache, scheduler)| async move {
                let config: TodoConfig = config.opt_get_as("todo")?.unwrap_or_default();
                let report = db.migrate(MIGRATIONS).await?;
                logger.info_with(
                    "database ready",
                    &[("migrationsApplied", &report.applied.len())],
                );
                let todos = Todos {
                    db,
                    cache,
                    logger,
                    validators: Arc::new(collected.take()),
                    max_title_length: config.max_title_length,
                };
                schedule_purge(&scheduler, &todos, config.purge_every).await?;
                http.use_router(router(todos));
                Ok(())
            },
        )
    }
}

/// Schedules `purge-done` every `every`.
async fn schedule_purge(
    scheduler: &PluginScheduler,
    todos: &Todos,
    every: Duration,
) -> Result<(), BoxError> {
    let todos = todos.clone();
    let task = TaskDefinition::builder(PURGE_TASK)
        .every(every)
        .initial_delay(every)
        .timeout(Duration::from_secs(60))
        .run(move |_cancel| {
            let todos = todos.clone();
            async move {
                let purged = Sql::new("DELETE FROM todos WHERE done = ?")
                    .bind(true)
                    .execute(&todos.db)
                    .await?;
                todos.cache.delete(LIST_KEY).await;
                todos
                    .logger
                    .info_with("purged done todos", &[("count", &purged)]);
                Ok(())
            }
        })
        .build()?;
    scheduler.schedule_task(task).await?;
    Ok(())
}

fn router(todos: Todos) -> Router {
    Router::new()
        .route("/items", get(list).post(create))
        .route("/items/{id}/complete", post(complete))
        .with_state(todos)
}

/// `GET /items`: every item, oldest first; served from the cache when it has them.
async fn list(State(todos): State<Todos>) -> Result<Json<Vec<Todo>>, ApiError> {
    if let Some(items) = todos.cache.get::<Vec<Todo>>(LIST_KEY).await {
        return Ok(Json(items));
    }
    let items: Vec<Todo> = Sql::new("SELECT id, title, done FROM todos ORDER BY id")
        .fetch_all(&todos.db)
        .await?;
    todos
        .cache
        .set(LIST_KEY, &items, SetOptions::ttl(Duration::from_secs(60)))
        .await;
    Ok(Json(items))
}

/// The body of `POST /items`.
#[derive(Debug, Deserialize)]
struct NewTodo {
    title: String,
}

/// `POST /items` with `{"title": ".."}`: 201 and the new item.
async fn create(
    State(todos): State<Todos>,
    body: Result<Json<NewTodo>, JsonRejection>,
) -> Result<(StatusCode, Json<Todo>), ApiError> {
    let Json(new) = body.map_err(|e| ApiError::input(e.body_text()))?;
    let title = new.title.trim();
    if title.is_empty() || title.chars().count() > todos.max_title_length {
        return Err(ApiError::input(format!(
            "title must be 1 to {} characters",
            todos.max_title_length
        )));
    }
    for validator in todos.validators.iter() {
        validator.check(title).map_err(ApiError::input)?;
    }
    let todo: Todo = Sql::new("INSERT INTO todos (title) VALUES (?) RETURNING id, title, done")
        .bind(title)
        .fetch_one(&todos.db)
        .await?;
    todos.cache.delete(LIST_KEY).await;
    todos.logger.info_with("todo created", &[("id", &todo.id)]);
    Ok((StatusCode::CREATED, Json(todo)))
}

/// `POST /items/{id}/complete`: marks the item done; 404 for an unknown id.
async fn complete(State(todos): State<Todos>, Path(id): Path<i64>) -> Result<Json<Todo>, ApiError> {
    let todo: Option<Todo> =
        Sql::new("UPDATE todos SET done = ? WHERE id = ? RETURNING id, title, done")
            .bind(true)
            .bind(id)
            .fetch_optional(&todos.db)
            .await?;
    let todo = todo.ok_or_else(|| ApiError::not_found(format!("no todo with id {id}")))?;
    todos.cache.delete(LIST_KEY).await;
    todos.logger.info_with("todo completed", &[("id", &id)]);
    Ok(Json(todo))
}

// ------------------------------------------------------------------ a module of the plugin

/// Rejects titles written in capitals (`BUY MILK`).
struct NoShouting;

impl TodoValidator for NoShouting {
    fn check(&self, title: &str) -> Result<(), String> {
        let letters: Vec<char> = title.chars().filter(|c| c.is_alphabetic()).collect();
        if letters.len() > 3 && letters.iter().all(|c| c.is_uppercase()) {
            return Err(format!("no need to shout: {title:?}"));
        }
        Ok(())
    }
}

/// The module `todo.no-shouting`: adds the [`NoShouting`] validator.
pub(crate) struct NoShoutingModule;

impl BackendModule for NoShoutingModule {
    fn plugin_id(&self) -> &str {
        "todo"
    }

    fn module_id(&self) -> &str {
        "no-shouting"
    }

    fn register(&self, reg: ModuleRegistrar) -> Registration {
        reg.init(&VALIDATORS, |validators| async move {
            validators.get()?.push(Arc::new(NoShouting));
            Ok(())
        })
    }
}

// ------------------------------------------------------------------ a catalog module

/// Provides the open todos as `Resource` entities of type `todo`, read from the todo API.
struct TodoProvider {
    scheduler: Arc<PluginScheduler>,
    discovery: Arc<dyn DiscoveryService>,
    /// The catalog's token service: each read of the todo API carries a fresh plugin token.
    auth: Arc<dyn AuthService>,
    http: reqwest::Client,
    logger: Arc<dyn LoggerService>,
}

/// The catalog entity of an open todo.
pub(crate) fn todo_entity(todo: &Todo, source: &str) -> Entity {
    let mut entity = Entity::new(
        "backstage.io/v1alpha1",
        "Resource",
        format!("todo-{}", todo.id),
    )
    .with_spec(serde_json::json!({ "type": "todo", "owner": "guests" }));
    entity.metadata.title = Some(todo.title.clone());
    for key in [ANNOTATION_LOCATION, ANNOTATION_ORIGIN_LOCATION] {
        entity
            .metadata
            .annotations
            .insert(key.into(), format!("url:{source}"));
    }
    entity
}

/// Reads the todo API (as the catalog plugin, with a plugin token for `todo`) and replaces the
/// provider's entities with the open items.
async fn sync(
    discovery: &dyn DiscoveryService,
    auth: &dyn AuthService,
    http: &reqwest::Client,
    connection: &EntityProviderConnection,
    logger: &dyn LoggerService,
) -> Result<(), BoxError> {
    let source = format!("{}/items", discovery.base_url("todo"));
    let token = auth
        .plugin_request_token(&auth.own_service_credentials(), "todo")
        .await?;
    let items: Vec<Todo> = http
        .get(&source)
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let entities: Vec<DeferredEntity> = items
        .iter()
        .filter(|t| !t.done)
        .map(|t| DeferredEntity::new(todo_entity(t, &source), Some(format!("url:{source}"))))
        .collect();
    logger.info_with("todos copied to the catalog", &[("count", &entities.len())]);
    connection
        .apply_mutation(EntityProviderMutation::Full { entities })
        .await?;
    Ok(())
}

#[async_trait::async_trait]
impl EntityProvider for TodoProvider {
    fn name(&self) -> &str {
        "todo"
    }

    async fn connect(&self, connection: EntityProviderConnection) -> Result<(), BoxError> {
        // The todo API is served once the backend listens: read it from a task.
        let (discovery, http) = (Arc::clone(&self.discovery), self.http.clone());
        let (auth, logger) = (Arc::clone(&self.auth), Arc::clone(&self.logger));
        let task = TaskDefinition::builder(SYNC_TASK)
            .every(Duration::from_secs(60))
            .initial_delay(Duration::from_secs(2))
            .timeout(Duration::from_secs(30))
            .run(move |_cancel| {
                let (discovery, http) = (Arc::clone(&discovery), http.clone());
                let (auth, connection) = (Arc::clone(&auth), connection.clone());
                let logger = Arc::clone(&logger);
                async move {
                    sync(
                        discovery.as_ref(),
                        auth.as_ref(),
                        &http,
                        &connection,
                        logger.as_ref(),
                    )
                    .await
                }
            })
            .build()?;
        self.scheduler.schedule_task(task).await?;
        Ok(())
    }
}

/// The catalog module `catalog.todo`: adds the [`TodoProvider`].
pub(crate) struct CatalogTodoModule;

impl BackendModule for CatalogTodoModule {
    fn plugin_id(&self) -> &str {
        "catalog"
    }

    fn module_id(&self) -> &str {
        "todo"
    }

    fn register(&self, reg: ModuleRegistrar) -> Registration {
        reg.init(
            (
                &CATALOG_PROCESSING,
                &SCHEDULER,
                &DISCOVERY,
                &AUTH,
                &ROOT_CONFIG,
                &LOGGER,
            ),
            |(processing, scheduler, discovery, auth, config, logger)| async move {
                processing.get()?.add_entity_provider(TodoProvider {
                    scheduler,
                    discovery,
                    auth,
                    http: http_client(&config)?,
                    logger,
                });
                Ok(())
            },
        )
    }
}

// ------------------------------------------------------------------ the frontend plugin

/// The todo page.
pub(crate) static TODO_PAGE: RouteRef = RouteRef::new("todo.root");

/// Renders the items the backend plugin answers.
async fn todo_page(req: PageRequest) -> Result<PageContent, PageError> {
    let fetch = req.api(&core_apis::FETCH)?;
    // Errors name the backend's answer (`request to .. returned 500: ..`); the app logs
    // them and shows its error page.
    let items: Vec<Todo> = fetch
        .get_json("todo", "/items")
        .await
        .map_err(|e: FetchError| PageError::internal(e.to_string()))?;
    let rows = items.iter().map(|t| {
        vec![
            html! { (t.title) },
            html! { @if t.done { "done" } @else { "open" } },
        ]
    });
    Ok(PageContent::new(html! {
        (ui::header("Todo", Some("What the todo backend plugin stores")))
        @if items.is_empty() {
            (ui::empty_state("Nothing to do", "POST /api/todo/items to add an item."))
        } @else {
            (Table::new("Items")
                .columns(vec![Column::new("title", "Title"), Column::new("state", "State")])
                .rows(rows)
                .render())
        }
    }))
}

/// The frontend plugin `todo`: the page and its nav item.
pub(crate) fn frontend_plugin() -> FrontendPlugin {
    FrontendPlugin::new("todo")
        .route("root", &TODO_PAGE)
        .extension(
            PageBlueprint::new("/todo", todo_page)
                .route_ref(&TODO_PAGE)
                .title("Todo")
                .build(),
        )
        .extension(NavItemBlueprint::new("Todo", &TODO_PAGE).icon("✓").build())
}
