//! Reading fields of raw Kubernetes objects and formatting them for the tab.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::plugins::kubernetes::common::ClientCurrentResourceUsage;

/// The string at `path`, if it is one.
pub(super) fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

/// The integer at `path`, if it is one.
pub(super) fn int(v: &Value, path: &[&str]) -> Option<i64> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_i64()
}

/// The array at `path` (empty when it is missing or not an array).
pub(super) fn list<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// `metadata.name`.
pub(super) fn name(v: &Value) -> &str {
    text(v, &["metadata", "name"]).unwrap_or("")
}

/// `metadata.namespace`.
pub(super) fn namespace(v: &Value) -> &str {
    text(v, &["metadata", "namespace"]).unwrap_or("")
}

/// `metadata.uid`.
pub(super) fn uid(v: &Value) -> Option<&str> {
    text(v, &["metadata", "uid"]).filter(|u| !u.is_empty())
}

/// The age of an object, like `kubectl get` prints it: `45s`, `12m`, `5h3m`, `3d4h`.
pub(super) fn age(object: &Value, now: DateTime<Utc>) -> String {
    let Some(created) = text(object, &["metadata", "creationTimestamp"])
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    else {
        return "unknown".to_string();
    };
    duration(
        now.signed_duration_since(created.with_timezone(&Utc))
            .num_seconds(),
    )
}

/// A number of seconds as `45s`, `12m`, `5h3m` or `3d4h`.
pub(super) fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h{}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{}h", s / 86400, s % 86400 / 3600),
    }
}

fn percent(current: f64, of: f64) -> Option<String> {
    (of > 0.0 && current.is_finite() && of.is_finite())
        .then(|| format!("{:.0}%", current / of * 100.0))
}

/// CPU usage (cores) in millicores, with the share of the requests and limits.
pub(super) fn cpu(usage: &ClientCurrentResourceUsage) -> String {
    let m = |cores: f64| format!("{:.0}m", cores * 1000.0);
    usage_line(usage, m)
}

/// Memory usage (bytes) in MiB, with the share of the requests and limits.
pub(super) fn memory(usage: &ClientCurrentResourceUsage) -> String {
    let mib = |bytes: f64| format!("{:.1}MiB", bytes / 1024.0 / 1024.0);
    usage_line(usage, mib)
}

fn usage_line(usage: &ClientCurrentResourceUsage, unit: impl Fn(f64) -> String) -> String {
    let mut out = unit(usage.current_usage);
    if let Some(p) = percent(usage.current_usage, usage.request_total) {
        out.push_str(&format!(" · {p} of request {}", unit(usage.request_total)));
    }
    if let Some(p) = percent(usage.current_usage, usage.limit_total) {
        out.push_str(&format!(" · {p} of limit {}", unit(usage.limit_total)));
    }
    out
}

/// Whether a link from a cluster is safe to put in an `href` (http or https only).
pub(super) fn safe_url(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}
