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

/// Renders fields as `key=value key2="two words"`, quoting values that would be ambiguous.
pub(crate) fn render_fields<'a>(fields: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut rendered = String::new();
    for (k, v) in fields {
        if !rendered.is_empty() {
            rendered.push(' ');
        }
        rendered.push_str(k);
        rendered.push('=');
        if v.is_empty() || v.contains(|c: char| c.is_whitespace() || c == '"' || c == '=') {
            rendered.push_str(&format!("{v:?}"));
        } else {
            rendered.push_str(v);
        }
    }
    rendered
}

/// One `tracing` event per level and shape: a field is only written when it has a value.
macro_rules! emit {
    ($level:ident, $plugin:expr, $fields:expr, $message:expr) => {
        match ($plugin, $fields) {
            (Some(plugin), Some(fields)) => {
                tracing::$level!(plugin, fields = %fields, "{}", $message)
            }
            (Some(plugin), None) => tracing::$level!(plugin, "{}", $message),
            (None, Some(fields)) => tracing::$level!(fields = %fields, "{}", $message),
            (None, None) => tracing::$level!("{}", $message),
        }
    };
}

impl LoggerService for TracingLogger {
    fn log(&self, level: LogLevel, message: &str, fields: &[(&str, &str)]) {
        let rendered = render_fields(
            self.fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .chain(fields.iter().copied()),
        );
        let fields = (!rendered.is_empty()).then_some(rendered);
        let plugin = self.plugin.as_deref();
        match level {
            LogLevel::Debug => emit!(debug, plugin, fields, message),
            LogLevel::Info => emit!(info, plugin, fields, message),
            LogLevel::Warn => emit!(warn, plugin, fields, message),
            LogLevel::Error => emit!(error, plugin, fields, message),
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
/// environment variable, as in Backstage, wins over both. Text output is coloured only when
/// standard output is a terminal and `NO_COLOR` is not set, so log files carry no ANSI
/// escapes. Returns whether this call installed the subscriber.
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
    let ansi = use_colour(
        std::io::IsTerminal::is_terminal(&std::io::stdout()),
        std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
    );
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    if json {
        install(builder.json().finish())
    } else {
        install(builder.finish())
    }
}

/// Installs `subscriber` as the global default, with the OpenTelemetry layer when the `otel`
/// feature is on and the environment names an OTLP endpoint.
fn install<S>(subscriber: S) -> bool
where
    S: tracing::Subscriber
        + Send
        + Sync
        + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    use tracing_subscriber::util::SubscriberInitExt;
    #[cfg(feature = "otel")]
    {
        use tracing_subscriber::layer::SubscriberExt;
        let (otel, error) = match crate::services::metrics::otel::layer() {
            Ok(layer) => (layer, None),
            Err(e) => (None, Some(e)),
        };
        let installed = subscriber.with(otel).try_init().is_ok();
        if let Some(e) = error {
            tracing::warn!(error = %e, "OpenTelemetry tracing is off");
        }
        installed
    }
    #[cfg(not(feature = "otel"))]
    {
        subscriber.try_init().is_ok()
    }
}

/// ANSI colour only on a terminal, and never with `NO_COLOR` (<https://no-color.org>).
fn use_colour(stdout_is_terminal: bool, no_color: bool) -> bool {
    stdout_is_terminal && !no_color
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::logger::LoggerServiceExt;
    use std::io::Write;
    use std::sync::Mutex;

    /// A writer collecting everything the fmt subscriber writes.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut b) = self.0.lock() {
                b.extend_from_slice(buf);
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The text a non-terminal `init_tracing` subscriber writes while `f` runs.
    fn captured(f: impl FnOnce()) -> String {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(use_colour(false, false))
            .without_time()
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = buffer.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(use_colour(true, false));
        assert!(!use_colour(false, false));
        assert!(!use_colour(true, true));
        let out = captured(|| TracingLogger::new().info("plain"));
        assert!(!out.contains('\u{1b}'), "{out:?}");
    }

    #[test]
    fn no_empty_fields_and_no_empty_plugin() {
        let out = captured(|| TracingLogger::new().info("started"));
        assert!(out.contains("started"), "{out}");
        assert!(!out.contains("fields="), "{out}");
        assert!(!out.contains("plugin="), "{out}");
    }

    #[test]
    fn structured_fields_are_rendered_once_and_quoted_when_needed() {
        let logger = TracingLogger::new().child(vec![("plugin".into(), "todo".into())]);
        let out = captured(|| {
            logger.info_with("served", &[("count", &3), ("title", &"two words")]);
        });
        assert!(out.contains(r#"fields=count=3 title="two words""#), "{out}");
        assert_eq!(out.matches("todo").count(), 1, "{out}");
    }

    #[test]
    fn the_plugin_is_a_field_of_its_own_not_repeated_in_fields() {
        let logger = TracingLogger::new()
            .child(vec![("plugin".into(), "todo".into())])
            .child(vec![("task".into(), "purge".into())]);
        let out = captured(|| logger.info("ran"));
        assert!(out.contains(r#"plugin="todo" fields=task=purge"#), "{out}");
        assert_eq!(out.matches("todo").count(), 1, "{out}");
    }
}
