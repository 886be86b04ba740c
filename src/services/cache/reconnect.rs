//! A lazily established, self-healing connection to a cache server.
//!
//! Connecting happens in a background task, so a caller waits at most its own operation
//! timeout even while a slow connect (TLS, a black-holed host) is still running. After a
//! failed attempt, callers fail fast until a backoff delay (50 ms doubling to 2 s) passes;
//! the next caller after that starts a new attempt. A connection that timed out or broke is
//! dropped with [`Reconnecting::invalidate`] and replaced on next use.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::CacheError;
use super::error::BoxError;

const INITIAL_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Opens one connection.
pub(crate) type ConnectFn<C> =
    Arc<dyn Fn() -> BoxFuture<'static, Result<C, BoxError>> + Send + Sync + 'static>;

/// A slot holding at most one connection `C` (cheap to clone: a handle).
pub(crate) struct Reconnecting<C> {
    inner: Arc<Inner<C>>,
}

impl<C> std::fmt::Debug for Reconnecting<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.inner.state.lock();
        f.debug_struct("Reconnecting")
            .field("server", &self.inner.server)
            .field("connected", &st.conn.is_some())
            .field("connecting", &st.connecting)
            .finish()
    }
}

struct Inner<C> {
    state: Mutex<State<C>>,
    notify: Notify,
    connect: ConnectFn<C>,
    connect_timeout: Duration,
    server: String,
}

struct State<C> {
    conn: Option<(C, u64)>,
    generation: u64,
    connecting: bool,
    retry_at: Option<Instant>,
    delay: Duration,
    last_error: Option<String>,
}

impl<C: Clone + Send + 'static> Reconnecting<C> {
    /// A slot for `server` (used in errors and logs) that opens connections with `connect`.
    pub(crate) fn new(server: String, connect_timeout: Duration, connect: ConnectFn<C>) -> Self {
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    conn: None,
                    generation: 0,
                    connecting: false,
                    retry_at: None,
                    delay: INITIAL_BACKOFF,
                    last_error: None,
                }),
                notify: Notify::new(),
                connect,
                connect_timeout,
                server,
            }),
        }
    }

    /// The current connection and its generation, connecting first when there is none.
    ///
    /// Fails at once with [`CacheError::Unavailable`] while in backoff after a failed attempt.
    /// Callers bound the wait with their operation timeout.
    pub(crate) async fn get(&self) -> Result<(C, u64), CacheError> {
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut st = self.inner.state.lock();
                if let Some((conn, generation)) = &st.conn {
                    return Ok((conn.clone(), *generation));
                }
                if !st.connecting {
                    if st.retry_at.is_some_and(|at| Instant::now() < at) {
                        return Err(CacheError::Unavailable {
                            server: self.inner.server.clone(),
                            source: st.last_error.clone().map(BoxError::from),
                        });
                    }
                    st.connecting = true;
                    drop(st);
                    self.spawn_connect();
                }
            }
            notified.await;
        }
    }

    /// Drops the connection of `generation` (if it is still the current one) so that the
    /// next [`get`](Self::get) connects anew.
    pub(crate) fn invalidate(&self, generation: u64) {
        let mut st = self.inner.state.lock();
        if st.conn.as_ref().is_some_and(|(_, g)| *g == generation) {
            st.conn = None;
        }
    }

    fn spawn_connect(&self) {
        let inner = self.inner.clone();
        tokio::spawn(async move {
            let result = match tokio::time::timeout(inner.connect_timeout, (inner.connect)()).await
            {
                Ok(result) => result,
                Err(_) => {
                    Err(format!("connect timed out after {:?}", inner.connect_timeout).into())
                }
            };
            {
                let mut st = inner.state.lock();
                st.connecting = false;
                match result {
                    Ok(conn) => {
                        st.generation += 1;
                        st.conn = Some((conn, st.generation));
                        st.retry_at = None;
                        st.delay = INITIAL_BACKOFF;
                        if st.last_error.take().is_some() {
                            tracing::info!(server = %inner.server, "cache server connection restored");
                        }
                    }
                    Err(err) => {
                        let message = error_chain(&*err);
                        if st.last_error.is_none() {
                            tracing::warn!(server = %inner.server, error = %message, "cannot connect to cache server, retrying in the background");
                        }
                        st.retry_at = Some(Instant::now() + st.delay);
                        st.delay = (st.delay * 2).min(MAX_BACKOFF);
                        st.last_error = Some(message);
                    }
                }
            }
            inner.notify.notify_waiters();
        });
    }
}

impl<C> Clone for Reconnecting<C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

/// `error: cause: cause` in one line.
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        out.push_str(": ");
        out.push_str(&e.to_string());
        cur = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn slot(fail: Arc<AtomicUsize>, calls: Arc<AtomicUsize>) -> Reconnecting<usize> {
        let connect: ConnectFn<usize> = Arc::new(move || {
            let fail = fail.clone();
            let calls = calls.clone();
            Box::pin(async move {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                if fail.load(Ordering::SeqCst) > 0 {
                    fail.fetch_sub(1, Ordering::SeqCst);
                    Err("refused".into())
                } else {
                    Ok(n)
                }
            })
        });
        Reconnecting::new("test:1".into(), Duration::from_secs(1), connect)
    }

    #[tokio::test]
    async fn connects_once_backs_off_and_recovers() {
        let fail = Arc::new(AtomicUsize::new(1));
        let calls = Arc::new(AtomicUsize::new(0));
        let s = slot(fail, calls.clone());
        let err = s.get().await.unwrap_err();
        assert!(matches!(err, CacheError::Unavailable { .. }));
        // in backoff: fails without a new attempt
        assert!(s.get().await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        tokio::time::sleep(INITIAL_BACKOFF).await;
        let (conn, generation) = s.get().await.unwrap();
        assert_eq!((conn, generation), (1, 1));
        // reuses the connection
        assert_eq!(s.get().await.unwrap(), (1, 1));
        // a stale invalidation is ignored, a current one replaces the connection
        s.invalidate(0);
        assert_eq!(s.get().await.unwrap(), (1, 1));
        s.invalidate(1);
        assert_eq!(s.get().await.unwrap(), (2, 2));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn hanging_connect_times_out_in_background() {
        let connect: ConnectFn<u8> = Arc::new(|| Box::pin(futures::future::pending()));
        let s = Reconnecting::new("test:2".into(), Duration::from_millis(300), connect);
        let r = tokio::time::timeout(Duration::from_millis(50), s.get()).await;
        assert!(r.is_err(), "caller bounded by its own timeout");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let err = s.get().await.unwrap_err();
        assert!(matches!(
            err,
            CacheError::Unavailable {
                source: Some(_),
                ..
            }
        ));
    }
}
