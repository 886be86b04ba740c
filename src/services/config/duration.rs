//! The one duration parser of the crate: milliseconds, `ms`-style and humantime strings,
//! ISO 8601 and unit objects. Config (`Config::get_duration`), task schedules and the cache
//! config all read durations through it.

use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;
use serde_json::Value;

const SECOND: f64 = 1000.0;
const MINUTE: f64 = 60.0 * SECOND;
const HOUR: f64 = 60.0 * MINUTE;
const DAY: f64 = 24.0 * HOUR;
const WEEK: f64 = 7.0 * DAY;

/// The unit keys of the object form, with their length in milliseconds. Months are 30 days and
/// years 365 days, as in Backstage's conversion of its `HumanDuration` objects.
const OBJECT_UNITS: [(&str, f64); 8] = [
    ("years", 365.0 * DAY),
    ("months", 30.0 * DAY),
    ("weeks", WEEK),
    ("days", DAY),
    ("hours", HOUR),
    ("minutes", MINUTE),
    ("seconds", SECOND),
    ("milliseconds", 1.0),
];

const OBJECT_UNITS_LIST: &str =
    "'years', 'months', 'weeks', 'days', 'hours', 'minutes', 'seconds', 'milliseconds'";

static MS_STYLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(-?\d*\.?\d+) *(milliseconds?|msecs?|ms|seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w|years?|yrs?|y)?$",
    )
    .unwrap_or_else(|e| unreachable!("static regex: {e}"))
});

static ISO: LazyLock<Regex> = LazyLock::new(|| {
    let n = r"(\d{1,20}(?:\.\d{1,20})?)";
    Regex::new(&format!(
        r"^P(?:{n}Y)?(?:{n}M)?(?:{n}W)?(?:{n}D)?(?:T(?:{n}H)?(?:{n}M)?(?:(\d{{1,20}}(?:[.,]\d{{1,20}})?)S)?)?$"
    ))
    .unwrap_or_else(|e| unreachable!("static regex: {e}"))
});

/// Reads a duration from a config value, in any of the forms Backstage accepts plus plain
/// numbers:
///
/// - a number: milliseconds (`1500`);
/// - an `ms`-style string: a number and a unit, e.g. `'10m'`, `'2 seconds'`, `'1.5h'`, `'1d'`,
///   `'1y'` (365.25 days, like the `ms` library); a bare number string is rejected;
/// - a compound humantime string: `'1h 30m'`, `'2days 4hours'`, `'1min 30s'`;
/// - an ISO 8601 duration: `'PT1M30S'`, `'P2DT6H'`, `'P1W'` (`M` before `T` is months; the
///   letters may be lower case);
/// - an object of plural unit keys: `{ days: 2, hours: 6 }`, with `years` (365 days), `months`
///   (30 days), `weeks`, `days`, `hours`, `minutes`, `seconds`, `milliseconds`.
///
/// Negative durations are rejected. The error message never contains the value.
///
/// ```
/// use std::time::Duration;
/// use backlot::services::config::parse_duration_value;
/// use serde_json::json;
///
/// assert_eq!(parse_duration_value(&json!("10m")), Ok(Duration::from_secs(600)));
/// assert_eq!(parse_duration_value(&json!("1h 30m")), Ok(Duration::from_secs(5400)));
/// assert_eq!(parse_duration_value(&json!("PT1M30S")), Ok(Duration::from_secs(90)));
/// assert_eq!(parse_duration_value(&json!({"hours": 1, "minutes": 2})), Ok(Duration::from_secs(3720)));
/// assert_eq!(parse_duration_value(&json!(250)), Ok(Duration::from_millis(250)));
/// assert!(parse_duration_value(&json!("soon")).is_err());
/// ```
pub fn parse_duration_value(value: &Value) -> Result<Duration, String> {
    match value {
        Value::Number(n) => {
            let ms = n
                .as_f64()
                .ok_or_else(|| "expected a duration; the number is out of range".to_owned())?;
            millis_to_duration(ms)
        }
        Value::String(s) => parse_duration_str(s),
        Value::Object(map) => {
            let unknown: Vec<String> = map
                .keys()
                .filter(|k| !OBJECT_UNITS.iter().any(|(unit, _)| unit == k))
                .map(|k| format!("'{k}'"))
                .collect();
            if !unknown.is_empty() {
                let what = if unknown.len() == 1 {
                    "property"
                } else {
                    "properties"
                };
                return Err(format!(
                    "invalid duration: unknown {what} {}; expected one or more of {OBJECT_UNITS_LIST}",
                    unknown.join(", ")
                ));
            }
            let mut total = 0.0;
            let mut found = false;
            for (unit, unit_ms) in OBJECT_UNITS {
                let Some(v) = map.get(unit) else { continue };
                let amount = match v {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
                    _ => None,
                }
                .ok_or_else(|| format!("invalid duration: '{unit}' must be a number"))?;
                if amount < 0.0 {
                    return Err("invalid duration: negative durations are not allowed".to_owned());
                }
                total += amount * unit_ms;
                found = true;
            }
            if !found {
                return Err(format!(
                    "invalid duration: needs one or more of {OBJECT_UNITS_LIST}"
                ));
            }
            millis_to_duration(total)
        }
        _ => Err(
            "expected a duration: a number of milliseconds, a string like '10m' or 'PT10M', or an object like { minutes: 10 }"
                .to_owned(),
        ),
    }
}

/// Whether `key` is a unit key of the object form (`hours`, `minutes`, ...).
pub(crate) fn is_duration_unit(key: &str) -> bool {
    OBJECT_UNITS.iter().any(|(unit, _)| *unit == key)
}

/// Parses the string forms: ISO 8601 when it starts with `P` (either case), else `ms`-style,
/// else a compound humantime string (`1h 30m`). The error never contains the input.
pub(crate) fn parse_duration_str(input: &str) -> Result<Duration, String> {
    let s = input.trim();
    if s.starts_with(['P', 'p']) || s.starts_with("-P") || s.starts_with("-p") {
        return parse_iso(&s.to_ascii_uppercase());
    }
    parse_ms_style(s).or_else(|err| {
        let compound = s.len() <= 100 && s.bytes().any(|b| b.is_ascii_alphabetic());
        compound
            .then(|| humantime::parse_duration(s).ok())
            .flatten()
            .ok_or(err)
    })
}

fn parse_ms_style(s: &str) -> Result<Duration, String> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(
            "invalid duration: the value cannot be a plain number string; add a unit like 'ms' or 'seconds'"
                .to_owned(),
        );
    }
    let caps = (s.len() <= 100)
        .then(|| MS_STYLE.captures(s))
        .flatten()
        .ok_or_else(|| {
            "invalid duration: not a valid duration string, try a number followed by a unit such as '1d' or '2 seconds'"
                .to_owned()
        })?;
    let amount: f64 = caps[1]
        .parse()
        .map_err(|_| "invalid duration: bad number".to_owned())?;
    let unit = caps.get(2).map(|m| m.as_str().to_ascii_lowercase());
    let factor = match unit.as_deref() {
        None | Some("milliseconds" | "millisecond" | "msecs" | "msec" | "ms") => 1.0,
        Some("seconds" | "second" | "secs" | "sec" | "s") => SECOND,
        Some("minutes" | "minute" | "mins" | "min" | "m") => MINUTE,
        Some("hours" | "hour" | "hrs" | "hr" | "h") => HOUR,
        Some("days" | "day" | "d") => DAY,
        Some("weeks" | "week" | "w") => WEEK,
        _ => 365.25 * DAY,
    };
    let ms = amount * factor;
    if ms < 0.0 {
        return Err("invalid duration: negative durations are not allowed".to_owned());
    }
    millis_to_duration(ms)
}

fn parse_iso(s: &str) -> Result<Duration, String> {
    if s.contains('-') {
        return Err("invalid duration: negative durations are not allowed".to_owned());
    }
    let caps = ISO.captures(s).ok_or_else(|| {
        "invalid duration: invalid ISO format, expected a value similar to 'P2DT6H' (2 days 6 hours) or 'PT1M' (1 minute)"
            .to_owned()
    })?;
    let factors = [365.0 * DAY, 30.0 * DAY, WEEK, DAY, HOUR, MINUTE, SECOND];
    let mut total = 0.0;
    let mut found = false;
    for (i, factor) in factors.iter().enumerate() {
        if let Some(m) = caps.get(i + 1) {
            let amount: f64 = m
                .as_str()
                .replace(',', ".")
                .parse()
                .map_err(|_| "invalid duration: bad number in ISO duration".to_owned())?;
            total += amount * factor;
            found = true;
        }
    }
    if !found {
        return Err("invalid duration: invalid ISO format, no values given".to_owned());
    }
    millis_to_duration(total)
}

fn millis_to_duration(ms: f64) -> Result<Duration, String> {
    if !ms.is_finite() {
        return Err("invalid duration: not a finite number".to_owned());
    }
    if ms < 0.0 {
        return Err("invalid duration: negative durations are not allowed".to_owned());
    }
    if ms.fract() == 0.0 && ms <= u64::MAX as f64 {
        return Ok(Duration::from_millis(ms as u64));
    }
    Duration::try_from_secs_f64(ms / 1000.0).map_err(|_| "invalid duration: too large".to_owned())
}

/// Reads the duration at `key`, `default` when it is absent; zero is refused, naming the key.
pub(crate) fn positive_duration(
    config: &super::Config,
    key: &str,
    default: Duration,
) -> Result<Duration, super::ConfigError> {
    match config.opt_duration(key)? {
        None => Ok(default),
        Some(d) if d.is_zero() => Err(super::ConfigError::WrongType {
            path: key.into(),
            expected: "a duration longer than zero",
        }),
        Some(d) => Ok(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn d(v: Value) -> Duration {
        parse_duration_value(&v).unwrap_or_else(|e| panic!("{v}: {e}"))
    }

    #[test]
    fn numbers_are_milliseconds() {
        assert_eq!(d(json!(0)), Duration::ZERO);
        assert_eq!(d(json!(1500)), Duration::from_millis(1500));
        assert_eq!(d(json!(0.5)), Duration::from_micros(500));
        assert!(parse_duration_value(&json!(-1)).is_err());
    }

    #[test]
    fn ms_style_strings() {
        assert_eq!(d(json!("10m")), Duration::from_secs(600));
        assert_eq!(d(json!("2 seconds")), Duration::from_secs(2));
        assert_eq!(d(json!("1d")), Duration::from_secs(86_400));
        assert_eq!(d(json!("1.5h")), Duration::from_secs(5400));
        assert_eq!(d(json!("100ms")), Duration::from_millis(100));
        assert_eq!(d(json!("3 Weeks")), Duration::from_secs(3 * 7 * 86_400));
        assert_eq!(d(json!("1y")), Duration::from_secs(365 * 86_400 + 6 * 3600));
        assert_eq!(d(json!("  5 mins ")), Duration::from_secs(300));
        assert_eq!(d(json!(".5s")), Duration::from_millis(500));
        for bad in [
            "100",
            "",
            "ten minutes",
            "5 fortnights",
            "-5m",
            "5m ago",
            "1h -30m",
        ] {
            assert!(parse_duration_value(&json!(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn compound_humantime_strings() {
        assert_eq!(d(json!("1h 30m")), Duration::from_secs(5400));
        assert_eq!(d(json!("1h30m")), Duration::from_secs(5400));
        assert_eq!(
            d(json!("2days 4hours")),
            Duration::from_secs(2 * 86_400 + 4 * 3600)
        );
        assert_eq!(d(json!("1min 30s")), Duration::from_secs(90));
        assert_eq!(d(json!("1s 500ms")), Duration::from_millis(1500));
        let err = parse_duration_value(&json!("1h s3cr3t")).unwrap_err();
        assert!(!err.contains("s3cr3t"), "{err}");
    }

    #[test]
    fn iso_strings() {
        assert_eq!(d(json!("pt10m")), Duration::from_secs(600));
        assert_eq!(d(json!("p1dt2h")), Duration::from_secs(93_600));
        assert_eq!(d(json!("PT1M30S")), Duration::from_secs(90));
        assert_eq!(d(json!("PT1M")), Duration::from_secs(60));
        assert_eq!(d(json!("P1M")), Duration::from_secs(30 * 86_400));
        assert_eq!(
            d(json!("P2DT6H")),
            Duration::from_secs(2 * 86_400 + 6 * 3600)
        );
        assert_eq!(d(json!("P1W")), Duration::from_secs(7 * 86_400));
        assert_eq!(d(json!("P1Y")), Duration::from_secs(365 * 86_400));
        assert_eq!(d(json!("PT0.5S")), Duration::from_millis(500));
        assert_eq!(d(json!("PT1,25S")), Duration::from_millis(1250));
        assert_eq!(d(json!("PT0S")), Duration::ZERO);
        for bad in ["P", "PT", "P1H", "PT1D", "-PT1M", "PT-1M", "P1S"] {
            assert!(parse_duration_value(&json!(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn unit_objects() {
        assert_eq!(
            d(json!({"days": 2, "hours": 6})),
            Duration::from_secs(2 * 86_400 + 6 * 3600)
        );
        assert_eq!(d(json!({"milliseconds": 5})), Duration::from_millis(5));
        assert_eq!(d(json!({"months": 1})), Duration::from_secs(30 * 86_400));
        assert_eq!(d(json!({"years": 1})), Duration::from_secs(365 * 86_400));
        assert_eq!(
            d(json!({"weeks": 1, "seconds": "30"})),
            Duration::from_secs(7 * 86_400 + 30)
        );
        let unknown = parse_duration_value(&json!({"minute": 1, "hour": 2})).unwrap_err();
        assert!(unknown.contains("unknown properties"), "{unknown}");
        assert!(
            unknown.contains("'hour'") && unknown.contains("'minute'"),
            "{unknown}"
        );
        let empty = parse_duration_value(&json!({})).unwrap_err();
        assert!(empty.contains("needs one or more of"), "{empty}");
        assert!(parse_duration_value(&json!({"minutes": -1})).is_err());
        assert!(parse_duration_value(&json!({"minutes": true})).is_err());
    }

    #[test]
    fn other_types_are_rejected_without_echoing_the_value() {
        for v in [json!(true), json!(null), json!(["1m"])] {
            assert!(parse_duration_value(&v).is_err());
        }
        let err = parse_duration_value(&json!("s3cr3t-value")).unwrap_err();
        assert!(!err.contains("s3cr3t"), "{err}");
    }
}
