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

/// Shorthands for each level.
pub trait LoggerServiceExt: LoggerService {
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
