//! The plugin's config: `search.*`, read once at start into [`SearchConfig`].

use std::num::NonZeroUsize;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

use super::params::QueryLimits;
use crate::plugins::search::node::SearchError;
use crate::services::config::{Config, ConfigError};
use crate::services::core_services::data_dir;
use crate::services::scheduler::TaskSchedule;

const DEFAULT_PAGE_LIMIT: usize = 25;
const DEFAULT_MAX_PAGE_LIMIT: usize = 100;
const DEFAULT_MAX_TERM_LENGTH: usize = 100;

/// Which engine the config asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EngineChoice {
    /// tantivy in memory.
    EmbeddedInMemory,
    /// tantivy in a directory.
    EmbeddedDirectory(PathBuf),
    /// PostgreSQL (`search.pg` is set), with its query bounds.
    Postgres(PgSettings),
}

/// `search.pg`: the PostgreSQL engine's query bounds (absent keys keep the defaults).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PgSettings {
    /// `search.pg.candidateLimit`.
    pub(crate) candidate_limit: Option<NonZeroUsize>,
    /// `search.pg.countLimit`.
    pub(crate) count_limit: Option<NonZeroUsize>,
    /// `search.pg.maxExpansions`.
    pub(crate) max_expansions: Option<NonZeroUsize>,
}

/// `search`: the query limits and the engine.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SearchConfig {
    max_page_limit: Option<NonZeroUsize>,
    max_term_length: Option<NonZeroUsize>,
    /// Present (any value) selects the PostgreSQL engine.
    pg: Option<Value>,
    #[serde(default)]
    embedded: EmbeddedConfig,
    /// The default data directory (`backend.dataDir`/search), resolved at read time.
    #[serde(skip)]
    default_directory: PathBuf,
}

/// `search.embedded`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EmbeddedConfig {
    #[serde(default)]
    in_memory: bool,
    directory: Option<PathBuf>,
    /// `search.embedded.indexingMemoryBytes`.
    indexing_memory_bytes: Option<usize>,
}

/// `search.collators.<type>`: what the collator modules read.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CollatorConfig {
    /// `schedule`, parsed by [`TaskSchedule::from_config_value`].
    pub(crate) schedule: Option<Value>,
    /// `locationTemplate`.
    pub(crate) location_template: Option<String>,
    /// `batchSize` (catalog; 0 counts as 1).
    pub(crate) batch_size: Option<usize>,
    /// `parallelismLimit` (techdocs; 0 counts as 1).
    pub(crate) parallelism_limit: Option<usize>,
    /// `filter` (catalog): an object or a list of objects of strings or lists of strings.
    pub(crate) filter: Option<Value>,
}

/// A config error as the plugin reports it, naming the key path.
pub(crate) fn config_error(e: ConfigError) -> SearchError {
    let key = e.path().unwrap_or("search").to_owned();
    let full = e.to_string();
    let message = full
        .strip_prefix(&format!("{key}: "))
        .map_or_else(|| full.clone(), str::to_string);
    SearchError::Config { key, message }
}

impl SearchConfig {
    /// Reads `search` (absent means the defaults).
    pub(crate) fn read(config: &Config) -> Result<Self, SearchError> {
        let mut read: Self = config
            .opt_get_as("search")
            .map_err(config_error)?
            .unwrap_or_default();
        read.default_directory = std::env::current_dir()
            .map_err(|e| SearchError::Config {
                key: "search.embedded.directory".into(),
                message: e.to_string(),
            })?
            .join(data_dir(config).map_err(config_error)?)
            .join("search");
        Ok(read)
    }

    pub(crate) fn query_limits(&self) -> QueryLimits {
        let max_page_limit = self
            .max_page_limit
            .map_or(DEFAULT_MAX_PAGE_LIMIT, NonZeroUsize::get);
        QueryLimits {
            default_page_limit: DEFAULT_PAGE_LIMIT.min(max_page_limit),
            max_page_limit,
            max_term_length: self
                .max_term_length
                .map_or(DEFAULT_MAX_TERM_LENGTH, NonZeroUsize::get),
        }
    }

    /// `search.embedded.indexingMemoryBytes`, or the default.
    pub(crate) fn indexing_memory(&self) -> usize {
        self.embedded
            .indexing_memory_bytes
            .unwrap_or(super::embedded::WRITER_MEMORY)
    }

    pub(crate) fn engine_choice(&self) -> Result<EngineChoice, SearchError> {
        if let Some(pg) = &self.pg {
            let settings = match pg {
                Value::Null | Value::Bool(true) => PgSettings::default(),
                other => PgSettings::deserialize(other).map_err(|e| SearchError::Config {
                    key: "search.pg".into(),
                    message: e.to_string(),
                })?,
            };
            return Ok(EngineChoice::Postgres(settings));
        }
        if self.embedded.in_memory {
            return Ok(EngineChoice::EmbeddedInMemory);
        }
        Ok(EngineChoice::EmbeddedDirectory(
            self.embedded
                .directory
                .clone()
                .unwrap_or_else(|| self.default_directory.clone()),
        ))
    }
}

impl CollatorConfig {
    /// Reads `search.collators.<collator>` (absent means the defaults).
    pub(crate) fn read(config: &Config, collator: &str) -> Result<Self, SearchError> {
        Ok(config
            .opt_get_as(&format!("search.collators.{collator}"))
            .map_err(config_error)?
            .unwrap_or_default())
    }

    /// The `schedule`, or `default`.
    pub(crate) fn schedule(
        &self,
        collator: &str,
        default: TaskSchedule,
    ) -> Result<TaskSchedule, SearchError> {
        match &self.schedule {
            None => Ok(default),
            Some(value) => {
                TaskSchedule::from_config_value(value).map_err(|e| SearchError::Config {
                    key: format!("search.collators.{collator}.schedule"),
                    message: e.to_string(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_and_limits() {
        let c = Config::from_value(serde_json::json!({
            "search": { "maxPageLimit": 50, "embedded": { "directory": "/tmp/x" } }
        }));
        let s = SearchConfig::read(&c).unwrap();
        assert_eq!(
            s.engine_choice().unwrap(),
            EngineChoice::EmbeddedDirectory("/tmp/x".into())
        );
        assert_eq!(s.query_limits().max_page_limit, 50);
        let c = Config::from_value(serde_json::json!({ "search": { "pg": {} } }));
        let s = SearchConfig::read(&c).unwrap();
        assert_eq!(
            s.engine_choice().unwrap(),
            EngineChoice::Postgres(PgSettings::default())
        );
        let c = Config::from_value(
            serde_json::json!({ "search": { "pg": { "countLimit": 5, "maxExpansions": 3 } } }),
        );
        let s = SearchConfig::read(&c).unwrap();
        assert_eq!(
            s.engine_choice().unwrap(),
            EngineChoice::Postgres(PgSettings {
                candidate_limit: None,
                count_limit: NonZeroUsize::new(5),
                max_expansions: NonZeroUsize::new(3),
            })
        );
        let c = Config::from_value(serde_json::json!({ "search": { "pg": { "countLimit": 0 } } }));
        match SearchConfig::read(&c).unwrap().engine_choice() {
            Err(SearchError::Config { key, .. }) => assert_eq!(key, "search.pg"),
            other => panic!("expected a config error, got {other:?}"),
        }
        let c = Config::from_value(serde_json::json!({ "search": { "maxPageLimit": 0 } }));
        match SearchConfig::read(&c) {
            Err(SearchError::Config { key, .. }) => assert_eq!(key, "search.maxPageLimit"),
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn collator_config_names_the_key() {
        let c = Config::from_value(serde_json::json!({
            "search": { "collators": { "catalog": { "batchSize": "many" } } }
        }));
        match CollatorConfig::read(&c, "catalog") {
            Err(SearchError::Config { key, .. }) => {
                assert_eq!(key, "search.collators.catalog.batchSize");
            }
            other => panic!("expected a config error, got {other:?}"),
        }
    }
}
