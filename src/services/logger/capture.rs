use std::sync::{Arc, Mutex};

use super::{LogFields, LogLevel, LoggerService};

/// One record kept by a [`CapturingLogger`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedRecord {
    /// The level.
    pub level: LogLevel,
    /// The message.
    pub message: String,
    /// The fields, the logger's own first.
    pub fields: LogFields,
}

impl CapturedRecord {
    /// The value of a field, if present.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A logger that keeps every record in memory, for tests. Children share the parent's records.
///
/// ```
/// use backlot::services::logger::{CapturingLogger, LoggerServiceExt};
///
/// let logger = CapturingLogger::new();
/// logger.warn("careful");
/// assert_eq!(logger.records().len(), 1);
/// assert_eq!(logger.messages(), vec!["careful".to_string()]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct CapturingLogger {
    records: Arc<Mutex<Vec<CapturedRecord>>>,
    fields: LogFields,
}

impl CapturingLogger {
    /// An empty capturing logger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every record written through this logger or its children.
    pub fn records(&self) -> Vec<CapturedRecord> {
        self.records.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// The messages of every record, in order.
    pub fn messages(&self) -> Vec<String> {
        self.records().into_iter().map(|r| r.message).collect()
    }
}

impl LoggerService for CapturingLogger {
    fn log(&self, level: LogLevel, message: &str, fields: &[(&str, &str)]) {
        let mut all = self.fields.clone();
        all.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        if let Ok(mut records) = self.records.lock() {
            records.push(CapturedRecord {
                level,
                message: message.to_string(),
                fields: all,
            });
        }
    }

    fn child(&self, fields: LogFields) -> Arc<dyn LoggerService> {
        let mut all = self.fields.clone();
        all.extend(fields);
        Arc::new(Self {
            records: self.records.clone(),
            fields: all,
        })
    }
}
