//! The HTTP handlers under `/api/techdocs`.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::Stream;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::build::{BuildState, DocsBuilder};
use super::{BuilderMode, TechdocsConfig, TechdocsError};
use crate::backend::ApiError;
use crate::plugins::catalog::common::Entity;
use crate::plugins::catalog::node::CatalogApi;
use crate::plugins::techdocs::common::DocsEntity;
use crate::plugins::techdocs::node::{Publisher, PublisherError, UrlPreparer};

use axum::extract::Extension;

use crate::services::auth::{Credentials, PrincipalKind};

#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) config: TechdocsConfig,
    pub(crate) catalog: Arc<dyn CatalogApi>,
    pub(crate) builder: Arc<DocsBuilder>,
    pub(crate) publisher: Arc<dyn Publisher>,
    /// This plugin's own service credentials, for reads a limited (cookie) user cannot make.
    pub(crate) own_credentials: Credentials,
}

type Shared = State<Arc<AppState>>;

pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/static/docs/{namespace}/{kind}/{name}", get(static_root))
        .route("/static/docs/{namespace}/{kind}/{name}/", get(static_root))
        .route(
            "/static/docs/{namespace}/{kind}/{name}/{*path}",
            get(static_file),
        )
        .route(
            "/metadata/techdocs/{namespace}/{kind}/{name}",
            get(techdocs_metadata),
        )
        .route(
            "/metadata/entity/{namespace}/{kind}/{name}",
            get(entity_metadata),
        )
        .route("/sync/{namespace}/{kind}/{name}", get(sync))
        .with_state(state)
}

fn docs_entity(namespace: String, kind: String, name: String) -> Result<DocsEntity, ApiError> {
    DocsEntity::new(namespace, kind, name).map_err(|e| ApiError::input(e.to_string()))
}

/// The entity of `docs`, read from the catalog as the caller: the catalog answers 404 for an
/// entity the caller may not read. A limited (cookie) user token cannot be passed on; such
/// reads go as the plugin itself.
async fn load(
    state: &AppState,
    docs: &DocsEntity,
    credentials: &Credentials,
) -> Result<Entity, ApiError> {
    let as_who = if credentials.is_limited() || credentials.kind() == PrincipalKind::None {
        &state.own_credentials
    } else {
        credentials
    };
    Ok(super::catalog::entity(state.catalog.as_ref(), docs, as_who).await?)
}

fn publisher_err(docs: &DocsEntity, source: PublisherError) -> ApiError {
    TechdocsError::Publisher {
        entity: docs.to_string(),
        source,
    }
    .into()
}

async fn static_root(
    State(state): Shared,
    Extension(credentials): Extension<Credentials>,
    Path((namespace, kind, name)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    serve(
        &state,
        docs_entity(namespace, kind, name)?,
        String::new(),
        &credentials,
    )
    .await
}

async fn static_file(
    State(state): Shared,
    Extension(credentials): Extension<Credentials>,
    Path((namespace, kind, name, path)): Path<(String, String, String, String)>,
) -> Result<Response, ApiError> {
    serve(
        &state,
        docs_entity(namespace, kind, name)?,
        path,
        &credentials,
    )
    .await
}

async fn serve(
    state: &AppState,
    docs: DocsEntity,
    path: String,
    credentials: &Credentials,
) -> Result<Response, ApiError> {
    // Refuse unsafe paths before anything else.
    crate::plugins::techdocs::node::safe_file_path(&path).map_err(|e| publisher_err(&docs, e))?;
    let entity = load(state, &docs, credentials).await?;
    let file = match state.publisher.read_file(&docs, &path).await {
        Ok(f) => f,
        Err(PublisherError::NotFound { .. })
            if state.config.builder == BuilderMode::Local
                && !state
                    .publisher
                    .has_docs(&docs)
                    .await
                    .map_err(|e| publisher_err(&docs, e))? =>
        {
            state.builder.ensure_built(&docs, &entity).await?;
            state
                .publisher
                .read_file(&docs, &path)
                .await
                .map_err(|e| publisher_err(&docs, e))?
        }
        Err(e) => return Err(publisher_err(&docs, e)),
    };
    let mut res = file.content.into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.content_type),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(res)
}

async fn techdocs_metadata(
    State(state): Shared,
    Extension(credentials): Extension<Credentials>,
    Path((namespace, kind, name)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let docs = docs_entity(namespace, kind, name)?;
    load(&state, &docs, &credentials).await?;
    let meta = state
        .publisher
        .fetch_metadata(&docs)
        .await
        .map_err(|e| publisher_err(&docs, e))?;
    Ok(axum::Json(meta).into_response())
}

async fn entity_metadata(
    State(state): Shared,
    Extension(credentials): Extension<Credentials>,
    Path((namespace, kind, name)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let docs = docs_entity(namespace, kind, name)?;
    let entity = load(&state, &docs, &credentials).await?;
    let location = UrlPreparer::locate(&entity).map_err(|source| {
        ApiError::from(TechdocsError::Prepare {
            entity: docs.to_string(),
            source,
        })
    })?;
    #[derive(serde::Serialize)]
    struct EntityMetadata {
        #[serde(flatten)]
        entity: Entity,
        #[serde(rename = "locationMetadata")]
        location_metadata: crate::plugins::techdocs::common::LocationMetadata,
    }
    Ok(axum::Json(EntityMetadata {
        entity,
        location_metadata: location,
    })
    .into_response())
}

fn json_string(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

fn done_event(done: &Result<bool, String>) -> Event {
    match done {
        Ok(updated) => Event::default()
            .event("finish")
            .data(json!({ "updated": updated }).to_string()),
        Err(message) => Event::default().event("error").data(json_string(message)),
    }
}

fn events(rx: watch::Receiver<BuildState>) -> impl Stream<Item = Result<Event, Infallible>> + Send {
    futures::stream::unfold((rx, 0usize, false), |(mut rx, sent, over)| async move {
        if over {
            return None;
        }
        loop {
            let (line, done) = {
                let s = rx.borrow_and_update();
                (s.logs.get(sent).cloned(), s.done.clone())
            };
            if let Some(line) = line {
                let ev = Event::default().event("log").data(json_string(&line));
                return Some((Ok(ev), (rx, sent + 1, false)));
            }
            if let Some(done) = done {
                return Some((Ok(done_event(&done)), (rx, sent, true)));
            }
            if rx.changed().await.is_err() {
                let ev = done_event(&Err("the build was aborted".to_owned()));
                return Some((Ok(ev), (rx, sent, true)));
            }
        }
    })
}

async fn sync(
    State(state): Shared,
    Extension(credentials): Extension<Credentials>,
    Path((namespace, kind, name)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let docs = docs_entity(namespace, kind, name)?;
    let entity = load(&state, &docs, &credentials).await?;
    let rx = match state.config.builder {
        BuilderMode::External => {
            let (_tx, rx) = watch::channel(BuildState {
                logs: Vec::new(),
                done: Some(Ok(false)),
            });
            rx
        }
        BuilderMode::Local => state.builder.sync(&docs, &entity, false).await,
    };
    let mut res = Sse::new(events(rx)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(res)
}
