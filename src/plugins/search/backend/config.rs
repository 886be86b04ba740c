//! The plugin's config: `search.*`.

use std::path::PathBuf;

use super::params::QueryLimits;
use crate::plugins::search::node::SearchError;
use crate::services::config::Config;
use crate::services::core_services::data_dir;

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
    /// PostgreSQL (`search.pg` is set).
    Postgres,
}

fn config_err(key: &str, e: impl std::fmt::Display) -> SearchError {
    SearchError::Config {
        key: key.to_string(),
        message: e.to_string(),
    }
}

fn opt_usize(config: &Config, key: &str, default: usize) -> Result<usize, SearchError> {
    match config.opt_u64(key).map_err(|e| config_err(key, e))? {
        None => Ok(default),
        Some(0) => Err(config_err(key, "must be at least 1")),
        Some(n) => usize::try_from(n).map_err(|e| config_err(key, e)),
    }
}

pub(crate) fn query_limits(config: &Config) -> Result<QueryLimits, SearchError> {
    let max_page_limit = opt_usize(config, "search.maxPageLimit", DEFAULT_MAX_PAGE_LIMIT)?;
    Ok(QueryLimits {
        default_page_limit: DEFAULT_PAGE_LIMIT.min(max_page_limit),
        max_page_limit,
        max_term_length: opt_usize(config, "search.maxTermLength", DEFAULT_MAX_TERM_LENGTH)?,
    })
}

pub(crate) fn engine_choice(config: &Config) -> Result<EngineChoice, SearchError> {
    if config.has("search.pg") {
        return Ok(EngineChoice::Postgres);
    }
    let in_memory = config
        .opt_bool("search.embedded.inMemory")
        .map_err(|e| config_err("search.embedded.inMemory", e))?
        .unwrap_or(false);
    if in_memory {
        return Ok(EngineChoice::EmbeddedInMemory);
    }
    let dir = match config
        .opt_string("search.embedded.directory")
        .map_err(|e| config_err("search.embedded.directory", e))?
    {
        Some(d) => PathBuf::from(d),
        None => std::env::current_dir()
            .map_err(|e| config_err("search.embedded.directory", e))?
            .join(data_dir(config).map_err(|e| config_err("backend.dataDir", e))?)
            .join("search"),
    };
    Ok(EngineChoice::EmbeddedDirectory(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_and_limits() {
        let c = Config::from_value(serde_json::json!({
            "search": { "maxPageLimit": 50, "embedded": { "directory": "/tmp/x" } }
        }));
        assert_eq!(
            engine_choice(&c).unwrap(),
            EngineChoice::EmbeddedDirectory("/tmp/x".into())
        );
        assert_eq!(query_limits(&c).unwrap().max_page_limit, 50);
        let c = Config::from_value(serde_json::json!({ "search": { "pg": {} } }));
        assert_eq!(engine_choice(&c).unwrap(), EngineChoice::Postgres);
        let c = Config::from_value(serde_json::json!({ "search": { "maxPageLimit": 0 } }));
        assert!(matches!(query_limits(&c), Err(SearchError::Config { .. })));
    }
}
