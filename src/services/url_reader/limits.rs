//! Size and time limits of the readers (`backend.reading.maxSize`, `backend.reading.timeout`).

use std::time::Duration;

use serde_json::Value;

use super::UrlReaderError;

/// Limits every reader of [`UrlReaders`](super::UrlReaders) enforces.
///
/// ```
/// use std::time::Duration;
/// use backlot::services::url_reader::UrlReaderLimits;
///
/// let limits = UrlReaderLimits::from_config(Some(&serde_json::json!({
///     "maxSize": "8MiB",
///     "timeout": { "seconds": 20 },
/// })))?;
/// assert_eq!(limits.max_size, 8 * 1024 * 1024);
/// assert_eq!(limits.timeout, Duration::from_secs(20));
/// assert_eq!(limits.connect_timeout, Duration::from_secs(10));
/// assert_eq!(UrlReaderLimits::default().max_size, 32 * 1024 * 1024);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct UrlReaderLimits {
    /// The most bytes one call may return (one file for `read_url`, all files together for
    /// `read_tree` and `search`). Default 32 MiB.
    pub max_size: u64,
    /// The longest one HTTP request may take, body included. Default 60 seconds.
    pub timeout: Duration,
    /// The longest establishing a connection may take (`backend.reading.connectTimeout`).
    /// Default 10 seconds.
    pub connect_timeout: Duration,
}

impl Default for UrlReaderLimits {
    fn default() -> Self {
        Self {
            max_size: 32 * 1024 * 1024,
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl UrlReaderLimits {
    /// Limits with the given maximum size and the default timeout.
    #[must_use]
    pub fn with_max_size(self, max_size: u64) -> Self {
        Self { max_size, ..self }
    }

    /// Limits with the given timeout.
    #[must_use]
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self { timeout, ..self }
    }

    /// Reads `maxSize` and `timeout` from the `backend.reading` object; missing keys keep
    /// their defaults.
    ///
    /// `maxSize` is a number of bytes or a string with a unit (`"512kB"`, `"32MiB"`, `"1GB"`;
    /// `k`/`M`/`G` are powers of 1000, `Ki`/`Mi`/`Gi` of 1024). `timeout` is a number of
    /// milliseconds, a duration string (`"30s"`, `"1m 30s"`), an ISO 8601 duration
    /// (`"PT30S"`) or an object like `{ minutes: 1, seconds: 30 }`.
    ///
    /// # Errors
    ///
    /// [`UrlReaderError::InvalidConfig`] naming `backend.reading.maxSize` or
    /// `backend.reading.timeout`.
    pub fn from_config(reading: Option<&Value>) -> Result<Self, UrlReaderError> {
        let mut limits = Self::default();
        let Some(reading) = reading else {
            return Ok(limits);
        };
        if let Some(v) = reading.get("maxSize").filter(|v| !v.is_null()) {
            limits.max_size = parse_size(v).ok_or_else(|| UrlReaderError::InvalidConfig {
                key: "backend.reading.maxSize".to_owned(),
                reason: format!("expected a positive size such as 33554432 or \"32MiB\", got {v}"),
            })?;
        }
        if let Some(v) = reading.get("timeout").filter(|v| !v.is_null()) {
            limits.timeout = parse_duration(v).ok_or_else(|| UrlReaderError::InvalidConfig {
                key: "backend.reading.timeout".to_owned(),
                reason: format!("expected a positive duration such as \"30s\", got {v}"),
            })?;
        }
        if let Some(v) = reading.get("connectTimeout").filter(|v| !v.is_null()) {
            limits.connect_timeout =
                parse_duration(v).ok_or_else(|| UrlReaderError::InvalidConfig {
                    key: "backend.reading.connectTimeout".to_owned(),
                    reason: format!("expected a positive duration such as \"10s\", got {v}"),
                })?;
        }
        Ok(limits)
    }
}

/// Parses a size: a number of bytes or a string with a unit (`"32MiB"`).
pub(crate) fn parse_size(v: &Value) -> Option<u64> {
    let size = match v {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => {
            let s = s.trim();
            let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            let (digits, unit) = s.split_at(split);
            let n: u64 = digits.parse().ok()?;
            let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
                "" | "b" => 1,
                "k" | "kb" => 1_000,
                "ki" | "kib" => 1 << 10,
                "m" | "mb" => 1_000_000,
                "mi" | "mib" => 1 << 20,
                "g" | "gb" => 1_000_000_000,
                "gi" | "gib" => 1 << 30,
                _ => return None,
            };
            n.checked_mul(factor)?
        }
        _ => return None,
    };
    (size > 0).then_some(size)
}

fn parse_duration(v: &Value) -> Option<Duration> {
    let d = match v {
        Value::Number(n) => Duration::from_millis(n.as_u64()?),
        Value::String(s) => {
            let s = s.trim();
            if s.starts_with('P') {
                parse_iso_duration(s)?
            } else {
                humantime::parse_duration(s).ok()?
            }
        }
        Value::Object(map) => {
            let mut total = Duration::ZERO;
            for (key, value) in map {
                let secs_per_unit: f64 = match key.as_str() {
                    "milliseconds" => 0.001,
                    "seconds" => 1.0,
                    "minutes" => 60.0,
                    "hours" => 3_600.0,
                    "days" => 86_400.0,
                    "weeks" => 604_800.0,
                    _ => return None,
                };
                let n = value.as_f64().filter(|n| *n >= 0.0)?;
                total += Duration::try_from_secs_f64(n * secs_per_unit).ok()?;
            }
            total
        }
        _ => return None,
    };
    (!d.is_zero()).then_some(d)
}

/// `P[nD]T[nH][nM][nS]` (days and time parts only).
fn parse_iso_duration(s: &str) -> Option<Duration> {
    let rest = s.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    let mut secs = 0.0;
    let mut take = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let (_, factor) = units.iter().find(|(u, _)| *u == c)?;
            secs += number.parse::<f64>().ok()? * factor;
            number.clear();
        }
        number.is_empty().then_some(())
    };
    take(date, &[('D', 86_400.0), ('W', 604_800.0)])?;
    if let Some(time) = time {
        take(time, &[('H', 3_600.0), ('M', 60.0), ('S', 1.0)])?;
    }
    Duration::try_from_secs_f64(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes() {
        assert_eq!(parse_size(&json!(100)), Some(100));
        assert_eq!(parse_size(&json!("32MiB")), Some(32 << 20));
        assert_eq!(parse_size(&json!("10 mb")), Some(10_000_000));
        assert_eq!(parse_size(&json!("1kib")), Some(1024));
        for bad in [
            json!(0),
            json!(-1),
            json!("lots"),
            json!("1 parsec"),
            json!(true),
        ] {
            assert_eq!(parse_size(&bad), None, "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration(&json!(1500)),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_duration(&json!("1m 30s")),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_duration(&json!("PT1M30S")),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_duration(&json!("P1D")),
            Some(Duration::from_secs(86_400))
        );
        assert_eq!(
            parse_duration(&json!({ "minutes": 1, "milliseconds": 500 })),
            Some(Duration::from_millis(60_500))
        );
        for bad in [
            json!(0),
            json!("soon"),
            json!("PT5X"),
            json!({ "fortnights": 1 }),
        ] {
            assert_eq!(parse_duration(&bad), None, "{bad}");
        }
    }

    #[test]
    fn config_errors_name_the_key() {
        let err = UrlReaderLimits::from_config(Some(&json!({ "maxSize": "huge" }))).unwrap_err();
        assert!(
            matches!(err, UrlReaderError::InvalidConfig { ref key, .. } if key == "backend.reading.maxSize")
        );
        let err = UrlReaderLimits::from_config(Some(&json!({ "timeout": "never" }))).unwrap_err();
        assert!(
            matches!(err, UrlReaderError::InvalidConfig { ref key, .. } if key == "backend.reading.timeout")
        );
    }
}
