//! The PostgreSQL engine (cargo feature `postgres`), on the `search` plugin's own database.
//!
//! Storage: `search_documents` (one row per document: the document, its filter terms and its
//! per-term scores), `search_postings` (term, score, document, and the document's filter
//! terms; B-trees on `(term, score DESC, type, ord)` for top-k and `(term, type, ord)` for
//! checking a candidate) and `search_terms` (document frequency per term and type).
//! A one-word query is an index range scan with `LIMIT`, never a pass over every match.

mod read;
mod write;

use async_trait::async_trait;
use sqlx::PgPool;

use super::matching;
use crate::plugins::search::common::{SearchDocument, SearchQuery, SearchResultSet};
use crate::plugins::search::node::{SearchEngine, SearchError};

const ENGINE: &str = "pg";
/// The advisory lock key serializing the engine's DDL (`"backlot-search"` as digits).
const DDL_LOCK: i64 = 0x6261_636b_6c6f_7473;

fn db_err(message: &str) -> impl FnOnce(sqlx::Error) -> SearchError + '_ {
    move |e| SearchError::engine(ENGINE, message, e)
}

/// The bounds of the PostgreSQL engine's query work (config `search.pg.*`).
///
/// ```
/// use backlot::plugins::search::backend::PgLimits;
///
/// let limits = PgLimits { count_limit: 50_000, ..PgLimits::default() };
/// assert_eq!(limits.candidate_limit, 1_000);
/// assert_eq!(limits.max_expansions, 50);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgLimits {
    /// `search.pg.candidateLimit` (1,000): a query of several words, or with field filters,
    /// ranks the best this many postings of its rarest word and checks the other words and
    /// the filters on them.
    pub candidate_limit: usize,
    /// `search.pg.countLimit` (10,000): `numberOfResults` is exact when counting it reads at
    /// most this many rows; beyond, it is a lower bound (a one-word query that matches one
    /// indexed word is always exact: it is that word's document frequency).
    pub count_limit: usize,
    /// `search.pg.maxExpansions` (50): the most indexed words a query word stands for (the
    /// word itself, then the most frequent words it prefixes).
    pub max_expansions: usize,
}

impl Default for PgLimits {
    fn default() -> Self {
        Self {
            candidate_limit: 1_000,
            count_limit: 10_000,
            max_expansions: 50,
        }
    }
}

/// The PostgreSQL engine: tables shared by every replica, a BM25 score per (word, document)
/// computed at index time (title above text), prefix matching (`pet` finds `petstore`), one
/// typo allowed in words of four characters or more, filters on document fields and
/// highlighting. The query semantics are the embedded engine's.
///
/// `index` replaces a type's rows in one transaction, so every replica sees the old or the
/// new set.
///
/// ```no_run
/// use backlot::plugins::search::backend::{PgEngine, PgLimits};
/// use backlot::plugins::search::common::SearchQuery;
/// use backlot::plugins::search::node::SearchEngine;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = sqlx::PgPool::connect("postgres://postgres@127.0.0.1/search").await?;
/// let engine = PgEngine::new(pool).await?.with_limits(PgLimits::default());
/// let page = engine.query(&SearchQuery::new("pet")).await?;
/// # let _ = page;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct PgEngine {
    pool: PgPool,
    limits: PgLimits,
    pre_tag: String,
    post_tag: String,
}

const DDL: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS search_documents (
        type TEXT NOT NULL,
        ord INTEGER NOT NULL,
        document JSONB NOT NULL,
        filters TEXT[] NOT NULL,
        PRIMARY KEY (type, ord))",
    // The tsvector schema of earlier versions: the index is rebuilt by the next collator run.
    "DROP INDEX IF EXISTS search_documents_body_idx",
    "DROP INDEX IF EXISTS search_documents_filters_idx",
    "ALTER TABLE search_documents DROP COLUMN IF EXISTS body",
    "ALTER TABLE search_documents ADD COLUMN IF NOT EXISTS scores JSONB NOT NULL DEFAULT '{}'",
    "DROP TABLE IF EXISTS search_vocabulary",
    "CREATE TABLE IF NOT EXISTS search_postings (
        type TEXT NOT NULL,
        term TEXT COLLATE \"C\" NOT NULL,
        score REAL NOT NULL,
        ord INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS search_postings_rank_idx
        ON search_postings (term, score DESC, type, ord)",
    "CREATE INDEX IF NOT EXISTS search_postings_type_idx ON search_postings (type)",
    // Checks a candidate document for a word or filter term (index-only).
    "CREATE INDEX IF NOT EXISTS search_postings_doc_idx
        ON search_postings (term, type, ord) INCLUDE (score)",
    "CREATE TABLE IF NOT EXISTS search_terms (
        type TEXT NOT NULL,
        term TEXT COLLATE \"C\" NOT NULL,
        df INTEGER NOT NULL,
        PRIMARY KEY (term, type))",
    "CREATE INDEX IF NOT EXISTS search_terms_type_idx ON search_terms (type)",
];

impl PgEngine {
    /// An engine on `pool`; creates its tables when missing (under a transaction-scoped
    /// advisory lock, so replicas starting together do not race on the DDL).
    pub async fn new(pool: PgPool) -> Result<Self, SearchError> {
        let mut tx = pool
            .begin()
            .await
            .map_err(db_err("cannot create the search tables"))?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(DDL_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db_err("cannot create the search tables"))?;
        for sql in DDL {
            sqlx::query(sql)
                .execute(&mut *tx)
                .await
                .map_err(db_err("cannot create the search tables"))?;
        }
        tx.commit()
            .await
            .map_err(db_err("cannot create the search tables"))?;
        let (pre_tag, post_tag) = matching::random_tags();
        Ok(Self {
            pool,
            limits: PgLimits::default(),
            pre_tag,
            post_tag,
        })
    }

    /// Uses these query bounds instead of the defaults.
    #[must_use]
    pub fn with_limits(mut self, limits: PgLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Whether typo matching is available: always (the engine matches typos through its own
    /// word table; earlier versions needed the `fuzzystrmatch` extension).
    pub fn typo_tolerant(&self) -> bool {
        true
    }
}

#[async_trait]
impl SearchEngine for PgEngine {
    async fn index(
        &self,
        doc_type: &str,
        documents: Vec<SearchDocument>,
    ) -> Result<(), SearchError> {
        write::replace_type(&self.pool, doc_type, documents).await
    }

    async fn query(&self, query: &SearchQuery) -> Result<SearchResultSet, SearchError> {
        read::run(self, query).await
    }
}
