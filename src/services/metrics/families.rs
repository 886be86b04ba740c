//! The metric families the backend records, with their label sets.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use parking_lot::Mutex;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// The label value standing in for every value past a family's cap.
pub(crate) const OTHER: &str = "__other__";

/// Request duration buckets, in seconds: 1 ms to 10 s.
const DURATION_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct HttpLabels {
    pub(crate) plugin: Arc<str>,
    pub(crate) route: Arc<str>,
    pub(crate) method: &'static str,
    pub(crate) status_class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct HttpDurationLabels {
    pub(crate) plugin: Arc<str>,
    pub(crate) route: Arc<str>,
    pub(crate) method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct PluginLabel {
    pub(crate) plugin: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct TaskLabels {
    pub(crate) plugin: String,
    pub(crate) task: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct KindLabel {
    pub(crate) kind: String,
}

/// `plugin` and `type` (a keyword in Rust, hence the hand-written encoding).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub(crate) struct TypeLabels {
    pub(crate) plugin: String,
    pub(crate) doc_type: String,
}

impl EncodeLabelSet for TypeLabels {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelSetEncoder<'_>,
    ) -> Result<(), std::fmt::Error> {
        use prometheus_client::encoding::EncodeLabel;
        ("plugin", self.plugin.as_str()).encode(encoder.encode_label())?;
        ("type", self.doc_type.as_str()).encode(encoder.encode_label())
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct PoolLabels {
    pub(crate) plugin: String,
    pub(crate) state: &'static str,
}

type FloatGauge = Gauge<f64, AtomicU64>;

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// Every family, registered in one registry.
#[derive(Debug)]
pub(crate) struct Families {
    pub(crate) http_requests: Family<HttpLabels, Counter>,
    pub(crate) http_duration: Family<HttpDurationLabels, Histogram, fn() -> Histogram>,
    pub(crate) catalog_queue_depth: Gauge,
    pub(crate) catalog_stitch_lag: FloatGauge,
    pub(crate) catalog_entities: Family<KindLabel, Gauge>,
    pub(crate) scheduler_runs: Family<TaskLabels, Counter>,
    pub(crate) scheduler_failures: Family<TaskLabels, Counter>,
    pub(crate) cache_hits: Family<PluginLabel, Counter>,
    pub(crate) cache_misses: Family<PluginLabel, Counter>,
    pub(crate) db_connections: Family<PoolLabels, Gauge>,
    pub(crate) db_max_connections: Family<PluginLabel, Gauge>,
    pub(crate) search_documents: Family<TypeLabels, Gauge>,
    pub(crate) search_age: Family<TypeLabels, FloatGauge>,
    pub(crate) process_rss: Gauge,
    pub(crate) process_cpu: Counter<f64, AtomicU64>,
}

impl Families {
    pub(crate) fn new() -> Self {
        Self {
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(duration_histogram),
            catalog_queue_depth: Gauge::default(),
            catalog_stitch_lag: FloatGauge::default(),
            catalog_entities: Family::default(),
            scheduler_runs: Family::default(),
            scheduler_failures: Family::default(),
            cache_hits: Family::default(),
            cache_misses: Family::default(),
            db_connections: Family::default(),
            db_max_connections: Family::default(),
            search_documents: Family::default(),
            search_age: Family::default(),
            process_rss: Gauge::default(),
            process_cpu: Counter::default(),
        }
    }

    /// A registry holding every family (they share their values with `self`).
    pub(crate) fn registry(&self) -> Registry {
        let mut r = Registry::default();
        r.register(
            "backlot_http_requests",
            "HTTP requests answered, by plugin, matched route template, method and status class",
            self.http_requests.clone(),
        );
        r.register_with_unit(
            "backlot_http_request_duration",
            "Time to answer HTTP requests, by plugin, matched route template and method",
            Unit::Seconds,
            self.http_duration.clone(),
        );
        r.register(
            "backlot_catalog_processing_queue_depth",
            "Entities due for processing at the catalog's last pass",
            self.catalog_queue_depth.clone(),
        );
        r.register_with_unit(
            "backlot_catalog_stitch_lag",
            "Time the catalog's last processing pass took until its entities were stitched and readable",
            Unit::Seconds,
            self.catalog_stitch_lag.clone(),
        );
        r.register(
            "backlot_catalog_entities",
            "Entities in the catalog, by kind",
            self.catalog_entities.clone(),
        );
        r.register(
            "backlot_scheduler_task_runs",
            "Scheduled task runs, by plugin and task id",
            self.scheduler_runs.clone(),
        );
        r.register(
            "backlot_scheduler_task_failures",
            "Scheduled task runs that failed, by plugin and task id",
            self.scheduler_failures.clone(),
        );
        r.register(
            "backlot_cache_hits",
            "Cache reads that found a value, by plugin",
            self.cache_hits.clone(),
        );
        r.register(
            "backlot_cache_misses",
            "Cache reads that found no value (or failed), by plugin",
            self.cache_misses.clone(),
        );
        r.register(
            "backlot_database_pool_connections",
            "Database pool connections by plugin and state (in_use or idle)",
            self.db_connections.clone(),
        );
        r.register(
            "backlot_database_pool_max_connections",
            "The most connections a plugin's database pool opens",
            self.db_max_connections.clone(),
        );
        r.register(
            "backlot_search_index_documents",
            "Documents in the search index, by document type",
            self.search_documents.clone(),
        );
        r.register_with_unit(
            "backlot_search_index_age",
            "Time since the search index of a document type was last rebuilt",
            Unit::Seconds,
            self.search_age.clone(),
        );
        r.register_with_unit(
            "process_resident_memory",
            "Resident memory of the backend process",
            Unit::Bytes,
            self.process_rss.clone(),
        );
        r.register_with_unit(
            "process_cpu",
            "User and system CPU time the backend process used",
            Unit::Seconds,
            self.process_cpu.clone(),
        );
        r
    }
}

/// Keeps a data-driven label (entity kind, task id, document type) to at most `cap`
/// distinct values; later values are recorded as [`OTHER`].
#[derive(Debug)]
pub(crate) struct LabelCap {
    cap: usize,
    seen: Mutex<HashSet<String>>,
}

impl LabelCap {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            cap,
            seen: Mutex::new(HashSet::new()),
        }
    }

    /// `value` itself if it was seen before or there is room, else [`OTHER`].
    pub(crate) fn admit(&self, value: &str) -> String {
        let mut seen = self.seen.lock();
        if seen.contains(value) {
            return value.to_string();
        }
        if seen.len() < self.cap {
            seen.insert(value.to_string());
            return value.to_string();
        }
        OTHER.to_string()
    }
}

impl LabelCap {
    /// Every admitted value.
    pub(crate) fn values(&self) -> Vec<String> {
        self.seen.lock().iter().cloned().collect()
    }
}
