//! The metrics service: Prometheus metrics of the backend and its plugins, served at
//! `/metrics` when `backend.metrics.enabled` is `true`.
//!
//! The backend records HTTP requests itself (per plugin, matched route template, method and
//! status class, never the raw path). Core services and plugins record through
//! [`METRICS`](crate::services::core_services::METRICS), a [`PluginMetrics`] that carries the
//! plugin id: scheduler task runs and failures, cache hits and misses, database pool use, the
//! catalog's processing queue, stitch lag and entities per kind, the search index's size and
//! age. See `docs/operations.md`.
//!
//! ```
//! use backlot::services::config::Config;
//! use backlot::services::metrics::MetricsService;
//!
//! let config = Config::from_value(serde_json::json!({"backend": {"metrics": {"enabled": true}}}));
//! let metrics = std::sync::Arc::new(MetricsService::from_config(&config)?);
//! let cache = metrics.for_plugin("todo");
//! cache.record_cache_read(true);
//! cache.record_cache_read(false);
//! let text = metrics.render();
//! assert!(text.contains("backlot_cache_hits_total{plugin=\"todo\"} 1"));
//! assert!(text.contains("backlot_cache_misses_total{plugin=\"todo\"} 1"));
//! # Ok::<(), backlot::services::config::ConfigError>(())
//! ```

mod exposition;
mod families;
#[cfg(feature = "otel")]
pub mod otel;
mod pools;
mod process;
mod task;

pub(crate) use exposition::router;
pub use exposition::{OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE};
pub(crate) use pools::sample_database_pool;
pub(crate) use task::instrument_task;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use prometheus_client::registry::Registry;

use crate::services::config::{Config, ConfigError};
use families::{
    Families, HttpDurationLabels, HttpLabels, KindLabel, LabelCap, PluginLabel, PoolLabels,
    TaskLabels, TypeLabels,
};

/// The default path of the exposition.
pub const DEFAULT_PATH: &str = "/metrics";
/// The default cap on distinct values of a data-driven label (entity kind, task id, search
/// document type) per metric.
pub const DEFAULT_MAX_LABEL_VALUES: usize = 1000;

/// `backend.metrics`: whether `/metrics` is served, where, and behind which token.
///
/// ```
/// use backlot::services::config::Config;
/// use backlot::services::metrics::MetricsConfig;
///
/// let config = Config::from_value(serde_json::json!({"backend": {"metrics": {
///     "enabled": true, "path": "/internal/metrics", "token": "scrape-secret"
/// }}}));
/// let m = MetricsConfig::from_config(&config)?;
/// assert!(m.enabled);
/// assert_eq!(m.path, "/internal/metrics");
/// assert_eq!(m.token.as_deref(), Some("scrape-secret"));
/// assert!(!MetricsConfig::from_config(&Config::default())?.enabled);
/// # Ok::<(), backlot::services::config::ConfigError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// `backend.metrics.enabled` (default `false`): serve the exposition and record.
    pub enabled: bool,
    /// `backend.metrics.path` (default `/metrics`): where the exposition is served.
    pub path: String,
    /// `backend.metrics.token`: when set, scrapes must send `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// `backend.metrics.maxLabelValues` (default 1000): distinct values of a data-driven
    /// label kept per metric; later values are counted under `__other__`.
    pub max_label_values: usize,
}

impl fmt::Debug for MetricsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsConfig")
            .field("enabled", &self.enabled)
            .field("path", &self.path)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("max_label_values", &self.max_label_values)
            .finish()
    }
}

impl MetricsConfig {
    /// Reads `backend.metrics.{enabled, path, token, maxLabelValues}`.
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        let path = config
            .opt_string("backend.metrics.path")?
            .unwrap_or_else(|| DEFAULT_PATH.to_string());
        if !path.starts_with('/') || path.len() < 2 || path.starts_with("/api/") {
            return Err(ConfigError::Invalid {
                path: "backend.metrics.path".into(),
                message: "must be an absolute path outside /api/, such as /metrics".into(),
            });
        }
        let token = config
            .opt_string("backend.metrics.token")?
            .filter(|t| !t.is_empty());
        let max_label_values = match config.opt_u64("backend.metrics.maxLabelValues")? {
            None => DEFAULT_MAX_LABEL_VALUES,
            Some(0) => {
                return Err(ConfigError::Invalid {
                    path: "backend.metrics.maxLabelValues".into(),
                    message: "must be at least 1".into(),
                });
            }
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        };
        Ok(Self {
            enabled: config.opt_bool("backend.metrics.enabled")?.unwrap_or(false),
            path,
            token,
            max_label_values,
        })
    }
}

type Sampler = Box<dyn Fn() + Send + Sync>;

/// The backend's metrics (`core.rootMetrics`): every family, the exposition, and the samplers
/// run before each scrape. When disabled, recording does nothing.
pub struct MetricsService {
    config: MetricsConfig,
    families: Families,
    registry: Mutex<Registry>,
    samplers: Mutex<Vec<Sampler>>,
    kinds: LabelCap,
    tasks: LabelCap,
    doc_types: LabelCap,
    process: process::ProcessSampler,
}

impl fmt::Debug for MetricsService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl MetricsService {
    /// A metrics service from `backend.metrics`.
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        Ok(Self::new(MetricsConfig::from_config(config)?))
    }

    /// A metrics service with `config`.
    pub fn new(config: MetricsConfig) -> Self {
        let families = Families::new();
        let registry = Mutex::new(families.registry());
        let cap = config.max_label_values;
        Self {
            config,
            families,
            registry,
            samplers: Mutex::new(Vec::new()),
            kinds: LabelCap::new(cap),
            tasks: LabelCap::new(cap),
            doc_types: LabelCap::new(cap),
            process: process::ProcessSampler::default(),
        }
    }

    /// Whether metrics are recorded and served.
    pub fn enabled(&self) -> bool {
        self.config.enabled
    }

    /// The configuration.
    pub fn config(&self) -> &MetricsConfig {
        &self.config
    }

    /// The recorder for plugin `plugin_id` (what [`METRICS`](crate::services::core_services::METRICS)
    /// hands to each plugin).
    pub fn for_plugin(self: &Arc<Self>, plugin_id: &str) -> PluginMetrics {
        PluginMetrics {
            root: self.clone(),
            plugin: plugin_id.to_string(),
        }
    }

    /// Records one answered HTTP request. `route` is the matched route template (or a fixed
    /// stand-in for unmatched requests), never the raw path.
    pub(crate) fn record_http(
        &self,
        plugin: &Arc<str>,
        route: &Arc<str>,
        method: &'static str,
        status: u16,
        elapsed: Duration,
    ) {
        if !self.config.enabled {
            return;
        }
        let status_class = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.families
            .http_requests
            .get_or_create(&HttpLabels {
                plugin: plugin.clone(),
                route: route.clone(),
                method,
                status_class,
            })
            .inc();
        self.families
            .http_duration
            .get_or_create(&HttpDurationLabels {
                plugin: plugin.clone(),
                route: route.clone(),
                method,
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Adds a function run before each scrape to refresh gauges (pool sizes, index sizes).
    /// It must be quick and must not block.
    pub fn add_sampler(&self, sampler: impl Fn() + Send + Sync + 'static) {
        self.samplers.lock().push(Box::new(sampler));
    }

    /// Runs the samplers and renders every metric in Prometheus' text format (version 0.0.4).
    pub fn render(&self) -> String {
        self.render_as(false)
    }

    /// Runs the samplers and renders every metric, as OpenMetrics text when `openmetrics`,
    /// else in Prometheus' text format (version 0.0.4).
    pub fn render_as(&self, openmetrics: bool) -> String {
        for sampler in self.samplers.lock().iter() {
            sampler();
        }
        self.process.sample(&self.families);
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry.lock()).is_err() {
            return String::new();
        }
        if openmetrics {
            text
        } else {
            exposition::to_prometheus_text(&text)
        }
    }
}

/// A plugin's metrics recorder ([`METRICS`](crate::services::core_services::METRICS)): records
/// under the plugin's id. Cheap to clone; every method does nothing while metrics are
/// disabled.
///
/// ```
/// use std::sync::Arc;
/// use backlot::services::metrics::{MetricsConfig, MetricsService};
///
/// let metrics = Arc::new(MetricsService::new(MetricsConfig {
///     enabled: true,
///     path: "/metrics".into(),
///     token: None,
///     max_label_values: 10,
/// }));
/// let plugin = metrics.for_plugin("todo");
/// plugin.record_task_run("todo:sync", true);
/// let text = metrics.render();
/// assert!(text.contains(r#"backlot_scheduler_task_runs_total{plugin="todo",task="todo:sync"} 1"#));
/// assert!(text.contains(r#"backlot_scheduler_task_failures_total{plugin="todo",task="todo:sync"} 1"#));
/// ```
#[derive(Clone)]
pub struct PluginMetrics {
    root: Arc<MetricsService>,
    plugin: String,
}

impl fmt::Debug for PluginMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginMetrics")
            .field("plugin", &self.plugin)
            .finish_non_exhaustive()
    }
}

impl PluginMetrics {
    /// The plugin id recorded as the `plugin` label.
    pub fn plugin_id(&self) -> &str {
        &self.plugin
    }

    /// The backend's metrics service.
    pub fn root(&self) -> &Arc<MetricsService> {
        &self.root
    }

    /// Whether metrics are recorded.
    pub fn enabled(&self) -> bool {
        self.root.config.enabled
    }

    fn plugin_label(&self) -> PluginLabel {
        PluginLabel {
            plugin: self.plugin.clone(),
        }
    }

    /// Records a cache read: a hit, or a miss (a failed read counts as a miss).
    pub fn record_cache_read(&self, hit: bool) {
        if !self.enabled() {
            return;
        }
        let f = &self.root.families;
        let family = if hit { &f.cache_hits } else { &f.cache_misses };
        family.get_or_create(&self.plugin_label()).inc();
    }

    /// Records one run of scheduled task `task_id`, and a failure when `failed`.
    pub fn record_task_run(&self, task_id: &str, failed: bool) {
        if !self.enabled() {
            return;
        }
        let labels = TaskLabels {
            plugin: self.plugin.clone(),
            task: self.root.tasks.admit(task_id),
        };
        self.root
            .families
            .scheduler_runs
            .get_or_create(&labels)
            .inc();
        if failed {
            self.root
                .families
                .scheduler_failures
                .get_or_create(&labels)
                .inc();
        }
    }

    /// Sets the database pool's connections in use, idle, and its maximum.
    pub fn set_database_pool(&self, in_use: u64, idle: u64, max: u64) {
        if !self.enabled() {
            return;
        }
        let f = &self.root.families;
        for (state, n) in [("in_use", in_use), ("idle", idle)] {
            f.db_connections
                .get_or_create(&PoolLabels {
                    plugin: self.plugin.clone(),
                    state,
                })
                .set(gauge_value(n));
        }
        f.db_max_connections
            .get_or_create(&self.plugin_label())
            .set(gauge_value(max));
    }

    /// Sets the catalog's processing queue depth (entities due at the last pass) and stitch
    /// lag (how long that pass took until its entities were readable).
    pub fn set_catalog_processing(&self, queue_depth: u64, stitch_lag: Duration) {
        if !self.enabled() {
            return;
        }
        let f = &self.root.families;
        f.catalog_queue_depth.set(gauge_value(queue_depth));
        f.catalog_stitch_lag.set(stitch_lag.as_secs_f64());
    }

    /// Sets the number of catalog entities of each kind; kinds no longer listed drop to 0.
    pub fn set_catalog_entities(&self, per_kind: &[(String, u64)]) {
        if !self.enabled() {
            return;
        }
        let family = &self.root.families.catalog_entities;
        let mut totals: std::collections::HashMap<String, u64> = Default::default();
        for (kind, n) in per_kind {
            *totals
                .entry(self.root.kinds.admit(&kind.to_lowercase()))
                .or_default() += n;
        }
        // Kinds seen before and absent now are set to 0 rather than removed, so that a
        // series does not vanish between scrapes.
        for (kind, n) in &totals {
            family
                .get_or_create(&KindLabel { kind: kind.clone() })
                .set(gauge_value(*n));
        }
        for kind in self.root.kinds.values() {
            if !totals.contains_key(&kind) {
                family.get_or_create(&KindLabel { kind }).set(0);
            }
        }
    }

    /// Sets the search index's documents of `doc_type` and the time since it was rebuilt.
    pub fn set_search_index(&self, doc_type: &str, documents: u64, age: Duration) {
        if !self.enabled() {
            return;
        }
        let labels = TypeLabels {
            plugin: self.plugin.clone(),
            doc_type: self.root.doc_types.admit(doc_type),
        };
        let f = &self.root.families;
        f.search_documents
            .get_or_create(&labels)
            .set(gauge_value(documents));
        f.search_age.get_or_create(&labels).set(age.as_secs_f64());
    }

    /// Adds a function run before each scrape (see [`MetricsService::add_sampler`]).
    pub fn add_sampler(&self, sampler: impl Fn() + Send + Sync + 'static) {
        self.root.add_sampler(sampler);
    }
}

fn gauge_value(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
