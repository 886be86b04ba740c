//! A real HTTP target for the proxy tests: it answers what it received (method, path, query,
//! headers, body length) as JSON, streams large bodies both ways without holding them, and
//! sets response headers the proxy must filter.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The fake target; it stops when dropped.
pub struct Target {
    pub url: String,
    task: JoinHandle<()>,
}

impl Drop for Target {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn echo(req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let mut len = 0usize;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        len += chunk.map(|c| c.len()).unwrap_or(0);
    }
    let headers: BTreeMap<String, String> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let mut res = axum::Json(json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query(),
        "headers": headers,
        "bodyLength": len,
    }))
    .into_response();
    let h = res.headers_mut();
    h.insert(
        "set-cookie",
        HeaderValue::from_static("session=target-secret"),
    );
    h.insert("x-target-secret", HeaderValue::from_static("hidden"));
    h.insert("x-allowed-back", HeaderValue::from_static("visible"));
    h.insert("cache-control", HeaderValue::from_static("max-age=7"));
    res
}

/// `GET /bytes/{n}`: `n` bytes of a repeating pattern, generated chunk by chunk.
async fn bytes(Path(n): Path<u64>) -> Response {
    const CHUNK: usize = 64 * 1024;
    let chunk = Bytes::from(vec![b'x'; CHUNK]);
    let stream = futures::stream::unfold(n, move |left| {
        let chunk = chunk.clone();
        async move {
            if left == 0 {
                return None;
            }
            let take = left.min(CHUNK as u64) as usize;
            Some((
                Ok::<_, std::io::Error>(chunk.slice(..take)),
                left - take as u64,
            ))
        }
    });
    let mut res = Body::from_stream(stream).into_response();
    res.headers_mut()
        .insert("content-length", HeaderValue::from(n));
    res
}

/// `POST /count`: how many bytes the body had, read as a stream.
async fn count(body: Body) -> String {
    let mut len = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        len += chunk.map(|c| c.len() as u64).unwrap_or(0);
    }
    len.to_string()
}

async fn slow(Query(q): Query<BTreeMap<String, u64>>) -> &'static str {
    tokio::time::sleep(Duration::from_millis(q.get("ms").copied().unwrap_or(5000))).await;
    "late"
}

async fn status(Path(code): Path<u16>, _h: HeaderMap) -> Response {
    (
        StatusCode::from_u16(code).unwrap(),
        [("content-type", "text/html")],
        "<h1>target's own page</h1>",
    )
        .into_response()
}

/// Starts the target on 127.0.0.1.
pub async fn start_target() -> Target {
    let app = Router::new()
        .route("/bytes/{n}", get(bytes))
        .route("/count", post(count))
        .route("/slow", get(slow))
        .route("/status/{code}", get(status))
        .fallback(any(echo));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Target { url, task }
}

/// A port nothing listens on.
pub async fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// The JSON of a response.
pub fn json_of(res: &backlot::testing::TestResponse) -> Value {
    serde_json::from_slice(res.bytes()).unwrap_or_else(|_| panic!("not JSON: {}", res.text()))
}
