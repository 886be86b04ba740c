//! Queries: word expansion through `search_terms`, top-k through the postings B-tree.

use std::collections::BTreeSet;

use serde_json::Value;
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::{ENGINE, PgEngine, db_err, write};
use crate::plugins::search::backend::embedded::{page_cursors, requested_page};
use crate::plugins::search::backend::matching::{self, FUZZY_MIN_LEN};
use crate::plugins::search::common::{SearchDocument, SearchQuery, SearchResult, SearchResultSet};
use crate::plugins::search::node::SearchError;

/// Score factor of a word the query word equals.
const EXACT: f32 = 1.0;
/// Score factor of a word the query word prefixes.
const PREFIX: f32 = 0.5;
/// Score factor of a word one edit away.
const TYPO: f32 = 0.3;

/// One query word and the indexed words it stands for.
#[derive(Debug, Default)]
struct Word {
    terms: Vec<String>,
    factors: Vec<f32>,
    /// Sum of the words' document frequencies.
    df_sum: i64,
    /// The largest document frequency among them.
    df_max: i64,
}

/// The words one edit (insert, delete, replace, swap of neighbours) away from `token`, over
/// ASCII letters, digits and the token's own characters.
fn one_edit_variants(token: &str) -> Vec<String> {
    let chars: Vec<char> = token.chars().collect();
    let mut alphabet: BTreeSet<char> = ('a'..='z').chain('0'..='9').collect();
    alphabet.extend(chars.iter().copied());
    let mut out = BTreeSet::new();
    let s = |v: &[char]| v.iter().collect::<String>();
    for i in 0..chars.len() {
        let mut v = chars.clone();
        v.remove(i);
        out.insert(s(&v));
        if i + 1 < chars.len() {
            let mut v = chars.clone();
            v.swap(i, i + 1);
            out.insert(s(&v));
        }
        for &c in &alphabet {
            let mut v = chars.clone();
            v[i] = c;
            out.insert(s(&v));
        }
    }
    for i in 0..=chars.len() {
        for &c in &alphabet {
            let mut v = chars.clone();
            v.insert(i, c);
            out.insert(s(&v));
        }
    }
    out.into_iter()
        .filter(|v| !v.is_empty() && !v.starts_with(token))
        .collect()
}

fn to_i64(v: usize) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl PgEngine {
    /// The indexed words `token` stands for: itself, the most frequent words it prefixes,
    /// and (4 characters or more) the words one edit away.
    async fn expand(&self, token: &str, types: &[String]) -> Result<Word, SearchError> {
        let typos = if token.chars().count() >= FUZZY_MIN_LEN {
            one_edit_variants(token)
        } else {
            Vec::new()
        };
        let rows = sqlx::query(
            "(SELECT term, sum(df)::int8 AS df, (term = $1) AS exact FROM search_terms
               WHERE term >= $1 AND term < $2
                 AND (cardinality($3::text[]) = 0 OR type = ANY($3))
               GROUP BY term ORDER BY (term = $1) DESC, sum(df) DESC, term LIMIT $4)
             UNION ALL
             (SELECT term, sum(df)::int8 AS df, NULL AS exact FROM search_terms
               WHERE term = ANY($5)
                 AND (cardinality($3::text[]) = 0 OR type = ANY($3))
               GROUP BY term)",
        )
        .bind(token)
        .bind(format!("{token}\u{10FFFF}"))
        .bind(types)
        .bind(to_i64(self.limits.max_expansions.max(1)))
        .bind(&typos)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("cannot read the word table"))?;
        let mut word = Word::default();
        for row in rows {
            let term: String = row.try_get("term").map_err(db_err("cannot read a word"))?;
            let df: i64 = row.try_get("df").map_err(db_err("cannot read a word"))?;
            let exact: Option<bool> = row.try_get("exact").map_err(db_err("cannot read a word"))?;
            word.factors.push(match exact {
                Some(true) => EXACT,
                Some(false) => PREFIX,
                None => TYPO,
            });
            word.terms.push(term);
            word.df_sum += df;
            word.df_max = word.df_max.max(df);
        }
        Ok(word)
    }
}

/// Multiplies each word's factors by its inverse document frequency over the searched types
/// (BM25's idf), so a rare word weighs more in a multi-word query.
async fn weigh_by_rarity(
    engine: &PgEngine,
    types: &[String],
    words: &mut [Word],
) -> Result<(), SearchError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(df), 0)::int8 FROM search_terms
         WHERE term = '' AND (cardinality($1::text[]) = 0 OR type = ANY($1))",
    )
    .bind(types)
    .fetch_one(&engine.pool)
    .await
    .map_err(db_err("cannot read the document count"))?;
    let n = n as f64;
    for word in words {
        let df = (word.df_sum as f64).min(n);
        let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln().max(0.01) as f32;
        for f in &mut word.factors {
            *f *= idf;
        }
    }
    Ok(())
}

/// `filters[...]` as sets of `key=value` terms, any of which must be on the document.
fn filter_sets(query: &SearchQuery) -> Vec<Vec<String>> {
    query
        .filters
        .iter()
        .map(|(key, value)| {
            value
                .values()
                .iter()
                .map(|v| format!("{key}={v}"))
                .collect()
        })
        .collect()
}

/// SQL text with numbered parameters, bound in order afterwards.
struct Params {
    next: usize,
}

impl Params {
    fn take(&mut self) -> usize {
        self.next += 1;
        self.next
    }
}

pub(super) async fn run(
    engine: &PgEngine,
    query: &SearchQuery,
) -> Result<SearchResultSet, SearchError> {
    let (page, limit) = requested_page(query)?;
    let offset = page.saturating_mul(limit);
    let tokens = matching::query_tokens(&query.term);
    let filters = filter_sets(query);
    let (rows, total) = if tokens.len() == 1 && filters.is_empty() {
        one_word_direct(engine, query, &tokens[0], limit, offset).await?
    } else {
        let mut words = Vec::with_capacity(tokens.len());
        for token in &tokens {
            let word = engine.expand(token, &query.types).await?;
            if word.terms.is_empty() {
                return Ok(page_of(engine, Vec::new(), &tokens, page, limit, offset, 0));
            }
            words.push(word);
        }
        if words.len() > 1 {
            weigh_by_rarity(engine, &query.types, &mut words).await?;
        }
        if words.is_empty() {
            list_all(engine, query, &filters, limit, offset).await?
        } else {
            candidates(engine, query, words, &filters, limit, offset).await?
        }
    };
    let mut docs = Vec::with_capacity(rows.len());
    for row in rows {
        let doc_type: Option<String> = row.try_get("type").map_err(db_err("cannot read a row"))?;
        // The one-word statement answers one row without a document when nothing matches.
        let Some(doc_type) = doc_type else { continue };
        let json: Value = row
            .try_get("document")
            .map_err(db_err("cannot read a row"))?;
        let document: SearchDocument = serde_json::from_value(json)
            .map_err(|e| SearchError::engine(ENGINE, "cannot read a stored document", e))?;
        docs.push((doc_type, document));
    }
    Ok(page_of(engine, docs, &tokens, page, limit, offset, total))
}

/// The page: `docs` holds up to `limit + 1` rows (one more tells a next page exists).
fn page_of(
    engine: &PgEngine,
    mut docs: Vec<(String, SearchDocument)>,
    tokens: &[String],
    page: usize,
    limit: usize,
    offset: usize,
    total: usize,
) -> SearchResultSet {
    let more = docs.len() > limit;
    docs.truncate(limit);
    // A lower-bound count is at least what the pages show.
    let seen = offset + docs.len() + usize::from(more);
    let total = if docs.is_empty() && !more {
        total
    } else {
        total.max(seen)
    };
    let results = docs
        .into_iter()
        .enumerate()
        .map(|(i, (doc_type, document))| {
            let highlight =
                matching::highlight_document(&document, tokens, &engine.pre_tag, &engine.post_tag);
            SearchResult {
                doc_type,
                document,
                rank: Some(offset + i + 1),
                highlight,
            }
        })
        .collect();
    let (next_page_cursor, previous_page_cursor) = page_cursors(page, limit, total);
    SearchResultSet {
        results,
        next_page_cursor,
        previous_page_cursor,
        number_of_results: Some(total),
    }
}

type Rows = (Vec<PgRow>, usize);

fn count_of(row: &PgRow) -> Result<usize, SearchError> {
    let n: i64 = row
        .try_get("n")
        .map_err(db_err("cannot read the result count"))?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// No term: every document of the types that passes the filters, in index order.
async fn list_all(
    engine: &PgEngine,
    query: &SearchQuery,
    filters: &[Vec<String>],
    limit: usize,
    offset: usize,
) -> Result<Rows, SearchError> {
    let mut p = Params { next: 1 };
    let mut cond = String::from("(cardinality($1::text[]) = 0 OR type = ANY($1))");
    for _ in filters {
        cond.push_str(&format!(" AND filters && ${}::text[]", p.take()));
    }
    let (lim, off) = (p.take(), p.take());
    let sql = format!(
        "SELECT type, document FROM search_documents WHERE {cond}
         ORDER BY type, ord LIMIT ${lim} OFFSET ${off}"
    );
    let count_sql = format!(
        "SELECT count(*) AS n FROM (SELECT 1 FROM search_documents WHERE {cond} LIMIT ${lim}) c"
    );
    let mut q = sqlx::query(&sql).bind(&query.types);
    let mut c = sqlx::query(&count_sql).bind(&query.types);
    for f in filters {
        q = q.bind(f);
        c = c.bind(f);
    }
    let rows = q
        .bind(to_i64(limit.saturating_add(1)))
        .bind(to_i64(offset))
        .fetch_all(&engine.pool)
        .await
        .map_err(db_err("query failed"))?;
    let count = c
        .bind(to_i64(engine.limits.count_limit))
        .fetch_one(&engine.pool)
        .await
        .map_err(db_err("count failed"))?;
    Ok((rows, count_of(&count)?))
}

/// One word, no field filters, in one statement: expands the word through `search_terms`
/// (itself, the most frequent words it prefixes, the words one edit away) and reads the top
/// postings of each, merged by best score per document. Each row also carries the
/// expansion (`terms`, `df_sum`, `df_max`) for the count; with no match, one row without
/// a document.
async fn one_word_direct(
    engine: &PgEngine,
    query: &SearchQuery,
    token: &str,
    limit: usize,
    offset: usize,
) -> Result<Rows, SearchError> {
    let typos = if token.chars().count() >= FUZZY_MIN_LEN {
        one_edit_variants(token)
    } else {
        Vec::new()
    };
    let want = offset.saturating_add(limit).saturating_add(1);
    let rows = sqlx::query(
        "WITH e AS (
           (SELECT term, sum(df)::int8 AS df,
                   CASE WHEN term = $1 THEN $6::float4 ELSE $7::float4 END AS f
            FROM search_terms
            WHERE term >= $1 AND term < $2
              AND (cardinality($3::text[]) = 0 OR type = ANY($3))
            GROUP BY term ORDER BY (term = $1) DESC, sum(df) DESC, term LIMIT $4)
           UNION ALL
           (SELECT term, sum(df)::int8 AS df, $8::float4 AS f FROM search_terms
            WHERE term = ANY($5) AND (cardinality($3::text[]) = 0 OR type = ANY($3))
            GROUP BY term)),
         s AS (SELECT coalesce(array_agg(term), '{}') AS terms,
                      coalesce(sum(df), 0)::int8 AS df_sum,
                      coalesce(max(df), 0)::int8 AS df_max FROM e),
         r AS (
           SELECT x.type, x.ord, max(x.s) AS s
           FROM e CROSS JOIN LATERAL (
             SELECT p.type, p.ord, p.score * e.f AS s FROM search_postings p
             WHERE p.term = e.term AND (cardinality($3::text[]) = 0 OR p.type = ANY($3))
             ORDER BY p.score DESC, p.type, p.ord LIMIT $9) x
           GROUP BY x.type, x.ord
           ORDER BY s DESC, x.type, x.ord LIMIT $10 OFFSET $11)
         SELECT s.terms, s.df_sum, s.df_max, d.type, d.document
         FROM s LEFT JOIN (r JOIN search_documents d ON d.type = r.type AND d.ord = r.ord)
           ON TRUE
         ORDER BY r.s DESC, r.type, r.ord",
    )
    .bind(token)
    .bind(format!("{token}\u{10FFFF}"))
    .bind(&query.types)
    .bind(to_i64(engine.limits.max_expansions.max(1)))
    .bind(&typos)
    .bind(EXACT)
    .bind(PREFIX)
    .bind(TYPO)
    .bind(to_i64(want))
    .bind(to_i64(limit.saturating_add(1)))
    .bind(to_i64(offset))
    .fetch_all(&engine.pool)
    .await
    .map_err(db_err("query failed"))?;
    let Some(first) = rows.first() else {
        return Ok((rows, 0));
    };
    let terms: Vec<String> = first
        .try_get("terms")
        .map_err(db_err("cannot read a word"))?;
    let df_sum: i64 = first
        .try_get("df_sum")
        .map_err(db_err("cannot read a word"))?;
    let df_max: i64 = first
        .try_get("df_max")
        .map_err(db_err("cannot read a word"))?;
    if terms.len() <= 1 {
        return Ok((rows, usize::try_from(df_sum).unwrap_or(0)));
    }
    let count = sqlx::query(
        "SELECT count(DISTINCT (type, ord)) AS n FROM (
           SELECT type, ord FROM search_postings
           WHERE term = ANY($1) AND (cardinality($2::text[]) = 0 OR type = ANY($2))
           LIMIT $3) c",
    )
    .bind(&terms)
    .bind(&query.types)
    .bind(to_i64(engine.limits.count_limit))
    .fetch_one(&engine.pool)
    .await
    .map_err(db_err("count failed"))?;
    let n = count_of(&count)?;
    Ok((rows, n.max(usize::try_from(df_max).unwrap_or(0))))
}

/// Several words or field filters: the best `candidateLimit` postings of the rarest word,
/// checked against the other words (per-document scores) and the filters, ranked by the sum
/// of the words' scores. Exact when the rarest word has at most `candidateLimit` postings.
async fn candidates(
    engine: &PgEngine,
    query: &SearchQuery,
    mut words: Vec<Word>,
    filters: &[Vec<String>],
    limit: usize,
    offset: usize,
) -> Result<Rows, SearchError> {
    words.sort_by_key(|w| w.df_sum);
    let driver = words.remove(0);
    let per_term = (engine.limits.candidate_limit / driver.terms.len().max(1))
        .max(offset.saturating_add(limit).saturating_add(1));
    let mut p = Params { next: 3 };
    let mut joins = String::new();
    let mut conds = String::new();
    let mut sum = String::from("c.s");
    // The other words and the filters are postings too: each check is one probe of the
    // `(term, type, ord)` index; documents are read only for the page.
    for (i, _) in words.iter().enumerate() {
        let (t, f) = (p.take(), p.take());
        joins.push_str(&format!(
            " CROSS JOIN LATERAL (SELECT max(q.score * u.f) AS s
               FROM UNNEST(${t}::text[], ${f}::float4[]) AS u(term, f)
               JOIN search_postings q ON q.term = u.term AND q.type = c.type AND q.ord = c.ord
             ) w{i}"
        ));
        conds.push_str(&format!(" AND w{i}.s IS NOT NULL"));
        sum.push_str(&format!(" + w{i}.s"));
    }
    for _ in filters {
        conds.push_str(&format!(
            // A scalar subquery (not `EXISTS`, which the planner may turn into a pass over
            // every posting of the filter term): at most one probe per candidate.
            " AND (SELECT 1 FROM search_postings q WHERE q.term = ANY(${}::text[])
               AND q.type = c.type AND q.ord = c.ord LIMIT 1) IS NOT NULL",
            p.take()
        ));
    }
    let filters: Vec<Vec<String>> = filters
        .iter()
        .map(|set| set.iter().map(|f| write::filter_posting(f)).collect())
        .collect();
    let (lim, off) = (p.take(), p.take());
    let sql = format!(
        "WITH c AS (
           SELECT x.type, x.ord, max(x.s) AS s
           FROM UNNEST($1::text[], $2::float4[]) AS t(term, f)
           CROSS JOIN LATERAL (
             SELECT p.type, p.ord, p.score * t.f AS s FROM search_postings p
             WHERE p.term = t.term AND (cardinality($3::text[]) = 0 OR p.type = ANY($3))
             ORDER BY p.score DESC, p.type, p.ord LIMIT ${per}) x
           GROUP BY x.type, x.ord),
         r AS (
           SELECT c.type, c.ord, {sum} AS s, count(*) OVER () AS n
           FROM c{joins}
           WHERE TRUE{conds}
           ORDER BY s DESC, c.type, c.ord LIMIT ${lim} OFFSET ${off})
         SELECT r.type, d.document, r.n
         FROM r JOIN search_documents d ON d.type = r.type AND d.ord = r.ord
         ORDER BY r.s DESC, r.type, r.ord",
        per = p.take(),
    );
    let fetch = |lim: usize, off: usize| {
        let mut q = sqlx::query(&sql)
            .bind(&driver.terms)
            .bind(&driver.factors)
            .bind(&query.types);
        for w in &words {
            q = q.bind(&w.terms).bind(&w.factors);
        }
        for f in &filters {
            q = q.bind(f);
        }
        q.bind(to_i64(lim))
            .bind(to_i64(off))
            .bind(to_i64(per_term))
            .fetch_all(&engine.pool)
    };
    let rows = fetch(limit.saturating_add(1), offset)
        .await
        .map_err(db_err("query failed"))?;
    let total = match rows.first() {
        Some(row) => count_of(row)?,
        // A page past the end: the first row tells the count.
        None if offset > 0 => match fetch(1, 0).await.map_err(db_err("count failed"))?.first() {
            Some(row) => count_of(row)?,
            None => 0,
        },
        None => 0,
    };
    Ok((rows, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_edit_variants_cover_every_edit_kind() {
        let v = one_edit_variants("invocie");
        for typo_of in [
            "invoice",
            "invocie".replace('c', "x").as_str(),
            "nvocie",
            "invoccie",
        ] {
            assert!(v.iter().any(|x| x == typo_of), "{typo_of}");
        }
        assert!(!v.iter().any(|x| x.starts_with("invocie")));
        assert!(v.iter().all(|x| matching::within_one_edit(x, "invocie")));
    }
}
