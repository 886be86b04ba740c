//! Counting scheduled task runs: a task function wrapped to record each run's outcome.

use std::panic::AssertUnwindSafe;

use futures::FutureExt;

use super::PluginMetrics;
use crate::services::scheduler::TaskFn;

/// Records a run as failed unless disarmed: a run whose future is dropped (timed out or
/// cancelled) counts as failed.
struct RunGuard {
    metrics: PluginMetrics,
    task_id: String,
    done: bool,
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        if !self.done {
            self.metrics.record_task_run(&self.task_id, true);
        }
    }
}

/// `func`, recording in `metrics` one run of `task_id` per call, failed when it returns an
/// error, panics, or is dropped before it ends (timeout, cancellation).
pub(crate) fn instrument_task(metrics: PluginMetrics, task_id: &str, func: TaskFn) -> TaskFn {
    let task_id = task_id.to_string();
    std::sync::Arc::new(move |token| {
        let mut guard = RunGuard {
            metrics: metrics.clone(),
            task_id: task_id.clone(),
            done: false,
        };
        let run = func(token);
        async move {
            let result = AssertUnwindSafe(run).catch_unwind().await;
            guard.done = true;
            let failed = !matches!(result, Ok(Ok(())));
            guard.metrics.record_task_run(&guard.task_id, failed);
            match result {
                Ok(r) => r,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        .boxed()
    })
}
