//! One query suite run against every search engine: the embedded engine always, the
//! PostgreSQL engine when `BACKLOT_TEST_POSTGRES_URL` is set (cargo feature `postgres`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::Arc;

use backlot::plugins::search::backend::EmbeddedEngine;
use backlot::plugins::search::common::{FilterValue, SearchDocument, SearchQuery};
use backlot::plugins::search::node::{SearchEngine, SearchError};

fn entity(title: &str, text: &str, kind: &str, lifecycle: &str, owner: &str) -> SearchDocument {
    SearchDocument::new(
        title,
        text,
        format!(
            "/catalog/default/{}/{}",
            kind.to_lowercase(),
            title.to_lowercase().replace(' ', "-")
        ),
    )
    .with_field("kind", kind)
    .with_field("lifecycle", lifecycle)
    .with_field("owner", owner)
}

fn corpus() -> Vec<SearchDocument> {
    vec![
        entity(
            "petstore",
            "The petstore service sells pets online",
            "Component",
            "production",
            "team-a",
        ),
        entity(
            "Pet Adoption",
            "Find a new home for animals",
            "Component",
            "experimental",
            "team-b",
        ),
        entity(
            "payments",
            "Processes card payments for the petstore",
            "Component",
            "production",
            "team-a",
        ),
        entity(
            "inventory",
            "Tracks stock levels of every warehouse",
            "API",
            "production",
            "team-b",
        ),
        entity(
            "shipping",
            "Ships parcels to customers",
            "System",
            "deprecated",
            "team-c",
        ),
    ]
}

fn docs_corpus() -> Vec<SearchDocument> {
    vec![
        SearchDocument::new(
            "Petstore guide",
            "How to run the petstore locally",
            "/docs/default/component/petstore/",
        )
        .with_field("kind", "Component"),
    ]
}

async fn titles(engine: &dyn SearchEngine, query: SearchQuery) -> Vec<String> {
    engine
        .query(&query)
        .await
        .unwrap()
        .results
        .into_iter()
        .map(|r| r.document.title)
        .collect()
}

async fn load(engine: &dyn SearchEngine) {
    engine.index("software-catalog", corpus()).await.unwrap();
    engine.index("techdocs", docs_corpus()).await.unwrap();
}

async fn ranking(engine: &dyn SearchEngine) {
    let found = titles(engine, SearchQuery::new("petstore")).await;
    let set: HashSet<_> = found.iter().map(String::as_str).collect();
    assert_eq!(
        set,
        HashSet::from(["petstore", "Petstore guide", "payments"]),
        "{found:?}"
    );
    // A title match ranks above a match in the text only.
    assert_eq!(
        found.last().map(String::as_str),
        Some("payments"),
        "{found:?}"
    );
    let page = engine.query(&SearchQuery::new("petstore")).await.unwrap();
    let ranks: Vec<_> = page.results.iter().map(|r| r.rank).collect();
    assert_eq!(ranks, vec![Some(1), Some(2), Some(3)]);
    assert_eq!(page.number_of_results, Some(3));
    assert!(page.next_page_cursor.is_none() && page.previous_page_cursor.is_none());
    // Both words must match.
    assert_eq!(
        titles(engine, SearchQuery::new("stock warehouse")).await,
        vec!["inventory"]
    );
    assert!(
        titles(engine, SearchQuery::new("stock parcels"))
            .await
            .is_empty()
    );
}

async fn prefix(engine: &dyn SearchEngine) {
    let found = titles(engine, SearchQuery::new("pet")).await;
    let set: HashSet<_> = found.iter().map(String::as_str).collect();
    assert_eq!(
        set,
        HashSet::from(["petstore", "Pet Adoption", "payments", "Petstore guide"]),
        "{found:?}"
    );
    assert!(
        titles(engine, SearchQuery::new("pe"))
            .await
            .contains(&"petstore".to_string())
    );
}

async fn typos(engine: &dyn SearchEngine) {
    // Transposed letters, a dropped letter, a wrong letter.
    for typo in ["petsotre", "invntory", "shippinx"] {
        let found = titles(engine, SearchQuery::new(typo)).await;
        assert!(!found.is_empty(), "no match for '{typo}'");
    }
    assert!(
        titles(engine, SearchQuery::new("invntory"))
            .await
            .contains(&"inventory".into())
    );
    // Short terms need the exact prefix.
    assert!(titles(engine, SearchQuery::new("pat")).await.is_empty());
    // Two typos are too many.
    assert!(
        titles(engine, SearchQuery::new("ivnentroy"))
            .await
            .is_empty()
    );
}

async fn highlight(engine: &dyn SearchEngine) {
    let page = engine
        .query(&SearchQuery::new("pet").with_types(["software-catalog"]))
        .await
        .unwrap();
    let first = page
        .results
        .iter()
        .find(|r| r.document.title == "petstore")
        .unwrap();
    let h = first.highlight.as_ref().unwrap();
    assert_ne!(h.pre_tag, h.post_tag);
    assert_eq!(
        h.fields["title"],
        format!("{}petstore{}", h.pre_tag, h.post_tag)
    );
    assert!(h.fields["text"].contains(&format!("{}pets{}", h.pre_tag, h.post_tag)));
}

async fn filters_and_types(engine: &dyn SearchEngine) {
    let q = SearchQuery::new("").with_filter("kind", FilterValue::One("API".into()));
    assert_eq!(titles(engine, q).await, vec!["inventory"]);
    let q = SearchQuery::new("")
        .with_types(["software-catalog"])
        .with_filter(
            "lifecycle",
            FilterValue::AnyOf(vec!["production".into(), "experimental".into()]),
        );
    let set: HashSet<_> = titles(engine, q).await.into_iter().collect();
    assert_eq!(
        set,
        HashSet::from(["petstore", "Pet Adoption", "payments", "inventory"].map(String::from))
    );
    let q = SearchQuery::new("pet")
        .with_filter("kind", FilterValue::One("Component".into()))
        .with_filter("owner", FilterValue::One("team-b".into()));
    assert_eq!(titles(engine, q).await, vec!["Pet Adoption"]);
    let q = SearchQuery::new("petstore").with_types(["techdocs"]);
    let page = engine.query(&q).await.unwrap();
    assert_eq!(page.results.len(), 1);
    assert_eq!(page.results[0].doc_type, "techdocs");
    let q = SearchQuery::new("").with_types(["nothing-here"]);
    assert!(titles(engine, q).await.is_empty());
    let q = SearchQuery::new("").with_filter("kind", FilterValue::One("api".into()));
    assert!(
        titles(engine, q).await.is_empty(),
        "filters compare exactly"
    );
}

async fn paging(engine: &dyn SearchEngine) {
    let docs: Vec<SearchDocument> = (0..57)
        .map(|i| {
            SearchDocument::new(
                format!("service {i}"),
                format!("common words {}", "x ".repeat(i % 7)),
                format!("/p/{i}"),
            )
        })
        .collect();
    engine.index("paging", docs).await.unwrap();
    for term in ["common", ""] {
        let mut query = SearchQuery::new(term)
            .with_types(["paging"])
            .with_page_limit(10);
        let mut seen = Vec::new();
        let mut ranks = Vec::new();
        let mut pages = 0;
        loop {
            let page = engine.query(&query).await.unwrap();
            assert_eq!(page.number_of_results, Some(57));
            assert_eq!(page.previous_page_cursor.is_some(), pages > 0);
            pages += 1;
            seen.extend(page.results.iter().map(|r| r.document.location.clone()));
            ranks.extend(page.results.iter().map(|r| r.rank.unwrap()));
            match page.next_page_cursor {
                Some(c) => query.page_cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(pages, 6);
        let unique: HashSet<_> = seen.iter().collect();
        assert_eq!(seen.len(), 57);
        assert_eq!(unique.len(), 57, "duplicates across pages");
        assert_eq!(ranks, (1..=57).collect::<Vec<_>>());
    }
    let bad = SearchQuery::new("common").with_page_cursor("garbage");
    assert!(matches!(
        engine.query(&bad).await,
        Err(SearchError::InvalidQuery { .. })
    ));
}

fn generation(generation_no: usize, n: usize) -> Vec<SearchDocument> {
    (0..n)
        .map(|i| {
            SearchDocument::new(format!("doc {i}"), "swappable body", format!("/s/{i}"))
                .with_field("gen", generation_no.to_string())
        })
        .collect()
}

async fn atomic_swap(engine: Arc<dyn SearchEngine>) {
    const N: usize = 400;
    engine.index("swap", generation(0, N)).await.unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let engine = engine.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut checks = 0;
            while !stop.load(std::sync::atomic::Ordering::Acquire) || checks < 5 {
                for term in ["", "swappable"] {
                    let q = SearchQuery::new(term)
                        .with_types(["swap"])
                        .with_page_limit(100);
                    let page = engine.query(&q).await.unwrap();
                    assert_eq!(page.number_of_results, Some(N), "partial index served");
                    let gens: HashSet<_> = page
                        .results
                        .iter()
                        .map(|r| r.document.fields["gen"].clone())
                        .collect();
                    assert_eq!(gens.len(), 1, "mixed generations on one page");
                }
                checks += 1;
                tokio::task::yield_now().await;
            }
            checks
        })
    };
    for generation_no in 1..=6 {
        engine
            .index("swap", generation(generation_no, N))
            .await
            .unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Release);
    let checks = reader.await.unwrap();
    assert!(checks >= 5);
    let page = engine
        .query(&SearchQuery::new("").with_types(["swap"]))
        .await
        .unwrap();
    assert_eq!(page.results[0].document.fields["gen"], "6");
    // Other types are untouched by a type's reindex.
    assert_eq!(
        titles(engine.as_ref(), SearchQuery::new("warehouse")).await,
        vec!["inventory"]
    );
}

async fn suite(engine: Arc<dyn SearchEngine>) {
    load(engine.as_ref()).await;
    ranking(engine.as_ref()).await;
    prefix(engine.as_ref()).await;
    typos(engine.as_ref()).await;
    highlight(engine.as_ref()).await;
    filters_and_types(engine.as_ref()).await;
    paging(engine.as_ref()).await;
    atomic_swap(engine.clone()).await;
    // An empty set clears a type.
    engine.index("techdocs", Vec::new()).await.unwrap();
    assert!(
        titles(
            engine.as_ref(),
            SearchQuery::new("").with_types(["techdocs"])
        )
        .await
        .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_engine_in_memory() {
    suite(Arc::new(EmbeddedEngine::in_memory().unwrap())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_engine_in_directory_keeps_documents() {
    let dir = tempfile::tempdir().unwrap();
    {
        let engine = EmbeddedEngine::in_directory(dir.path()).unwrap();
        assert_eq!(engine.directory(), Some(dir.path()));
        suite(Arc::new(engine)).await;
    }
    let reopened = EmbeddedEngine::in_directory(dir.path()).unwrap();
    assert_eq!(
        titles(&reopened, SearchQuery::new("warehouse")).await,
        vec!["inventory"]
    );
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_engine() {
    use backlot::plugins::search::backend::PgEngine;
    use sqlx::{Connection, Executor};

    let Ok(url) = std::env::var("BACKLOT_TEST_POSTGRES_URL") else {
        eprintln!("skipped: BACKLOT_TEST_POSTGRES_URL not set");
        return;
    };
    let mut admin = sqlx::PgConnection::connect(&url)
        .await
        .expect("postgres unreachable");
    let db = format!("backlot_search_test_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute(format!("CREATE DATABASE {db}").as_str())
        .await
        .unwrap();
    let mut db_url = url::Url::parse(&url).unwrap();
    db_url.set_path(&db);
    let pool = sqlx::PgPool::connect(db_url.as_str()).await.unwrap();
    let engine = PgEngine::new(pool.clone()).await.unwrap();
    assert!(
        engine.typo_tolerant(),
        "fuzzystrmatch is needed for the typo tests"
    );
    suite(Arc::new(engine)).await;
    // A second replica on the same database answers the same.
    let replica = PgEngine::new(pool.clone()).await.unwrap();
    assert_eq!(
        titles(&replica, SearchQuery::new("warehouse")).await,
        vec!["inventory"]
    );
    pool.close().await;
    admin
        .execute(format!("DROP DATABASE {db} WITH (FORCE)").as_str())
        .await
        .unwrap();
}

/// A fresh database on `BACKLOT_TEST_POSTGRES_URL`: its pool and a closure-free drop handle.
#[cfg(feature = "postgres")]
async fn fresh_pg() -> Option<(sqlx::PgPool, sqlx::PgConnection, String)> {
    use sqlx::{Connection, Executor};
    let Ok(url) = std::env::var("BACKLOT_TEST_POSTGRES_URL") else {
        eprintln!("skipped: BACKLOT_TEST_POSTGRES_URL not set");
        return None;
    };
    let mut admin = sqlx::PgConnection::connect(&url)
        .await
        .expect("postgres unreachable");
    let db = format!("backlot_search_test_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute(format!("CREATE DATABASE {db}").as_str())
        .await
        .unwrap();
    let mut db_url = url::Url::parse(&url).unwrap();
    db_url.set_path(&db);
    let pool = sqlx::PgPool::connect(db_url.as_str()).await.unwrap();
    Some((pool, admin, db))
}

#[cfg(feature = "postgres")]
async fn drop_pg(pool: sqlx::PgPool, mut admin: sqlx::PgConnection, db: String) {
    use sqlx::Executor;
    pool.close().await;
    admin
        .execute(format!("DROP DATABASE {db} WITH (FORCE)").as_str())
        .await
        .unwrap();
}

/// Walks every page of `query`; returns the locations in order and checks the cursors,
/// ranks and the count on each page.
async fn walk(engine: &dyn SearchEngine, query: SearchQuery, expected_total: usize) -> Vec<String> {
    let mut query = query.with_page_limit(7);
    let mut seen = Vec::new();
    loop {
        let page = engine.query(&query).await.unwrap();
        assert_eq!(page.number_of_results, Some(expected_total), "{query:?}");
        for r in &page.results {
            seen.push(r.document.location.clone());
            assert_eq!(r.rank, Some(seen.len()));
        }
        match page.next_page_cursor {
            Some(c) => query.page_cursor = Some(c),
            None => break,
        }
    }
    seen
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_engine_ranking_paging_and_counts() {
    use backlot::plugins::search::backend::{PgEngine, PgLimits};

    let Some((pool, admin, db)) = fresh_pg().await else {
        return;
    };
    let engine = PgEngine::new(pool.clone()).await.unwrap();
    // 90 documents: "alpha" in every one (the title of every third), "beta" in every second,
    // "alphabet" in every fifth; kind Component or API.
    let docs: Vec<SearchDocument> = (0..90)
        .map(|i| {
            let title = if i % 3 == 0 {
                format!("alpha {i}")
            } else {
                format!("item {i}")
            };
            let mut text = String::from("alpha");
            if i % 2 == 0 {
                text.push_str(" beta");
            }
            if i % 5 == 0 {
                text.push_str(" alphabet");
            }
            SearchDocument::new(title, text, format!("/d/{i}"))
                .with_field("kind", if i % 2 == 0 { "Component" } else { "API" })
        })
        .collect();
    engine.index("ranked", docs).await.unwrap();

    // One word: every match once, in rank order, the exact count on every page.
    let all = walk(&engine, SearchQuery::new("alpha"), 90).await;
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(unique.len(), 90);
    // Title matches rank first.
    for loc in &all[..30] {
        let i: usize = loc.trim_start_matches("/d/").parse().unwrap();
        assert_eq!(i % 3, 0, "{all:?}");
    }
    // A prefix: `alp` stands for `alpha` and `alphabet`; the count is of documents.
    assert_eq!(walk(&engine, SearchQuery::new("alp"), 90).await.len(), 90);
    // An exact word ranks above a word it only prefixes.
    let page = engine.query(&SearchQuery::new("alphabet")).await.unwrap();
    assert_eq!(page.number_of_results, Some(18));
    // Two words and a filter: every result matches both and the filter.
    let two = walk(&engine, SearchQuery::new("beta alpha"), 45).await;
    assert_eq!(two.len(), 45);
    let q = SearchQuery::new("alpha").with_filter("kind", FilterValue::One("API".into()));
    let api = walk(&engine, q, 45).await;
    assert!(api.iter().all(|l| {
        let i: usize = l.trim_start_matches("/d/").parse().unwrap();
        i % 2 == 1
    }));
    // A type with no such word, a word nowhere.
    let q = SearchQuery::new("alpha").with_types(["other"]);
    assert_eq!(engine.query(&q).await.unwrap().number_of_results, Some(0));
    assert_eq!(
        engine
            .query(&SearchQuery::new("zzzz"))
            .await
            .unwrap()
            .number_of_results,
        Some(0)
    );

    // With tight limits, counts past the limit are a lower bound no smaller than the pages
    // shown, and paging still reaches every candidate without duplicates.
    let tight = PgEngine::new(pool.clone())
        .await
        .unwrap()
        .with_limits(PgLimits {
            candidate_limit: 40,
            count_limit: 20,
            max_expansions: 2,
        });
    let page = tight
        .query(&SearchQuery::new("alp").with_page_limit(10))
        .await
        .unwrap();
    let n = page.number_of_results.unwrap();
    assert!((20..=90).contains(&n), "{n}");
    assert!(page.next_page_cursor.is_some());
    // One exact word keeps its exact count whatever the limits.
    let page = tight.query(&SearchQuery::new("alpha")).await.unwrap();
    assert_eq!(page.number_of_results, Some(90));
    // Several words rank the rarest word's best candidates only.
    let page = tight
        .query(&SearchQuery::new("alpha beta").with_page_limit(10))
        .await
        .unwrap();
    assert_eq!(page.results.len(), 10);
    assert_eq!(page.number_of_results, Some(40));
    drop_pg(pool, admin, db).await;
}
