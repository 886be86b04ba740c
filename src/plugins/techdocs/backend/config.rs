//! `techdocs.*` configuration.

use std::path::PathBuf;
use std::time::Duration;

use super::TechdocsError;
use crate::services::config::Config;
use crate::services::core_services::data_dir;

/// Who builds the docs (`techdocs.builder`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BuilderMode {
    /// The backend builds on first view and rebuilds when the source changed.
    #[default]
    Local,
    /// CI builds and publishes; the backend only serves.
    External,
}

/// The plugin's settings.
///
/// ```
/// use std::time::Duration;
/// use backlot::plugins::techdocs::backend::{BuilderMode, TechdocsConfig};
/// use backlot::services::config::Config;
///
/// let config = Config::from_value(serde_json::json!({
///     "techdocs": {
///         "builder": "external",
///         "publisher": { "type": "local", "local": { "publishDirectory": "/srv/docs" } },
///         "cache": { "ttl": "5m" },
///     }
/// }));
/// let td = TechdocsConfig::from_config(&config)?;
/// assert_eq!(td.builder, BuilderMode::External);
/// assert_eq!(td.publish_directory, std::path::PathBuf::from("/srv/docs"));
/// assert_eq!(td.check_interval, Duration::from_secs(300));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TechdocsConfig {
    /// `techdocs.builder` (default `local`).
    pub builder: BuilderMode,
    /// `techdocs.publisher.type` (default `local`).
    pub publisher_type: String,
    /// `techdocs.publisher.local.publishDirectory` (default `<working dir>/data/techdocs`).
    pub publish_directory: PathBuf,
    /// `techdocs.legacyUseCaseSensitiveTripletPaths` (default false).
    pub case_sensitive_paths: bool,
    /// How often a local build checks the source for changes: `techdocs.cache.ttl`
    /// (default 60 s; `0` checks on every sync).
    pub check_interval: Duration,
    /// `techdocs.generator.runIn`, accepted for compatibility: builds always run natively.
    pub run_in: Option<String>,
}

impl TechdocsConfig {
    /// Reads `techdocs.*`.
    ///
    /// # Errors
    ///
    /// [`TechdocsError::Config`] naming the key.
    pub fn from_config(config: &Config) -> Result<Self, TechdocsError> {
        let bad = |key: &str, e: &dyn std::fmt::Display| TechdocsError::Config {
            key: key.to_owned(),
            reason: e.to_string(),
        };
        let builder = match config
            .opt_string("techdocs.builder")
            .map_err(|e| bad("techdocs.builder", &e))?
            .as_deref()
        {
            None | Some("local") => BuilderMode::Local,
            Some("external") => BuilderMode::External,
            Some(other) => {
                return Err(bad(
                    "techdocs.builder",
                    &format!("expected 'local' or 'external', got '{other}'"),
                ));
            }
        };
        let publisher_type = config
            .opt_string("techdocs.publisher.type")
            .map_err(|e| bad("techdocs.publisher.type", &e))?
            .unwrap_or_else(|| "local".to_owned());
        let key = "techdocs.publisher.local.publishDirectory";
        let publish_directory = match config.opt_string(key).map_err(|e| bad(key, &e))? {
            Some(dir) => PathBuf::from(dir),
            None => std::env::current_dir()
                .map_err(|e| bad(key, &e))?
                .join(data_dir(config).map_err(|e| bad("backend.dataDir", &e))?)
                .join("techdocs"),
        };
        let key = "techdocs.legacyUseCaseSensitiveTripletPaths";
        let case_sensitive_paths = config
            .opt_bool(key)
            .map_err(|e| bad(key, &e))?
            .unwrap_or(false);
        let key = "techdocs.cache.ttl";
        let check_interval = config
            .opt_duration(key)
            .map_err(|e| bad(key, &e))?
            .unwrap_or(Duration::from_secs(60));
        let key = "techdocs.generator.runIn";
        let run_in = config.opt_string(key).map_err(|e| bad(key, &e))?;
        Ok(Self {
            builder,
            publisher_type,
            publish_directory,
            case_sensitive_paths,
            check_interval,
            run_in,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_invalid_values() {
        let td = TechdocsConfig::from_config(&Config::from_value(serde_json::json!({}))).unwrap();
        assert_eq!(td.builder, BuilderMode::Local);
        assert_eq!(td.publisher_type, "local");
        assert!(td.publish_directory.ends_with("data/techdocs"));
        assert!(!td.case_sensitive_paths);
        assert_eq!(td.check_interval, Duration::from_secs(60));

        let bad = Config::from_value(serde_json::json!({"techdocs": {"builder": "docker"}}));
        assert!(matches!(
            TechdocsConfig::from_config(&bad),
            Err(TechdocsError::Config { ref key, .. }) if key == "techdocs.builder"
        ));
        let bad = Config::from_value(serde_json::json!({"techdocs": {"cache": {"ttl": "soon"}}}));
        assert!(TechdocsConfig::from_config(&bad).is_err());
    }
}
