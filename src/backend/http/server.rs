//! The HTTP server: an accept loop bounded against slow and numerous clients.
//!
//! Each connection gets `backend.server.headersTimeout` to send a request head, is closed
//! after `backend.server.keepAliveTimeout` without traffic between requests, and at most
//! `backend.server.maxConnections` connections are open at once: connections accepted beyond
//! the cap are closed at once, so that half-open connections cannot exhaust file descriptors.
//! hyper's own answers to unparseable heads (400, 414, 431) are rewritten into the error
//! JSON (see [`EdgeIo`]).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tower::ServiceExt;

use super::edge::RequestLimits;
use super::error::{ApiErrorKind, error_body};
use crate::services::config::duration::positive_duration;
use crate::services::config::{Config, ConfigError};

const DEFAULT_HEADERS_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
const DEFAULT_MAX_CONNECTIONS: usize = 4096;
const DEFAULT_MAX_URL_LENGTH: usize = 16 * 1024;
const DEFAULT_MAX_HEADER_SIZE: usize = 64 * 1024;

/// The server's limits, from `backend.server.*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ServerLimits {
    pub(crate) headers_timeout: Duration,
    pub(crate) keep_alive_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) max_url_length: usize,
    pub(crate) max_header_size: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            headers_timeout: DEFAULT_HEADERS_TIMEOUT,
            keep_alive_timeout: DEFAULT_KEEP_ALIVE_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_url_length: DEFAULT_MAX_URL_LENGTH,
            max_header_size: DEFAULT_MAX_HEADER_SIZE,
        }
    }
}

fn positive_usize(config: &Config, key: &str, default: usize) -> Result<usize, ConfigError> {
    match config.opt_u64(key)? {
        None => Ok(default),
        Some(0) => Err(ConfigError::WrongType {
            path: key.into(),
            expected: "a number of at least 1",
        }),
        Some(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
    }
}

impl ServerLimits {
    /// Reads `backend.server.{headersTimeout, keepAliveTimeout, requestTimeout,
    /// maxConnections, maxUrlLength, maxHeaderSize}`.
    pub(crate) fn from_config(config: &Config) -> Result<Self, ConfigError> {
        Ok(Self {
            headers_timeout: positive_duration(
                config,
                "backend.server.headersTimeout",
                DEFAULT_HEADERS_TIMEOUT,
            )?,
            keep_alive_timeout: positive_duration(
                config,
                "backend.server.keepAliveTimeout",
                DEFAULT_KEEP_ALIVE_TIMEOUT,
            )?,
            request_timeout: positive_duration(
                config,
                "backend.server.requestTimeout",
                DEFAULT_REQUEST_TIMEOUT,
            )?,
            max_connections: positive_usize(
                config,
                "backend.server.maxConnections",
                DEFAULT_MAX_CONNECTIONS,
            )?,
            max_url_length: positive_usize(
                config,
                "backend.server.maxUrlLength",
                DEFAULT_MAX_URL_LENGTH,
            )?,
            max_header_size: positive_usize(
                config,
                "backend.server.maxHeaderSize",
                DEFAULT_MAX_HEADER_SIZE,
            )?,
        })
    }

    /// The limits checked per request by the root layers.
    pub(crate) fn request_limits(&self) -> RequestLimits {
        RequestLimits {
            max_url_length: self.max_url_length,
            max_header_size: self.max_header_size,
            request_timeout: self.request_timeout,
        }
    }

    /// hyper's read buffer: room for the longest allowed URL and headers; a head that does not
    /// fit is answered 431.
    fn max_buf_size(&self) -> usize {
        self.max_url_length
            .saturating_add(self.max_header_size)
            .saturating_add(4096)
            .max(8192)
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting, lets every
/// connection finish its current request and waits for them.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let limits = Arc::new(limits);
    let (closing, closing_rx) = watch::channel(false);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        while connections.try_join_next().is_some() {}
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of file descriptors and the like: wait for connections to close.
                tracing::error!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::debug!(
                max_connections = limits.max_connections,
                "connection limit reached; closing a new connection"
            );
            drop(stream);
            continue;
        };
        connections.spawn(connection(
            stream,
            app.clone(),
            limits.clone(),
            closing_rx.clone(),
            permit,
        ));
    }
    drop(listener);
    closing.send_replace(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// One connection: served until the client closes it, it idles out or the server stops.
async fn connection(
    stream: TcpStream,
    app: Router,
    limits: Arc<ServerLimits>,
    mut closing: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(EdgeIo::new(stream, activity.clone()));
    let tracked = activity.clone();
    let service = tower::service_fn(move |req: axum::http::Request<hyper::body::Incoming>| {
        let busy = tracked.begin();
        let call = app.clone().oneshot(req.map(Body::new));
        async move {
            let res = call.await;
            drop(busy);
            res
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.headers_timeout)
        .max_buf_size(limits.max_buf_size());
    let conn = builder
        .serve_connection(io, TowerToHyperService::new(service))
        .with_upgrades();
    let mut conn = std::pin::pin!(conn);
    let mut ending = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            _ = closing.wait_for(|closing| *closing), if !ending => {
                conn.as_mut().graceful_shutdown();
                ending = true;
            }
            () = activity.idle_for(limits.keep_alive_timeout), if !ending => {
                conn.as_mut().graceful_shutdown();
                ending = true;
            }
        }
    }
}

/// When a connection last moved bytes, and how many of its requests are being answered.
#[derive(Debug)]
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
    in_flight: Arc<AtomicUsize>,
}

/// Counts a request as in flight while alive.
struct Busy(Arc<AtomicUsize>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            in_flight: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Release);
    }

    fn begin(&self) -> Busy {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        Busy(self.in_flight.clone())
    }

    /// Completes once the connection has had no request in flight and moved no bytes for
    /// `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let last = self.start + Duration::from_millis(self.last_ms.load(Ordering::Acquire));
            let deadline = last + idle;
            if Instant::now() < deadline {
                tokio::time::sleep_until(deadline.into()).await;
                continue;
            }
            if self.in_flight.load(Ordering::Acquire) == 0 {
                return;
            }
            tokio::time::sleep(idle).await;
        }
    }
}

pin_project_lite::pin_project! {
    /// A connection's socket: records activity, and rewrites hyper's automatic bodiless
    /// answers to unparseable request heads (400, 414 URI too long, 431 head too large) into
    /// the error JSON. Writes are never vectored, so hyper hands over each response head in
    /// one piece.
    struct EdgeIo {
        #[pin]
        inner: TcpStream,
        activity: Arc<Activity>,
        // The rewritten answer and how much of it is written; later writes are dropped
        // because hyper closes the connection after such an answer.
        replacement: Option<(Vec<u8>, usize)>,
    }
}

impl EdgeIo {
    fn new(inner: TcpStream, activity: Arc<Activity>) -> Self {
        Self {
            inner,
            activity,
            replacement: None,
        }
    }
}

/// The error JSON answer replacing a bodiless hyper answer `head`, if it is one.
fn replacement_for(head: &[u8]) -> Option<Vec<u8>> {
    if !(head.starts_with(b"HTTP/1.1 ") || head.starts_with(b"HTTP/1.0 ")) || head.len() < 12 {
        return None;
    }
    let end = head.windows(4).position(|w| w == b"\r\n\r\n")?;
    if end + 4 != head.len() {
        return None;
    }
    let lower = head.to_ascii_lowercase();
    if lower.windows(13).any(|w| w == b"content-type:") {
        return None;
    }
    let (kind, message) = match &head[9..12] {
        b"400" => (ApiErrorKind::Input, "the request could not be parsed"),
        b"414" => (ApiErrorKind::UriTooLong, "the request URL is too long"),
        b"431" => (
            ApiErrorKind::HeadersTooLarge,
            "the request line and headers are too large",
        ),
        _ => return None,
    };
    let status = kind.status();
    let body = error_body(kind.name(), message, status, None, None);
    Some(
        format!(
            "HTTP/1.1 {} {}\r\ncontent-type: application/json; charset=utf-8\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{body}",
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            body.len()
        )
        .into_bytes(),
    )
}

impl EdgeIo {
    /// Writes out the replacement answer, if any.
    fn poll_replacement(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut this = self.project();
        if let Some((bytes, written)) = this.replacement.as_mut() {
            while *written < bytes.len() {
                match this.inner.as_mut().poll_write(cx, &bytes[*written..]) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Poll::Ready(Ok(n)) => *written += n,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                }
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for EdgeIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        let result = this.inner.poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.touch();
        }
        result
    }
}

impl AsyncWrite for EdgeIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.replacement.is_none() {
            if let Some(bytes) = replacement_for(buf) {
                self.replacement = Some((bytes, 0));
            }
        }
        if self.replacement.is_some() {
            // Written later by flush or shutdown if the socket is not ready now.
            let _ = self.as_mut().poll_replacement(cx);
            return Poll::Ready(Ok(buf.len()));
        }
        let this = self.project();
        let result = this.inner.poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.as_mut().poll_replacement(cx) {
            Poll::Ready(Ok(())) => self.project().inner.poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.as_mut().poll_replacement(cx) {
            Poll::Ready(Ok(())) => self.project().inner.poll_shutdown(cx),
            other => other,
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        // hyper's own answers to unparseable heads are a head alone, one slice: those go
        // through `poll_write` to be recognised; a head with its body is written as it is.
        let mut slices = bufs.iter().filter(|b| !b.is_empty());
        let first = slices.next();
        if slices.next().is_none() || self.replacement.is_some() {
            return self.poll_write(cx, first.map_or(&[][..], |b| &**b));
        }
        let this = self.project();
        let result = this.inner.poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_only_bodiless_automatic_answers() {
        let answer = replacement_for(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n",
        )
        .expect("rewritten");
        let text = String::from_utf8(answer).expect("utf-8");
        assert!(text.starts_with("HTTP/1.1 431 "), "{text}");
        assert!(text.contains("\"HeadersTooLargeError\""), "{text}");
        assert!(replacement_for(b"HTTP/1.1 414 URI Too Long\r\n\r\n").is_some());
        assert!(
            replacement_for(b"HTTP/1.1 414 URI Too Long\r\ncontent-type: application/json\r\n\r\n")
                .is_none()
        );
        assert!(replacement_for(b"HTTP/1.1 414 URI Too Long\r\n\r\n{}").is_none());
        assert!(replacement_for(b"HTTP/1.1 200 OK\r\n\r\n").is_none());
        assert!(replacement_for(b"{\"a\":1}").is_none());
    }

    #[test]
    fn limits_from_config() {
        let c = Config::from_value(serde_json::json!({"backend": {"server": {
            "headersTimeout": "2s", "maxConnections": 10, "maxUrlLength": 100
        }}}));
        let l = ServerLimits::from_config(&c).expect("limits");
        assert_eq!(l.headers_timeout, Duration::from_secs(2));
        assert_eq!(l.max_connections, 10);
        assert_eq!(l.max_url_length, 100);
        assert_eq!(l.keep_alive_timeout, DEFAULT_KEEP_ALIVE_TIMEOUT);
        let zero =
            Config::from_value(serde_json::json!({"backend": {"server": {"maxConnections": 0}}}));
        assert!(ServerLimits::from_config(&zero).is_err());
    }
}
