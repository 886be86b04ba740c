//! Two backends sharing one PostgreSQL database run a search collator once per run: the
//! collator tasks are global tasks on the `search` plugin's `SCHEDULER`, whose lease lives in
//! the plugin's own database, and the PostgreSQL engine is built from that database's pool.
//! Needs `BACKLOT_TEST_POSTGRES_URL` (skipped with a message otherwise).
#![cfg(all(feature = "testing", feature = "postgres"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use backlot::backend::{BoxError, Feature};
use backlot::plugins::search::backend::SearchPlugin;
use backlot::plugins::search::common::SearchDocument;
use backlot::plugins::search::node::{DocumentCollator, SEARCH_INDEX_REGISTRY};
use backlot::services::scheduler::{TaskFrequency, TaskSchedule};
use backlot::testing::TestBackend;
use serde_json::Value;

/// Counts its runs; each run takes a moment, so overlapping runs would be seen.
#[derive(Debug)]
struct CountingCollator {
    runs: Arc<AtomicUsize>,
}

#[async_trait]
impl DocumentCollator for CountingCollator {
    fn doc_type(&self) -> &str {
        "replica-test"
    }

    async fn collate(&self) -> Result<Vec<SearchDocument>, BoxError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok(vec![SearchDocument::new(
            "Replicated guide",
            "indexed once for every replica",
            "/guide",
        )])
    }
}

async fn replica(database_yaml: &str, runs: Arc<AtomicUsize>) -> TestBackend {
    let module = Feature::module_fn("search", "counting-collator", move |reg| {
        let runs = runs.clone();
        reg.init(&SEARCH_INDEX_REGISTRY, move |registry| async move {
            // Due at once, then not again for an hour: one run in total across replicas.
            let schedule = TaskSchedule::new(
                TaskFrequency::Every(Duration::from_secs(3600)),
                Duration::from_secs(60),
            );
            registry
                .get()?
                .add_collator(schedule, Arc::new(CountingCollator { runs }));
            Ok(())
        })
    });
    TestBackend::builder()
        .config_yaml(database_yaml)
        .config_yaml("search: { pg: {} }")
        .feature(Feature::plugin(SearchPlugin::new()))
        .feature(module)
        .start()
        .await
        .expect("backend starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_backends_sharing_a_database_run_a_global_collator_once() {
    let Some(database_yaml) = support::postgres_database_yaml("searchrep") else {
        eprintln!("skipped: BACKLOT_TEST_POSTGRES_URL not set");
        return;
    };
    let runs = Arc::new(AtomicUsize::new(0));
    let (a, b) = tokio::join!(
        replica(&database_yaml, runs.clone()),
        replica(&database_yaml, runs.clone())
    );

    // Wait for the first run and its documents, then give the other replica time to run too
    // if it (wrongly) held its own lease.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut found = false;
    while tokio::time::Instant::now() < deadline {
        let res = b
            .client()
            .get("/api/search/query?term=replicated")
            .await
            .unwrap();
        let body: Value = res.json().unwrap();
        if body["results"].as_array().is_some_and(|r| !r.is_empty()) {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(found, "the collator's document reaches the shared index");
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "one run across both replicas"
    );

    // Both replicas answer from the one PostgreSQL index.
    let res = a
        .client()
        .get("/api/search/query?term=replicated")
        .await
        .unwrap();
    let body: Value = res.json().unwrap();
    assert_eq!(body["results"].as_array().map(Vec::len), Some(1));

    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

/// 120 documents with overlapping words, so ranking, prefixes, typos, filters and paging all
/// have work to do.
#[derive(Debug)]
struct CorpusCollator;

#[async_trait]
impl DocumentCollator for CorpusCollator {
    fn doc_type(&self) -> &str {
        "replica-corpus"
    }

    async fn collate(&self) -> Result<Vec<SearchDocument>, BoxError> {
        const WORDS: [&str; 6] = ["payment", "ledger", "invoice", "gateway", "audit", "report"];
        Ok((0..120)
            .map(|i| {
                let title = format!("{}-{}-{i}", WORDS[i % 6], WORDS[(i / 6) % 6]);
                let text = format!(
                    "The {} service for {} and {}",
                    WORDS[(i * 7) % 6],
                    WORDS[(i * 5 + 1) % 6],
                    WORDS[(i / 3) % 6]
                );
                SearchDocument::new(title, text, format!("/catalog/default/component/{i}"))
                    .with_field("kind", if i % 4 == 0 { "API" } else { "Component" })
            })
            .collect())
    }
}

async fn corpus_replica(database_yaml: &str) -> TestBackend {
    let module = Feature::module_fn("search", "corpus-collator", |reg| {
        reg.init(&SEARCH_INDEX_REGISTRY, |registry| async move {
            let schedule = TaskSchedule::new(
                TaskFrequency::Every(Duration::from_secs(3600)),
                Duration::from_secs(60),
            );
            registry
                .get()?
                .add_collator(schedule, Arc::new(CorpusCollator));
            Ok(())
        })
    });
    TestBackend::builder()
        .config_yaml(database_yaml)
        .config_yaml("search: { pg: { candidateLimit: 500, countLimit: 500 } }")
        .feature(Feature::plugin(SearchPlugin::new()))
        .feature(module)
        .start()
        .await
        .expect("backend starts")
}

/// A query's answer without the highlight tags (random per engine instance).
async fn answer(backend: &TestBackend, path: &str) -> Value {
    let res = backend.client().get(path).await.unwrap();
    assert_eq!(res.status(), 200, "{path}");
    let mut body: Value = res.json().unwrap();
    if let Some(results) = body["results"].as_array_mut() {
        for r in results {
            if let Some(o) = r.as_object_mut() {
                o.remove("highlight");
            }
        }
    }
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_on_one_postgres_answer_identically() {
    let Some(database_yaml) = support::postgres_database_yaml("searchsame") else {
        eprintln!("skipped: BACKLOT_TEST_POSTGRES_URL not set");
        return;
    };
    let (a, b) = tokio::join!(
        corpus_replica(&database_yaml),
        corpus_replica(&database_yaml)
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let body = answer(&a, "/api/search/query?term=&types[0]=replica-corpus").await;
        if body["numberOfResults"] == 120 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the corpus is not indexed: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let queries = [
        "term=invoice",
        "term=inv",
        "term=invocie",
        "term=payment%20ledger",
        "term=audit&filters[kind]=API",
        "term=report&pageLimit=7",
        "term=&pageLimit=10",
    ];
    for q in queries {
        let mut path = format!("/api/search/query?{q}");
        let mut pages = 0;
        loop {
            let (from_a, from_b) = (answer(&a, &path).await, answer(&b, &path).await);
            assert_eq!(from_a, from_b, "{path}");
            assert!(
                from_a["results"].as_array().is_some_and(|r| !r.is_empty()),
                "{path}: {from_a}"
            );
            pages += 1;
            match from_a["nextPageCursor"].as_str() {
                Some(c) if pages < 4 => {
                    path = format!("/api/search/query?{q}&pageCursor={}", urlencoding(c));
                }
                _ => break,
            }
        }
    }
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
