use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A small HTTP client bound to one backend's base URL.
///
/// ```no_run
/// # async fn run() -> Result<(), reqwest::Error> {
/// let client = backlot::testing::TestClient::new("http://127.0.0.1:7007");
/// let res = client.get("/.backstage/health/v1/readiness").await?;
/// assert_eq!(res.status(), 200);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct TestClient {
    base: String,
    http: reqwest::Client,
    authorization: Option<String>,
}

/// A buffered response.
#[derive(Debug, Clone)]
pub struct TestResponse {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Bytes,
}

impl TestResponse {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// A header's value as a string.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The raw body.
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body parsed as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

impl TestClient {
    /// A client for the backend at `base_url`.
    pub fn new(base_url: &str) -> Self {
        Self {
            base: base_url.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
            authorization: None,
        }
    }

    /// The same client sending `Authorization: <value>` on every request.
    pub fn with_authorization(&self, value: &str) -> Self {
        Self {
            authorization: Some(value.to_string()),
            ..self.clone()
        }
    }

    /// The same client calling as user `user_entity_ref` (a mock user token; see
    /// [`mock_credentials`](super::mock_credentials)).
    pub fn as_user(&self, user_entity_ref: &str) -> Self {
        self.with_authorization(&super::mock_credentials::user_header(user_entity_ref))
    }

    /// The same client calling as user `user_entity_ref` owning through `ownership` (groups).
    pub fn as_user_owning(&self, user_entity_ref: &str, ownership: &[&str]) -> Self {
        self.with_authorization(&format!(
            "Bearer {}",
            super::mock_credentials::user_token_with_ownership(user_entity_ref, ownership)
        ))
    }

    /// The same client calling as service `subject` (`plugin:<id>` or `external:<name>`).
    pub fn as_service(&self, subject: &str) -> Self {
        self.with_authorization(&super::mock_credentials::service_header(subject))
    }

    /// The same client sending no credentials.
    pub fn unauthenticated(&self) -> Self {
        Self {
            authorization: None,
            ..self.clone()
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<TestResponse, reqwest::Error> {
        let res = req.send().await?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res.bytes().await?;
        Ok(TestResponse {
            status,
            headers,
            body,
        })
    }

    /// The underlying request builder for `method` and `path`, for anything else.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let req = self.http.request(method, format!("{}{}", self.base, path));
        match &self.authorization {
            Some(value) => req.header(reqwest::header::AUTHORIZATION, value),
            None => req,
        }
    }

    /// Sends a prepared request.
    pub async fn execute(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<TestResponse, reqwest::Error> {
        self.send(req).await
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Result<TestResponse, reqwest::Error> {
        self.send(self.request(reqwest::Method::GET, path)).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Result<TestResponse, reqwest::Error> {
        self.send(self.request(reqwest::Method::DELETE, path)).await
    }

    /// `POST path` without a body (an action endpoint such as `/tasks/{id}/trigger`).
    pub async fn post(&self, path: &str) -> Result<TestResponse, reqwest::Error> {
        self.send(self.request(reqwest::Method::POST, path)).await
    }

    /// `PUT path` without a body.
    pub async fn put(&self, path: &str) -> Result<TestResponse, reqwest::Error> {
        self.send(self.request(reqwest::Method::PUT, path)).await
    }

    /// `POST path` with a JSON body.
    pub async fn post_json<B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<TestResponse, reqwest::Error> {
        self.send(self.request(reqwest::Method::POST, path).json(body))
            .await
    }

    /// `PUT path` with a JSON body.
    pub async fn put_json<B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<TestResponse, reqwest::Error> {
        self.send(self.request(reqwest::Method::PUT, path).json(body))
            .await
    }
}
