//! Root health (`core.rootHealth`): liveness and readiness of the backend, served at
//! `/.backstage/health/v1/liveness` and `/.backstage/health/v1/readiness`.
//!
//! Liveness answers 200 as long as the process serves HTTP, from the moment the listener is
//! bound. Readiness answers 503 until every plugin has started, and while stopping. A plugin
//! whose start takes long (the catalog's first ingestion of a large catalog) says how far it
//! got with [`RootHealth::report`]: the readiness payload carries every report under
//! `details`, keyed by its source.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU8, Ordering};

use parking_lot::Mutex;

use serde_json::{Value, json};

const READY: u8 = 1;
const STOPPING: u8 = 2;

/// A health answer: an HTTP status and a JSON payload.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthStatus {
    /// The HTTP status code.
    pub status: u16,
    /// The JSON body.
    pub payload: Value,
}

/// Tracks whether the backend is starting, ready or stopping, and what its plugins report
/// about their progress.
///
/// ```
/// use backlot::services::health::RootHealth;
///
/// let health = RootHealth::new();
/// assert_eq!(health.readiness().status, 503);
/// assert_eq!(health.liveness().status, 200);
/// ```
///
/// Plugins reach it through the root service ref
/// [`ROOT_HEALTH`](crate::services::core_services::ROOT_HEALTH).
#[derive(Debug, Default)]
pub struct RootHealth {
    state: AtomicU8,
    reports: Mutex<BTreeMap<String, Value>>,
}

impl RootHealth {
    /// A health tracker in the starting state.
    pub fn new() -> Self {
        Self::default()
    }

    /// 200 while the process runs.
    pub fn liveness(&self) -> HealthStatus {
        HealthStatus {
            status: 200,
            payload: json!({ "status": "ok" }),
        }
    }

    /// Sets what `source` (a plugin id, say) reports about its progress, replacing its
    /// earlier report: the readiness payload shows it under `details.<source>` until
    /// [`clear_report`](Self::clear_report). Use it for work that keeps the backend unready
    /// for a while, so that operators see it moving.
    ///
    /// ```
    /// use backlot::services::health::RootHealth;
    /// use serde_json::json;
    ///
    /// let health = RootHealth::new();
    /// health.report("catalog", json!({ "known": 100, "processed": 40 }));
    /// let answer = health.readiness();
    /// assert_eq!(answer.status, 503);
    /// assert_eq!(answer.payload["details"]["catalog"]["processed"], 40);
    ///
    /// health.clear_report("catalog");
    /// assert!(health.readiness().payload.get("details").is_none());
    /// ```
    pub fn report(&self, source: &str, detail: Value) {
        self.reports.lock().insert(source.to_owned(), detail);
    }

    /// Removes the report of `source`, if any.
    pub fn clear_report(&self, source: &str) {
        self.reports.lock().remove(source);
    }

    /// 200 once every plugin has started; 503 before and while stopping. Plugins' progress
    /// reports, if any, are under `details`.
    pub fn readiness(&self) -> HealthStatus {
        let mut answer = self.readiness_state();
        let reports = self.reports.lock();
        if !reports.is_empty()
            && let Some(payload) = answer.payload.as_object_mut()
        {
            payload.insert(
                "details".to_owned(),
                Value::Object(reports.clone().into_iter().collect()),
            );
        }
        answer
    }

    fn readiness_state(&self) -> HealthStatus {
        match self.state.load(Ordering::Acquire) {
            READY => HealthStatus {
                status: 200,
                payload: json!({ "status": "ok" }),
            },
            STOPPING => HealthStatus {
                status: 503,
                payload: json!({ "status": "error", "message": "Backend is shutting down" }),
            },
            _ => HealthStatus {
                status: 503,
                payload: json!({ "status": "error", "message": "Backend has not started yet" }),
            },
        }
    }

    /// Whether the backend is ready.
    pub fn is_ready(&self) -> bool {
        self.state.load(Ordering::Acquire) == READY
    }

    pub(crate) fn set_ready(&self) {
        self.state.store(READY, Ordering::Release);
    }

    pub(crate) fn set_stopping(&self) {
        self.state.store(STOPPING, Ordering::Release);
    }
}
