//! The fetch utility API (`core.fetch`): calls a plugin's backend found through discovery,
//! with the app's HTTP client and an optional credential, and decodes Backstage's error JSON.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::services::discovery::DiscoveryService;

/// A failed [`FetchApi`] call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The request could not be sent or its body not read.
    #[error("request to {url} failed")]
    Transport {
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The backend answered with an error status.
    #[error("request to {url} returned {status}: {}", .error.message)]
    Response {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The error the body describes (Backstage's `{ error: { name, message } }`), or the
        /// start of the body when it is not error JSON.
        error: BackendError,
    },
    /// The body was not the expected JSON.
    #[error("response from {url} could not be decoded")]
    Decode {
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

/// The `error` of Backstage's error response body
/// (`{ "error": { "name": "NotFoundError", "message": "..." }, "response": { "statusCode": 404 } }`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct BackendError {
    /// The error name, such as `NotFoundError` (`Error` when the body was not error JSON).
    pub name: String,
    /// The message.
    pub message: String,
}

impl BackendError {
    /// Decodes an error body: Backstage's error JSON, or the first 200 characters of the text.
    ///
    /// ```
    /// use backlot::frontend::BackendError;
    ///
    /// let err = BackendError::from_body(br#"{"error":{"name":"NotFoundError","message":"no such entity"},"response":{"statusCode":404}}"#);
    /// assert_eq!((err.name.as_str(), err.message.as_str()), ("NotFoundError", "no such entity"));
    /// assert_eq!(BackendError::from_body(b"Bad Gateway").message, "Bad Gateway");
    /// ```
    pub fn from_body(body: &[u8]) -> Self {
        #[derive(Deserialize)]
        struct Body {
            error: BackendError,
        }
        serde_json::from_slice::<Body>(body)
            .map(|b| b.error)
            .unwrap_or_else(|_| Self {
                name: "Error".to_string(),
                message: String::from_utf8_lossy(body).chars().take(200).collect(),
            })
    }
}

/// Discovery that answers one URL for every plugin.
#[derive(Debug)]
struct FixedDiscovery(String);

impl DiscoveryService for FixedDiscovery {
    fn base_url(&self, _plugin_id: &str) -> String {
        self.0.clone()
    }

    fn external_base_url(&self, _plugin_id: &str) -> String {
        self.0.clone()
    }
}

/// Calls plugin backends from pages and utility APIs, like Backstage's `fetchApi` with
/// `discoveryApi`: the base URL of a plugin comes from discovery, every request goes through
/// the app's HTTP client (timeouts from `backend.httpClient.*`) and carries
/// `Authorization: Bearer` with the token set with [`with_token`](Self::with_token), else the
/// token of the signed-in user whose page is rendering ([`SignedInUser::current_token`]), and
/// error statuses become a [`FetchError::Response`] with the decoded [`BackendError`].
///
/// [`SignedInUser::current_token`]: super::SignedInUser::current_token
///
/// Pages get it as the [`core_apis::FETCH`](super::core_apis::FETCH) API:
///
/// ```no_run
/// use backlot::frontend::{PageBlueprint, core_apis};
/// use maud::html;
///
/// #[derive(serde::Deserialize)]
/// struct Todo { title: String }
///
/// let page = PageBlueprint::new("/todos", |req| async move {
///     let fetch = req.api(&core_apis::FETCH)?;
///     let todos: Vec<Todo> = fetch
///         .get_json("todo", "/todos")
///         .await
///         .map_err(|e| backlot::frontend::PageError::internal(e.to_string()))?;
///     Ok(html! { ul { @for t in &todos { li { (t.title) } } } }.into())
/// })
/// .build();
/// # let _ = page;
/// ```
#[derive(Clone)]
pub struct FetchApi {
    discovery: Arc<dyn DiscoveryService>,
    http: reqwest::Client,
    token: Option<String>,
}

impl fmt::Debug for FetchApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FetchApi")
            .field("discovery", &self.discovery)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl FetchApi {
    /// A fetch API over `discovery`, sending through `http`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use backlot::frontend::FetchApi;
    /// use backlot::services::discovery::HostDiscovery;
    ///
    /// let discovery = HostDiscovery::from_config(&Default::default(), "http://127.0.0.1:7007")?;
    /// let fetch = FetchApi::new(Arc::new(discovery), reqwest::Client::new()).with_token("s3cret");
    /// assert_eq!(fetch.url("catalog", "/entities"), "http://127.0.0.1:7007/api/catalog/entities");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(discovery: Arc<dyn DiscoveryService>, http: reqwest::Client) -> Self {
        Self {
            discovery,
            http,
            token: None,
        }
    }

    /// A fetch API that sends every plugin's requests to one base URL (a backend reached
    /// without discovery, or a fake in tests).
    ///
    /// ```
    /// use backlot::frontend::FetchApi;
    ///
    /// let fetch = FetchApi::fixed("http://127.0.0.1:9999/api/search/", reqwest::Client::new());
    /// assert_eq!(fetch.url("search", "/query"), "http://127.0.0.1:9999/api/search/query");
    /// ```
    pub fn fixed(base_url: impl Into<String>, http: reqwest::Client) -> Self {
        Self::new(Arc::new(FixedDiscovery(base_url.into())), http)
    }

    /// Sends `Authorization: Bearer <token>` with every request, instead of the token of the
    /// user whose page is rendering.
    #[must_use]
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The base URL of `plugin`'s backend.
    pub fn base_url(&self, plugin: &str) -> String {
        self.discovery
            .base_url(plugin)
            .trim_end_matches('/')
            .to_string()
    }

    /// The URL of `path` (with its query, starting with `/`) on `plugin`'s backend.
    pub fn url(&self, plugin: &str, path: &str) -> String {
        format!("{}{path}", self.base_url(plugin))
    }

    /// GETs `path` from `plugin`'s backend and decodes the JSON answer.
    ///
    /// # Errors
    ///
    /// A [`FetchError`] when the request fails, the status is not 2xx or the body does not
    /// decode into `T`.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        plugin: &str,
        path: &str,
    ) -> Result<T, FetchError> {
        self.get_json_url(&self.url(plugin, path)).await
    }

    /// GETs an absolute URL (one built from [`base_url`](Self::base_url)) and decodes the
    /// JSON answer; errors as [`get_json`](Self::get_json).
    ///
    /// # Errors
    ///
    /// As [`get_json`](Self::get_json).
    pub async fn get_json_url<T: DeserializeOwned>(&self, url: &str) -> Result<T, FetchError> {
        let body = self.get_bytes(url, None).await?;
        serde_json::from_slice(&body).map_err(|source| FetchError::Decode {
            url: url.to_string(),
            source,
        })
    }

    /// GETs an absolute URL as text (lossy UTF-8), waiting at most `timeout` when given (a
    /// timeout is a [`FetchError::Transport`] whose source `is_timeout()`).
    ///
    /// # Errors
    ///
    /// A [`FetchError`] when the request fails or the status is not 2xx.
    pub async fn get_text_url(
        &self,
        url: &str,
        timeout: Option<Duration>,
    ) -> Result<String, FetchError> {
        let body = self.get_bytes(url, timeout).await?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    async fn get_bytes(
        &self,
        url: &str,
        timeout: Option<Duration>,
    ) -> Result<bytes::Bytes, FetchError> {
        let transport = |source| FetchError::Transport {
            url: url.to_string(),
            source,
        };
        let mut request = self.http.get(url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        } else if let Some(token) = super::SignedInUser::current_token() {
            request = request.bearer_auth(&*token);
        }
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        let res = request.send().await.map_err(transport)?;
        let status = res.status().as_u16();
        let body = res.bytes().await.map_err(transport)?;
        if !(200..300).contains(&status) {
            return Err(FetchError::Response {
                url: url.to_string(),
                status,
                error: BackendError::from_body(&body),
            });
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use axum::Json;
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::get;
    use serde_json::{Value, json};

    use super::*;
    use crate::services::discovery::HostDiscovery;

    async fn serve() -> String {
        let app = axum::Router::new()
            .route(
                "/api/todo/todos",
                get(|headers: HeaderMap| async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    Json(json!([{ "title": "write tests", "auth": auth }]))
                }),
            )
            .route(
                "/api/todo/missing",
                get(|| async {
                    (
                        StatusCode::NOT_FOUND,
                        Json(json!({
                            "error": { "name": "NotFoundError", "message": "no todo 7" },
                            "response": { "statusCode": 404 }
                        })),
                    )
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn finds_the_backend_through_discovery_carries_the_token_and_decodes_errors() {
        let base = serve().await;
        let discovery = HostDiscovery::from_config(&Default::default(), &base).unwrap();
        let fetch = FetchApi::new(Arc::new(discovery), reqwest::Client::new()).with_token("t0k");
        let todos: Value = fetch.get_json("todo", "/todos").await.unwrap();
        assert_eq!(todos[0]["title"], "write tests");
        assert_eq!(todos[0]["auth"], "Bearer t0k");

        let err = fetch
            .get_json::<Value>("todo", "/missing")
            .await
            .unwrap_err();
        match &err {
            FetchError::Response { status, error, .. } => {
                assert_eq!(*status, 404);
                assert_eq!(error.name, "NotFoundError");
                assert_eq!(error.message, "no todo 7");
            }
            other => panic!("{other:?}"),
        }
        assert!(
            err.to_string().ends_with("returned 404: no todo 7"),
            "{err}"
        );

        let err = fetch
            .get_json::<Vec<u32>>("todo", "/todos")
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::Decode { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn carries_the_token_of_the_user_whose_page_renders_and_no_other() {
        use crate::frontend::SignedInUser;
        let base = serve().await;
        let fetch = FetchApi::fixed(format!("{base}/api/todo"), reqwest::Client::new());
        let anonymous: Value = fetch.get_json("todo", "/todos").await.unwrap();
        assert_eq!(anonymous[0]["auth"], "");
        let jane = Arc::new(SignedInUser::new("user:default/jane", "jane-token"));
        let joe = Arc::new(SignedInUser::new("user:default/joe", "joe-token"));
        let (a, b) = tokio::join!(
            SignedInUser::scope(jane, fetch.get_json::<Value>("todo", "/todos")),
            SignedInUser::scope(joe, fetch.get_json::<Value>("todo", "/todos")),
        );
        assert_eq!(a.unwrap()[0]["auth"], "Bearer jane-token");
        assert_eq!(b.unwrap()[0]["auth"], "Bearer joe-token");
        let after: Value = fetch.get_json("todo", "/todos").await.unwrap();
        assert_eq!(after[0]["auth"], "");
    }
}
