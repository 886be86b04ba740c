//! Where a run's events go, and the redaction in front of it.

use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::Value;

/// Receives the bodies of a run's `log` events, in order.
pub(crate) trait Emitter: Send + Sync + fmt::Debug {
    /// One event body (`{message, stepId?, status?}`).
    fn emit(&self, body: Value);
}

/// `s` with every secret replaced by `***` (longest first).
pub(crate) fn redact_str(s: &str, secrets: &[String]) -> String {
    let mut sorted: Vec<&String> = secrets.iter().filter(|s| !s.is_empty()).collect();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = s.to_string();
    for secret in sorted {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "***");
        }
    }
    out
}

/// `v` with every secret replaced by `***` in every string (keys included).
pub(crate) fn redact_value(v: &Value, secrets: &[String]) -> Value {
    if secrets.iter().all(String::is_empty) {
        return v.clone();
    }
    match v {
        Value::String(s) => Value::String(redact_str(s, secrets)),
        Value::Array(a) => Value::Array(a.iter().map(|x| redact_value(x, secrets)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (redact_str(k, secrets), redact_value(x, secrets)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Redacts, then passes on.
#[derive(Debug)]
pub(super) struct Redacting {
    inner: Arc<dyn Emitter>,
    secrets: Vec<String>,
}

impl Redacting {
    pub(super) fn new(inner: Arc<dyn Emitter>, secrets: Vec<String>) -> Self {
        Self {
            inner,
            secrets: secrets.into_iter().filter(|s| !s.is_empty()).collect(),
        }
    }
}

impl Emitter for Redacting {
    fn emit(&self, body: Value) {
        self.inner.emit(redact_value(&body, &self.secrets));
    }
}

/// Keeps the bodies in memory (dry runs).
#[derive(Debug, Default)]
pub(crate) struct CollectingEmitter {
    bodies: Mutex<Vec<Value>>,
    max: usize,
}

impl CollectingEmitter {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            bodies: Mutex::new(Vec::new()),
            max,
        }
    }

    pub(crate) fn take(&self) -> Vec<Value> {
        std::mem::take(&mut *self.bodies.lock())
    }
}

impl Emitter for CollectingEmitter {
    fn emit(&self, body: Value) {
        let mut bodies = self.bodies.lock();
        if bodies.len() < self.max {
            bodies.push(body);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redacts_everywhere() {
        let s = vec!["hunter2".to_string(), String::new()];
        let v = redact_value(&json!({"a": ["x hunter2 y"], "hunter2": 1}), &s);
        assert_eq!(v, json!({"a": ["x *** y"], "***": 1}));
    }
}
