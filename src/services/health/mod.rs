//! Root health (`core.rootHealth`): liveness and readiness of the backend, served at
//! `/.backstage/health/v1/liveness` and `/.backstage/health/v1/readiness`.

use std::sync::atomic::{AtomicU8, Ordering};

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

/// Tracks whether the backend is starting, ready or stopping.
///
/// ```
/// use backlot::services::health::RootHealth;
///
/// let health = RootHealth::new();
/// assert_eq!(health.readiness().status, 503);
/// assert_eq!(health.liveness().status, 200);
/// ```
#[derive(Debug, Default)]
pub struct RootHealth {
    state: AtomicU8,
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

    /// 200 once every plugin has started; 503 before and while stopping.
    pub fn readiness(&self) -> HealthStatus {
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
