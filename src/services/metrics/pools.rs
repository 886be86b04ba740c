//! Sampling database pools: connections in use, idle, and the pool's maximum.

use super::PluginMetrics;
use crate::services::database::DbPool;

/// Samples `pool` into `metrics` before each scrape.
pub(crate) fn sample_database_pool(metrics: &PluginMetrics, pool: DbPool) {
    if !metrics.enabled() {
        return;
    }
    let recorder = metrics.clone();
    metrics.add_sampler(move || {
        let (size, idle, max) = match &pool {
            DbPool::Sqlite(p) => (p.size(), p.num_idle(), p.options().get_max_connections()),
            #[cfg(feature = "postgres")]
            DbPool::Postgres(p) => (p.size(), p.num_idle(), p.options().get_max_connections()),
            #[cfg(feature = "mysql")]
            DbPool::Mysql(p) => (p.size(), p.num_idle(), p.options().get_max_connections()),
        };
        let idle = u64::try_from(idle).unwrap_or(u64::MAX);
        let in_use = u64::from(size).saturating_sub(idle);
        recorder.set_database_pool(in_use, idle, u64::from(max));
    });
}
