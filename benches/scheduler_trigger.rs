//! Trigger-to-completion latency of a global manual task: trigger, claim (one conditional
//! UPDATE), run an empty function, release. Measured on the memory store and on SQLite.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use backlot::services::scheduler::{LeaseStore, PluginScheduler, SchedulerError, TaskDefinition};
use criterion::{Criterion, criterion_group, criterion_main};

async fn setup(store: LeaseStore) -> (PluginScheduler, Arc<AtomicUsize>) {
    let scheduler = PluginScheduler::builder("bench", store)
        .poll_interval(Duration::from_secs(1))
        .startup_jitter(Duration::ZERO)
        .build();
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    scheduler
        .schedule_task(
            TaskDefinition::builder("manual")
                .manual()
                .timeout(Duration::from_secs(10))
                .run(move |_| {
                    let counter = counter.clone();
                    async move {
                        counter.fetch_add(1, Ordering::SeqCst);
                        Ok(())
                    }
                })
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    (scheduler, runs)
}

/// Triggers once (retrying while the previous run still holds its lease) and waits for the run.
async fn one_cycle(scheduler: &PluginScheduler, runs: &AtomicUsize) {
    let before = runs.load(Ordering::SeqCst);
    loop {
        match scheduler.trigger_task("manual").await {
            Ok(()) => break,
            Err(SchedulerError::Conflict { .. }) => tokio::task::yield_now().await,
            Err(e) => panic!("{e}"),
        }
    }
    while runs.load(Ordering::SeqCst) == before {
        tokio::task::yield_now().await;
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("scheduler_trigger_cycle");
    group.measurement_time(Duration::from_secs(5));
    for name in ["memory", "sqlite"] {
        let (scheduler, runs) = rt.block_on(async {
            let store = match name {
                "memory" => LeaseStore::memory(),
                _ => {
                    let opts = sqlx::sqlite::SqliteConnectOptions::new()
                        .filename(dir.path().join("bench.sqlite"))
                        .create_if_missing(true)
                        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
                    LeaseStore::Sqlite(sqlx::SqlitePool::connect_with(opts).await.unwrap())
                }
            };
            setup(store).await
        });
        group.bench_function(name, |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let (scheduler, runs) = (&scheduler, &runs);
                async move {
                    let start = Instant::now();
                    for _ in 0..iters {
                        one_cycle(scheduler, runs).await;
                    }
                    start.elapsed()
                }
            });
        });
        rt.block_on(scheduler.shutdown());
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
