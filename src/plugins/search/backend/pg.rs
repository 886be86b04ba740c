//! The PostgreSQL engine (cargo feature `postgres`), on the `search` plugin's own database.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{PgPool, Row};

use super::embedded::{page_cursors, requested_page};
use super::matching::{self, FUZZY_MIN_LEN, MAX_TOKEN_LEN, within_one_edit};
use crate::plugins::search::common::{SearchDocument, SearchQuery, SearchResult, SearchResultSet};
use crate::plugins::search::node::{SearchEngine, SearchError};

const ENGINE: &str = "pg";
const BATCH: usize = 1000;
/// The advisory lock key serializing the engine's DDL (`"backlot-search"` as digits).
const DDL_LOCK: i64 = 0x6261_636b_6c6f_7473;

fn db_err(message: &str) -> impl FnOnce(sqlx::Error) -> SearchError + '_ {
    move |e| SearchError::engine(ENGINE, message, e)
}

/// The PostgreSQL engine: one table `search_documents` shared by every replica, a weighted
/// `tsvector` per document (title above text) with a GIN index, prefix matching through
/// `to_tsquery('simple', 'pet:*')`, one typo allowed in terms of four characters or more
/// (through a vocabulary table and `fuzzystrmatch` when that extension can be created),
/// filters on document fields and highlighting. The query semantics are the embedded
/// engine's.
///
/// `index` replaces a type's rows in one transaction, so every replica sees the old or the
/// new set.
///
/// ```no_run
/// use backlot::plugins::search::backend::PgEngine;
/// use backlot::plugins::search::common::SearchQuery;
/// use backlot::plugins::search::node::SearchEngine;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = sqlx::PgPool::connect("postgres://postgres@127.0.0.1/search").await?;
/// let engine = PgEngine::new(pool).await?;
/// let page = engine.query(&SearchQuery::new("pet")).await?;
/// # let _ = page;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct PgEngine {
    pool: PgPool,
    fuzzy: bool,
    pre_tag: String,
    post_tag: String,
}

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
        for sql in [
            "CREATE TABLE IF NOT EXISTS search_documents (
                type TEXT NOT NULL,
                ord INTEGER NOT NULL,
                document JSONB NOT NULL,
                body TSVECTOR NOT NULL,
                filters TEXT[] NOT NULL,
                PRIMARY KEY (type, ord))",
            "CREATE INDEX IF NOT EXISTS search_documents_body_idx ON search_documents USING GIN (body)",
            "CREATE INDEX IF NOT EXISTS search_documents_filters_idx ON search_documents USING GIN (filters)",
            "CREATE TABLE IF NOT EXISTS search_vocabulary (
                type TEXT NOT NULL,
                word TEXT NOT NULL,
                PRIMARY KEY (type, word))",
        ] {
            sqlx::query(sql)
                .execute(&mut *tx)
                .await
                .map_err(db_err("cannot create the search tables"))?;
        }
        tx.commit()
            .await
            .map_err(db_err("cannot create the search tables"))?;
        let fuzzy = sqlx::query("CREATE EXTENSION IF NOT EXISTS fuzzystrmatch")
            .execute(&pool)
            .await
            .is_ok()
            || sqlx::query_scalar::<_, bool>(
                "SELECT EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'levenshtein_less_equal')",
            )
            .fetch_one(&pool)
            .await
            .unwrap_or(false);
        let (pre_tag, post_tag) = matching::random_tags();
        Ok(Self {
            pool,
            fuzzy,
            pre_tag,
            post_tag,
        })
    }

    /// Whether typo matching is available (the `fuzzystrmatch` extension).
    pub fn typo_tolerant(&self) -> bool {
        self.fuzzy
    }

    async fn typo_variants(
        &self,
        token: &str,
        types: &[String],
    ) -> Result<Vec<String>, SearchError> {
        if !self.fuzzy || token.chars().count() < FUZZY_MIN_LEN {
            return Ok(Vec::new());
        }
        let words: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT word FROM search_vocabulary
             WHERE (cardinality($2::text[]) = 0 OR type = ANY($2))
               AND length(word) BETWEEN length($1) - 1 AND length($1) + 1
               AND levenshtein_less_equal(word, $1, 2) <= 2",
        )
        .bind(token)
        .bind(types)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("cannot read the vocabulary"))?;
        Ok(words
            .into_iter()
            .filter(|w| w != token && !w.starts_with(token) && within_one_edit(w, token))
            .collect())
    }
}

fn token_text(text: &str) -> String {
    matching::tokens_with_offsets(text)
        .into_iter()
        .map(|t| t.2)
        .filter(|t| t.len() <= MAX_TOKEN_LEN)
        .collect::<Vec<_>>()
        .join(" ")
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

fn bind_all<'q>(
    mut q: PgQuery<'q>,
    term: &Option<String>,
    types: &Option<Vec<String>>,
    filter_sets: &[Vec<String>],
) -> PgQuery<'q> {
    if let Some(t) = term {
        q = q.bind(t.clone());
    }
    if let Some(t) = types {
        q = q.bind(t.clone());
    }
    for set in filter_sets {
        q = q.bind(set.clone());
    }
    q
}

#[async_trait]
impl SearchEngine for PgEngine {
    async fn index(
        &self,
        doc_type: &str,
        documents: Vec<SearchDocument>,
    ) -> Result<(), SearchError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(db_err("cannot begin a transaction"))?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('backlot_search:' || $1))")
            .bind(doc_type)
            .execute(&mut *tx)
            .await
            .map_err(db_err("cannot lock the document type"))?;
        for table in ["search_documents", "search_vocabulary"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE type = $1"))
                .bind(doc_type)
                .execute(&mut *tx)
                .await
                .map_err(db_err("cannot delete the old documents"))?;
        }
        let mut vocabulary = std::collections::BTreeSet::new();
        for (chunk_no, chunk) in documents.chunks(BATCH).enumerate() {
            let mut ords = Vec::with_capacity(chunk.len());
            let mut docs = Vec::with_capacity(chunk.len());
            let mut titles = Vec::with_capacity(chunk.len());
            let mut texts = Vec::with_capacity(chunk.len());
            let mut filters = Vec::with_capacity(chunk.len());
            for (i, doc) in chunk.iter().enumerate() {
                let ord = i32::try_from(chunk_no * BATCH + i)
                    .map_err(|e| SearchError::engine(ENGINE, "too many documents", e))?;
                ords.push(ord);
                docs.push(
                    serde_json::to_value(doc).map_err(|e| {
                        SearchError::engine(ENGINE, "cannot serialize a document", e)
                    })?,
                );
                let (title, text) = (token_text(&doc.title), token_text(&doc.text));
                vocabulary.extend(
                    title
                        .split(' ')
                        .chain(text.split(' '))
                        .filter(|w| !w.is_empty())
                        .map(str::to_string),
                );
                titles.push(title);
                texts.push(text);
                let mut f = Vec::new();
                for key in doc.fields.keys() {
                    for value in doc.filter_values(key) {
                        f.push(Value::String(format!("{key}={value}")));
                    }
                }
                filters.push(Value::Array(f));
            }
            sqlx::query(
                "INSERT INTO search_documents (type, ord, document, body, filters)
                 SELECT $1, o, d,
                        setweight(to_tsvector('simple', t), 'A') || setweight(to_tsvector('simple', x), 'B'),
                        ARRAY(SELECT jsonb_array_elements_text(f))
                 FROM UNNEST($2::int4[], $3::jsonb[], $4::text[], $5::text[], $6::jsonb[]) AS u(o, d, t, x, f)",
            )
            .bind(doc_type)
            .bind(&ords)
            .bind(&docs)
            .bind(&titles)
            .bind(&texts)
            .bind(&filters)
            .execute(&mut *tx)
            .await
            .map_err(db_err("cannot insert documents"))?;
        }
        let words: Vec<String> = vocabulary.into_iter().collect();
        for chunk in words.chunks(BATCH * 5) {
            sqlx::query("INSERT INTO search_vocabulary (type, word) SELECT $1, w FROM UNNEST($2::text[]) AS u(w)")
                .bind(doc_type)
                .bind(chunk)
                .execute(&mut *tx)
                .await
                .map_err(db_err("cannot insert the vocabulary"))?;
        }
        tx.commit()
            .await
            .map_err(db_err("cannot commit the new documents"))
    }

    async fn query(&self, query: &SearchQuery) -> Result<SearchResultSet, SearchError> {
        let (page, limit) = requested_page(query)?;
        let tokens = matching::query_tokens(&query.term);
        let mut groups = Vec::with_capacity(tokens.len());
        for token in &tokens {
            let mut alternatives = vec![format!("{token}:*")];
            alternatives.extend(self.typo_variants(token, &query.types).await?);
            groups.push(format!("({})", alternatives.join(" | ")));
        }
        let tsquery = groups.join(" & ");
        let mut filter_sets: Vec<Vec<String>> = Vec::new();
        for (key, value) in &query.filters {
            filter_sets.push(
                value
                    .values()
                    .iter()
                    .map(|v| format!("{key}={v}"))
                    .collect(),
            );
        }
        let mut sql = String::from(" WHERE TRUE");
        let mut n = 0;
        let mut next = || {
            n += 1;
            n
        };
        let term_param = (!tokens.is_empty()).then(&mut next);
        if let Some(p) = term_param {
            sql.push_str(&format!(" AND body @@ to_tsquery('simple', ${p})"));
        }
        let types_param = (!query.types.is_empty()).then(&mut next);
        if let Some(p) = types_param {
            sql.push_str(&format!(" AND type = ANY(${p})"));
        }
        let filter_params: Vec<usize> = filter_sets.iter().map(|_| next()).collect();
        for p in &filter_params {
            sql.push_str(&format!(" AND filters && ${p}::text[]"));
        }
        let where_sql = sql.clone();
        let mut sql = format!(
            "SELECT type, document, count(*) OVER () AS total FROM search_documents{where_sql}"
        );
        match term_param {
            Some(p) => sql.push_str(&format!(
                " ORDER BY ts_rank(body, to_tsquery('simple', ${p})) DESC, type, ord"
            )),
            None => sql.push_str(" ORDER BY type, ord"),
        }
        let (limit_p, offset_p) = (next(), next());
        sql.push_str(&format!(" LIMIT ${limit_p} OFFSET ${offset_p}"));
        let offset = page.saturating_mul(limit);
        let term_bind = term_param.map(|_| tsquery.clone());
        let types_bind = types_param.map(|_| query.types.clone());
        let q = bind_all(sqlx::query(&sql), &term_bind, &types_bind, &filter_sets);
        let to_i64 = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        let rows = q
            .bind(to_i64(limit))
            .bind(to_i64(offset))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("query failed"))?;
        let mut total = rows
            .first()
            .map(|r| r.try_get::<i64, _>("total"))
            .transpose()
            .map_err(db_err("cannot read the result count"))?
            .and_then(|t| usize::try_from(t).ok());
        let mut results = Vec::with_capacity(rows.len());
        for (i, row) in rows.into_iter().enumerate() {
            let doc_type: String = row.try_get("type").map_err(db_err("cannot read a row"))?;
            let json: Value = row
                .try_get("document")
                .map_err(db_err("cannot read a row"))?;
            let document: SearchDocument = serde_json::from_value(json)
                .map_err(|e| SearchError::engine(ENGINE, "cannot read a stored document", e))?;
            let highlight =
                matching::highlight_document(&document, &tokens, &self.pre_tag, &self.post_tag);
            results.push(SearchResult {
                doc_type,
                document,
                rank: Some(offset + i + 1),
                highlight,
            });
        }
        if total.is_none() && page > 0 {
            // A page past the end: count separately.
            let count_sql = format!("SELECT count(*) AS total FROM search_documents{where_sql}");
            let row = bind_all(
                sqlx::query(&count_sql),
                &term_bind,
                &types_bind,
                &filter_sets,
            )
            .fetch_one(&self.pool)
            .await
            .map_err(db_err("count failed"))?;
            let n: i64 = row
                .try_get("total")
                .map_err(db_err("cannot read the result count"))?;
            total = usize::try_from(n).ok();
        }
        let total = total.unwrap_or(0);
        let (next_page_cursor, previous_page_cursor) = page_cursors(page, limit, total);
        Ok(SearchResultSet {
            results,
            next_page_cursor,
            previous_page_cursor,
            number_of_results: Some(total),
        })
    }
}
