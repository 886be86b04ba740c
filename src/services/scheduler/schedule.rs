//! Task schedules: frequency, timeout, initial delay and scope, and their config form.

use std::fmt::Write as _;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::SchedulerError;
use crate::services::config::duration;

/// How often a task runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskFrequency {
    /// A fixed rate: a run starts this long after the previous one started (or at once, if the
    /// previous run took longer).
    Every(Duration),
    /// A cron expression in UTC: standard 5 fields (`minute hour day-of-month month
    /// day-of-week`, day-of-week `0`-`7` with `0` and `7` for Sunday, names allowed), or 6 fields
    /// with seconds first.
    Cron(String),
    /// Runs only when triggered ([`PluginScheduler::trigger_task`](super::PluginScheduler::trigger_task)
    /// or the HTTP trigger endpoint).
    Manual,
}

impl TaskFrequency {
    /// A cron frequency, checked now.
    ///
    /// ```
    /// use backlot::services::scheduler::TaskFrequency;
    ///
    /// assert!(TaskFrequency::cron("*/5 * * * *").is_ok());
    /// assert!(TaskFrequency::cron("not a cron").is_err());
    /// ```
    pub fn cron(expression: impl Into<String>) -> Result<Self, SchedulerError> {
        let expression = expression.into();
        CronSchedule::parse(&expression)
            .map_err(|m| SchedulerError::invalid("frequency.cron", m))?;
        Ok(Self::Cron(expression))
    }

    /// The Backstage `cadence` string: an ISO-8601 duration, the cron expression, or `manual`.
    pub fn cadence(&self) -> String {
        match self {
            Self::Every(d) => format_iso_duration(*d),
            Self::Cron(c) => c.clone(),
            Self::Manual => "manual".to_owned(),
        }
    }
}

/// Where a task runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskScope {
    /// One run at a time across every backend instance sharing the plugin's database.
    #[default]
    Global,
    /// Every instance runs its own copy on its own timer.
    Local,
}

impl TaskScope {
    /// `global` or `local`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Global => "global",
            Self::Local => "local",
        }
    }
}

/// When and where a task runs.
///
/// ```
/// use std::time::Duration;
/// use backlot::services::scheduler::{TaskFrequency, TaskSchedule, TaskScope};
///
/// let schedule = TaskSchedule::new(TaskFrequency::Every(Duration::from_secs(600)), Duration::from_secs(900))
///     .with_initial_delay(Duration::from_secs(3))
///     .with_scope(TaskScope::Local);
/// assert_eq!(schedule.scope, TaskScope::Local);
///
/// let same = TaskSchedule::from_config_value(&serde_json::json!({
///     "frequency": { "minutes": 10 },
///     "timeout": "PT15M",
///     "initialDelay": { "seconds": 3 },
///     "scope": "local",
/// }))?;
/// assert_eq!(same, schedule);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSchedule {
    /// How often the task runs.
    pub frequency: TaskFrequency,
    /// The longest a run may take; past it the run is cancelled and a global lease expires.
    pub timeout: Duration,
    /// How long each instance waits after the task is scheduled before its first run.
    pub initial_delay: Option<Duration>,
    /// Global (default) or local.
    pub scope: TaskScope,
}

impl TaskSchedule {
    /// A global schedule without initial delay.
    pub fn new(frequency: TaskFrequency, timeout: Duration) -> Self {
        Self {
            frequency,
            timeout,
            initial_delay: None,
            scope: TaskScope::Global,
        }
    }

    /// Sets the initial delay.
    #[must_use]
    pub fn with_initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = Some(delay);
        self
    }

    /// Sets the scope.
    #[must_use]
    pub fn with_scope(mut self, scope: TaskScope) -> Self {
        self.scope = scope;
        self
    }

    /// Reads Backstage's config form of a schedule
    /// (`readSchedulerServiceTaskScheduleDefinitionFromConfig`): an object with `frequency`
    /// (`{cron: '…'}`, `{trigger: 'manual'}` or a duration), `timeout` (a duration),
    /// `initialDelay?` (a duration) and `scope?` (`global` | `local`).
    ///
    /// A duration is an object of plural unit keys (`{ minutes: 10 }`; years, months, weeks,
    /// days, hours, minutes, seconds, milliseconds), an ISO-8601 string (`'PT10M'`) or a
    /// human string (`'10m'`, `'2 seconds'`, `'1d'`). Errors name the field.
    pub fn from_config_value(value: &Value) -> Result<Self, SchedulerError> {
        let obj = value
            .as_object()
            .ok_or_else(|| SchedulerError::invalid("", "expected an object"))?;
        for key in obj.keys() {
            if !matches!(
                key.as_str(),
                "frequency" | "timeout" | "initialDelay" | "scope"
            ) {
                return Err(SchedulerError::invalid(key.clone(), "unknown field"));
            }
        }
        let frequency = match obj.get("frequency") {
            None => {
                return Err(SchedulerError::invalid(
                    "frequency",
                    "missing required field",
                ));
            }
            Some(v) => parse_frequency(v)?,
        };
        let timeout = match obj.get("timeout") {
            None => return Err(SchedulerError::invalid("timeout", "missing required field")),
            Some(v) => parse_duration_value(v, "timeout")?,
        };
        let initial_delay = obj
            .get("initialDelay")
            .map(|v| parse_duration_value(v, "initialDelay"))
            .transpose()?;
        let scope = match obj.get("scope") {
            None => TaskScope::Global,
            Some(Value::String(s)) if s == "global" => TaskScope::Global,
            Some(Value::String(s)) if s == "local" => TaskScope::Local,
            Some(other) => {
                return Err(SchedulerError::invalid(
                    "scope",
                    format!("expected 'global' or 'local', got {other}"),
                ));
            }
        };
        let schedule = Self {
            frequency,
            timeout,
            initial_delay,
            scope,
        };
        schedule.validate()?;
        Ok(schedule)
    }

    /// Checks the schedule: a positive timeout and period, a valid cron expression.
    pub fn validate(&self) -> Result<(), SchedulerError> {
        if self.timeout.is_zero() {
            return Err(SchedulerError::invalid(
                "timeout",
                "must be greater than zero",
            ));
        }
        match &self.frequency {
            TaskFrequency::Every(d) if d.is_zero() => Err(SchedulerError::invalid(
                "frequency",
                "must be greater than zero",
            )),
            TaskFrequency::Cron(c) => CronSchedule::parse(c)
                .map(|_| ())
                .map_err(|m| SchedulerError::invalid("frequency.cron", m)),
            _ => Ok(()),
        }
    }

    /// Backstage's stored settings for this schedule (`TaskSettingsV2`).
    pub fn settings(&self) -> TaskSettings {
        TaskSettings {
            version: 2,
            cadence: self.frequency.cadence(),
            timeout_after_duration: format_iso_duration(self.timeout),
            initial_delay_duration: self.initial_delay.map(format_iso_duration),
        }
    }
}

/// Backstage's serialized task settings (`TaskSettingsV2`), as stored in the tasks table and
/// returned by the scheduler endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskSettings {
    /// Always `2`.
    pub version: u32,
    /// An ISO-8601 duration, a cron expression, or `manual`.
    pub cadence: String,
    /// The timeout as an ISO-8601 duration.
    pub timeout_after_duration: String,
    /// The initial delay as an ISO-8601 duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay_duration: Option<String>,
}

fn parse_frequency(v: &Value) -> Result<TaskFrequency, SchedulerError> {
    if let Value::Object(o) = v {
        if let Some(c) = o.get("cron") {
            let expr = c
                .as_str()
                .ok_or_else(|| SchedulerError::invalid("frequency.cron", "expected a string"))?;
            if o.len() > 1 {
                return Err(SchedulerError::invalid(
                    "frequency",
                    "'cron' cannot be combined with other keys",
                ));
            }
            return TaskFrequency::cron(expr);
        }
        if let Some(t) = o.get("trigger") {
            if o.len() > 1 {
                return Err(SchedulerError::invalid(
                    "frequency",
                    "'trigger' cannot be combined with other keys",
                ));
            }
            return match t.as_str() {
                Some("manual") => Ok(TaskFrequency::Manual),
                _ => Err(SchedulerError::invalid(
                    "frequency.trigger",
                    format!("expected 'manual', got {t}"),
                )),
            };
        }
    }
    parse_duration_value(v, "frequency").map(TaskFrequency::Every)
}

/// Reads a duration in any of Backstage's config forms through the crate's one duration parser
/// ([`parse_duration_value`](crate::services::config::parse_duration_value)); `field` names it
/// in errors, an unknown unit key as `field.key`.
pub(crate) fn parse_duration_value(v: &Value, field: &str) -> Result<Duration, SchedulerError> {
    if let Value::Object(o) = v
        && let Some(k) = o.keys().find(|k| !duration::is_duration_unit(k))
    {
        return Err(SchedulerError::invalid(
            format!("{field}.{k}"),
            "unknown duration unit (expected years, months, weeks, days, hours, minutes, seconds or milliseconds)",
        ));
    }
    duration::parse_duration_value(v).map_err(|m| SchedulerError::invalid(field, m))
}

/// Parses a duration string (`PT10M`, `10m`, `1h 30m`) with the crate's one duration parser.
#[cfg(test)]
fn parse_duration_str(s: &str) -> Result<Duration, String> {
    duration::parse_duration_str(s)
}

/// Formats a duration as ISO-8601 (`PT10M`, `P1DT2H`, `PT0.25S`).
pub(crate) fn format_iso_duration(d: Duration) -> String {
    let total_ms = d.as_millis();
    if total_ms == 0 {
        return "PT0S".to_owned();
    }
    let days = total_ms / 86_400_000;
    let rest = total_ms % 86_400_000;
    let hours = rest / 3_600_000;
    let minutes = (rest % 3_600_000) / 60_000;
    let millis = rest % 60_000;
    let mut out = String::from("P");
    if days > 0 {
        let _ = write!(out, "{days}D");
    }
    if rest > 0 {
        out.push('T');
        if hours > 0 {
            let _ = write!(out, "{hours}H");
        }
        if minutes > 0 {
            let _ = write!(out, "{minutes}M");
        }
        if millis > 0 {
            if millis % 1000 == 0 {
                let _ = write!(out, "{}S", millis / 1000);
            } else {
                let frac = format!("{:03}", millis % 1000);
                let _ = write!(out, "{}.{}S", millis / 1000, frac.trim_end_matches('0'));
            }
        }
    }
    out
}

/// A parsed cron expression, evaluated in UTC.
#[derive(Debug, Clone)]
pub(crate) struct CronSchedule(cron::Schedule);

impl CronSchedule {
    /// Parses a 5-field standard or 6-field (seconds first) expression.
    pub(crate) fn parse(expression: &str) -> Result<Self, String> {
        let fields: Vec<&str> = expression.split_whitespace().collect();
        let (seconds, rest) = match fields.len() {
            5 => ("0", &fields[..]),
            6 => (fields[0], &fields[1..]),
            n => {
                return Err(format!(
                    "cron expression '{expression}' has {n} fields, expected 5 (or 6 with seconds)"
                ));
            }
        };
        let dow = translate_day_of_week(rest[4])
            .map_err(|m| format!("cron expression '{expression}': {m}"))?;
        let translated = format!(
            "{seconds} {} {} {} {} {dow}",
            rest[0], rest[1], rest[2], rest[3]
        );
        cron::Schedule::from_str(&translated)
            .map(Self)
            .map_err(|e| format!("invalid cron expression '{expression}': {e}"))
    }

    /// The first occurrence strictly after `after`.
    pub(crate) fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.0.after(&after).next()
    }
}

const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn day_number(token: &str) -> Result<u32, String> {
    if let Ok(n) = token.parse::<u32>() {
        return if n <= 7 {
            Ok(n)
        } else {
            Err(format!("day of week {n} is out of range 0-7"))
        };
    }
    DAY_NAMES
        .iter()
        .position(|d| d.eq_ignore_ascii_case(token))
        .map(|p| p as u32)
        .ok_or_else(|| format!("'{token}' is not a day of the week"))
}

/// Rewrites a standard day-of-week field (0-7, Sunday = 0 or 7) as an explicit list of day
/// names, which the `cron` crate (Sunday = 1) reads the same way.
fn translate_day_of_week(field: &str) -> Result<String, String> {
    if field == "*" || field == "?" {
        return Ok(field.to_owned());
    }
    let mut days = [false; 7];
    for item in field.split(',') {
        let (base, step) = match item.split_once('/') {
            Some((b, s)) => {
                let step: u32 = s
                    .parse()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("invalid step '{s}' in day of week"))?;
                (b, Some(step))
            }
            None => (item, None),
        };
        let (start, end) = if base == "*" || base == "?" {
            (0, 6)
        } else if let Some((a, b)) = base.split_once('-') {
            (day_number(a)?, day_number(b)?)
        } else {
            let n = day_number(base)?;
            (n, if step.is_some() { 7 } else { n })
        };
        if start > end {
            return Err(format!("day of week range '{base}' is reversed"));
        }
        let mut d = start;
        while d <= end {
            days[(d % 7) as usize] = true;
            d += step.unwrap_or(1);
        }
    }
    let names: Vec<&str> = days
        .iter()
        .enumerate()
        .filter(|(_, on)| **on)
        .map(|(i, _)| DAY_NAMES[i])
        .collect();
    if names.len() == 7 {
        Ok("*".to_owned())
    } else {
        Ok(names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, TimeZone, Timelike, Weekday};
    use serde_json::json;

    #[test]
    fn durations_in_every_form() {
        assert_eq!(
            parse_duration_str("PT10M").unwrap(),
            Duration::from_secs(600)
        );
        assert_eq!(
            parse_duration_str("P1DT2H").unwrap(),
            Duration::from_secs(93_600)
        );
        assert_eq!(
            parse_duration_str("PT0.5S").unwrap(),
            Duration::from_millis(500)
        );
        assert_eq!(parse_duration_str("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(
            parse_duration_str("2 seconds").unwrap(),
            Duration::from_secs(2)
        );
        assert_eq!(
            parse_duration_str("1d").unwrap(),
            Duration::from_secs(86_400)
        );
        assert!(parse_duration_str("PT").is_err());
        assert!(parse_duration_str("P5H").is_err());
        assert!(parse_duration_str("soon").is_err());
        // The union of what config and schedules accepted: compound strings, milliseconds,
        // lower-case ISO, unit objects with string amounts.
        assert_eq!(
            parse_duration_str("1h 30m").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(parse_duration_str("pt1m").unwrap(), Duration::from_secs(60));
        assert_eq!(
            parse_duration_value(&json!(1500), "x").unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(
            parse_duration_value(&json!({"seconds": "30"}), "x").unwrap(),
            Duration::from_secs(30)
        );
        assert_eq!(
            parse_duration_value(&json!({"hours": 1, "minutes": 30}), "x").unwrap(),
            Duration::from_secs(5400)
        );
        let err = parse_duration_value(&json!({"minute": 1}), "timeout").unwrap_err();
        assert!(
            matches!(err, SchedulerError::InvalidSchedule { ref field, .. } if field == "timeout.minute")
        );
    }

    #[test]
    fn iso_formatting_round_trips() {
        for ms in [1u64, 250, 1000, 61_000, 3_600_000, 90_061_500, 86_400_000] {
            let d = Duration::from_millis(ms);
            let s = format_iso_duration(d);
            assert_eq!(parse_duration_str(&s).unwrap(), d, "{s}");
        }
        assert_eq!(format_iso_duration(Duration::from_secs(600)), "PT10M");
    }

    #[test]
    fn config_form_errors_name_the_field() {
        let missing =
            TaskSchedule::from_config_value(&json!({"frequency": {"minutes": 1}})).unwrap_err();
        assert!(
            matches!(missing, SchedulerError::InvalidSchedule { ref field, .. } if field == "timeout")
        );
        let bad_cron = TaskSchedule::from_config_value(
            &json!({"frequency": {"cron": "61 * * * *"}, "timeout": "PT1M"}),
        )
        .unwrap_err();
        assert!(
            matches!(bad_cron, SchedulerError::InvalidSchedule { ref field, .. } if field == "frequency.cron")
        );
        let bad_scope = TaskSchedule::from_config_value(
            &json!({"frequency": "PT1M", "timeout": "PT1M", "scope": "everywhere"}),
        )
        .unwrap_err();
        assert!(
            matches!(bad_scope, SchedulerError::InvalidSchedule { ref field, .. } if field == "scope")
        );
        let manual = TaskSchedule::from_config_value(
            &json!({"frequency": {"trigger": "manual"}, "timeout": {"seconds": 5}}),
        )
        .unwrap();
        assert_eq!(manual.frequency, TaskFrequency::Manual);
        assert_eq!(manual.settings().cadence, "manual");
    }

    #[test]
    fn standard_cron_day_of_week_is_zero_based() {
        // Monday 2024-01-01 00:00 UTC; "1" is Monday in standard cron.
        let start = Utc.with_ymd_and_hms(2023, 12, 31, 12, 0, 0).unwrap();
        let monday = CronSchedule::parse("30 9 * * 1").unwrap();
        let next = monday.next_after(start).unwrap();
        assert_eq!(next.weekday(), Weekday::Mon);
        assert_eq!((next.hour(), next.minute(), next.second()), (9, 30, 0));
        let sunday7 = CronSchedule::parse("0 0 * * 7").unwrap();
        assert_eq!(sunday7.next_after(start).unwrap().weekday(), Weekday::Sun);
        let weekend = CronSchedule::parse("0 0 * * 6-7").unwrap();
        let days: Vec<Weekday> = weekend
            .0
            .after(&start)
            .take(3)
            .map(|d| d.weekday())
            .collect();
        assert_eq!(days, vec![Weekday::Sat, Weekday::Sun, Weekday::Sat]);
        let named = CronSchedule::parse("0 0 * * mon-fri").unwrap();
        assert!(
            named
                .0
                .after(&start)
                .take(10)
                .all(|d| d.weekday().number_from_monday() <= 5)
        );
    }

    #[test]
    fn cron_with_seconds_and_errors() {
        let every_second = CronSchedule::parse("* * * * * *").unwrap();
        let t = Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap();
        assert_eq!(
            every_second.next_after(t).unwrap(),
            t + chrono::Duration::seconds(1)
        );
        let five_min = CronSchedule::parse("*/5 * * * *").unwrap();
        assert_eq!(
            five_min.next_after(t).unwrap(),
            t + chrono::Duration::minutes(5)
        );
        assert!(CronSchedule::parse("* * * *").is_err());
        assert!(CronSchedule::parse("* * * * 8").is_err());
        assert!(CronSchedule::parse("* * * * blursday").is_err());
    }
}
