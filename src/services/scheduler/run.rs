//! Running one invocation of a task: timeout, cancellation, errors and panics.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::FutureExt;
use tokio_util::sync::CancellationToken;

use super::state::error_json;
use super::task::TaskFn;

/// How long a run may still take to return after its token fired (timeout, cancellation,
/// shutdown) before its future is dropped.
pub(crate) const CANCEL_GRACE: Duration = Duration::from_millis(200);

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RunOutcome {
    Completed,
    Failed(String),
    Panicked(String),
    TimedOut,
    Cancelled,
}

impl RunOutcome {
    /// The error to record as the last run's error, Backstage-style JSON text.
    pub(crate) fn error_json(&self, task_id: &str, timeout: Duration) -> Option<String> {
        match self {
            Self::Completed => None,
            Self::Failed(m) => Some(error_json("Error", m)),
            Self::Panicked(m) => Some(error_json("Error", &format!("task panicked: {m}"))),
            Self::TimedOut => Some(error_json(
                "Error",
                &format!("task '{task_id}' timed out after {timeout:?}"),
            )),
            Self::Cancelled => Some(error_json("Error", "Task was cancelled")),
        }
    }
}

/// Runs the task function once on its own tokio task. Past `timeout`, or when `token` fires,
/// the token is cancelled and the run gets [`CANCEL_GRACE`] to return before its future is
/// aborted. Errors and panics are logged, never propagated.
pub(crate) async fn execute(
    plugin_id: &str,
    task_id: &str,
    func: &TaskFn,
    timeout: Duration,
    token: CancellationToken,
) -> RunOutcome {
    let started = tokio::time::Instant::now();
    let fut = match std::panic::catch_unwind(AssertUnwindSafe(|| func(token.clone()))) {
        Ok(fut) => fut,
        Err(payload) => {
            let message = panic_message(payload.as_ref());
            tracing::error!(plugin = plugin_id, task = task_id, panic = %message, "scheduled task panicked");
            return RunOutcome::Panicked(message);
        }
    };
    let mut handle = tokio::spawn(AssertUnwindSafe(fut).catch_unwind());
    let outcome = tokio::select! {
        joined = &mut handle => match joined {
            Ok(Ok(Ok(()))) => RunOutcome::Completed,
            Ok(Ok(Err(e))) => RunOutcome::Failed(error_chain(e.as_ref())),
            Ok(Err(payload)) => RunOutcome::Panicked(panic_message(payload.as_ref())),
            Err(e) if e.is_panic() => RunOutcome::Panicked(panic_message(e.into_panic().as_ref())),
            Err(_) => RunOutcome::Cancelled,
        },
        _ = tokio::time::sleep(timeout) => {
            token.cancel();
            finish_within_grace(handle).await;
            RunOutcome::TimedOut
        }
        _ = token.cancelled() => {
            finish_within_grace(handle).await;
            RunOutcome::Cancelled
        }
    };
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match &outcome {
        RunOutcome::Completed => {
            tracing::debug!(
                plugin = plugin_id,
                task = task_id,
                elapsed_ms,
                "scheduled task completed"
            );
        }
        RunOutcome::Failed(e) => {
            tracing::error!(plugin = plugin_id, task = task_id, elapsed_ms, error = %e, "scheduled task failed");
        }
        RunOutcome::Panicked(m) => {
            tracing::error!(plugin = plugin_id, task = task_id, elapsed_ms, panic = %m, "scheduled task panicked");
        }
        RunOutcome::TimedOut => {
            tracing::warn!(
                plugin = plugin_id,
                task = task_id,
                timeout_ms = timeout.as_millis() as u64,
                "scheduled task timed out and was cancelled"
            );
        }
        RunOutcome::Cancelled => {
            tracing::info!(
                plugin = plugin_id,
                task = task_id,
                elapsed_ms,
                "scheduled task was cancelled"
            );
        }
    }
    outcome
}

async fn finish_within_grace<T>(mut handle: tokio::task::JoinHandle<T>) {
    if tokio::time::timeout(CANCEL_GRACE, &mut handle)
        .await
        .is_err()
    {
        handle.abort();
        let _ = handle.await;
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_owned()
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn func<F, Fut>(f: F) -> TaskFn
    where
        F: Fn(CancellationToken) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), super::super::task::TaskError>>
            + Send
            + 'static,
    {
        Arc::new(move |t| f(t).boxed())
    }

    #[tokio::test]
    async fn outcomes() {
        let t = Duration::from_secs(10);
        let ok = func(|_| async { Ok(()) });
        assert_eq!(
            execute("p", "t", &ok, t, CancellationToken::new()).await,
            RunOutcome::Completed
        );
        let err = func(|_| async { Err("boom".into()) });
        assert_eq!(
            execute("p", "t", &err, t, CancellationToken::new()).await,
            RunOutcome::Failed("boom".into())
        );
        let panics = func(|_| async { panic!("kaboom") });
        assert_eq!(
            execute("p", "t", &panics, t, CancellationToken::new()).await,
            RunOutcome::Panicked("kaboom".into())
        );
        let slow = func(|_| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(())
        });
        let token = CancellationToken::new();
        let out = execute("p", "t", &slow, Duration::from_millis(30), token.clone()).await;
        assert_eq!(out, RunOutcome::TimedOut);
        assert!(token.is_cancelled());
        let token = CancellationToken::new();
        let canceller = token.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            canceller.cancel();
        });
        assert_eq!(
            execute("p", "t", &slow, t * 10, token).await,
            RunOutcome::Cancelled
        );
    }
}
