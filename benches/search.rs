//! Search engine figures on synthetic catalog documents: query latency at 10,000 and 100,000
//! documents (a full word, a prefix, a typo, a filtered query) and the time of a full reindex.
//! The PostgreSQL engine is measured too when `BACKLOT_TEST_POSTGRES_URL` is set and the
//! `postgres` feature is on.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use backlot::plugins::search::backend::EmbeddedEngine;
use backlot::plugins::search::common::{FilterValue, SearchDocument, SearchQuery};
use backlot::plugins::search::node::SearchEngine;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

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
    for n in [10_000, 100_000] {
        let docs = corpus(n);
        let engine = make(&rt);
        rt.block_on(engine.index("software-catalog", docs.clone()))
            .unwrap();
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

criterion_group!(benches, embedded, pg);
criterion_main!(benches);
