//! Search engine figures on synthetic catalog documents: query latency at 10,000 and 100,000
//! documents (a full word, a prefix, a typo, a filtered query) and the time of a full reindex.
//! The PostgreSQL engine is measured too when `BACKLOT_TEST_POSTGRES_URL` is set and the
//! `postgres` feature is on.
//!
//! Environment: `BACKLOT_BENCH_SEARCH_SIZES` (comma-separated corpus sizes, default
//! `10000,100000`), `BACKLOT_BENCH_SEARCH_ENGINES` (`embedded,pg` by default) and
//! `BACKLOT_BENCH_SEARCH_REINDEX=0` to skip the reindex groups.
//!
//! `BACKLOT_BENCH_SEARCH_MEMORY=<n>` instead measures memory: this process indexes `n`
//! documents into an embedded engine in a temporary directory, as a collator run does, and
//! prints its resident memory (`VmRSS`) before, right after and 2 s after indexing, and its
//! peak (`VmHWM`). Linux only.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::sync::Arc;
use std::time::Duration;

use backlot::plugins::search::backend::EmbeddedEngine;
use backlot::plugins::search::common::{FilterValue, SearchDocument, SearchQuery};
use backlot::plugins::search::node::SearchEngine;
use criterion::{BenchmarkId, Criterion, criterion_group};

const WORDS: &[&str] = &[
    "payment",
    "order",
    "inventory",
    "shipping",
    "billing",
    "account",
    "customer",
    "catalog",
    "search",
    "identity",
    "gateway",
    "ledger",
    "invoice",
    "report",
    "analytics",
    "pricing",
    "checkout",
    "notification",
    "profile",
    "session",
    "storage",
    "pipeline",
    "metrics",
    "audit",
    "export",
    "import",
    "scheduler",
    "mailer",
    "render",
    "router",
];
const KINDS: &[&str] = &["Component", "API", "System", "Resource", "Group"];
const LIFECYCLES: &[&str] = &["production", "experimental", "deprecated"];

fn corpus(n: usize) -> Vec<SearchDocument> {
    let mut rng = fastrand::Rng::with_seed(42);
    (0..n)
        .map(|i| {
            let a = WORDS[rng.usize(..WORDS.len())];
            let b = WORDS[rng.usize(..WORDS.len())];
            let name = format!("{a}-{b}-{i}");
            let text: Vec<&str> = (0..12).map(|_| WORDS[rng.usize(..WORDS.len())]).collect();
            let kind = KINDS[i % KINDS.len()];
            SearchDocument::new(
                name.clone(),
                format!("The {a} service for {b}: {}", text.join(" ")),
                format!("/catalog/default/{}/{name}", kind.to_lowercase()),
            )
            .with_field("kind", kind)
            .with_field("lifecycle", LIFECYCLES[i % LIFECYCLES.len()])
            .with_field("owner", format!("team-{}", i % 40))
            .with_resource_ref(format!("{}:default/{name}", kind.to_lowercase()))
        })
        .collect()
}

fn queries() -> Vec<(&'static str, SearchQuery)> {
    vec![
        ("word", SearchQuery::new("invoice")),
        ("prefix", SearchQuery::new("inv")),
        ("typo", SearchQuery::new("invocie")),
        ("two-words", SearchQuery::new("payment ledger")),
        (
            "filtered",
            SearchQuery::new("billing")
                .with_filter("kind", FilterValue::One("API".into()))
                .with_filter(
                    "lifecycle",
                    FilterValue::AnyOf(vec!["production".into(), "experimental".into()]),
                ),
        ),
    ]
}

fn bench_engine(
    c: &mut Criterion,
    name: &str,
    make: &dyn Fn(&tokio::runtime::Runtime) -> Arc<dyn SearchEngine>,
) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let enabled = std::env::var("BACKLOT_BENCH_SEARCH_ENGINES")
        .map(|v| v.split(',').any(|e| e.trim() == name))
        .unwrap_or(true);
    if !enabled {
        return;
    }
    let sizes: Vec<usize> = std::env::var("BACKLOT_BENCH_SEARCH_SIZES")
        .map(|v| v.split(',').map(|n| n.trim().parse().unwrap()).collect())
        .unwrap_or_else(|_| vec![10_000, 100_000]);
    let reindex = std::env::var("BACKLOT_BENCH_SEARCH_REINDEX").map_or(true, |v| v != "0");
    for n in sizes {
        let docs = corpus(n);
        let engine = make(&rt);
        let started = std::time::Instant::now();
        rt.block_on(engine.index("software-catalog", docs.clone()))
            .unwrap();
        eprintln!(
            "{name}: first index of {n} documents took {:?}",
            started.elapsed()
        );
        let mut group = c.benchmark_group(format!("{name}/query/{n}"));
        group.measurement_time(Duration::from_secs(3));
        for (label, query) in queries() {
            let q = query.with_page_limit(25);
            group.bench_function(BenchmarkId::from_parameter(label), |b| {
                b.to_async(&rt).iter(|| {
                    let engine = engine.clone();
                    let q = q.clone();
                    async move { engine.query(&q).await.unwrap() }
                })
            });
        }
        group.finish();
        if !reindex {
            continue;
        }
        let mut group = c.benchmark_group(format!("{name}/reindex"));
        group
            .sample_size(10)
            .measurement_time(Duration::from_secs(if n > 10_000 { 60 } else { 15 }));
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.to_async(&rt).iter(|| {
                let engine = engine.clone();
                let docs = docs.clone();
                async move { engine.index("software-catalog", docs).await.unwrap() }
            })
        });
        group.finish();
    }
}

fn embedded(c: &mut Criterion) {
    bench_engine(c, "embedded", &|_| {
        Arc::new(EmbeddedEngine::in_memory().unwrap())
    });
}

#[cfg(feature = "postgres")]
fn pg(c: &mut Criterion) {
    use backlot::plugins::search::backend::PgEngine;
    use sqlx::{Connection, Executor};
    let Ok(url) = std::env::var("BACKLOT_TEST_POSTGRES_URL") else {
        eprintln!("skipped: BACKLOT_TEST_POSTGRES_URL not set");
        return;
    };
    let make = move |rt: &tokio::runtime::Runtime| -> Arc<dyn SearchEngine> {
        rt.block_on(async {
            let db = "backlot_search_bench";
            let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
            let _ = admin
                .execute(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)").as_str())
                .await;
            admin
                .execute(format!("CREATE DATABASE {db}").as_str())
                .await
                .unwrap();
            let mut u = url::Url::parse(&url).unwrap();
            u.set_path(db);
            let pool = sqlx::PgPool::connect(u.as_str()).await.unwrap();
            Arc::new(PgEngine::new(pool).await.unwrap()) as Arc<dyn SearchEngine>
        })
    };
    bench_engine(c, "pg", &make);
}

#[cfg(not(feature = "postgres"))]
fn pg(_: &mut Criterion) {}

/// A size line (`VmRSS:`, `VmHWM:`) of this process's status, in MB.
fn vm_mb(key: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn memory(n: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engine = EmbeddedEngine::in_directory(dir.path()).unwrap();
    let before = vm_mb("VmRSS:");
    let docs = corpus(n);
    let with_docs = vm_mb("VmRSS:");
    rt.block_on(engine.index("software-catalog", docs)).unwrap();
    let after = vm_mb("VmRSS:");
    std::thread::sleep(Duration::from_secs(2));
    let settled = vm_mb("VmRSS:");
    let hits = rt
        .block_on(engine.query(&SearchQuery::new("invoice")))
        .unwrap()
        .number_of_results
        .unwrap();
    assert!(hits > 0);
    println!(
        "search memory, {n} documents: RSS before {before:.0} MB, with the documents built \
         {with_docs:.0} MB, after indexing {after:.0} MB, 2 s later {settled:.0} MB; peak \
         (VmHWM) {:.0} MB",
        vm_mb("VmHWM:")
    );
}

criterion_group!(benches, embedded, pg);

fn main() {
    if let Ok(n) = std::env::var("BACKLOT_BENCH_SEARCH_MEMORY") {
        memory(n.parse().unwrap());
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
