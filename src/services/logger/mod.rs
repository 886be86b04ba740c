//! The logger services: `core.rootLogger` and the per-plugin `core.logger`.
//!
//! Records go to [`tracing`] by default, with the plugin id as a `plugin` field. Tests swap in
//! a [`CapturingLogger`] to assert on records.

mod capture;
mod tracing_logger;

pub use capture::{CapturedRecord, CapturingLogger};
pub use tracing_logger::{TracingLogger, init_tracing};

use std::fmt;
use std::sync::Arc;

/// The level of a log record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Something odd that did not fail.
    Warn,
    /// A failure.
    Error,
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        })
    }
}

/// Fields attached to a log record: key/value pairs.
pub type LogFields = Vec<(String, String)>;

/// A logger, as Backstage's `LoggerService`: leveled records with fields, and children that add
/// fields to every record.
///
/// ```
/// use backlot::services::logger::{CapturingLogger, LoggerService, LoggerServiceExt};
///
/// let logger = CapturingLogger::new();
/// let child = logger.child(vec![("plugin".into(), "catalog".into())]);
/// child.info("started");
/// assert_eq!(logger.records()[0].field("plugin"), Some("catalog"));
/// ```
pub trait LoggerService: Send + Sync + fmt::Debug + 'static {
    /// Writes one record.
    fn log(&self, level: LogLevel, message: &str, fields: &[(&str, &str)]);
    /// A logger that adds `fields` to every record.
    fn child(&self, fields: LogFields) -> Arc<dyn LoggerService>;
}

/// Shorthands for each level, with or without structured fields.
///
/// ```
/// use backlot::services::logger::{CapturingLogger, LoggerServiceExt};
///
/// let logger = CapturingLogger::new();
/// logger.info_with("synced todos", &[("count", &12), ("source", &"github")]);
/// let record = &logger.records()[0];
/// assert_eq!(record.message, "synced todos");
/// assert_eq!(record.field("count"), Some("12"));
/// assert_eq!(record.field("source"), Some("github"));
/// ```
pub trait LoggerServiceExt: LoggerService {
    /// Logs at `level` with key/value fields; values are anything `Display`.
    fn log_with(&self, level: LogLevel, message: &str, fields: &[(&str, &dyn fmt::Display)]) {
        let values: Vec<String> = fields.iter().map(|(_, v)| v.to_string()).collect();
        let pairs: Vec<(&str, &str)> = fields
            .iter()
            .zip(&values)
            .map(|((k, _), v)| (*k, v.as_str()))
            .collect();
        self.log(level, message, &pairs);
    }
    /// Logs at debug level with fields.
    fn debug_with(&self, message: &str, fields: &[(&str, &dyn fmt::Display)]) {
        self.log_with(LogLevel::Debug, message, fields);
    }
    /// Logs at info level with fields.
    fn info_with(&self, message: &str, fields: &[(&str, &dyn fmt::Display)]) {
        self.log_with(LogLevel::Info, message, fields);
    }
    /// Logs at warn level with fields.
    fn warn_with(&self, message: &str, fields: &[(&str, &dyn fmt::Display)]) {
        self.log_with(LogLevel::Warn, message, fields);
    }
    /// Logs at error level with fields.
    fn error_with(&self, message: &str, fields: &[(&str, &dyn fmt::Display)]) {
        self.log_with(LogLevel::Error, message, fields);
    }
    /// Logs at debug level.
    fn debug(&self, message: &str) {
        self.log(LogLevel::Debug, message, &[]);
    }
    /// Logs at info level.
    fn info(&self, message: &str) {
        self.log(LogLevel::Info, message, &[]);
    }
    /// Logs at warn level.
    fn warn(&self, message: &str) {
        self.log(LogLevel::Warn, message, &[]);
    }
    /// Logs at error level.
    fn error(&self, message: &str) {
        self.log(LogLevel::Error, message, &[]);
    }
}

impl<T: LoggerService + ?Sized> LoggerServiceExt for T {}
