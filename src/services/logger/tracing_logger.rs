use std::sync::Arc;

use tracing_subscriber::EnvFilter;

use super::{LogFields, LogLevel, LoggerService};
use crate::services::config::Config;

/// The default logger: writes [`tracing`] events with the logger's fields rendered into a
/// `fields` value and, for plugin loggers, a `plugin` field.
#[derive(Debug, Clone, Default)]
pub struct TracingLogger {
    plugin: Option<String>,
    fields: LogFields,
}

impl TracingLogger {
    /// A root logger with no fields.
    pub fn new() -> Self {
        Self::default()
    }
}

impl LoggerService for TracingLogger {
    fn log(&self, level: LogLevel, message: &str, fields: &[(&str, &str)]) {
        let mut rendered = String::new();
        for (k, v) in self
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(fields.iter().copied())
        {
            if !rendered.is_empty() {
                rendered.push(' ');
            }
            rendered.push_str(k);
            rendered.push('=');
            rendered.push_str(v);
        }
        let plugin = self.plugin.as_deref().unwrap_or("");
        match level {
            LogLevel::Debug => tracing::debug!(plugin, fields = %rendered, "{message}"),
            LogLevel::Info => tracing::info!(plugin, fields = %rendered, "{message}"),
            LogLevel::Warn => tracing::warn!(plugin, fields = %rendered, "{message}"),
            LogLevel::Error => tracing::error!(plugin, fields = %rendered, "{message}"),
        }
    }

    fn child(&self, fields: LogFields) -> Arc<dyn LoggerService> {
        let mut all = self.fields.clone();
        let mut plugin = self.plugin.clone();
        for (k, v) in fields {
            if k == "plugin" {
                plugin = Some(v);
            } else {
                all.push((k, v));
            }
        }
        Arc::new(Self {
            plugin,
            fields: all,
        })
    }
}

/// Installs a global `tracing` subscriber from config, unless one is already installed.
///
/// `backend.logging.format` is `text` (default) or `json`; `backend.logging.level` (default
/// `info`) takes an `EnvFilter` directive such as `info,backlot=debug`; the `LOG_LEVEL`
/// environment variable, as in Backstage, wins over both. Returns whether this call installed
/// the subscriber.
///
/// ```
/// let config = backlot::services::config::Config::empty();
/// let _installed = backlot::services::logger::init_tracing(&config);
/// ```
pub fn init_tracing(config: &Config) -> bool {
    let level = std::env::var("LOG_LEVEL")
        .ok()
        .or_else(|| config.opt_string("backend.logging.level").ok().flatten())
        .unwrap_or_else(|| "info".to_string());
    let filter = EnvFilter::try_new(&level).unwrap_or_else(|_| EnvFilter::new("info"));
    let json = matches!(
        config
            .opt_string("backend.logging.format")
            .ok()
            .flatten()
            .as_deref(),
        Some("json")
    );
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        builder.json().try_init().is_ok()
    } else {
        builder.try_init().is_ok()
    }
}
