//! Forwarding one request: find the endpoint, check its method, filter the headers both ways,
//! stream the bodies, and answer 502/504 with the error JSON when the target fails.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::config::{CredentialsPolicy, Endpoint, MOUNT_PATH};
use super::tunnel;
use crate::backend::{ApiError, ApiErrorKind, http::RawErrorResponse};
use crate::services::auth::Credentials;
use crate::services::logger::{LoggerService, LoggerServiceExt};

/// The pooled client every endpoint shares.
pub(crate) type ProxyClient = Client<HttpsConnector<HttpConnector>, Body>;

/// What the handler shares.
pub(crate) struct Proxy {
    /// Longest route first, so that `/a/b` wins over `/a`.
    pub(crate) endpoints: Vec<Endpoint>,
    pub(crate) client: ProxyClient,
    pub(crate) tunnels: Arc<Semaphore>,
    pub(crate) shutdown: CancellationToken,
    pub(crate) auth_disabled: bool,
    pub(crate) logger: Arc<dyn LoggerService>,
}

/// Hop-by-hop headers (RFC 9110 section 7.6.1): they describe one connection and are never
/// forwarded, whatever the allow lists say.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
];

/// The WebSocket handshake headers passed on an upgrade (they carry no credentials).
const WEBSOCKET_HEADERS: [&str; 5] = [
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "sec-websocket-accept",
];

fn is_hop_by_hop(name: &HeaderName, connection: &[&str]) -> bool {
    let name = name.as_str();
    name == "upgrade"
        || HOP_BY_HOP.contains(&name)
        || connection.iter().any(|c| c.eq_ignore_ascii_case(name))
}

/// The header names listed in `Connection` (also hop-by-hop).
fn connection_tokens(headers: &HeaderMap) -> Vec<&str> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect()
}

/// The `Upgrade` value of an upgrade request (`Connection: upgrade` + `Upgrade: x`).
fn upgrade_protocol(headers: &HeaderMap) -> Option<HeaderValue> {
    let upgrading = connection_tokens(headers)
        .iter()
        .any(|t| t.eq_ignore_ascii_case("upgrade"));
    upgrading
        .then(|| headers.get(header::UPGRADE).cloned())
        .flatten()
}

/// Copies the headers of `from` that `allow` lists, leaving hop-by-hop ones.
fn filtered(from: &HeaderMap, allow: &[HeaderName], websocket: bool) -> HeaderMap {
    let connection = connection_tokens(from);
    let mut out = HeaderMap::with_capacity(from.len());
    for (name, value) in from {
        let allowed =
            allow.contains(name) || (websocket && WEBSOCKET_HEADERS.contains(&name.as_str()));
        if allowed && !is_hop_by_hop(name, &connection) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// The handler of every path under `/api/proxy`.
pub(crate) async fn handle(State(proxy): State<Arc<Proxy>>, mut req: Request) -> Response {
    let path = req.uri().path();
    let Some(endpoint) = proxy.endpoints.iter().find(|e| e.matches(path)) else {
        return ApiError::not_found(format!("no proxy endpoint for {MOUNT_PATH}{path}"))
            .into_response();
    };
    // As in Backstage, a method the endpoint does not allow is an unmatched route; the target
    // is not contacted.
    if let Some(methods) = &endpoint.methods
        && !methods.contains(req.method())
    {
        return ApiError::not_found(format!(
            "proxy endpoint '{}' does not allow {} requests",
            endpoint.route,
            req.method()
        ))
        .into_response();
    }
    // The default-deny layer has checked the token already; this guards against a policy
    // opened by something else.
    if endpoint.credentials != CredentialsPolicy::DangerouslyAllowUnauthenticated
        && !proxy.auth_disabled
    {
        let known = req
            .extensions()
            .get::<Credentials>()
            .is_some_and(|c| c.user_entity_ref().is_some() || c.service_subject().is_some());
        if !known {
            return ApiError::authentication("Missing credentials").into_response();
        }
    }

    let method = req.method().clone();
    let full_path = format!("{MOUNT_PATH}{path}");
    let mut target = endpoint.target_path(&full_path);
    if let Some(query) = req.uri().query() {
        target.push('?');
        target.push_str(query);
    }
    let uri = match Uri::builder()
        .scheme(endpoint.scheme.clone())
        .authority(endpoint.authority.clone())
        .path_and_query(target)
        .build()
    {
        Ok(uri) => uri,
        Err(_) => return ApiError::input("the rewritten path is not a valid URL").into_response(),
    };

    let upgrade = upgrade_protocol(req.headers());
    let client_upgrade = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut req));
    let permit = match upgrade {
        Some(_) => match Arc::clone(&proxy.tunnels).try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                return ApiError::service_unavailable(
                    "too many open WebSocket connections (proxy.maxWebSocketConnections)",
                )
                .into_response();
            }
        },
        None => None,
    };

    let (parts, body) = req.into_parts();
    let mut headers = filtered(&parts.headers, &endpoint.request_allow, upgrade.is_some());
    if endpoint.change_origin {
        headers.insert(header::HOST, endpoint.host.clone());
    }
    for (name, value) in &endpoint.headers {
        headers.insert(name.clone(), value.clone());
    }
    if let Some(protocol) = &upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, protocol.clone());
    }
    let mut upstream = http::Request::new(body);
    *upstream.method_mut() = method.clone();
    *upstream.uri_mut() = uri;
    *upstream.headers_mut() = headers;

    let res = match tokio::time::timeout(endpoint.timeout, proxy.client.request(upstream)).await {
        Ok(Ok(res)) => res,
        Ok(Err(e)) => {
            proxy.logger.warn_with(
                "proxy target unreachable",
                &[("route", &endpoint.route), ("error", &e)],
            );
            return ApiError::new(
                ApiErrorKind::BadGateway,
                format!(
                    "proxy endpoint '{}': the target could not be reached",
                    endpoint.route
                ),
            )
            .into_response();
        }
        Err(_) => {
            return ApiError::new(
                ApiErrorKind::GatewayTimeout,
                format!(
                    "proxy endpoint '{}': the target did not answer within {} (proxy.timeout)",
                    endpoint.route,
                    humantime::format_duration(endpoint.timeout)
                ),
            )
            .into_response();
        }
    };

    if res.status() == StatusCode::SWITCHING_PROTOCOLS
        && let (Some(client_upgrade), Some(permit), Some(protocol)) =
            (client_upgrade, permit, upgrade)
    {
        return tunnel::open(&proxy, endpoint, client_upgrade, res, permit, protocol);
    }

    let (mut parts, incoming) = res.into_parts();
    parts.headers = filtered(&parts.headers, &endpoint.response_allow, false);
    // An upstream 4xx/5xx is the target's answer, not ours: the root layer leaves it as is.
    parts.extensions = http::Extensions::new();
    parts.extensions.insert(RawErrorResponse);
    Response::from_parts(parts, Body::new(incoming))
}
