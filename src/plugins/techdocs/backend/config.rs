//! `techdocs.*` configuration.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::TechdocsError;
use crate::services::config::{Config, ConfigError, parse_duration_value};
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
    /// How long a replica's build lease lives without renewal (renewed every third of it
    /// while the build runs): `techdocs.buildLeaseTimeout` (default 2 minutes). A replica
    /// that dies mid-build holds up other replicas' builds of that site this long at most.
    pub build_lease_timeout: Duration,
    /// `techdocs.generator.runIn`, accepted for compatibility: builds always run natively.
    pub run_in: Option<String>,
}

/// `techdocs` as written in the config; [`TechdocsConfig::from_config`] resolves defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawConfig {
    builder: Option<RawBuilder>,
    #[serde(default)]
    publisher: RawPublisher,
    #[serde(default)]
    legacy_use_case_sensitive_triplet_paths: bool,
    #[serde(default)]
    cache: RawCache,
    #[serde(default)]
    generator: RawGenerator,
    build_lease_timeout: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
enum RawBuilder {
    Local,
    External,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPublisher {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    local: RawLocal,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLocal {
    publish_directory: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
struct RawCache {
    /// A duration in any form `parse_duration_value` reads.
    ttl: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawGenerator {
    run_in: Option<String>,
}

fn config_error(e: ConfigError) -> TechdocsError {
    let key = e.path().unwrap_or("techdocs").to_owned();
    let full = e.to_string();
    let reason = full
        .strip_prefix(&format!("{key}: "))
        .map_or_else(|| full.clone(), str::to_owned);
    TechdocsError::Config { key, reason }
}

impl TechdocsConfig {
    /// Reads `techdocs` once, into one typed struct.
    ///
    /// # Errors
    ///
    /// [`TechdocsError::Config`] naming the key path.
    pub fn from_config(config: &Config) -> Result<Self, TechdocsError> {
        let raw: RawConfig = config
            .opt_get_as("techdocs")
            .map_err(config_error)?
            .unwrap_or_default();
        let bad = |key: &str, e: &dyn std::fmt::Display| TechdocsError::Config {
            key: key.to_owned(),
            reason: e.to_string(),
        };
        let builder = match raw.builder {
            None | Some(RawBuilder::Local) => BuilderMode::Local,
            Some(RawBuilder::External) => BuilderMode::External,
        };
        let key = "techdocs.publisher.local.publishDirectory";
        let publish_directory = match raw.publisher.local.publish_directory {
            Some(dir) => dir,
            None => std::env::current_dir()
                .map_err(|e| bad(key, &e))?
                .join(data_dir(config).map_err(config_error)?)
                .join("techdocs"),
        };
        let check_interval = match &raw.cache.ttl {
            None => Duration::from_secs(60),
            Some(ttl) => parse_duration_value(ttl).map_err(|e| bad("techdocs.cache.ttl", &e))?,
        };
        let build_lease_timeout = match &raw.build_lease_timeout {
            None => Duration::from_secs(120),
            Some(t) => {
                parse_duration_value(t).map_err(|e| bad("techdocs.buildLeaseTimeout", &e))?
            }
        };
        Ok(Self {
            builder,
            build_lease_timeout,
            publisher_type: raw.publisher.kind.unwrap_or_else(|| "local".to_owned()),
            publish_directory,
            case_sensitive_paths: raw.legacy_use_case_sensitive_triplet_paths,
            check_interval,
            run_in: raw.generator.run_in,
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
        assert_eq!(td.build_lease_timeout, Duration::from_secs(120));

        let bad = Config::from_value(serde_json::json!({"techdocs": {"builder": "docker"}}));
        assert!(matches!(
            TechdocsConfig::from_config(&bad),
            Err(TechdocsError::Config { ref key, .. }) if key == "techdocs.builder"
        ));
        let bad = Config::from_value(serde_json::json!({"techdocs": {"cache": {"ttl": "soon"}}}));
        assert!(TechdocsConfig::from_config(&bad).is_err());
    }
}
