//! `SCAFFOLDER_API`: the utility API the scaffolder pages talk to the backend with.

use std::sync::Arc;

use futures::StreamExt;
use futures::stream::BoxStream;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::error::ScaffolderApiError;
use super::types::{
    DryRunRequest, DryRunResponse, ListTasksRequest, ListTasksResponse, ScaffoldRequest,
    TemplateParameterSchema,
};
use crate::frontend::{ApiFactory, ApiRef, BackendError, SignedInUser, core_apis};
use crate::plugins::catalog::common::EntityRef;
use crate::plugins::scaffolder::common::{
    ActionInfo, SerializedTask, SerializedTaskEvent, TaskEventType,
};
use crate::services::http_client::http_client;

/// A stream of a task's events, ending after its `completion` (or `cancelled`) event.
pub type TaskEventStream = BoxStream<'static, Result<SerializedTaskEvent, ScaffolderApiError>>;

/// Runs templates and follows tasks, like Backstage's `ScaffolderApi`. Pages get it with
/// `req.api(&SCAFFOLDER_API)?`; an app can install another implementation with an
/// `api:plugin.scaffolder.service` override. The required methods are the ones the pages
/// use; the others answer [`ScaffolderApiError::Unsupported`] unless implemented.
///
/// ```
/// use backlot::plugins::catalog::common::EntityRef;
/// use backlot::plugins::scaffolder::common::{SerializedTask, SerializedTaskEvent};
/// use backlot::plugins::scaffolder::react::{
///     ListTasksRequest, ListTasksResponse, ScaffoldRequest, ScaffolderApi, ScaffolderApiError,
///     TemplateParameterSchema,
/// };
///
/// /// A scaffolder that knows no template.
/// #[derive(Debug)]
/// struct Nothing;
///
/// #[async_trait::async_trait]
/// impl ScaffolderApi for Nothing {
///     async fn get_template_parameter_schema(&self, t: &EntityRef) -> Result<TemplateParameterSchema, ScaffolderApiError> {
///         Err(ScaffolderApiError::Response { url: t.to_string(), status: 404, name: "NotFoundError".into(), message: "no such template".into() })
///     }
///     async fn scaffold(&self, _: &ScaffoldRequest) -> Result<String, ScaffolderApiError> {
///         Err(ScaffolderApiError::Unsupported { operation: "scaffold" })
///     }
///     async fn get_task(&self, id: &str) -> Result<SerializedTask, ScaffolderApiError> {
///         Err(ScaffolderApiError::Response { url: id.into(), status: 404, name: "NotFoundError".into(), message: "no such task".into() })
///     }
///     async fn list_tasks(&self, _: &ListTasksRequest) -> Result<ListTasksResponse, ScaffolderApiError> {
///         Ok(serde_json::from_value(serde_json::json!({ "tasks": [] })).unwrap_or_else(|_| unreachable!()))
///     }
///     async fn cancel_task(&self, _: &str) -> Result<(), ScaffolderApiError> { Ok(()) }
///     async fn list_events(&self, _: &str, _: Option<i64>) -> Result<Vec<SerializedTaskEvent>, ScaffolderApiError> {
///         Ok(vec![])
///     }
/// }
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let err = Nothing.get_template_parameter_schema(&"template:default/x".parse()?).await.unwrap_err();
/// assert_eq!(err.status(), Some(404));
/// assert!(matches!(Nothing.list_actions().await, Err(ScaffolderApiError::Unsupported { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[async_trait::async_trait]
pub trait ScaffolderApi: Send + Sync + std::fmt::Debug {
    /// `GET /v2/templates/{namespace}/{kind}/{name}/parameter-schema`.
    async fn get_template_parameter_schema(
        &self,
        template: &EntityRef,
    ) -> Result<TemplateParameterSchema, ScaffolderApiError>;

    /// `POST /v2/tasks`: starts a task; its id. Values the backend refuses are a
    /// [`ScaffolderApiError::Validation`].
    async fn scaffold(&self, request: &ScaffoldRequest) -> Result<String, ScaffolderApiError>;

    /// `GET /v2/tasks/{taskId}`.
    async fn get_task(&self, task_id: &str) -> Result<SerializedTask, ScaffolderApiError>;

    /// `GET /v2/tasks`.
    async fn list_tasks(
        &self,
        request: &ListTasksRequest,
    ) -> Result<ListTasksResponse, ScaffolderApiError>;

    /// `POST /v2/tasks/{taskId}/cancel`.
    async fn cancel_task(&self, task_id: &str) -> Result<(), ScaffolderApiError>;

    /// `GET /v2/tasks/{taskId}/events?after=`: the events after `after` (all without); an
    /// empty list when none come within a few seconds (the endpoint long-polls).
    async fn list_events(
        &self,
        task_id: &str,
        after: Option<i64>,
    ) -> Result<Vec<SerializedTaskEvent>, ScaffolderApiError>;

    /// `GET /v2/actions`: the installed actions with their schemas.
    async fn list_actions(&self) -> Result<Vec<ActionInfo>, ScaffolderApiError> {
        Err(ScaffolderApiError::Unsupported {
            operation: "list_actions",
        })
    }

    /// `POST /v2/tasks/{taskId}/retry`: runs a failed task again (with fresh secrets); the
    /// new task's id.
    async fn retry(
        &self,
        task_id: &str,
        secrets: &Map<String, Value>,
    ) -> Result<String, ScaffolderApiError> {
        let _ = (task_id, secrets);
        Err(ScaffolderApiError::Unsupported { operation: "retry" })
    }

    /// `POST /v2/dry-run`.
    async fn dry_run(&self, request: &DryRunRequest) -> Result<DryRunResponse, ScaffolderApiError> {
        let _ = request;
        Err(ScaffolderApiError::Unsupported {
            operation: "dry_run",
        })
    }

    /// `GET /v2/tasks/{taskId}/eventstream?after=`: the task's events as they happen.
    async fn stream_events(
        &self,
        task_id: &str,
        after: Option<i64>,
    ) -> Result<TaskEventStream, ScaffolderApiError> {
        let _ = (task_id, after);
        Err(ScaffolderApiError::Unsupported {
            operation: "stream_events",
        })
    }
}

/// The scaffolder utility API (`plugin.scaffolder.service`).
pub static SCAFFOLDER_API: ApiRef<dyn ScaffolderApi> = ApiRef::new("plugin.scaffolder.service");

/// What a path segment must not carry as is.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn encode(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, SEGMENT).to_string()
}

/// How long [`HttpScaffolderApi::list_events`] waits for the long-polling events endpoint.
const EVENTS_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// The largest event-stream message taken (a bigger one ends the stream with an error).
const MAX_EVENT_BYTES: usize = 4 * 1024 * 1024;

/// [`ScaffolderApi`] over HTTP against the scaffolder backend (`/api/scaffolder/v2`). Each
/// call carries the token of the signed-in user whose page is rendering, or the token set
/// with [`with_token`](Self::with_token).
///
/// ```
/// use backlot::plugins::scaffolder::react::HttpScaffolderApi;
///
/// let api = HttpScaffolderApi::new("http://127.0.0.1:7007/api/scaffolder/");
/// assert_eq!(api.url("/v2/tasks/a b"), "http://127.0.0.1:7007/api/scaffolder/v2/tasks/a b");
/// assert_eq!(api.task_url("a/b", "/cancel"), "http://127.0.0.1:7007/api/scaffolder/v2/tasks/a%2Fb/cancel");
/// ```
#[derive(Clone)]
pub struct HttpScaffolderApi {
    base_url: String,
    http: reqwest::Client,
    token: Option<String>,
}

impl std::fmt::Debug for HttpScaffolderApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpScaffolderApi")
            .field("base_url", &self.base_url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl HttpScaffolderApi {
    /// A client for the scaffolder backend at `base_url` (`…/api/scaffolder`).
    pub fn new(base_url: impl Into<String>) -> Self {
        Self::with_client(
            base_url,
            crate::services::http_client::default_http_client(),
        )
    }

    /// A client sending through `http` (for its timeouts).
    pub fn with_client(base_url: impl Into<String>, http: reqwest::Client) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            http,
            token: None,
        }
    }

    /// Sends this token instead of the rendering user's (a script or a test).
    #[must_use]
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The URL of `path` (starting with `/`) on the backend.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The URL of a task's resource (`suffix` like `/cancel`, or empty).
    pub fn task_url(&self, task_id: &str, suffix: &str) -> String {
        self.url(&format!("/v2/tasks/{}{suffix}", encode(task_id)))
    }

    /// The API factory: base URL from the `core.discovery` API (`base_url("scaffolder")`),
    /// timeouts from `backend.httpClient.*`.
    ///
    /// ```
    /// use backlot::frontend::{ApiBlueprint, App, FrontendPlugin};
    /// use backlot::plugins::scaffolder::react::{HttpScaffolderApi, SCAFFOLDER_API};
    ///
    /// let app = App::builder()
    ///     .feature(FrontendPlugin::new("scaffolder").extension(ApiBlueprint::make(HttpScaffolderApi::factory())))
    ///     .build()?;
    /// assert!(app.apis().get(&SCAFFOLDER_API).is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn factory() -> ApiFactory {
        ApiFactory::builder(&SCAFFOLDER_API)
            .deps((&core_apis::DISCOVERY, &core_apis::CONFIG))
            .build(|(discovery, config)| {
                let http = http_client(&config)?;
                Ok(
                    Arc::new(Self::with_client(discovery.base_url("scaffolder"), http))
                        as Arc<dyn ScaffolderApi>,
                )
            })
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, url);
        if let Some(token) = &self.token {
            request.bearer_auth(token)
        } else if let Some(token) = SignedInUser::current_token() {
            request.bearer_auth(&*token)
        } else {
            request
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<bytes::Bytes, ScaffolderApiError> {
        let transport = |source| ScaffolderApiError::Transport {
            url: url.to_string(),
            source,
        };
        let mut request = self.request(method, url);
        if let Some(body) = body {
            request = request.json(body);
        }
        let res = request.send().await.map_err(transport)?;
        let status = res.status().as_u16();
        let bytes = res.bytes().await.map_err(transport)?;
        if (200..300).contains(&status) {
            return Ok(bytes);
        }
        Err(error_of(url, status, &bytes))
    }

    async fn json<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<T, ScaffolderApiError> {
        let bytes = self.send(method, url, body).await?;
        serde_json::from_slice(&bytes).map_err(|source| ScaffolderApiError::Decode {
            url: url.to_string(),
            source,
        })
    }
}

/// The error of an error answer: the validation errors of a 400 `{ errors }`, else
/// Backstage's error JSON.
fn error_of(url: &str, status: u16, body: &[u8]) -> ScaffolderApiError {
    if status == 400
        && let Ok(v) = serde_json::from_slice::<Value>(body)
        && let Some(errors) = v.get("errors").and_then(Value::as_array)
    {
        let errors = errors
            .iter()
            .filter_map(|e| serde_json::from_value(e.clone()).ok())
            .collect();
        return ScaffolderApiError::Validation { errors };
    }
    let error = BackendError::from_body(body);
    ScaffolderApiError::Response {
        url: url.to_string(),
        status,
        name: error.name,
        message: error.message,
    }
}

fn id_of(url: &str, body: &Value) -> Result<String, ScaffolderApiError> {
    body.get("id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| ScaffolderApiError::Response {
            url: url.to_string(),
            status: 200,
            name: "Error".to_string(),
            message: "the answer carries no task id".to_string(),
        })
}

#[async_trait::async_trait]
impl ScaffolderApi for HttpScaffolderApi {
    async fn get_template_parameter_schema(
        &self,
        template: &EntityRef,
    ) -> Result<TemplateParameterSchema, ScaffolderApiError> {
        let url = self.url(&format!(
            "/v2/templates/{}/{}/{}/parameter-schema",
            encode(template.namespace()),
            encode(template.kind()),
            encode(template.name())
        ));
        self.json(reqwest::Method::GET, &url, None).await
    }

    async fn scaffold(&self, request: &ScaffoldRequest) -> Result<String, ScaffolderApiError> {
        let url = self.url("/v2/tasks");
        let body = serde_json::to_value(request).map_err(|source| ScaffolderApiError::Decode {
            url: url.clone(),
            source,
        })?;
        let answer: Value = self.json(reqwest::Method::POST, &url, Some(&body)).await?;
        id_of(&url, &answer)
    }

    async fn get_task(&self, task_id: &str) -> Result<SerializedTask, ScaffolderApiError> {
        self.json(reqwest::Method::GET, &self.task_url(task_id, ""), None)
            .await
    }

    async fn list_tasks(
        &self,
        request: &ListTasksRequest,
    ) -> Result<ListTasksResponse, ScaffolderApiError> {
        let url = self.url(&format!("/v2/tasks?{}", request.query()));
        self.json(reqwest::Method::GET, &url, None).await
    }

    async fn cancel_task(&self, task_id: &str) -> Result<(), ScaffolderApiError> {
        self.send(
            reqwest::Method::POST,
            &self.task_url(task_id, "/cancel"),
            None,
        )
        .await
        .map(|_| ())
    }

    async fn list_events(
        &self,
        task_id: &str,
        after: Option<i64>,
    ) -> Result<Vec<SerializedTaskEvent>, ScaffolderApiError> {
        let suffix = match after {
            Some(a) => format!("/events?after={a}"),
            None => "/events".to_string(),
        };
        let url = self.task_url(task_id, &suffix);
        let transport = |source| ScaffolderApiError::Transport {
            url: url.clone(),
            source,
        };
        // The endpoint long-polls while there is nothing new: a wait longer than
        // EVENTS_WAIT means no events yet.
        let res = match self
            .request(reqwest::Method::GET, &url)
            .timeout(EVENTS_WAIT)
            .send()
            .await
        {
            Ok(res) => res,
            Err(e) if e.is_timeout() => return Ok(Vec::new()),
            Err(e) => return Err(transport(e)),
        };
        let status = res.status().as_u16();
        let bytes = match res.bytes().await {
            Ok(b) => b,
            Err(e) if e.is_timeout() => return Ok(Vec::new()),
            Err(e) => return Err(transport(e)),
        };
        if !(200..300).contains(&status) {
            return Err(error_of(&url, status, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|source| ScaffolderApiError::Decode {
            url: url.clone(),
            source,
        })
    }

    async fn list_actions(&self) -> Result<Vec<ActionInfo>, ScaffolderApiError> {
        self.json(reqwest::Method::GET, &self.url("/v2/actions"), None)
            .await
    }

    async fn retry(
        &self,
        task_id: &str,
        secrets: &Map<String, Value>,
    ) -> Result<String, ScaffolderApiError> {
        let url = self.task_url(task_id, "/retry");
        let answer: Value = self
            .json(
                reqwest::Method::POST,
                &url,
                Some(&json!({ "secrets": secrets })),
            )
            .await?;
        id_of(&url, &answer)
    }

    async fn dry_run(&self, request: &DryRunRequest) -> Result<DryRunResponse, ScaffolderApiError> {
        let url = self.url("/v2/dry-run");
        let body = serde_json::to_value(request).map_err(|source| ScaffolderApiError::Decode {
            url: url.clone(),
            source,
        })?;
        self.json(reqwest::Method::POST, &url, Some(&body)).await
    }

    async fn stream_events(
        &self,
        task_id: &str,
        after: Option<i64>,
    ) -> Result<TaskEventStream, ScaffolderApiError> {
        let suffix = match after {
            Some(a) => format!("/eventstream?after={a}"),
            None => "/eventstream".to_string(),
        };
        let url = self.task_url(task_id, &suffix);
        let res = self
            .request(reqwest::Method::GET, &url)
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .send()
            .await
            .map_err(|source| ScaffolderApiError::Transport {
                url: url.clone(),
                source,
            })?;
        let status = res.status().as_u16();
        if !(200..300).contains(&status) {
            let body = res.bytes().await.unwrap_or_default();
            return Err(error_of(&url, status, &body));
        }
        Ok(sse_events(task_id.to_string(), res.bytes_stream().boxed()))
    }
}

/// Parses a `text/event-stream` body into task events; ends after a `completion` or
/// `cancelled` event or when the server closes.
fn sse_events(
    task_id: String,
    bytes: BoxStream<'static, reqwest::Result<bytes::Bytes>>,
) -> TaskEventStream {
    struct State {
        bytes: BoxStream<'static, reqwest::Result<bytes::Bytes>>,
        buffer: Vec<u8>,
        done: bool,
        task_id: String,
    }
    let state = State {
        bytes,
        buffer: Vec::new(),
        done: false,
        task_id,
    };
    futures::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        loop {
            if let Some(end) = st.buffer.windows(2).position(|w| w == b"\n\n") {
                let rest = st.buffer.split_off(end + 2);
                let message = String::from_utf8_lossy(&st.buffer).into_owned();
                st.buffer = rest;
                let data: Vec<&str> = message
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(|d| d.strip_prefix(' ').unwrap_or(d))
                    .collect();
                if data.is_empty() {
                    continue;
                }
                let item =
                    serde_json::from_str::<SerializedTaskEvent>(&data.join("\n")).map_err(|e| {
                        ScaffolderApiError::Stream {
                            task_id: st.task_id.clone(),
                            message: e.to_string(),
                        }
                    });
                if let Ok(ev) = &item
                    && matches!(
                        ev.event_type,
                        TaskEventType::Completion | TaskEventType::Cancelled
                    )
                {
                    st.done = true;
                }
                if item.is_err() {
                    st.done = true;
                }
                return Some((item, st));
            }
            if st.buffer.len() > MAX_EVENT_BYTES {
                st.done = true;
                let e = ScaffolderApiError::Stream {
                    task_id: st.task_id.clone(),
                    message: "an event is larger than 4 MiB".to_string(),
                };
                return Some((Err(e), st));
            }
            match st.bytes.next().await {
                // A carriage return never occurs inside a UTF-8 sequence: dropping them turns
                // CRLF line ends into LF without splitting characters across chunks.
                Some(Ok(chunk)) => st.buffer.extend(chunk.iter().filter(|b| **b != b'\r')),
                Some(Err(e)) => {
                    st.done = true;
                    let e = ScaffolderApiError::Stream {
                        task_id: st.task_id.clone(),
                        message: e.to_string(),
                    };
                    return Some((Err(e), st));
                }
                None => return None,
            }
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use axum::Json;
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::{get, post};

    use super::*;

    fn chunks(parts: Vec<&'static [u8]>) -> BoxStream<'static, reqwest::Result<bytes::Bytes>> {
        futures::stream::iter(parts.into_iter().map(|p| Ok(bytes::Bytes::from_static(p)))).boxed()
    }

    #[tokio::test]
    async fn event_streams_are_parsed_across_chunks_and_end_at_completion() {
        let log = "event: log\r\ndata: {\"id\":1,\"taskId\":\"t\",\"type\":\"log\",\"createdAt\":\"x\",\"body\":{\"message\":\"h\u{e9}llo\"}}\r\n\r\n";
        let bytes = log.as_bytes();
        // Split inside the two-byte 'é'.
        let cut = log.find('\u{e9}').unwrap() + 1;
        let (a, b) = bytes.split_at(cut);
        let a: &'static [u8] = Box::leak(a.to_vec().into_boxed_slice());
        let b: &'static [u8] = Box::leak(b.to_vec().into_boxed_slice());
        let done: &'static [u8] = b": keep-alive\n\nevent: completion\ndata: {\"id\":2,\"taskId\":\"t\",\"type\":\"completion\",\"createdAt\":\"x\",\"body\":{\"message\":\"done\",\"status\":\"completed\"}}\n\ndata: {\"id\":3}\n\n";
        let events: Vec<_> = sse_events("t".into(), chunks(vec![a, b, done]))
            .collect()
            .await;
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(events[0].as_ref().unwrap().body.message, "h\u{e9}llo");
        assert_eq!(
            events[1].as_ref().unwrap().event_type,
            TaskEventType::Completion
        );
        let bad: Vec<_> = sse_events("t".into(), chunks(vec![b"data: nope\n\n"]))
            .collect()
            .await;
        assert!(matches!(bad[..], [Err(ScaffolderApiError::Stream { .. })]));
    }

    #[tokio::test]
    async fn calls_carry_the_token_and_errors_are_typed() {
        let app = axum::Router::new()
            .route(
                "/api/scaffolder/v2/tasks",
                post(|headers: HeaderMap, Json(body): Json<Value>| async move {
                    if body["values"]["name"] == "bad" {
                        return (
                            StatusCode::BAD_REQUEST,
                            Json(json!({ "errors": [{ "property": "instance.name", "message": "does not match pattern", "name": "pattern" }] })),
                        );
                    }
                    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                    (StatusCode::CREATED, Json(json!({ "id": auth })))
                }),
            )
            .route(
                "/api/scaffolder/v2/tasks/{id}",
                get(|| async {
                    (
                        StatusCode::NOT_FOUND,
                        Json(json!({ "error": { "name": "NotFoundError", "message": "no task x" }, "response": { "statusCode": 404 } })),
                    )
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let api = HttpScaffolderApi::new(format!("http://{addr}/api/scaffolder")).with_token("tok");
        let id = api
            .scaffold(&ScaffoldRequest::new("template:default/x").value("name", "ok"))
            .await
            .unwrap();
        assert_eq!(id, "Bearer tok");
        let err = api
            .scaffold(&ScaffoldRequest::new("template:default/x").value("name", "bad"))
            .await
            .unwrap_err();
        match &err {
            ScaffolderApiError::Validation { errors } => {
                assert_eq!(errors[0].field().as_deref(), Some("name"));
            }
            other => panic!("{other:?}"),
        }
        let err = api.get_task("x").await.unwrap_err();
        assert_eq!(err.status(), Some(404));
        assert_eq!(err.user_message(), "no task x");
    }
}
