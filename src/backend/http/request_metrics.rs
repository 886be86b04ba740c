//! The outermost root layer: gives each request its request id (logged with every event
//! under it and echoed in `X-Request-Id`) and records its metrics by plugin and matched route
//! template.
//!
//! The route template is only known after routing, inside each router: [`record_route`]
//! (layered on every plugin router and on the root routes) writes it into a [`RouteSlot`]
//! that [`observe`] put on the request. Unmatched requests are counted under one
//! `unmatched` route, so unknown paths cannot grow the number of series.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::services::metrics::MetricsService;

/// The request id header, read from trusted-looking clients and always answered.
pub(crate) static REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// Longest request id taken from a client; longer (or odd) ones are replaced.
const MAX_REQUEST_ID_LEN: usize = 128;
/// The `route` label of requests no route matched.
const UNMATCHED: &str = "unmatched";
/// The `plugin` label of routes outside plugins (health, `/metrics`, root routes).
const BACKEND: &str = "backend";

/// The request id of the request being handled, as a request extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestId(pub(crate) Arc<str>);

/// Where the router that matched a request writes the matched route template.
#[derive(Debug, Clone, Default)]
pub(crate) struct RouteSlot(Arc<OnceLock<Arc<str>>>);

/// The state of [`observe`]: the metrics service (set once the root services are built) and
/// the plugin ids, for the `plugin` label.
#[derive(Debug)]
pub(crate) struct HttpMetrics {
    metrics: OnceLock<Arc<MetricsService>>,
    plugins: HashMap<String, Arc<str>>,
    backend: Arc<str>,
    unmatched: Arc<str>,
}

impl HttpMetrics {
    pub(crate) fn new<'a>(plugin_ids: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            metrics: OnceLock::new(),
            plugins: plugin_ids
                .into_iter()
                .map(|id| (id.to_string(), Arc::from(id)))
                .collect(),
            backend: Arc::from(BACKEND),
            unmatched: Arc::from(UNMATCHED),
        }
    }

    /// Starts recording into `metrics` (when it is enabled).
    pub(crate) fn set(&self, metrics: Arc<MetricsService>) {
        if metrics.enabled() {
            let _ = self.metrics.set(metrics);
        }
    }

    fn plugin_of(&self, path: &str) -> Arc<str> {
        path.strip_prefix("/api/")
            .map(|rest| rest.split('/').next().unwrap_or_default())
            .and_then(|id| self.plugins.get(id))
            .unwrap_or(&self.backend)
            .clone()
    }
}

/// A bounded `method` label: the standard methods, else `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The client's request id if it is short and plain, else a new UUID.
fn request_id_of(req: &Request) -> Arc<str> {
    req.headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= MAX_REQUEST_ID_LEN
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
        })
        .map(Arc::from)
        .unwrap_or_else(|| Arc::from(uuid::Uuid::new_v4().to_string()))
}

/// Gives the request its id and a `request` span carrying it, and records its metrics.
pub(crate) async fn observe(
    State(state): State<Arc<HttpMetrics>>,
    mut req: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let id = request_id_of(&req);
    let header = HeaderValue::from_str(&id).ok();
    if let Some(value) = &header {
        req.headers_mut()
            .insert(REQUEST_ID_HEADER.clone(), value.clone());
    }
    req.extensions_mut().insert(RequestId(id.clone()));
    let metrics = state.metrics.get();
    let observed = metrics.map(|_| {
        let slot = RouteSlot::default();
        req.extensions_mut().insert(slot.clone());
        (
            slot,
            method_label(req.method()),
            state.plugin_of(req.uri().path()),
        )
    });
    let span = tracing::info_span!("request", request_id = %id);
    let mut res = next.run(req).instrument(span).await;
    if let (Some(metrics), Some((slot, method, plugin))) = (metrics, observed) {
        let route = slot.0.get().unwrap_or(&state.unmatched);
        metrics.record_http(
            &plugin,
            route,
            method,
            res.status().as_u16(),
            start.elapsed(),
        );
    }
    if let Some(value) = header {
        res.headers_mut().insert(REQUEST_ID_HEADER.clone(), value);
    }
    res
}

/// Writes the matched route template into the request's [`RouteSlot`]; layered on each
/// router (before its fallback) so that it runs after routing.
pub(crate) async fn record_route(req: Request, next: Next) -> Response {
    if let (Some(slot), Some(path)) = (
        req.extensions().get::<RouteSlot>(),
        req.extensions().get::<MatchedPath>(),
    ) {
        let _ = slot.0.set(Arc::from(path.as_str()));
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_labels_come_only_from_known_plugins() {
        let m = HttpMetrics::new(["catalog"]);
        assert_eq!(&*m.plugin_of("/api/catalog/entities"), "catalog");
        assert_eq!(&*m.plugin_of("/api/nope/x"), BACKEND);
        assert_eq!(&*m.plugin_of("/metrics"), BACKEND);
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }
}
