//! In-process wake-ups: new tasks wake idle workers, new events wake the streams of their
//! task, cancellations reach the worker running the task. Work done through other processes
//! is found by polling, so these only make this process fast, never correct.

use std::collections::HashMap;

use parking_lot::Mutex;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

/// The wake-ups of one process.
#[derive(Debug, Default)]
pub(crate) struct EventHub {
    created: Notify,
    streams: Mutex<HashMap<String, watch::Sender<u64>>>,
    running: Mutex<HashMap<String, CancellationToken>>,
}

impl EventHub {
    /// A task was created or re-opened.
    pub(crate) fn task_created(&self) {
        self.created.notify_one();
    }

    /// Waits for [`task_created`](Self::task_created).
    pub(crate) async fn wait_created(&self) {
        self.created.notified().await;
    }

    /// Wakes one more idle worker (a worker that found a task passes the wake-up on).
    pub(crate) fn pass_on(&self) {
        self.created.notify_one();
    }

    /// Task `task_id` has new events.
    pub(crate) fn notify(&self, task_id: &str) {
        let mut streams = self.streams.lock();
        if let Some(tx) = streams.get(task_id) {
            if tx.receiver_count() == 0 {
                streams.remove(task_id);
            } else {
                tx.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }

    /// A receiver that changes whenever task `task_id` gets events.
    pub(crate) fn subscribe(&self, task_id: &str) -> watch::Receiver<u64> {
        let mut streams = self.streams.lock();
        streams.retain(|_, tx| tx.receiver_count() > 0);
        streams
            .entry(task_id.to_string())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// Registers the cancellation signal of a task this process runs.
    pub(crate) fn running(&self, task_id: &str, signal: CancellationToken) {
        self.running.lock().insert(task_id.to_string(), signal);
    }

    /// The task is no longer run here.
    pub(crate) fn finished(&self, task_id: &str) {
        self.running.lock().remove(task_id);
    }

    /// Fires the signal of task `task_id` if this process runs it.
    pub(crate) fn cancel(&self, task_id: &str) {
        if let Some(signal) = self.running.lock().get(task_id) {
            signal.cancel();
        }
    }
}
