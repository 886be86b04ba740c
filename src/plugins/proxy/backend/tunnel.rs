//! Upgraded connections (WebSocket): once the target has answered `101 Switching Protocols`,
//! the caller gets the same answer and the two upgraded connections are joined byte for byte
//! until either side closes or the backend stops. At most `proxy.maxWebSocketConnections`
//! are open at once.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::sync::OwnedSemaphorePermit;

use super::config::Endpoint;
use super::forward::Proxy;
use crate::services::logger::LoggerServiceExt;

/// Headers of the target's `101` passed to the caller, besides the endpoint's allowed ones.
const HANDSHAKE: [&str; 3] = [
    "sec-websocket-accept",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
];

/// Answers the caller's upgrade with the target's `101` and joins the two connections.
pub(crate) fn open(
    proxy: &Proxy,
    endpoint: &Endpoint,
    client: OnUpgrade,
    mut upstream: http::Response<Incoming>,
    permit: OwnedSemaphorePermit,
    protocol: HeaderValue,
) -> Response {
    let target = hyper::upgrade::on(&mut upstream);
    let mut headers = HeaderMap::new();
    for (name, value) in upstream.headers() {
        if HANDSHAKE.contains(&name.as_str()) || endpoint.response_allow.contains(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, protocol);

    let shutdown = proxy.shutdown.clone();
    let logger = proxy.logger.clone();
    let route = endpoint.route.clone();
    tokio::spawn(async move {
        let _permit = permit;
        let (client, target) = tokio::join!(client, target);
        let (mut client, mut target) = match (client, target) {
            (Ok(c), Ok(t)) => (TokioIo::new(c), TokioIo::new(t)),
            (Err(e), _) | (_, Err(e)) => {
                logger.warn_with("proxy upgrade failed", &[("route", &route), ("error", &e)]);
                return;
            }
        };
        tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut client, &mut target) => {}
            () = shutdown.cancelled() => {}
        }
    });

    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    *res.headers_mut() = headers;
    res
}
